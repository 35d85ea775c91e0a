//! What happens next: a pure function of the definition, the folded state and the time. The
//! engine records what this returns; replay calls it again at every recorded decision and
//! reports the first difference as non-determinism.

use serde_json::{Value, json};

use crate::cost::{budget_step, hold_at_budget};
use crate::error_kind::ErrorKind;
use crate::event::{ActivityError, Event, Signal, TimerPurpose};
use crate::ids::{ActivityId, StageId};
use crate::pause::paused_step;
use crate::state::{ActivityStatus, ExecutionState, StageStatus};
use crate::template::{self, TemplateError};
use crate::workflow::{CallStage, Definition, OnError, Stage, StageKind, StageReads};

/// The engine's next step.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Record these events (in one transaction), then decide again.
    Record(Vec<Event>),
    /// Nothing to record until `until_ms` (a timer or deadline), an activity finishes or a
    /// signal arrives.
    Wait {
        until_ms: Option<i64>,
        reason: WaitReason,
    },
    /// The execution has ended.
    Finished,
}

/// What a waiting execution waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitReason {
    /// Running activities (and possibly retry timers).
    Activities,
    /// A person's approval at this stage.
    Approval { stage: StageId },
    /// A person's decision to raise the budget or end the execution.
    Budget,
    /// A resume after a stage's attempts ran out (`on_exhausted = "pause"`).
    Paused,
}

/// Decides the next step of `state` at time `now_ms`.
pub fn decide(definition: &Definition, state: &ExecutionState, now_ms: i64) -> Decision {
    if state.status.is_terminal() {
        return Decision::Finished;
    }
    if let Some(Signal::Cancel { reason }) = state
        .pending_signals
        .iter()
        .find(|signal| matches!(signal, Signal::Cancel { .. }))
    {
        return Decision::Record(vec![Event::ExecutionCancelled {
            reason: reason.clone(),
        }]);
    }
    if let Some(limit) = definition.execution_timeout_ms
        && now_ms >= state.started_at_ms.saturating_add(limit as i64)
    {
        return Decision::Record(vec![Event::ExecutionFailed {
            stage: None,
            error: ActivityError::new(
                ErrorKind::ExecutionTimeout,
                format!(
                    "the execution ran longer than its limit of {}",
                    crate::duration::format_duration(std::time::Duration::from_millis(limit))
                ),
            ),
        }]);
    }
    if let Some(pause) = &state.paused {
        return bound_by_execution_deadline(paused_step(state, pause), definition, state);
    }
    if let Some(gate) = &state.budget_gate {
        return bound_by_execution_deadline(
            budget_step(definition, state, &gate.stage),
            definition,
            state,
        );
    }
    let current = current_stage(definition, state);
    let Some(stage) = current else {
        return Decision::Record(vec![Event::ExecutionCompleted {
            covered_concepts: covered_concepts(definition, state),
        }]);
    };
    let decision = match &state.stage(&stage.id).status {
        StageStatus::Pending => start_stage(state, stage, now_ms),
        StageStatus::WaitingForApproval { subject, .. } => {
            approval_step(state, stage, subject, now_ms)
        }
        StageStatus::Running => running_stage(state, stage, now_ms),
        StageStatus::Failed {
            continued: false, ..
        }
        | StageStatus::Completed
        | StageStatus::Skipped { .. }
        | StageStatus::Failed { .. } => Decision::Finished,
    };
    let decision = hold_at_budget(decision, state, stage);
    bound_by_execution_deadline(decision, definition, state)
}

/// The first stage, in definition order, that has not finished: the one running, waiting or
/// about to start. None once every stage is done.
pub fn current_stage<'d>(definition: &'d Definition, state: &ExecutionState) -> Option<&'d Stage> {
    definition.stages.iter().find(|stage| {
        !matches!(
            state.stage(&stage.id).status,
            StageStatus::Completed
                | StageStatus::Skipped { .. }
                | StageStatus::Failed {
                    continued: true,
                    ..
                }
        )
    })
}

/// What templates see: the inputs, the show, and the outputs of the stages in `reads`, with
/// `item` bound in a stage that fans out.
pub fn context(state: &ExecutionState, reads: &StageReads, item: Option<(usize, &Value)>) -> Value {
    let stages: serde_json::Map<String, Value> = state
        .stages
        .iter()
        .filter(|(id, _)| reads.includes(id))
        .filter_map(|(id, stage)| {
            stage
                .output
                .as_ref()
                .map(|output| (id.0.clone(), json!({ "output": output })))
        })
        .collect();
    let mut context = json!({
        "inputs": state.inputs,
        "show": state.show.clone().unwrap_or(Value::Null),
        "stages": stages,
        "execution": { "id": state.execution_id, "workflow": state.workflow },
    });
    if let Some((index, value)) = item {
        context["item"] = value.clone();
        context["index"] = index.into();
    }
    context
}

