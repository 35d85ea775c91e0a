//! The status report of one execution: where it is, its progress, cost, pending approval,
//! published files and last error. `host status --json` prints it as it serializes; a server
//! returns the same value.

use std::collections::BTreeMap;

use pipeline_core::{
    ActivityId, Cost, Definition, ErrorKind, ExecutionId, ExecutionState, ExecutionStatus, Signal,
    StageId, StageKind, StageStatus,
};
use serde::{Serialize, Serializer};
use serde_json::Value;

use super::{Engine, EngineError};

/// Everything `host status` shows about one execution.
///
/// **API boundary:** serialized, this is `status --json`, whose field names and order scripts
/// rely on. The fields of this struct and of the structs in it are declared in alphabetical
/// order because that is the order the report has always had (it used to be built as a
/// `serde_json` map, which sorts its keys); a new field goes in its alphabetical place.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// The approval the execution is waiting for; only a live execution has one.
    pub approval: Option<PendingApproval>,
    /// The files the publishing stage wrote (its `artifacts` output), or an empty list.
    pub artifacts: Value,
    /// The execution's budget, when it has one.
    pub budget: Option<BudgetReport>,
    pub cost: CostReport,
    /// The process driving the execution now, when one holds its lease. A running execution
    /// that no process drives was interrupted (Ctrl-C, a crash) and waits for `host resume`.
    pub driver: Option<String>,
    /// Where the publishing stage wrote the episode (its `directory` output).
    pub episode_directory: Option<Value>,
    /// The most recent failure, even when a retry has since succeeded.
    pub error: Option<ErrorReport>,
    /// How many events the history holds.
    pub events: u64,
    /// Feedback given with approvals and rejections, oldest first.
    pub feedback: Vec<String>,
    pub id: ExecutionId,
    /// The inputs the execution was started with (defaults filled in).
    pub inputs: BTreeMap<String, Value>,
    /// Why the execution is paused (`on_exhausted = "pause"`), while it is.
    pub pause: Option<PauseReport>,
    /// The current stage's completed and total activities.
    pub progress: Option<StageProgress>,
    /// The current stage; none once the execution has ended.
    pub stage: Option<StageId>,
    /// Every stage of the workflow in order, with where it is: the timeline a page draws.
    pub stages: Vec<StageReport>,
    #[serde(serialize_with = "status_name")]
    pub status: ExecutionStatus,
    /// Attempts held back by their plugin's flow control (a concurrency or rate limit of
    /// the process driving them), in activity order.
    pub waiting_for_slot: Vec<SlotWaitReport>,
    pub workflow: String,
}

/// A pause after a stage's attempts ran out on an error worth retrying.
#[derive(Debug, Clone, Serialize)]
pub struct PauseReport {
    /// The last failure, which another attempt could cure (an outage, a rate limit).
    pub error: ErrorReport,
    pub paused_at_ms: i64,
    /// Whether a resume is recorded and waits for a worker (or `host resume`) to act on it.
    pub resume_requested: bool,
    pub stage: StageId,
}

/// An attempt waiting for its plugin's flow control.
#[derive(Debug, Clone, Serialize)]
pub struct SlotWaitReport {
    pub activity: ActivityId,
    pub plugin: String,
    /// Which limit holds it back, for example `rate limit of 2 per second`.
    pub reason: String,
    pub since_ms: i64,
}

/// One stage of the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct StageReport {
    /// Completed activities of the stage's current generation.
    pub completed: usize,
    pub finished_at_ms: Option<i64>,
    pub id: StageId,
    /// `call` or `approval`.
    pub kind: &'static str,
    pub started_at_ms: Option<i64>,
    /// `pending`, `running`, `waiting_for_approval`, `completed`, `skipped` or `failed`.
    pub status: &'static str,
    pub title: String,
    pub total: usize,
}

/// An approval gate waiting for a person.
#[derive(Debug, Clone, Serialize)]
pub struct PendingApproval {
    /// An approval or rejection already recorded but not yet acted on (the process that
    /// recorded it stopped first, or it was sent with `--no-wait`): the gate needs no other
    /// decision, only a drive (`host resume`).
    pub decision: Option<Signal>,
    /// How long it has been waiting, at the time of the report.
    pub pending_ms: i64,
    pub pending_since_ms: i64,
    /// Whether it has waited longer than the gate's reminder period.
    pub reminder: bool,
    /// Who may speak a line of the subject, as its recorded schema lists them (the show's
    /// hosts, for a script): what a page offers in a speaker picker.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub speakers: Vec<String>,
    pub stage: StageId,
    /// What is to be approved (the outline, for the podcast).
    pub subject: Value,
}

