//! Progress while an execution is driven: one line per stage event on stderr (stdout stays
//! free for results and `--json`), with counts for stages that fan out.

use std::io::Write as _;

use host::engine::Observer;
use pipeline_core::{ActivityStatus, Definition, Event, ExecutionState};

/// Prints stage starts, completions, failures and per-item progress.
pub struct LineProgress {
    /// `--json` runs stay quiet apart from errors.
    pub quiet: bool,
}

impl Observer for LineProgress {
    fn recorded(&self, definition: &Definition, state: &ExecutionState, event: &Event) {
        if self.quiet {
            return;
        }
        let title = |stage: &pipeline_core::StageId| {
            definition
                .stage(stage)
                .map_or_else(|| stage.0.clone(), |stage| stage.title.clone())
        };
        let line = match event {
            Event::StageStarted { stage } => format!("▶ {}", title(stage)),
            Event::StageSkipped { stage, reason } => {
                format!("· {} skipped ({reason})", title(stage))
            }
            Event::StageCompleted { stage, .. } => {
                let elapsed = state
                    .stages
                    .get(stage)
                    .and_then(|stage| Some(stage.finished_at_ms? - stage.started_at_ms?));
                format!(
                    "✓ {}{}",
                    title(stage),
                    elapsed
                        .map(|ms| format!(" ({:.1}s)", ms as f64 / 1000.0))
                        .unwrap_or_default()
                )
            }
            Event::StageFailed {
                stage,
                error,
                continued,
            } => {
                format!(
                    "✗ {} failed: {}{}",
                    title(stage),
                    error.message,
                    if *continued { " (continuing)" } else { "" }
                )
            }
            Event::ActivityCompleted { activity, .. } => {
                let Some(stage_id) = state
                    .activities
                    .get(activity)
                    .map(|activity| activity.stage.clone())
                else {
                    return;
                };
                let stage = state.stage(&stage_id);
                if stage.activities.len() < 2 {
                    return;
                }
                let done = stage
                    .activities
                    .iter()
                    .filter(|id| {
                        matches!(
                            state.activities.get(*id).map(|activity| &activity.status),
                            Some(ActivityStatus::Completed { .. })
                        )
                    })
                    .count();
                format!("  {}: {done}/{}", title(&stage_id), stage.activities.len())
            }
            Event::ActivityFailed {
                activity,
                attempt,
                error,
                ..
            } => {
                format!(
                    "  ! {activity} attempt {attempt} failed: {}{}",
                    error.message,
                    if error.retryable {
                        ""
                    } else {
                        " (not retryable)"
                    }
                )
            }
            Event::TimerStarted {
                fire_at_ms,
                purpose:
                    pipeline_core::TimerPurpose::RetryBackoff {
                        activity,
                        next_attempt,
                    },
                ..
            } => {
                format!(
                    "  ↻ {activity}: attempt {next_attempt} in {:.1}s",
                    (*fire_at_ms - state.last_event_at_ms).max(0) as f64 / 1000.0
                )
            }
            Event::ApprovalReminder { stage, .. } => format!(
                "⚠ {} has been waiting for approval for a long time",
                title(stage)
            ),
            Event::ExecutionCompleted { .. } => "✓ Completed".to_string(),
            Event::ExecutionFailed { error, .. } => format!("✗ Failed: {}", error.message),
            Event::ExecutionRejected { feedback, .. } => format!("✗ Rejected: {feedback}"),
            Event::ExecutionCancelled { .. } => "✗ Cancelled".to_string(),
            _ => return,
        };
        let _ = writeln!(std::io::stderr(), "{line}");
    }
}
