//! Usage and cost of speech as the host records them: characters in, milliseconds of audio
//! out, cost in millionths of a currency unit from a price per million characters.

/// Characters of `text`, as speech providers bill them (Unicode scalar values, not bytes).
pub fn characters(text: &str) -> u64 {
    text.chars().count() as u64
}

/// Milliseconds of `frames` frames at `sample_rate`, rounded down; 0 for a zero rate.
pub fn duration_ms(frames: u64, sample_rate: u32) -> u64 {
    (frames * 1000)
        .checked_div(u64::from(sample_rate))
        .unwrap_or(0)
}

/// What `units` cost at `usd_per_million` per million units, in micro-dollars (the WIT `cost`
/// record's `amount-micros`): a price per million units is exactly micro-dollars per unit.
pub fn cost_micros(units: u64, usd_per_million: f64) -> u64 {
    (units as f64 * usd_per_million).round().max(0.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speech_is_billed_by_characters_and_milliseconds() {
        assert_eq!(characters("héllo"), 5);
        assert_eq!(duration_ms(36_000, 24_000), 1500);
        assert_eq!(duration_ms(10, 0), 0);
        assert_eq!(cost_micros(1000, 15.0), 15_000);
        assert_eq!(cost_micros(3, 0.5), 2);
    }
}