/// The idempotency key of one attempt: the same whenever that attempt is run again.
pub fn idempotency_key(state: &ExecutionState, activity: &ActivityId, attempt: u32) -> String {
    format!("{}/{activity}/{attempt}", state.execution_id)
}

fn start_stage(state: &ExecutionState, stage: &Stage, now_ms: i64) -> Decision {
    let context = context(state, &stage.reads, None);
    if let Some(condition) = &stage.when {
        match template::evaluate(condition, &context) {
            Ok(value) if !template::is_truthy(&value) => {
                return Decision::Record(vec![Event::StageSkipped {
                    stage: stage.id.clone(),
                    reason: format!("`{condition}` is false"),
                }]);
            }
            Ok(_) => {}
            Err(problem) => {
                return fail_stage_at_start(
                    stage,
                    ActivityError::new(
                        ErrorKind::Template,
                        format!("when `{condition}`: {problem}"),
                    ),
                );
            }
        }
    }
    match &stage.kind {
        StageKind::Approval {
            subject,
            reminder_after_ms,
        } => {
            let subject_output = state.stage(subject).output.clone().unwrap_or(Value::Null);
            Decision::Record(vec![
                Event::StageStarted {
                    stage: stage.id.clone(),
                },
                Event::ApprovalRequested {
                    stage: stage.id.clone(),
                    subject: subject_output,
                },
                Event::TimerStarted {
                    timer: format!("reminder:{}#{}", stage.id, state.generation),
                    fire_at_ms: now_ms.saturating_add(*reminder_after_ms as i64),
                    purpose: TimerPurpose::ApprovalReminder {
                        stage: stage.id.clone(),
                    },
                },
            ])
        }
        StageKind::Call(call) => schedule_activities(state, stage, call, &context),
    }
}

fn schedule_activities(
    state: &ExecutionState,
    stage: &Stage,
    call: &CallStage,
    context: &Value,
) -> Decision {
    let items: Option<Vec<Value>> = match &stage.for_each {
        None => None,
        Some(expression) => match template::evaluate(expression, context) {
            Ok(Value::Array(items)) => Some(items),
            Ok(other) => {
                return fail_stage_at_start(
                    stage,
                    ActivityError::new(
                        ErrorKind::Template,
                        format!(
                            "for_each `{expression}` gave {} instead of a list",
                            kind_of(&other)
                        ),
                    ),
                );
            }
            Err(problem) => {
                return fail_stage_at_start(
                    stage,
                    ActivityError::new(
                        ErrorKind::Template,
                        format!("for_each `{expression}`: {problem}"),
                    ),
                );
            }
        },
    };
    let mut events = vec![Event::StageStarted {
        stage: stage.id.clone(),
    }];
    let targets: Vec<Option<(usize, &Value)>> = match &items {
        None => vec![None],
        Some(items) => items.iter().enumerate().map(Some).collect(),
    };
    let shared = template::SharedContext::new(context);
    for target in targets {
        let rendered = match target {
            Some((index, value)) => render_call_input(call, &shared.with_item(index, value)),
            None => render_call_input(call, &shared),
        };
        let input = match rendered {
            Ok(input) => input,
            Err(problem) => {
                let at = target
                    .map(|(index, _)| format!(" (item {index})"))
                    .unwrap_or_default();
                return fail_stage_at_start(
                    stage,
                    ActivityError::new(
                        ErrorKind::Template,
                        format!("input of stage {}{at}: {problem}", stage.id),
                    ),
                );
            }
        };
        let index = target.map(|(index, _)| index);
        events.push(Event::ActivityScheduled {
            activity: ActivityId::new(&stage.id, state.generation, index),
            stage: stage.id.clone(),
            item: index,
            call: format!("{}.{}", call.service, call.function),
            input,
        });
    }
    if items.as_ref().is_some_and(Vec::is_empty) {
        events.push(Event::StageCompleted {
            stage: stage.id.clone(),
            output: Value::Array(Vec::new()),
        });
    }
    Decision::Record(events)
}

