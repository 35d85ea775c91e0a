//! Choosing a provider voice for whatever voice id a workflow names. Show blueprints are
//! written for the mock TTS (`aria`, `basil`, ...), so a real TTS plugin must speak them rather
//! than fail: an id the provider knows is used as is, a mock voice gets the provider voice
//! closest in character (a fixed table per plugin), and any other id a voice picked by a stable
//! hash of the id, so the same host always sounds the same in every episode.

use guest_support::seed::hash_fields;

/// The provider voice to use for `requested`. `known` decides whether the provider offers an
/// id as is; `stand_ins` pairs mock voice ids with provider voices; `pool` is where other ids
/// are hashed into and must not be empty.
pub fn choose<'a>(
    requested: &'a str,
    known: impl Fn(&str) -> bool,
    stand_ins: &[(&str, &'a str)],
    pool: &[&'a str],
) -> &'a str {
    if known(requested) {
        return requested;
    }
    let lowered = requested.to_ascii_lowercase();
    if let Some((_, voice)) = stand_ins.iter().find(|(mock, _)| *mock == lowered) {
        return voice;
    }
    pool[(hash_fields(&[lowered.as_bytes()]) % pool.len() as u64) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_ids_stay_mock_ids_stand_in_and_others_hash_stably() {
        let pool = ["alloy", "echo", "nova"];
        let known = |voice: &str| pool.contains(&voice);
        let stand_ins = [("aria", "nova")];
        assert_eq!(choose("echo", known, &stand_ins, &pool), "echo");
        assert_eq!(choose("Aria", known, &stand_ins, &pool), "nova");
        let picked = choose("narrator-7", known, &stand_ins, &pool);
        assert!(pool.contains(&picked));
        assert_eq!(choose("narrator-7", known, &stand_ins, &pool), picked);
    }
}
