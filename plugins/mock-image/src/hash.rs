//! Stable seeds from the prompt, so one prompt always gives the same picture.

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a over `fields`, each closed by a separator byte so field boundaries count.
pub fn hash_fields(fields: &[&[u8]]) -> u64 {
    let mut state = FNV_OFFSET;
    for field in fields {
        for byte in field.iter().chain(std::iter::once(&0xff)) {
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

    /// A float in `low..high`.
    pub fn range(&mut self, low: f32, high: f32) -> f32 {
        // The top 24 bits fill an f32 mantissa exactly.
        let unit = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        low + (high - low) * unit
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
    fn ranges_stay_inside_bounds() {
        let mut sequence = Sequence::new(hash_fields(&[b"prompt"]));
        for _ in 0..1000 {
            let value = sequence.range(-2.0, 3.0);
            assert!((-2.0..3.0).contains(&value));
            assert!(sequence.below(7) < 7);
        }
    }

    #[test]
    fn field_boundaries_matter() {
        assert_ne!(hash_fields(&[b"ab", b"c"]), hash_fields(&[b"a", b"bc"]));
    }
}