/// Cost against the execution's budget (`max_cost`).
#[derive(Debug, Clone, Serialize)]
pub struct BudgetReport {
    /// The currency of the largest total, which the budget holds to; none before any cost.
    pub currency: Option<String>,
    pub limit_micros: u64,
    /// Whether the execution waits at its budget for a person to raise it or end it.
    pub paused: bool,
    pub spent_micros: u64,
}

/// What an execution has cost so far.
#[derive(Debug, Clone, Serialize)]
pub struct CostReport {
    pub by_stage: BTreeMap<StageId, Cost>,
    /// Millionths, per currency.
    pub total_micros: BTreeMap<String, u64>,
}

/// The most recent failure of an activity or stage.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorReport {
    pub activity: Option<ActivityId>,
    pub attempt: Option<u32>,
    /// A short kind such as `rate-limited` or `deadline-exceeded`.
    pub kind: ErrorKind,
    pub message: String,
    pub stage: Option<StageId>,
}

/// How far the current stage has got.
#[derive(Debug, Clone, Serialize)]
pub struct StageProgress {
    pub completed: usize,
    pub stage: StageId,
    pub title: String,
    pub total: usize,
}

impl StatusReport {
    /// The report of `state` at `now_ms` (which only the approval's waiting time depends on).
    pub fn of(definition: &Definition, state: &ExecutionState, now_ms: i64) -> StatusReport {
        let current = pipeline_core::decide::current_stage(definition, state);
        let progress = current.map(|stage| {
            let (completed, total) = state.stage_progress(&stage.id);
            StageProgress {
                completed,
                stage: stage.id.clone(),
                title: stage.title.clone(),
                total,
            }
        });
        // A gate stays waiting in the fold when the execution ends there (rejected, cancelled);
        // only a live execution has a pending approval.
        let approval = definition
            .stages
            .iter()
            .filter(|_| !state.status.is_terminal())
            .find_map(|stage| match &state.stage(&stage.id).status {
                StageStatus::WaitingForApproval {
                    subject,
                    requested_at_ms,
                    reminded,
                } => {
                    let reminder_after = match stage.kind {
                        StageKind::Approval {
                            reminder_after_ms, ..
                        } => reminder_after_ms as i64,
                        StageKind::Call(_) => i64::MAX,
                    };
                    let pending_ms = now_ms - requested_at_ms;
                    let decision = state
                        .pending_signals
                        .iter()
                        .find(|signal| {
                            matches!(signal, Signal::Approve { .. } | Signal::Reject { .. })
                        })
                        .cloned();
                    Some(PendingApproval {
                        decision,
                        pending_ms,
                        pending_since_ms: *requested_at_ms,
                        reminder: *reminded || pending_ms >= reminder_after,
                        speakers: match &stage.kind {
                            StageKind::Approval { subject, .. } => {
                                recorded_speakers(state, subject)
                            }
                            StageKind::Call(_) => Vec::new(),
                        },
                        stage: stage.id.clone(),
                        subject: subject.clone(),
                    })
                }
                _ => None,
            });
        // The last stage, in workflow order, whose output names them (the publishing stage).
        let published = |field: &str| {
            definition
                .stages
                .iter()
                .filter_map(|stage| state.stage(&stage.id).output.as_ref()?.get(field).cloned())
                .next_back()
        };
        let error = state.last_error.as_ref().map(|last| ErrorReport {
            activity: last.activity.clone(),
            attempt: last.attempt,
            kind: last.error.kind.clone(),
            message: last.error.message.clone(),
            stage: last.stage.clone(),
        });
        let spent = state.spent();
        let budget = state.budget_micros.map(|limit_micros| BudgetReport {
            currency: spent.as_ref().map(|cost| cost.currency.clone()),
            limit_micros,
            paused: state.budget_gate.is_some() && !state.status.is_terminal(),
            spent_micros: spent.as_ref().map_or(0, |cost| cost.amount_micros),
        });
        let stages = definition
            .stages
            .iter()
            .map(|stage| {
                let stage_state = state.stage(&stage.id);
                let (completed, total) = state.stage_progress(&stage.id);
                StageReport {
                    completed,
                    finished_at_ms: stage_state.finished_at_ms,
                    id: stage.id.clone(),
                    kind: match stage.kind {
                        StageKind::Call(_) => "call",
                        StageKind::Approval { .. } => "approval",
                    },
                    started_at_ms: stage_state.started_at_ms,
                    status: stage_status_name(&stage_state.status),
                    title: stage.title.clone(),
                    total,
                }
            })
            .collect();
        StatusReport {
            approval,
            artifacts: published("artifacts").unwrap_or(Value::Array(Vec::new())),
            budget,
            cost: CostReport {
                by_stage: state.cost_by_stage.clone(),
                total_micros: state.total_cost(),
            },
            driver: None,
            episode_directory: published("directory"),
            error,
            events: state.last_sequence,
            feedback: state.feedback.clone(),
            id: state.execution_id.clone(),
            inputs: state.inputs.clone(),
            pause: pause_report(state),
            progress,
            stage: current.map(|stage| stage.id.clone()),
            stages,
            status: state.status,
            waiting_for_slot: slot_waits(definition, state),
            workflow: state.workflow.clone(),
        }
    }
}

