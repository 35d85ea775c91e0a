//! Going back: a reset forgets a stage and everything after it, and a revision (a person's
//! notes on a gate's subject) is a reset to the stage that produced the subject whose notes
//! that stage's model is then told. Both fold from recorded events only.

use serde_json::{Value, json};

use crate::event::Signal;
use crate::ids::StageId;
use crate::state::{ActivityState, ExecutionState, ExecutionStatus};

impl ExecutionState {
    /// Manual recovery, or a revision: `to_stage` and every stage reached after it are
    /// forgotten; earlier stages keep their results. A revision waiting to be acted on becomes
    /// notes for `to_stage`.
    pub(crate) fn reset(&mut self, to_stage: &StageId) {
        let notes = self.pending_signals.iter().find_map(|signal| match signal {
            Signal::Revise { feedback } => Some(feedback.clone()),
            _ => None,
        });
        if let Some(notes) = notes {
            self.revisions
                .entry(to_stage.clone())
                .or_default()
                .push(notes);
        }
        self.generation += 1;
        if let Some(position) = self.stage_order.iter().position(|id| id == to_stage) {
            for forgotten in self.stage_order.split_off(position) {
                self.stages.remove(&forgotten);
            }
        }
        self.timers.clear();
        self.pending_signals.clear();
        self.budget_gate = None;
        self.paused = None;
        self.status = ExecutionStatus::Running;
    }
}

/// Adds to an LLM request the notes a person gave on the stage's earlier answers, as a last
/// user message, so the model answers again with them in mind.
pub fn add_revision_notes(state: &ExecutionState, activity: &ActivityState, input: &mut Value) {
    let Some(notes) = state.revisions.get(&activity.stage) else {
        return;
    };
    if let Some(messages) = input.get_mut("messages").and_then(Value::as_array_mut) {
        let listed: Vec<String> = notes.iter().map(|note| format!("- {note}")).collect();
        messages.push(json!({
            "role": "user",
            "content": format!(
                "A person reviewed an earlier answer to this and asked for changes:\n{}\nAnswer again with those changes.",
                listed.join("\n")
            ),
        }));
    }
}
