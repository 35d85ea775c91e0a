//! The hash chain over an execution's events: how a store computes each event's hash when it
//! appends, and how it proves a history complete and untouched before returning it.

use sha2::{Digest as _, Sha256};

use super::{HistoryError, NewEvent, StoredEvent};

/// The "previous hash" of an execution's first event.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// The hash of one event given the hash of the event before it. Every variable-length field is
/// length-prefixed so that no two different events hash the same input.
pub fn event_hash(
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

/// The stored form of `events` appended to the history of `execution_id` from
/// `first_sequence` on, whose event before them has the hash `previous` (`GENESIS_HASH` for a
/// new execution).
pub fn chain(
    previous: [u8; 32],
    execution_id: &str,
    first_sequence: u64,
    events: &[NewEvent],
) -> Vec<StoredEvent> {
    let mut previous = previous;
    events
        .iter()
        .enumerate()
        .map(|(offset, event)| {
            let sequence = first_sequence + offset as u64;
            let hash = event_hash(
                &previous,
                execution_id,
                sequence,
                &event.event_type,
                &event.payload,
                event.recorded_at_ms,
            );
            previous = hash;
            StoredEvent {
                execution_id: execution_id.to_string(),
                sequence,
                event_type: event.event_type.clone(),
                payload: event.payload.clone(),
                recorded_at_ms: event.recorded_at_ms,
                hash,
            }
        })
        .collect()
}

/// Checks that `events` are the complete, untouched history of `execution_id`: sequences from
/// 1 without gaps, every hash recomputed, and, when the executions table has a row for it, at
/// least the `committed` number of events it was written with (a shorter history lost its
/// tail). `committed` must be read before the events, so that an append landing between the
/// two reads can only add events, never look like a truncation.
pub fn verify(
    execution_id: &str,
    events: &[StoredEvent],
    committed: Option<u64>,
) -> Result<(), HistoryError> {
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
    let found = events.last().map_or(0, |event| event.sequence);
    if let Some(committed) = committed
        && committed > found
    {
        return Err(HistoryError::Corrupt {
            execution_id: execution_id.to_string(),
            sequence: found + 1,
            reason: format!(
                "the history ends at event {found} but {committed} events were committed (it was truncated)"
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_event(event_type: &str, payload: &str, at: i64) -> NewEvent {
        NewEvent {
            event_type: event_type.to_string(),
            payload: payload.to_string(),
            recorded_at_ms: at,
        }
    }

    fn history() -> Vec<StoredEvent> {
        let first = chain(
            GENESIS_HASH,
            "ep-1",
            1,
            &[
                new_event("ExecutionStarted", "{}", 1_000),
                new_event("StageStarted", r#"{"stage":"IDEATION"}"#, 1_001),
            ],
        );
        let rest = chain(
            first[1].hash,
            "ep-1",
            3,
            &[new_event("StageCompleted", "{}", 1_002)],
        );
        first.into_iter().chain(rest).collect()
    }

    fn corrupt_sequence(outcome: Result<(), HistoryError>) -> u64 {
        match outcome {
            Err(HistoryError::Corrupt { sequence, .. }) => sequence,
            other => panic!("expected a corruption error, got {other:?}"),
        }
    }

    #[test]
    fn a_history_chained_over_several_appends_verifies() {
        let events = history();
        assert_eq!(
            events
                .iter()
                .map(|event| event.sequence)
                .collect::<Vec<_>>(),
            [1, 2, 3]
        );
        verify("ep-1", &events, Some(3)).unwrap();
        verify("ep-1", &[], None).unwrap();
    }

    #[test]
    fn an_edited_event_fails_at_its_own_sequence() {
        let mut events = history();
        events[1].payload = r#"{"stage":"OUTLINING"}"#.to_string();
        assert_eq!(corrupt_sequence(verify("ep-1", &events, Some(3))), 2);
    }

    #[test]
    fn a_missing_event_fails_where_the_gap_is() {
        let mut events = history();
        events.remove(1);
        assert_eq!(corrupt_sequence(verify("ep-1", &events, Some(3))), 2);
    }

    #[test]
    fn a_cut_off_tail_fails_after_the_last_event_left() {
        let mut events = history();
        events.pop();
        assert_eq!(corrupt_sequence(verify("ep-1", &events, Some(3))), 3);
    }

    #[test]
    fn the_hash_covers_the_execution_id() {
        let events = history();
        let moved: Vec<StoredEvent> = events
            .into_iter()
            .map(|event| StoredEvent {
                execution_id: "ep-2".to_string(),
                ..event
            })
            .collect();
        assert_eq!(corrupt_sequence(verify("ep-2", &moved, None)), 1);
    }
}