/// The fully rendered input of one activity: the stage's input fields and, for LLM stages,
/// the conversation built from the prompt templates and the output schema.
pub fn render_call_input<C: serde::Serialize + ?Sized>(
    call: &CallStage,
    context: &C,
) -> Result<Value, TemplateError> {
    let fields = Value::Object(
        call.input
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect(),
    );
    let mut input = template::render_tree(&fields, context)?;
    if let Some(prompt) = &call.prompt {
        let in_file = |file: &str, problem: TemplateError| TemplateError {
            message: format!(
                "{file}{}: {}",
                problem
                    .line
                    .map(|line| format!(" line {line}"))
                    .unwrap_or_default(),
                problem.message
            ),
            line: problem.line,
        };
        let mut messages = Vec::new();
        if let Some(system) = &call.system {
            let text = template::render_text(&system.source, context)
                .map_err(|problem| in_file(&system.path, problem))?;
            messages.push(json!({ "role": "system", "content": text }));
        }
        let text = template::render_text(&prompt.source, context)
            .map_err(|problem| in_file(&prompt.path, problem))?;
        messages.push(json!({ "role": "user", "content": text }));
        input["messages"] = Value::Array(messages);
        if let Some(schema) = &call.schema {
            input["json_schema"] = schema
                .render(context)
                .map_err(|problem| in_file(&schema.path, problem))?;
        }
    }
    Ok(input)
}

fn approval_step(state: &ExecutionState, stage: &Stage, subject: &Value, now_ms: i64) -> Decision {
    for signal in &state.pending_signals {
        match signal {
            Signal::Approve {
                replacement,
                feedback,
                ..
            } => {
                let output = json!({
                    "approved": replacement.clone().unwrap_or_else(|| subject.clone()),
                    "edited": replacement.is_some(),
                    "feedback": feedback,
                });
                return Decision::Record(vec![Event::StageCompleted {
                    stage: stage.id.clone(),
                    output,
                }]);
            }
            Signal::Reject { feedback } => {
                return Decision::Record(vec![Event::ExecutionRejected {
                    stage: stage.id.clone(),
                    feedback: feedback.clone(),
                }]);
            }
            // Back to the stage that produced the subject; the reset turns the notes into
            // what that stage's model is told (see `revise`).
            Signal::Revise { .. } => {
                if let StageKind::Approval { subject, .. } = &stage.kind {
                    return Decision::Record(vec![Event::ExecutionReset {
                        to_stage: subject.clone(),
                    }]);
                }
            }
            Signal::Cancel { .. } | Signal::Resume => {}
        }
    }
    let reminder = state.timers.iter().find(|(_, timer)| matches!(&timer.purpose, TimerPurpose::ApprovalReminder { stage: waiting } if *waiting == stage.id));
    if let Some((timer, pending)) = reminder {
        if now_ms >= pending.fire_at_ms {
            return Decision::Record(vec![Event::TimerFired {
                timer: timer.clone(),
            }]);
        }
        return Decision::Wait {
            until_ms: Some(pending.fire_at_ms),
            reason: WaitReason::Approval {
                stage: stage.id.clone(),
            },
        };
    }
    if let StageStatus::WaitingForApproval {
        requested_at_ms,
        reminded: false,
        ..
    } = state.stage(&stage.id).status
        && let StageKind::Approval {
            reminder_after_ms, ..
        } = stage.kind
        && now_ms >= requested_at_ms.saturating_add(reminder_after_ms as i64)
    {
        return Decision::Record(vec![Event::ApprovalReminder {
            stage: stage.id.clone(),
            pending_since_ms: requested_at_ms,
        }]);
    }
    Decision::Wait {
        until_ms: None,
        reason: WaitReason::Approval {
            stage: stage.id.clone(),
        },
    }
}

