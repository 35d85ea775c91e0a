//! The state of an execution: a pure fold over its history. Nothing else is authoritative;
//! the engine rebuilds this after every crash and replay checks it against the definition.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::cost::BudgetGate;
use crate::event::{ActivityError, Cost, Event, PluginPin, Signal, TimerPurpose};
use crate::ids::{ActivityId, ExecutionId, StageId};
use crate::pause::{Pause, SlotWait, apply_slot_event};
use crate::tally::ActivityTally;
use crate::workflow::DefinitionBundle;

/// Where an execution is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionStatus {
    Running,
    /// Waiting for a person at an approval gate.
    WaitingForApproval,
    /// Paused after a stage's attempts ran out (`on_exhausted = "pause"`), until resumed.
    Paused,
    Completed,
    Failed,
    Rejected,
    Cancelled,
}

impl ExecutionStatus {
    pub fn is_terminal(self) -> bool {
        !matches!(
            self,
            ExecutionStatus::Running
                | ExecutionStatus::WaitingForApproval
                | ExecutionStatus::Paused
        )
    }

    /// The name used in status output, `--json` and `host list --status`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Running => "running",
            ExecutionStatus::WaitingForApproval => "waiting_for_approval",
            ExecutionStatus::Paused => "paused",
            ExecutionStatus::Completed => "completed",
            ExecutionStatus::Failed => "failed",
            ExecutionStatus::Rejected => "rejected",
            ExecutionStatus::Cancelled => "cancelled",
        }
    }
}

/// Where a stage is.
#[derive(Debug, Clone, PartialEq)]
pub enum StageStatus {
    Pending,
    Running,
    /// An approval gate waiting for its signal.
    WaitingForApproval {
        subject: Value,
        requested_at_ms: i64,
        reminded: bool,
    },
    Completed,
    Skipped {
        reason: String,
    },
    Failed {
        error: ActivityError,
        continued: bool,
    },
}

/// One stage's progress and result.
#[derive(Debug, Clone, PartialEq)]
pub struct StageState {
    pub status: StageStatus,
    pub started_at_ms: Option<i64>,
    pub finished_at_ms: Option<i64>,
    /// This generation's activities, in item order.
    pub activities: Vec<ActivityId>,
    /// Those activities grouped by status, by position in `activities`.
    pub tally: ActivityTally,
    pub output: Option<Value>,
}

/// Where an activity is.
#[derive(Debug, Clone, PartialEq)]
pub enum ActivityStatus {
    /// Scheduled, first attempt not started.
    Scheduled,
    /// An attempt started and has no recorded outcome: after a crash it runs again, with the
    /// same idempotency key.
    Running {
        attempt: u32,
        idempotency_key: String,
        started_at_ms: i64,
    },
    /// An attempt failed; the retry policy decides what comes next.
    AttemptFailed {
        attempt: u32,
        error: ActivityError,
    },
    /// Waiting for a retry timer.
    BackingOff {
        next_attempt: u32,
        timer: String,
        fire_at_ms: i64,
    },
    /// The retry timer fired; the next attempt can start.
    Ready {
        next_attempt: u32,
    },
    Completed {
        output: Value,
    },
}

/// One activity.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityState {
    pub stage: StageId,
    pub item: Option<usize>,
    pub call: String,
    pub input: Value,
    pub status: ActivityStatus,
    /// Attempts started so far.
    pub attempts: u32,
    /// Completed attempts' plugin, for the record.
    pub plugin: Option<PluginPin>,
    pub last_error: Option<ActivityError>,
    /// Attempts made before the last resume; the retry policy counts the ones after it.
    pub resumed_after: u32,
    /// Set while the running attempt waits for its plugin's flow control.
    pub slot_wait: Option<SlotWait>,
}

/// A timer that has not fired.
#[derive(Debug, Clone, PartialEq)]
pub struct TimerState {
    pub fire_at_ms: i64,
    pub purpose: TimerPurpose,
}

/// The most recent failure, for status output.
#[derive(Debug, Clone, PartialEq)]
pub struct LastError {
    pub stage: Option<StageId>,
    pub activity: Option<ActivityId>,
    pub attempt: Option<u32>,
    pub error: ActivityError,
}

