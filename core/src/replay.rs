//! Replay: re-derive an execution's decisions from its history with a definition, and report
//! the first recorded decision the definition would not have made.

use std::collections::VecDeque;

use crate::decide::{Decision, decide};
use crate::event::Event;
use crate::state::{ExecutionState, FoldError};
use crate::workflow::Definition;

/// Why a history does not replay.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Fold(#[from] FoldError),
    /// The definition decides differently from what the history records.
    #[error(
        "non-determinism at event {sequence}: the history records {recorded} but the definition {expected}"
    )]
    NonDeterminism {
        sequence: u64,
        recorded: String,
        expected: String,
    },
    /// An upgrade recorded a definition that no longer builds.
    #[error("the definition recorded by the upgrade at event {sequence} does not build: {reason}")]
    UpgradedDefinition { sequence: u64, reason: String },
}

/// Replays `events` (with their recording times) against `definition`, returning the final
/// state when every recorded decision is one the definition makes. After an
/// `ExecutionUpgraded`, decisions are checked against the definition it recorded.
pub fn replay(
    definition: &Definition,
    events: &[(Event, i64)],
) -> Result<ExecutionState, ReplayError> {
    let Some(((first, first_at), rest)) = events.split_first() else {
        return Err(FoldError {
            sequence: 1,
            event_type: "none".into(),
            reason: "the history is empty".into(),
        }
        .into());
    };
    let mut state = ExecutionState::start(first, *first_at)?;
    let mut expected: VecDeque<Event> = VecDeque::new();
    let mut upgraded: Option<Definition> = None;
    for (event, at) in rest {
        let sequence = state.last_sequence + 1;
        let definition = upgraded.as_ref().unwrap_or(definition);
        if event.is_decision() {
            if expected.is_empty() {
                match decide(definition, &state, *at) {
                    Decision::Record(events) => expected = events.into(),
                    Decision::Wait { .. } => {
                        return Err(divergence(
                            sequence,
                            event,
                            "would be waiting at this point".to_string(),
                        ));
                    }
                    Decision::Finished => {
                        return Err(divergence(
                            sequence,
                            event,
                            "would have finished the execution".to_string(),
                        ));
                    }
                }
            }
            let want = expected
                .pop_front()
                .expect("a recorded decision leaves something expected");
            if &want != event {
                return Err(divergence(
                    sequence,
                    event,
                    format!("decides {}", describe(&want)),
                ));
            }
        } else {
            expected.clear();
        }
        if let Event::ExecutionUpgraded { definition, .. } = event {
            let built = Definition::from_bundle(definition).map_err(|diagnostics| {
                ReplayError::UpgradedDefinition {
                    sequence,
                    reason: diagnostics
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; "),
                }
            })?;
            upgraded = Some(built);
        }
        state.apply(event, *at)?;
    }
    Ok(state)
}

fn divergence(sequence: u64, recorded: &Event, expected: String) -> ReplayError {
    ReplayError::NonDeterminism {
        sequence,
        recorded: describe(recorded),
        expected,
    }
}

/// An event in a line: its type and the start of its JSON, enough to see the difference.
fn describe(event: &Event) -> String {
    let mut text = event.to_payload();
    if text.len() > 300 {
        let cut = (0..=300)
            .rev()
            .find(|index| text.is_char_boundary(*index))
            .unwrap_or(0);
        text.truncate(cut);
        text.push('…');
    }
    text
}
