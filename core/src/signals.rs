//! Whether a signal fits an execution right now. A signal that does not fit is refused with a
//! message and never recorded.

use serde_json::Value;

use crate::event::Signal;
use crate::ids::StageId;
use crate::money::format_amount;
use crate::state::{ExecutionState, ExecutionStatus, StageStatus};
use crate::workflow::{Definition, StageKind};

/// Checks `signal` against the state; the error says what is wrong in one line.
pub fn check_signal(
    definition: &Definition,
    state: &ExecutionState,
    signal: &Signal,
) -> Result<(), String> {
    let id = &state.execution_id;
    if state.status.is_terminal() {
        return Err(format!(
            "execution {id} has already ended ({}); signals can no longer change it",
            state.status.as_str()
        ));
    }
    match signal {
        Signal::Cancel { .. } => Ok(()),
        Signal::Resume if state.status != ExecutionStatus::Paused => Err(format!(
            "execution {id} is not paused (it is {}); only a paused execution can be resumed this way",
            state.status.as_str()
        )),
        Signal::Resume if state.pending_signals.contains(&Signal::Resume) => Err(format!(
            "execution {id} already has a resume that has not been acted on yet; a worker or `host resume {id}` acts on it"
        )),
        Signal::Resume => Ok(()),
        Signal::Approve { .. } | Signal::Reject { .. } | Signal::Revise { .. }
            if state.status != ExecutionStatus::WaitingForApproval =>
        {
            Err(format!(
                "execution {id} is not waiting for approval (it is {})",
                state.status.as_str()
            ))
        }
        Signal::Approve { .. } | Signal::Reject { .. } | Signal::Revise { .. }
            if has_pending_decision(state) =>
        {
            Err(format!(
                "execution {id} already has a decision for its approval gate that has not been acted on yet (a gate takes one decision); run `host resume {id}` to act on it"
            ))
        }
        Signal::Reject { feedback } if feedback.trim().is_empty() => {
            Err("a rejection needs feedback saying why".to_string())
        }
        Signal::Reject { .. } => Ok(()),
        Signal::Revise { feedback } if feedback.trim().is_empty() => {
            Err("a revision needs feedback saying what to change".to_string())
        }
        Signal::Revise { .. } => check_revisable(definition, state),
        Signal::Approve {
            replacement,
            budget_micros,
            ..
        } => match (&state.budget_gate, budget_micros, replacement) {
            (Some(gate), None, _) => Err(format!(
                "execution {id} is paused because its cost ({} {}) reached its budget; approve with --budget AMOUNT (more than that) to go on, or reject it",
                format_amount(gate.spent.amount_micros),
                gate.spent.currency
            )),
            (Some(gate), Some(budget), _) if *budget <= gate.spent.amount_micros => Err(format!(
                "a new budget of {} is not more than the {} {} already spent",
                format_amount(*budget),
                format_amount(gate.spent.amount_micros),
                gate.spent.currency
            )),
            (Some(_), Some(_), Some(_)) => Err(format!(
                "execution {id} is paused at its budget, not at an approval gate; --outline does not apply"
            )),
            (Some(_), Some(_), None) => Ok(()),
            (None, Some(_), _) => Err(format!(
                "execution {id} is waiting at an approval gate, not at its budget; --budget does not apply"
            )),
            (None, None, None) => Ok(()),
            (None, None, Some(replacement)) => check_replacement(definition, state, replacement),
        },
    }
}

/// Whether an approve, reject or revise is recorded and waiting to be applied.
fn has_pending_decision(state: &ExecutionState) -> bool {
    state.pending_signals.iter().any(|signal| {
        matches!(
            signal,
            Signal::Approve { .. } | Signal::Reject { .. } | Signal::Revise { .. }
        )
    })
}

/// The subject of the approval gate the execution waits at, if it waits at one.
fn waiting_subject<'d>(definition: &'d Definition, state: &ExecutionState) -> Option<&'d StageId> {
    definition
        .stages
        .iter()
        .find(|stage| {
            matches!(
                state.stage(&stage.id).status,
                StageStatus::WaitingForApproval { .. }
            )
        })
        .and_then(|stage| match &stage.kind {
            StageKind::Approval { subject, .. } => Some(subject),
            StageKind::Call(_) => None,
        })
}

/// A revision sends the subject back to a model: only an LLM stage's answer can be revised.
fn check_revisable(definition: &Definition, state: &ExecutionState) -> Result<(), String> {
    let Some(subject) = waiting_subject(definition, state) else {
        return Err("the execution waits at its budget, not at an approval gate; raise the budget or reject".to_string());
    };
    match definition.stage(subject).map(|stage| &stage.kind) {
        Some(StageKind::Call(call)) if call.service == "llm" => Ok(()),
        _ => Err(format!(
            "the subject of this gate, stage `{subject}`, is not written by a model, so it cannot be revised; approve or reject it"
        )),
    }
}

fn check_replacement(
    definition: &Definition,
    state: &ExecutionState,
    replacement: &Value,
) -> Result<(), String> {
    let Some(subject) = waiting_subject(definition, state) else {
        return Err("no approval gate is waiting".to_string());
    };
    let Some(path) = definition
        .stage(subject)
        .and_then(|stage| match &stage.kind {
            StageKind::Call(call) => call.schema.as_ref().map(|schema| &schema.path),
            StageKind::Approval { .. } => None,
        })
    else {
        // Nothing to check a replacement against (audio, an image): approved as it is, or not.
        return Err(format!(
            "the subject of this gate, stage `{subject}`, has no schema, so it cannot be replaced; approve it as it is (without --outline) or reject it"
        ));
    };
    // The schema the subject's answer was held to, as its activity recorded it: a templated
    // schema is rendered when the stage starts, with that execution's show and outputs.
    let recorded = state
        .stage(subject)
        .activities
        .first()
        .and_then(|activity| state.activities.get(activity))
        .and_then(|activity| activity.input.get("json_schema"))
        .filter(|schema| !schema.is_null());
    let Some(schema) = recorded else {
        return Ok(());
    };
    crate::json_schema::check(schema, replacement).map_err(|problems| {
        format!("the replacement {subject} does not match schema {path}: {problems}")
    })
}