/// Everything known about an execution, folded from its history.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionState {
    pub execution_id: ExecutionId,
    pub workflow: String,
    pub definition_hash: String,
    pub bundle: DefinitionBundle,
    pub inputs: BTreeMap<String, Value>,
    pub plugins: BTreeMap<String, PluginPin>,
    pub show: Option<Value>,
    pub started_at_ms: i64,
    pub status: ExecutionStatus,
    /// Raised by each reset so that re-run activities get new ids.
    pub generation: u32,
    /// Hashed, like `activities`: deciding looks up every stage to find the current one.
    pub stages: HashMap<StageId, StageState>,
    /// Stages in the order they were reached, which is what a reset rewinds.
    pub stage_order: Vec<StageId>,
    /// Hashed: deciding looks up every activity of the running stage, and nothing depends on
    /// the order (stages list their activities in item order).
    pub activities: HashMap<ActivityId, ActivityState>,
    pub timers: BTreeMap<String, TimerState>,
    /// Signals received and not yet acted on.
    pub pending_signals: Vec<Signal>,
    /// Notes a person gave when sending a gate's subject back (`Signal::Revise`), by the
    /// stage that answers again, oldest first; its model is told them.
    pub revisions: BTreeMap<StageId, Vec<String>>,
    pub cost_by_stage: BTreeMap<StageId, Cost>,
    /// The most the execution may spend, in millionths; raised by each `BudgetRaised`.
    pub budget_micros: Option<u64>,
    /// Open while the execution is paused at its budget.
    pub budget_gate: Option<BudgetGate>,
    /// The run asked for identical plugin calls to reuse completed results.
    pub reuse_identical: bool,
    /// Open while the execution is paused after a stage's attempts ran out.
    pub paused: Option<Pause>,
    pub last_error: Option<LastError>,
    pub covered_concepts: Vec<String>,
    pub feedback: Vec<String>,
    pub last_sequence: u64,
    pub last_event_at_ms: i64,
}

/// A history that cannot be folded: events out of order or about things that do not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event {sequence} ({event_type}) does not fit the history before it: {reason}")]
pub struct FoldError {
    pub sequence: u64,
    pub event_type: String,
    pub reason: String,
}

impl ExecutionState {
    /// Starts the fold from the first event, which must be `ExecutionStarted`.
    pub fn start(event: &Event, recorded_at_ms: i64) -> Result<ExecutionState, FoldError> {
        let Event::ExecutionStarted {
            execution_id,
            workflow,
            definition_hash,
            definition,
            inputs,
            plugins,
            show,
            budget_micros,
            reuse_identical,
        } = event
        else {
            return Err(FoldError {
                sequence: 1,
                event_type: event.type_name().into(),
                reason: "a history must begin with ExecutionStarted".into(),
            });
        };
        Ok(ExecutionState {
            execution_id: execution_id.clone(),
            workflow: workflow.clone(),
            definition_hash: definition_hash.clone(),
            bundle: definition.clone(),
            inputs: inputs.clone(),
            plugins: plugins.clone(),
            show: show.clone(),
            started_at_ms: recorded_at_ms,
            status: ExecutionStatus::Running,
            generation: 0,
            stages: HashMap::new(),
            stage_order: Vec::new(),
            activities: HashMap::new(),
            timers: BTreeMap::new(),
            pending_signals: Vec::new(),
            revisions: BTreeMap::new(),
            cost_by_stage: BTreeMap::new(),
            budget_micros: *budget_micros,
            budget_gate: None,
            reuse_identical: *reuse_identical,
            paused: None,
            last_error: None,
            covered_concepts: Vec::new(),
            feedback: Vec::new(),
            last_sequence: 1,
            last_event_at_ms: recorded_at_ms,
        })
    }

    /// Folds a whole history (events with their recording times).
    pub fn fold<'e>(
        events: impl IntoIterator<Item = (&'e Event, i64)>,
    ) -> Result<ExecutionState, FoldError> {
        let mut events = events.into_iter();
        let Some((first, at)) = events.next() else {
            return Err(FoldError {
                sequence: 1,
                event_type: "none".into(),
                reason: "the history is empty".into(),
            });
        };
        let mut state = ExecutionState::start(first, at)?;
        for (event, at) in events {
            state.apply(event, at)?;
        }
        Ok(state)
    }

    /// The state of a stage; stages not yet reached are pending.
    pub fn stage(&self, id: &StageId) -> &StageState {
        static NOT_REACHED: StageState = StageState {
            status: StageStatus::Pending,
            started_at_ms: None,
            finished_at_ms: None,
            activities: Vec::new(),
            tally: ActivityTally::EMPTY,
            output: None,
        };
        self.stages.get(id).unwrap_or(&NOT_REACHED)
    }

    /// Completed activities of a stage and all of its activities, for progress.
    pub fn stage_progress(&self, stage: &StageId) -> (usize, usize) {
        let stage = self.stage(stage);
        (stage.tally.completed, stage.activities.len())
    }

