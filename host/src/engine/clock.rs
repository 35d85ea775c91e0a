//! Time reaches the engine only through this trait, so that tests can control it and replay
//! never reads the wall clock.

use std::hash::{BuildHasher as _, Hasher as _};

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The machine's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// Random bits for ids, from the standard library's per-process hash keys.
pub fn entropy() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or(0),
    );
    hasher.finish()
}

/// `YYYYMMDD` of a time in milliseconds since the epoch (UTC).
pub fn day_of(now_ms: i64) -> String {
    let (year, month, day) = civil_date(now_ms);
    format!("{year:04}{month:02}{day:02}")
}

/// `now_ms` as an RFC 3339 UTC timestamp with milliseconds, `2026-12-03T14:05:09.250Z`, as
/// log lines carry it.
pub fn rfc3339(now_ms: i64) -> String {
    let (year, month, day) = civil_date(now_ms);
    let in_day = now_ms.rem_euclid(86_400_000);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1_000 % 60,
        in_day % 1_000
    )
}

/// Midnight UTC of a date written `YYYY-MM-DD`, in milliseconds since the Unix epoch; `None`
/// when the text is not such a date.
pub fn start_of_day(date: &str) -> Option<i64> {
    let mut parts = date.split('-');
    let (Some(year), Some(month), Some(day), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return None;
    }
    let (year, month, day): (i64, i64, i64) =
        (year.parse().ok()?, month.parse().ok()?, day.parse().ok()?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // Days-from-civil, after Howard Hinnant's algorithm (the inverse of `civil_date`).
    let shifted_year = if month <= 2 { year - 1 } else { year };
    let era = shifted_year.div_euclid(400);
    let year_of_era = shifted_year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    // A day past the month's end (2026-02-30) is refused rather than rolled over.
    let ms = days * 86_400_000;
    (civil_date(ms) == (year, month, day)).then_some(ms)
}

/// The calendar date (year, month, day) of a time in milliseconds since the Unix epoch, UTC.
fn civil_date(now_ms: i64) -> (i64, i64, i64) {
    // Civil-from-days, after Howard Hinnant's algorithm.
    let days = now_ms.div_euclid(86_400_000);
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_to_their_midnight_and_round_trip() {
        assert_eq!(start_of_day("1970-01-01"), Some(0));
        assert_eq!(start_of_day("2026-11-21"), Some(1_795_219_200_000));
        assert_eq!(
            start_of_day("2024-02-29").map(day_of),
            Some("20240229".into())
        );
        for wrong in [
            "2026-02-30",
            "2026-13-01",
            "26-01-01",
            "2026-1-1",
            "yesterday",
        ] {
            assert_eq!(start_of_day(wrong), None, "{wrong}");
        }
    }

    #[test]
    fn timestamps_are_rfc3339_in_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_796_306_709_250), "2026-12-03T14:05:09.250Z");
    }

    #[test]
    fn days_are_calendar_dates() {
        assert_eq!(day_of(0), "19700101");
        assert_eq!(day_of(1_795_219_200_000), "20261121");
    }
}