impl Engine {
    /// The status report of an execution now.
    pub fn status_report(&self, execution_id: &str) -> Result<StatusReport, EngineError> {
        let state = self.load_state(execution_id)?;
        self.status_report_of(&state)
    }

    /// The status report of an execution whose history was already read and folded.
    pub fn status_report_of(&self, state: &ExecutionState) -> Result<StatusReport, EngineError> {
        let execution_id = &state.execution_id.0;
        let definition = super::store::pinned_definition(execution_id, state)?;
        let now_ms = self.clock.now_ms();
        let mut report = StatusReport::of(&definition, state, now_ms);
        report.driver = self.driver_of(execution_id, now_ms)?;
        Ok(report)
    }

    /// Who drives the execution now (the holder of its live lease), as people read it.
    pub fn driver_of(
        &self,
        execution_id: &str,
        now_ms: i64,
    ) -> Result<Option<String>, EngineError> {
        Ok(self
            .store
            .lease_holder(execution_id, now_ms)?
            .map(|holder| holder.to_string()))
    }
}

fn pause_report(state: &ExecutionState) -> Option<PauseReport> {
    let pause = state.paused.as_ref()?;
    Some(PauseReport {
        error: ErrorReport {
            activity: None,
            attempt: None,
            kind: pause.error.kind.clone(),
            message: pause.error.message.clone(),
            stage: Some(pause.stage.clone()),
        },
        paused_at_ms: pause.paused_at_ms,
        resume_requested: state.pending_signals.contains(&Signal::Resume),
        stage: pause.stage.clone(),
    })
}

/// The current stage's running attempts that wait for a slot; only the running ones are
/// looked at, so a large fan-out costs what is in flight.
fn slot_waits(definition: &Definition, state: &ExecutionState) -> Vec<SlotWaitReport> {
    let Some(stage) = pipeline_core::decide::current_stage(definition, state) else {
        return Vec::new();
    };
    let stage = state.stage(&stage.id);
    state
        .activities_at(&stage.activities, &stage.tally.running)
        .filter_map(|(id, activity)| {
            let wait = activity.slot_wait.as_ref()?;
            Some(SlotWaitReport {
                activity: id.clone(),
                plugin: wait.plugin.clone(),
                reason: wait.reason.clone(),
                since_ms: wait.since_ms,
            })
        })
        .collect()
}

/// A status as `--json` and `host list --status` name it.
fn status_name<S: Serializer>(status: &ExecutionStatus, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(status.as_str())
}

fn stage_status_name(status: &StageStatus) -> &'static str {
    match status {
        StageStatus::Pending => "pending",
        StageStatus::Running => "running",
        StageStatus::WaitingForApproval { .. } => "waiting_for_approval",
        StageStatus::Completed => "completed",
        StageStatus::Skipped { .. } => "skipped",
        StageStatus::Failed { .. } => "failed",
    }
}

/// The names a `speaker` field may take in the schema the subject stage's answer was held to
/// (recorded with its input, rendered with the show).
fn recorded_speakers(state: &ExecutionState, subject: &StageId) -> Vec<String> {
    fn walk(schema: &Value, speakers: &mut Vec<String>) {
        match schema {
            Value::Object(fields) => {
                if let Some(names) = fields
                    .get("properties")
                    .and_then(|properties| properties.get("speaker"))
                    .and_then(|speaker| speaker.get("enum"))
                    .and_then(Value::as_array)
                {
                    speakers.extend(names.iter().filter_map(Value::as_str).map(str::to_string));
                }
                fields.values().for_each(|inner| walk(inner, speakers));
            }
            Value::Array(items) => items.iter().for_each(|inner| walk(inner, speakers)),
            _ => {}
        }
    }
    let mut speakers = Vec::new();
    if let Some(schema) = state
        .stage(subject)
        .activities
        .first()
        .and_then(|activity| state.activities.get(activity))
        .and_then(|activity| activity.input.get("json_schema"))
    {
        walk(schema, &mut speakers);
    }
    speakers.dedup();
    speakers
}