    /// Applies the next event.
    pub fn apply(&mut self, event: &Event, at: i64) -> Result<(), FoldError> {
        let sequence = self.last_sequence + 1;
        let fail = |reason: String| FoldError {
            sequence,
            event_type: event.type_name().into(),
            reason,
        };
        match event {
            Event::ExecutionStarted { .. } => {
                return Err(fail("the execution has already started".into()));
            }
            Event::StageStarted { stage } => {
                let state = self.reach(stage);
                state.status = StageStatus::Running;
                state.started_at_ms = Some(at);
                state.activities.clear();
                state.tally = ActivityTally::default();
            }
            Event::StageSkipped { stage, reason } => {
                let state = self.reach(stage);
                state.status = StageStatus::Skipped {
                    reason: reason.clone(),
                };
                state.finished_at_ms = Some(at);
                state.output = Some(Value::Null);
            }
            Event::ActivityScheduled {
                activity,
                stage,
                item,
                call,
                input,
            } => {
                let stage_state = self
                    .stages
                    .get_mut(stage)
                    .ok_or_else(|| fail(format!("stage {stage} has not started")))?;
                stage_state.tally.moved(
                    stage_state.activities.len(),
                    None,
                    &ActivityStatus::Scheduled,
                );
                stage_state.activities.push(activity.clone());
                self.activities.insert(
                    activity.clone(),
                    ActivityState {
                        stage: stage.clone(),
                        item: *item,
                        call: call.clone(),
                        input: input.clone(),
                        status: ActivityStatus::Scheduled,
                        attempts: 0,
                        plugin: None,
                        last_error: None,
                        resumed_after: 0,
                        slot_wait: None,
                    },
                );
            }
            Event::ActivityStarted {
                activity,
                attempt,
                idempotency_key,
            } => {
                let running = ActivityStatus::Running {
                    attempt: *attempt,
                    idempotency_key: idempotency_key.clone(),
                    started_at_ms: at,
                };
                let state = self
                    .set_activity_status(activity, running)
                    .ok_or_else(|| fail(format!("unknown activity {activity}")))?;
                (state.attempts, state.slot_wait) = (*attempt, None);
            }
            Event::ActivityCompleted {
                activity,
                output,
                cost,
                plugin,
                ..
            } => {
                let completed = ActivityStatus::Completed {
                    output: output.clone(),
                };
                let state = self
                    .set_activity_status(activity, completed)
                    .ok_or_else(|| fail(format!("unknown activity {activity}")))?;
                (state.plugin, state.slot_wait) = (plugin.clone(), None);
                let stage = state.stage.clone();
                if let Some(cost) = cost {
                    self.add_cost(stage, cost);
                }
            }
            Event::ActivityFailed {
                activity,
                attempt,
                error,
                ..
            } => {
                let failed = ActivityStatus::AttemptFailed {
                    attempt: *attempt,
                    error: error.clone(),
                };
                let state = self
                    .set_activity_status(activity, failed)
                    .ok_or_else(|| fail(format!("unknown activity {activity}")))?;
                (state.last_error, state.slot_wait) = (Some(error.clone()), None);
                self.last_error = Some(LastError {
                    stage: Some(state.stage.clone()),
                    activity: Some(activity.clone()),
                    attempt: Some(*attempt),
                    error: error.clone(),
                });
            }
            Event::TimerStarted {
                timer,
                fire_at_ms,
                purpose,
            } => {
                if let TimerPurpose::RetryBackoff {
                    activity,
                    next_attempt,
                } = purpose
                {
                    let backing_off = ActivityStatus::BackingOff {
                        next_attempt: *next_attempt,
                        timer: timer.clone(),
                        fire_at_ms: *fire_at_ms,
                    };
                    self.set_activity_status(activity, backing_off)
                        .ok_or_else(|| fail(format!("unknown activity {activity}")))?;
                }
                self.timers.insert(
                    timer.clone(),
                    TimerState {
                        fire_at_ms: *fire_at_ms,
                        purpose: purpose.clone(),
                    },
                );
            }
            Event::TimerFired { timer } => {
                let fired = self
                    .timers
                    .remove(timer)
                    .ok_or_else(|| fail(format!("unknown timer {timer}")))?;
                if let TimerPurpose::RetryBackoff {
                    activity,
                    next_attempt,
                } = fired.purpose
                {
                    self.set_activity_status(&activity, ActivityStatus::Ready { next_attempt });
                }
            }
            Event::ApprovalRequested { stage, subject } => {
                let state = self
                    .stages
                    .get_mut(stage)
                    .ok_or_else(|| fail(format!("stage {stage} has not started")))?;
                state.status = StageStatus::WaitingForApproval {
                    subject: subject.clone(),
                    requested_at_ms: at,
                    reminded: false,
                };
                self.status = ExecutionStatus::WaitingForApproval;
            }
            Event::ApprovalReminder { stage, .. } => {
                if let Some(StageState {
                    status: StageStatus::WaitingForApproval { reminded, .. },
                    ..
                }) = self.stages.get_mut(stage)
                {
                    *reminded = true;
                }
            }
            Event::SignalReceived { signal } => self.pending_signals.push(signal.clone()),
            Event::BudgetReached {
                stage,
                spent,
                budget_micros,
            } => self.pause_at_budget(stage, spent, *budget_micros, at),
            Event::BudgetRaised { budget_micros } => self.raise_budget(*budget_micros),
            Event::StageCompleted { stage, output } => {
                let state = self
                    .stages
                    .get_mut(stage)
                    .ok_or_else(|| fail(format!("stage {stage} has not started")))?;
                state.status = StageStatus::Completed;
                state.finished_at_ms = Some(at);
                state.output = Some(output.clone());
                if self.status == ExecutionStatus::WaitingForApproval {
                    self.status = ExecutionStatus::Running;
                    // A gate takes one decision; nothing left over may decide a later gate.
                    self.pending_signals
                        .retain(|signal| matches!(signal, Signal::Cancel { .. }));
                    if let Some(feedback) = output.get("feedback").and_then(Value::as_str) {
                        self.feedback.push(feedback.to_string());
                    }
                }
            }
            Event::StageFailed {
                stage,
                error,
                continued,
            } => {
                let partial = self.partial_output(stage);
                let state = self
                    .stages
                    .get_mut(stage)
                    .ok_or_else(|| fail(format!("stage {stage} has not started")))?;
                state.status = StageStatus::Failed {
                    error: error.clone(),
                    continued: *continued,
                };
                state.finished_at_ms = Some(at);
                state.output = Some(partial);
                self.last_error = Some(LastError {
                    stage: Some(stage.clone()),
                    activity: None,
                    attempt: None,
                    error: error.clone(),
                });
            }
            Event::ExecutionCompleted { covered_concepts } => {
                self.status = ExecutionStatus::Completed;
                self.covered_concepts = covered_concepts.clone();
            }
            Event::ExecutionFailed { stage, error } => {
                self.status = ExecutionStatus::Failed;
                self.last_error = Some(LastError {
                    stage: stage.clone(),
                    activity: None,
                    attempt: None,
                    error: error.clone(),
                });
            }
            Event::ExecutionRejected { feedback, .. } => {
                self.status = ExecutionStatus::Rejected;
                self.feedback.push(feedback.clone());
                self.consume_signal(|signal| matches!(signal, Signal::Reject { .. }));
            }
            Event::ExecutionCancelled { .. } => {
                self.status = ExecutionStatus::Cancelled;
                self.pending_signals.clear();
            }
            Event::ExecutionReset { to_stage } => self.reset(to_stage),
            Event::StageForked {
                stage,
                output,
                skipped,
                ..
            } => self.take_forked(stage, output, skipped.as_deref(), at),
            Event::ExecutionUpgraded {
                definition_hash,
                definition,
                plugins,
            } => self.upgrade(definition_hash, definition, plugins),
            Event::ExecutionPaused { stage, error } => self.pause(stage, error, at),
            Event::ExecutionResumed { stage } => self.resume(stage),
            slot_event => {
                apply_slot_event(self, slot_event, at);
            }
        }
        self.last_sequence = sequence;
        self.last_event_at_ms = at;
        Ok(())
    }

    fn consume_signal(&mut self, matches: impl Fn(&Signal) -> bool) {
        if let Some(position) = self.pending_signals.iter().position(matches) {
            self.pending_signals.remove(position);
        }
    }

    pub(crate) fn reach(&mut self, stage: &StageId) -> &mut StageState {
        if !self.stage_order.contains(stage) {
            self.stage_order.push(stage.clone());
        }
        self.stages
            .entry(stage.clone())
            .or_insert_with(pending_stage)
    }
}

fn pending_stage() -> StageState {
    StageState {
        status: StageStatus::Pending,
        started_at_ms: None,
        finished_at_ms: None,
        activities: Vec::new(),
        tally: ActivityTally::default(),
        output: None,
    }
}
