//! Amounts of money as the history keeps them: integer millionths of the currency the plugins
//! report (`1.25` is 1 250 000), parsed from and shown as decimal text without going through
//! floating point.

/// Millionths in one unit of a currency.
const MICROS_PER_UNIT: u64 = 1_000_000;

/// Parses a positive decimal amount with at most six decimals, such as `2.50` or `0.0001`.
pub fn parse_amount(text: &str) -> Result<u64, String> {
    let invalid = || {
        format!(
            "`{text}` is not an amount: write a positive number such as 2.50 (at most six decimals)"
        )
    };
    let (units, fraction) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    let all_digits = |part: &str| part.chars().all(|c| c.is_ascii_digit());
    if (units.is_empty() && fraction.is_empty())
        || !all_digits(units)
        || !all_digits(fraction)
        || fraction.len() > 6
    {
        return Err(invalid());
    }
    let units: u64 = if units.is_empty() {
        0
    } else {
        units.parse().map_err(|_| invalid())?
    };
    let fraction: u64 = format!("{fraction:0<6}").parse().map_err(|_| invalid())?;
    let micros = units
        .checked_mul(MICROS_PER_UNIT)
        .and_then(|micros| micros.checked_add(fraction))
        .ok_or_else(invalid)?;
    if micros == 0 {
        return Err(format!("`{text}` is not an amount: it must be more than 0"));
    }
    Ok(micros)
}

/// An amount as decimal text with at least two decimals and no trailing zeros beyond them:
/// `2.50`, `0.00002`.
pub fn format_amount(micros: u64) -> String {
    let text = format!(
        "{}.{:06}",
        micros / MICROS_PER_UNIT,
        micros % MICROS_PER_UNIT
    );
    let kept = text.trim_end_matches('0').len().max(text.len() - 4);
    text[..kept].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse_exactly() {
        assert_eq!(parse_amount("2.50"), Ok(2_500_000));
        assert_eq!(parse_amount("3"), Ok(3_000_000));
        assert_eq!(parse_amount(".5"), Ok(500_000));
        assert_eq!(parse_amount("0.000001"), Ok(1));
        for wrong in [
            "",
            ".",
            "-1",
            "1e3",
            "0.0000001",
            "abc",
            "0",
            "0.00",
            "1.2.3",
        ] {
            assert!(parse_amount(wrong).is_err(), "{wrong}");
        }
        assert!(parse_amount("99999999999999999999").is_err());
    }

    #[test]
    fn amounts_show_at_least_cents_and_no_more_digits_than_they_have() {
        assert_eq!(format_amount(2_500_000), "2.50");
        assert_eq!(format_amount(20), "0.00002");
        assert_eq!(format_amount(0), "0.00");
        assert_eq!(format_amount(1_234_567), "1.234567");
    }
}
