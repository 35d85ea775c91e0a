//! History events: the persisted record of an execution. This enum is a stored format; a change
//! to it needs a migration and a test that old histories still load.
//!
//! Events come in two kinds. Decisions (stage started, activity scheduled, timer started, ...)
//! are what the engine chose given the history so far; replay re-derives them and reports a
//! mismatch as non-determinism. Facts (an activity's result, a timer firing, a signal) come
//! from outside and are taken as recorded.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error_kind::ErrorKind;
use crate::ids::{ActivityId, ExecutionId, StageId};
use crate::workflow::DefinitionBundle;

/// A reference to a blob in the content-addressed store, as the history keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobRef {
    /// `sha256:<hex>` of the bytes.
    pub digest: String,
    pub size_bytes: u64,
    /// For example `audio/wav` or `image/png`.
    pub media_type: String,
}

/// What one call cost, in millionths of `currency`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cost {
    pub amount_micros: u64,
    pub currency: String,
}

/// The plugin that serves a service, pinned when an execution starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginPin {
    pub name: String,
    /// `sha256:<hex>` of the component's bytes.
    pub digest: String,
}

/// Where a reused result was first recorded: an `ActivityCompleted` of another execution (or
/// of this one) in the same history database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReusedFrom {
    pub execution_id: ExecutionId,
    pub sequence: u64,
}

/// Why an activity attempt (or a stage) failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityError {
    pub kind: ErrorKind,
    pub message: String,
    /// Recorded as decided when the attempt failed, so replay never asks again: a build that
    /// changes its mind about a kind still replays old histories exactly.
    pub retryable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl ActivityError {
    /// A failure the host or the engine classifies: retryable as [`ErrorKind::is_retryable`]
    /// says.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ActivityError {
        ActivityError {
            retryable: kind.is_retryable(),
            kind,
            message: message.into(),
            retry_after_ms: None,
        }
    }
}

/// Why a timer was started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "purpose", rename_all = "snake_case")]
pub enum TimerPurpose {
    /// The wait before the next attempt of an activity.
    RetryBackoff {
        activity: ActivityId,
        next_attempt: u32,
    },
    /// Approval has been pending long enough to remind someone.
    ApprovalReminder { stage: StageId },
}

