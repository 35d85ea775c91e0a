//! The hash chain over an execution's events.

use sha2::{Digest as _, Sha256};

use super::{HistoryError, StoredEvent};

/// The "previous hash" of an execution's first event.
pub(super) const GENESIS_HASH: [u8; 32] = [0; 32];

/// The hash of one event given the hash of the event before it. Every variable-length field is
/// length-prefixed so that no two different events hash the same input.
pub(super) fn event_hash(
    previous: &[u8; 32],
    execution_id: &str,
    sequence: u64,
    event_type: &str,
    payload: &str,
    recorded_at_ms: i64,
) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(previous);
    for field in [execution_id, event_type, payload] {
        hasher.update((field.len() as u64).to_le_bytes());
        hasher.update(field.as_bytes());
    }
    hasher.update(sequence.to_le_bytes());
    hasher.update(recorded_at_ms.to_le_bytes());
    hasher.finalize().into()
}

/// Checks that `events` are the complete, untouched history of `execution_id`.
pub(super) fn verify(execution_id: &str, events: &[StoredEvent]) -> Result<(), HistoryError> {
    let mut previous = GENESIS_HASH;
    for (index, event) in events.iter().enumerate() {
        let expected_sequence = index as u64 + 1;
        let corrupt = |reason: String| HistoryError::Corrupt {
            execution_id: execution_id.to_string(),
            sequence: expected_sequence,
            reason,
        };
        if event.sequence != expected_sequence {
            return Err(corrupt(format!(
                "event {expected_sequence} is missing (found {} next)",
                event.sequence
            )));
        }
        let recomputed = event_hash(
            &previous,
            &event.execution_id,
            event.sequence,
            &event.event_type,
            &event.payload,
            event.recorded_at_ms,
        );
        if recomputed != event.hash {
            return Err(corrupt(
                "its content does not match its recorded hash (the row was edited or damaged)"
                    .to_string(),
            ));
        }
        previous = event.hash;
    }
    Ok(())
}
