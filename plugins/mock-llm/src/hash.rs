//! Stable hashing and a small seeded sequence, so every choice the mock makes is reproducible.

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a over a sequence of fields. Each field is followed by a separator byte so that
/// `("ab", "c")` and `("a", "bc")` hash differently.
#[derive(Clone)]
pub struct StableHasher {
    state: u64,
}

impl Default for StableHasher {
    fn default() -> Self {
        Self { state: FNV_OFFSET }
    }
}

impl StableHasher {
    pub fn field(&mut self, bytes: &[u8]) -> &mut Self {
        for byte in bytes.iter().chain(std::iter::once(&0xff)) {
            self.state ^= u64::from(*byte);
            self.state = self.state.wrapping_mul(FNV_PRIME);
        }
        self
    }

    pub fn finish(&self) -> u64 {
        mix(self.state)
    }
}

/// SplitMix64 finaliser: spreads FNV's weak low bits over the whole word.
pub fn mix(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Seed of a named child of `parent`, for example a property or an array index. Deriving seeds
/// from paths keeps each value independent of the order in which siblings are generated.
pub fn child_seed(parent: u64, name: &str) -> u64 {
    let mut hasher = StableHasher::default();
    hasher.field(&parent.to_le_bytes()).field(name.as_bytes());
    hasher.finish()
}

/// Picks an index below `len` (which must be non-zero) from a seed.
pub fn pick(seed: u64, len: usize) -> usize {
    (seed % len as u64) as usize
}

/// A value in `low..=high` from a seed; `low` must not exceed `high`.
pub fn in_range(seed: u64, low: i64, high: i64) -> i64 {
    let span = high.abs_diff(low).saturating_add(1);
    if span == 0 {
        // The full i64 range: any value will do.
        return seed as i64;
    }
    low.wrapping_add((seed % span) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_boundaries_matter() {
        let a = StableHasher::default().field(b"ab").field(b"c").finish();
        let b = StableHasher::default().field(b"a").field(b"bc").finish();
        assert_ne!(a, b);
    }

    #[test]
    fn range_stays_inside_bounds() {
        for seed in 0..1000 {
            let value = in_range(mix(seed), -3, 7);
            assert!((-3..=7).contains(&value));
        }
        assert_eq!(in_range(42, 5, 5), 5);
    }
}