fn running_stage(state: &ExecutionState, stage: &Stage, now_ms: i64) -> Decision {
    let stage_state = state.stage(&stage.id);
    let (listed, tally) = (&stage_state.activities, &stage_state.tally);
    if let (Some(limit), Some(started)) = (stage.stage_timeout_ms, stage_state.started_at_ms)
        && now_ms >= started.saturating_add(limit as i64)
    {
        return finish_failed_stage(
            stage,
            ActivityError::new(
                ErrorKind::StageTimeout,
                format!(
                    "stage {} ran longer than its limit of {}",
                    stage.id,
                    crate::duration::format_duration(std::time::Duration::from_millis(limit))
                ),
            ),
        );
    }
    // Only the activities that can change are looked at (see `tally`), in item order.
    // Failed attempts: retry after a recorded timer, or give up.
    let mut events = Vec::new();
    for (id, activity) in state.activities_at(listed, &tally.failed) {
        if let ActivityStatus::AttemptFailed { attempt, error } = &activity.status
            && let Some(delay) = stage
                .retry
                .next_delay_ms(attempt - activity.resumed_after, error)
        {
            events.push(Event::TimerStarted {
                timer: format!("retry:{id}:{}", attempt + 1),
                fire_at_ms: now_ms.saturating_add(delay as i64),
                purpose: TimerPurpose::RetryBackoff {
                    activity: id.clone(),
                    next_attempt: attempt + 1,
                },
            });
        }
    }
    if !events.is_empty() {
        return Decision::Record(events);
    }
    for (_, activity) in state.activities_at(listed, &tally.backing_off) {
        if let ActivityStatus::BackingOff {
            timer, fire_at_ms, ..
        } = &activity.status
            && now_ms >= *fire_at_ms
        {
            events.push(Event::TimerFired {
                timer: timer.clone(),
            });
        }
    }
    if !events.is_empty() {
        return Decision::Record(events);
    }
    let free = (stage.concurrency as usize).saturating_sub(tally.running.len());
    for (id, activity) in state.activities_at(listed, &tally.startable).take(free) {
        let next_attempt = match activity.status {
            ActivityStatus::Ready { next_attempt } => next_attempt,
            _ => 1,
        };
        events.push(Event::ActivityStarted {
            activity: id.clone(),
            attempt: next_attempt,
            idempotency_key: idempotency_key(state, id, next_attempt),
        });
    }
    if !events.is_empty() {
        return Decision::Record(events);
    }
    let unsettled =
        !(tally.running.is_empty() && tally.backing_off.is_empty() && tally.startable.is_empty());
    if unsettled {
        let next_timer = state
            .activities_at(listed, &tally.backing_off)
            .filter_map(|(_, activity)| match activity.status {
                ActivityStatus::BackingOff { fire_at_ms, .. } => Some(fire_at_ms),
                _ => None,
            })
            .chain(
                stage
                    .stage_timeout_ms
                    .zip(stage_state.started_at_ms)
                    .map(|(limit, started)| started.saturating_add(limit as i64)),
            )
            .min();
        return Decision::Wait {
            until_ms: next_timer,
            reason: WaitReason::Activities,
        };
    }
    let failure = state
        .activities_at(listed, &tally.failed)
        .find_map(|(id, activity)| match &activity.status {
            ActivityStatus::AttemptFailed { attempt, error } => Some((id, attempt, error)),
            _ => None,
        });
    match failure {
        Some((id, attempt, failed)) => {
            if stage.retry.pauses_on(failed) {
                return Decision::Record(vec![Event::ExecutionPaused {
                    stage: stage.id.clone(),
                    error: failed.clone(),
                }]);
            }
            let message = format!(
                "activity {id} failed after {attempt} attempt{}: {}",
                if *attempt == 1 { "" } else { "s" },
                failed.message
            );
            finish_failed_stage(
                stage,
                ActivityError {
                    message,
                    ..failed.clone()
                },
            )
        }
        None => Decision::Record(vec![Event::StageCompleted {
            stage: stage.id.clone(),
            output: state.partial_output(&stage.id),
        }]),
    }
}

fn finish_failed_stage(stage: &Stage, failure: ActivityError) -> Decision {
    let continued = stage.on_error == OnError::Continue;
    let mut events = vec![Event::StageFailed {
        stage: stage.id.clone(),
        error: failure.clone(),
        continued,
    }];
    if !continued {
        events.push(Event::ExecutionFailed {
            stage: Some(stage.id.clone()),
            error: failure,
        });
    }
    Decision::Record(events)
}

fn fail_stage_at_start(stage: &Stage, failure: ActivityError) -> Decision {
    match finish_failed_stage(stage, failure) {
        Decision::Record(mut events) => {
            events.insert(
                0,
                Event::StageStarted {
                    stage: stage.id.clone(),
                },
            );
            Decision::Record(events)
        }
        other => other,
    }
}

fn covered_concepts(definition: &Definition, state: &ExecutionState) -> Vec<String> {
    let Some(expression) = &definition.covered_concepts else {
        return Vec::new();
    };
    match template::evaluate(expression, &context(state, &StageReads::All, None)) {
        Ok(Value::Array(items)) => items
            .iter()
            .filter_map(|item| item.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// A wait never outlasts the whole execution's limit.
fn bound_by_execution_deadline(
    decision: Decision,
    definition: &Definition,
    state: &ExecutionState,
) -> Decision {
    let deadline = definition
        .execution_timeout_ms
        .map(|limit| state.started_at_ms.saturating_add(limit as i64));
    match (decision, deadline) {
        (Decision::Wait { until_ms, reason }, Some(deadline)) => Decision::Wait {
            until_ms: Some(until_ms.map_or(deadline, |until| until.min(deadline))),
            reason,
        },
        (decision, _) => decision,
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing (null)",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