/// A message from outside to an execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "signal", rename_all = "snake_case")]
pub enum Signal {
    /// Go on past the approval gate, optionally with a replacement for what was approved
    /// (validated against the subject stage's schema before it is recorded); or, at the budget,
    /// go on with a higher budget.
    Approve {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replacement: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        feedback: Option<String>,
        /// The new budget, in millionths; only when the execution is paused at its budget.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        budget_micros: Option<u64>,
    },
    /// End the execution as rejected.
    Reject { feedback: String },
    /// Send the gate's subject back to the stage that produced it, with notes its model is
    /// given when it answers again; the execution then returns to the gate.
    Revise { feedback: String },
    /// Stop the execution, interrupting what is in flight.
    Cancel {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Go on after a pause (`on_exhausted = "pause"`): the failed activities get a fresh
    /// round of attempts.
    Resume,
}

/// One entry of an execution's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Event {
    /// The first event: everything needed to drive the execution without the files it came
    /// from (definition pinned with its hash, inputs, plugin digests, show blueprint).
    ExecutionStarted {
        execution_id: ExecutionId,
        workflow: String,
        definition_hash: String,
        definition: DefinitionBundle,
        inputs: BTreeMap<String, Value>,
        /// Service name (`llm`, `tts`, ...) to the plugin serving it.
        plugins: BTreeMap<String, PluginPin>,
        /// The show blueprint with the concepts earlier episodes covered, when the workflow
        /// names a show.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        show: Option<Value>,
        /// The most the execution may spend, in millionths of the currency its plugins report
        /// (`host run --max-cost`, else the workflow's `max_cost`). Histories from before the
        /// cost guard have none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        budget_micros: Option<u64>,
        /// `host run --reuse identical`: plugin calls identical to completed ones reuse their
        /// results, whatever the workflow says.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        reuse_identical: bool,
    },
    StageStarted {
        stage: StageId,
    },
    StageSkipped {
        stage: StageId,
        reason: String,
    },
    /// An activity with its fully rendered input; replay compares that input too.
    ActivityScheduled {
        activity: ActivityId,
        stage: StageId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<usize>,
        call: String,
        input: Value,
    },
    ActivityStarted {
        activity: ActivityId,
        attempt: u32,
        /// Stable across re-runs of the same attempt, so providers can deduplicate.
        idempotency_key: String,
    },
    ActivityCompleted {
        activity: ActivityId,
        attempt: u32,
        output: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cost: Option<Cost>,
        /// The plugin that produced the result; none for the host's own functions.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        plugin: Option<PluginPin>,
        duration_ms: u64,
        /// The digest of what decided the result (call, request, plugin digest, definition),
        /// under which a later identical call may reuse it; plugin calls only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reuse_key: Option<String>,
        /// Set when the result was not produced by a call but reused from an identical
        /// completed one (at no cost).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reused_from: Option<ReusedFrom>,
    },
    ActivityFailed {
        activity: ActivityId,
        attempt: u32,
        error: ActivityError,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        plugin: Option<PluginPin>,
    },
    TimerStarted {
        timer: String,
        fire_at_ms: i64,
        #[serde(flatten)]
        purpose: TimerPurpose,
    },
    TimerFired {
        timer: String,
    },
    /// The execution waits for a person; `subject` is what they are asked to approve.
    ApprovalRequested {
        stage: StageId,
        subject: Value,
    },
    /// Approval has been pending longer than the configured reminder.
    ApprovalReminder {
        stage: StageId,
        pending_since_ms: i64,
    },
    SignalReceived {
        #[serde(flatten)]
        signal: Signal,
    },
    /// The recorded cost reached the budget when `stage` was about to call a plugin: nothing
    /// more is started until the producer raises the budget or ends the execution.
    BudgetReached {
        stage: StageId,
        spent: Cost,
        budget_micros: u64,
    },
    /// The producer raised the budget; the execution goes on.
    BudgetRaised {
        budget_micros: u64,
    },
    StageCompleted {
        stage: StageId,
        output: Value,
    },
    /// A stage failed; with `continued` the execution goes on (the stage's `on_error`).
    StageFailed {
        stage: StageId,
        error: ActivityError,
        continued: bool,
    },
    ExecutionCompleted {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        covered_concepts: Vec<String>,
    },
    ExecutionFailed {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stage: Option<StageId>,
        error: ActivityError,
    },
    ExecutionRejected {
        stage: StageId,
        feedback: String,
    },
    ExecutionCancelled {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Manual recovery: stages from `to_stage` on run again; earlier results are kept.
    ExecutionReset {
        to_stage: StageId,
    },
    /// A fork (`host fork --from`): the stage's result is taken as another execution recorded
    /// it, instead of running it. `skipped` when the source skipped the stage.
    StageForked {
        stage: StageId,
        source_execution: ExecutionId,
        output: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        skipped: Option<String>,
    },
    /// `host upgrade --apply`: from here on the execution follows this definition and these
    /// plugins, which replaying its history showed decide the same.
    ExecutionUpgraded {
        definition_hash: String,
        definition: DefinitionBundle,
        plugins: BTreeMap<String, PluginPin>,
    },
    /// The attempts of the stage's activities ran out on an error another attempt could cure,
    /// and its retry policy says to pause rather than fail: nothing runs until a resume.
    ExecutionPaused {
        stage: StageId,
        error: ActivityError,
    },
    /// A resume was acted on: the paused stage's failed activities start a fresh round.
    ExecutionResumed {
        stage: StageId,
    },
    /// A started attempt waits for its plugin's flow control (a concurrency or rate limit of
    /// this process) before calling it; `reason` says which limit.
    ActivityWaiting {
        activity: ActivityId,
        attempt: u32,
        plugin: String,
        reason: String,
    },
    /// The waiting attempt got its slot and calls its plugin.
    ActivitySlotTaken {
        activity: ActivityId,
        attempt: u32,
    },
}

impl Event {
    /// The `type` tag, stored in its own column.
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::ExecutionStarted { .. } => "ExecutionStarted",
            Event::StageStarted { .. } => "StageStarted",
            Event::StageSkipped { .. } => "StageSkipped",
            Event::ActivityScheduled { .. } => "ActivityScheduled",
            Event::ActivityStarted { .. } => "ActivityStarted",
            Event::ActivityCompleted { .. } => "ActivityCompleted",
            Event::ActivityFailed { .. } => "ActivityFailed",
            Event::TimerStarted { .. } => "TimerStarted",
            Event::TimerFired { .. } => "TimerFired",
            Event::ApprovalRequested { .. } => "ApprovalRequested",
            Event::ApprovalReminder { .. } => "ApprovalReminder",
            Event::SignalReceived { .. } => "SignalReceived",
            Event::BudgetReached { .. } => "BudgetReached",
            Event::BudgetRaised { .. } => "BudgetRaised",
            Event::StageCompleted { .. } => "StageCompleted",
            Event::StageFailed { .. } => "StageFailed",
            Event::ExecutionCompleted { .. } => "ExecutionCompleted",
            Event::ExecutionFailed { .. } => "ExecutionFailed",
            Event::ExecutionRejected { .. } => "ExecutionRejected",
            Event::ExecutionCancelled { .. } => "ExecutionCancelled",
            Event::ExecutionReset { .. } => "ExecutionReset",
            Event::StageForked { .. } => "StageForked",
            Event::ExecutionUpgraded { .. } => "ExecutionUpgraded",
            Event::ExecutionPaused { .. } => "ExecutionPaused",
            Event::ExecutionResumed { .. } => "ExecutionResumed",
            Event::ActivityWaiting { .. } => "ActivityWaiting",
            Event::ActivitySlotTaken { .. } => "ActivitySlotTaken",
        }
    }

    /// Whether the engine chose this event (and replay must re-derive it), as opposed to a
    /// fact from outside (a result, a fired timer, a signal, an operator's reset).
    pub fn is_decision(&self) -> bool {
        !matches!(
            self,
            Event::ExecutionStarted { .. }
                | Event::ActivityCompleted { .. }
                | Event::ActivityFailed { .. }
                | Event::TimerFired { .. }
                | Event::SignalReceived { .. }
                | Event::ExecutionReset { .. }
                | Event::StageForked { .. }
                | Event::ExecutionUpgraded { .. }
                | Event::ActivityWaiting { .. }
                | Event::ActivitySlotTaken { .. }
        )
    }

    /// Encodes the event as its stored JSON payload.
    pub fn to_payload(&self) -> String {
        serde_json::to_string(self).expect("events hold only JSON-representable values")
    }

    /// Decodes a stored payload, checking it against the type column.
    pub fn from_payload(event_type: &str, payload: &str) -> Result<Event, String> {
        let event: Event = serde_json::from_str(payload)
            .map_err(|error| format!("unreadable {event_type} event: {error}"))?;
        if event.type_name() != event_type {
            return Err(format!(
                "payload is a {} event but its row says {event_type}",
                event.type_name()
            ));
        }
        Ok(event)
    }
}
