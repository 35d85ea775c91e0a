//! Stable hashing of request fields and a seeded SplitMix64 sequence.

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a over length-prefixed fields; the prefix keeps `("ab", "c")` and `("a", "bc")` apart.
pub fn hash_fields(fields: &[&[u8]]) -> u64 {
    let mut state = FNV_OFFSET;
    for field in fields {
        let length = (field.len() as u64).to_le_bytes();
        for byte in length.iter().chain(field.iter()) {
            state ^= u64::from(*byte);
            state = state.wrapping_mul(FNV_PRIME);
        }
    }
    state
}

/// A SplitMix64 sequence: cheap, well mixed, and the same on every platform.
pub struct Sequence {
    state: u64,
}

impl Sequence {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f32 {
        // The top 24 bits fill an f32 mantissa exactly.
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in `[-1, 1)`.
    pub fn signed(&mut self) -> f32 {
        self.unit() * 2.0 - 1.0
    }

    /// Uniform in `low..high`.
    pub fn range(&mut self, low: f32, high: f32) -> f32 {
        low + (high - low) * self.unit()
    }

    /// An integer in `0..count`; `count` must not be zero.
    pub fn below(&mut self, count: usize) -> usize {
        (self.next_u64() % count as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_boundaries_matter() {
        assert_ne!(hash_fields(&[b"ab", b"c"]), hash_fields(&[b"a", b"bc"]));
        assert_eq!(hash_fields(&[b"x"]), hash_fields(&[b"x"]));
    }

    #[test]
    fn draws_stay_inside_their_ranges() {
        let mut sequence = Sequence::new(hash_fields(&[b"prompt"]));
        for _ in 0..10_000 {
            assert!((0.0..1.0).contains(&sequence.unit()));
            assert!((-1.0..1.0).contains(&sequence.signed()));
            assert!((-2.0..3.0).contains(&sequence.range(-2.0, 3.0)));
            assert!(sequence.below(7) < 7);
        }
    }
}
