//! Durations as workflow files write them: `250ms`, `30s`, `5m`, `2h`, `7d`, or combinations
//! such as `1h30m`.

use std::time::Duration;

/// The longest duration a workflow may give: ten years. Anything longer is a typo, and times
/// are added to millisecond timestamps that must not overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(3650 * 86_400);

/// Parses a duration; the error says what was expected.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let expected = || {
        format!(
            "invalid duration `{text}`: expected a number and a unit (ms, s, m, h, d), for example `30s` or `1h30m`"
        )
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(expected());
    }
    let mut total_ms: u64 = 0;
    let mut rest = trimmed;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            return Err(expected());
        }
        let number: u64 = rest[..digits].parse().map_err(|_| expected())?;
        rest = &rest[digits..];
        let unit_len = rest.chars().take_while(char::is_ascii_alphabetic).count();
        let unit_ms = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(expected()),
        };
        rest = &rest[unit_len..];
        total_ms = number
            .checked_mul(unit_ms)
            .and_then(|part| total_ms.checked_add(part))
            .filter(|total| *total <= MAX_DURATION.as_millis() as u64)
            .ok_or_else(|| format!("duration `{text}` is too long (at most 3650d)"))?;
    }
    Ok(Duration::from_millis(total_ms))
}

/// Writes a duration the way people read it: `1h 30m`, `45s`, `250ms`.
pub fn format_duration(duration: Duration) -> String {
    let total_ms = duration.as_millis() as u64;
    if total_ms < 1_000 {
        return format!("{total_ms}ms");
    }
    let seconds = total_ms / 1_000;
    let (days, hours, minutes, seconds) = (
        seconds / 86_400,
        seconds / 3_600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    let parts: Vec<String> = [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")]
        .into_iter()
        .filter(|(value, _)| *value > 0)
        .map(|(value, unit)| format!("{value}{unit}"))
        .collect();
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_combinations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("3650d"), Ok(MAX_DURATION));
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        for bad in [
            "",
            "5",
            "s",
            "5 minutes",
            "-1s",
            "1.5s",
            "99999999999999999999d",
            "106751991167d",
            "3651d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats_for_people() {
        assert_eq!(format_duration(Duration::from_secs(5_400)), "1h 30m");
        assert_eq!(format_duration(Duration::from_millis(20)), "20ms");
    }
}
