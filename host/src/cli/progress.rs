//! Progress while an execution is driven. On a terminal, a bar per running stage with counts,
//! elapsed time and time remaining; otherwise (or with `--json`) plain lines. Every line also
//! goes to the execution's log file under `<data-dir>/logs/`, whatever the terminal shows.
//! Log files are opened and written by a thread of their own: creating a file per execution
//! costs a batch of hundreds of executions more than their steps, and need not hold up the
//! drives that report them.

use std::collections::HashMap;
use std::fs::File;
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, mpsc};
use std::thread::JoinHandle;

use host::engine::{Clock as _, Observer, SystemClock, rfc3339};
use host::settings::{Existing, open_private};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use pipeline_core::duration::format_duration;
use pipeline_core::money::format_amount;
use pipeline_core::store::LeaseHolder;
use pipeline_core::text::printable;
use pipeline_core::{Definition, Event, ExecutionState, StageId, TimerPurpose};

/// Shows and logs the progress of one or more executions.
pub struct Progress {
    /// Nothing on the terminal (`--json`); the log file still gets every line.
    quiet: bool,
    bars: Option<MultiProgress>,
    /// A std mutex: held only to update a bar or write a line, never across an await.
    stage_bars: Mutex<HashMap<(String, StageId), ProgressBar>>,
    /// To the log thread; taken on drop, which lets the thread finish and is waited for.
    logs: Mutex<Option<mpsc::Sender<LogMessage>>>,
    log_thread: Option<JoinHandle<()>>,
    /// Gates are approved as they are reached (`--auto-approve`): none waits for a person.
    approving_automatically: bool,
    /// A worker: each drive it picks up is announced on stdout with a timestamp.
    announcing_drives: bool,
}

impl Progress {
    pub fn new(logs_dir: &Path, quiet: bool) -> Progress {
        let interactive = !quiet && std::io::stderr().is_terminal();
        let (sender, receiver) = mpsc::channel();
        let logs_dir = logs_dir.to_path_buf();
        let log_thread = std::thread::Builder::new()
            .name("execution-logs".into())
            .spawn(move || write_logs(&logs_dir, receiver));
        let (sender, log_thread) = match log_thread {
            Ok(thread) => (Some(sender), Some(thread)),
            Err(error) => {
                tracing::warn!(%error, "cannot start the thread that writes execution logs");
                (None, None)
            }
        };
        Progress {
            quiet,
            bars: interactive
                .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            stage_bars: Mutex::new(HashMap::new()),
            logs: Mutex::new(sender),
            log_thread,
            approving_automatically: false,
            announcing_drives: false,
        }
    }

    /// For a worker: announces each execution it picks up, and from whom after a takeover.
    pub fn announcing_drives(mut self) -> Progress {
        self.announcing_drives = true;
        self
    }

    /// For drives that approve every gate themselves: a gate is not announced as waiting.
    pub fn approving_automatically(mut self) -> Progress {
        self.approving_automatically = true;
        self
    }

    /// Closes an execution's log file; a later line opens it again and appends. A following
    /// worker calls this after each drive, so it holds files only for the drives in flight.
    pub fn close_log(&self, execution_id: &str) {
        self.send_log(LogMessage::Close(execution_id.to_string()));
    }

    fn send_log(&self, message: LogMessage) {
        if let Some(sender) = self
            .logs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .as_ref()
        {
            let _ = sender.send(message);
        }
    }

    fn line(&self, execution_id: &str, line: &str) {
        // Lines quote plugin and provider text (errors, feedback): escape control characters
        // before they reach the terminal or the log.
        let line = &printable(line);
        self.log(execution_id, line);
        if self.quiet {
            return;
        }
        match &self.bars {
            Some(bars) => {
                let _ = bars.println(line);
            }
            None => {
                let _ = writeln!(std::io::stderr(), "{line}");
            }
        }
    }

    /// Queues a line for the execution's log, stamped now.
    fn log(&self, execution_id: &str, line: &str) {
        self.send_log(LogMessage::Line {
            execution_id: execution_id.to_string(),
            line: format!("{} {}", rfc3339(SystemClock.now_ms()), printable(line)),
        });
    }

    /// Keeps the bar of a fan-out stage in step with its activities.
    fn update_bar(
        &self,
        definition: &Definition,
        state: &ExecutionState,
        stage_id: &StageId,
        finished: bool,
    ) {
        let Some(bars) = &self.bars else { return };
        let (done, total) = state.stage_progress(stage_id);
        let (done, total) = (done as u64, total as u64);
        let key = (state.execution_id.0.clone(), stage_id.clone());
        let mut stage_bars = self
            .stage_bars
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if finished {
            if let Some(bar) = stage_bars.remove(&key) {
                bar.finish_and_clear();
            }
            return;
        }
        if total < 2 {
            return;
        }
        let bar = stage_bars.entry(key).or_insert_with(|| {
            let title = definition
                .stage(stage_id)
                .map_or_else(|| stage_id.0.clone(), |stage| stage.title.clone());
            // `{msg}` carries our own estimate of the time left (see `time_left`); indicatif's
            // `{eta}` averages per-item times, which at concurrency N overstates it N times.
            let style = ProgressStyle::with_template(
                "{prefix:>20} [{bar:30}] {pos}/{len}  {elapsed} elapsed, {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bars.add(ProgressBar::new(total).with_style(style).with_prefix(title))
        });
        bar.set_length(total);
        bar.set_position(done);
        bar.set_message(time_left(state, stage_id).unwrap_or_else(|| "estimating".into()));
    }
}

impl Observer for Progress {
    fn drive_started(&self, execution_id: &str, taken_over_from: Option<&LeaseHolder>) {
        let line = match taken_over_from {
            Some(holder) => format!(
                "↪ taken over from {holder}, which stopped without finishing; an attempt it had in flight runs again"
            ),
            None => "picked up".to_string(),
        };
        // A takeover is always logged: it is why a history can show an activity run twice.
        if taken_over_from.is_some() {
            self.log(execution_id, &line);
        }
        if self.announcing_drives {
            println!(
                "{} {execution_id}: {}",
                rfc3339(SystemClock.now_ms()),
                printable(&line)
            );
        }
    }

    fn recorded(&self, definition: &Definition, state: &ExecutionState, event: &Event) {
        let id = state.execution_id.0.as_str();
        let title = |stage: &StageId| {
            definition
                .stage(stage)
                .map_or_else(|| stage.0.clone(), |stage| stage.title.clone())
        };
        let stage_of = |activity| {
            state
                .activities
                .get(activity)
                .map(|activity: &pipeline_core::state::ActivityState| activity.stage.clone())
        };
        let line = match event {
            Event::StageStarted { stage } => format!("▶ {}", title(stage)),
            Event::StageSkipped { stage, reason } => {
                format!("· {} skipped ({reason})", title(stage))
            }
            Event::StageCompleted { stage, .. } => {
                self.update_bar(definition, state, stage, true);
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
                self.update_bar(definition, state, stage, true);
                format!(
                    "✗ {} failed: {}{}",
                    title(stage),
                    error.message,
                    if *continued { " (continuing)" } else { "" }
                )
            }
            Event::ActivityScheduled { stage, .. } => {
                self.update_bar(definition, state, stage, false);
                return;
            }
            Event::ActivityCompleted { activity, .. } => {
                let Some(stage_id) = stage_of(activity) else {
                    return;
                };
                let (done, total) = state.stage_progress(&stage_id);
                if total < 2 {
                    return;
                }
                self.update_bar(definition, state, &stage_id, false);
                let line = match time_left(state, &stage_id) {
                    Some(left) => format!("  {}: {done}/{total}, {left}", title(&stage_id)),
                    None => format!("  {}: {done}/{total}", title(&stage_id)),
                };
                // Bars already show counts; the log keeps them.
                if self.bars.is_some() {
                    self.log(id, &line);
                    return;
                }
                line
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
                    TimerPurpose::RetryBackoff {
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
            Event::ApprovalRequested { stage, .. } if self.approving_automatically => {
                format!("⏸ {}: approving automatically", title(stage))
            }
            Event::ApprovalRequested { stage, .. } => {
                format!("⏸ {}: waiting for a person's decision", title(stage))
            }
            Event::BudgetReached {
                spent,
                budget_micros,
                ..
            } => format!(
                "⏸ paused: the cost ({} {}) reached the budget ({})",
                format_amount(spent.amount_micros),
                spent.currency,
                format_amount(*budget_micros)
            ),
            Event::BudgetRaised { budget_micros } => {
                format!("▶ budget raised to {}", format_amount(*budget_micros))
            }
            Event::ApprovalReminder { stage, .. } => format!(
                "⚠ {} has been waiting for approval longer than its reminder period",
                title(stage)
            ),
            Event::SignalReceived { signal } => format!(
                "✉ signal received: {}",
                serde_json::to_value(signal)
                    .ok()
                    .and_then(|value| value["signal"].as_str().map(str::to_string))
                    .unwrap_or_default()
            ),
            Event::ExecutionCompleted { .. } => "✓ Completed".to_string(),
            Event::ExecutionFailed { error, .. } => format!("✗ Failed: {}", error.message),
            Event::ExecutionRejected { feedback, .. } => format!("✗ Rejected: {feedback}"),
            Event::ExecutionCancelled { .. } => "✗ Cancelled".to_string(),
            Event::ExecutionReset { to_stage } => format!("↺ reset to {}", title(to_stage)),
            Event::ExecutionPaused { stage, error } => format!(
                "⏸ paused at {}: its retries ran out ({}); `host resume {id}` once the provider is back",
                title(stage),
                error.kind
            ),
            Event::ExecutionResumed { stage } => format!("▶ resumed at {}", title(stage)),
            Event::ActivityWaiting {
                activity, reason, ..
            } => format!("… {activity} waits for a slot ({reason})"),
            _ => return,
        };
        self.line(id, &line);
    }
}

impl Drop for Progress {
    /// Every queued line reaches its file before the process goes on (and exits).
    fn drop(&mut self) {
        self.logs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(thread) = self.log_thread.take() {
            let _ = thread.join();
        }
    }
}

/// What the log thread is asked to do.
enum LogMessage {
    Line {
        execution_id: String,
        line: String,
    },
    /// The execution's drive ended: its file is closed until it has a line again.
    Close(String),
}

/// The log thread: appends each line to its execution's file, opening files as needed and
/// closing them when asked, until every sender is gone.
fn write_logs(logs_dir: &Path, messages: mpsc::Receiver<LogMessage>) {
    let mut files: HashMap<String, File> = HashMap::new();
    let mut directory_made = false;
    for message in messages {
        let (execution_id, line) = match message {
            LogMessage::Close(execution_id) => {
                files.remove(&execution_id);
                continue;
            }
            LogMessage::Line { execution_id, line } => (execution_id, line),
        };
        if !files.contains_key(&execution_id) {
            let path: PathBuf = logs_dir.join(format!("{execution_id}.log"));
            let made = if directory_made {
                Ok(())
            } else {
                std::fs::create_dir_all(logs_dir)
            };
            directory_made = made.is_ok();
            match made.and_then(|()| open_private(&path, Existing::Append)) {
                Ok(file) => {
                    files.insert(execution_id.clone(), file);
                }
                Err(error) => tracing::warn!(%error, "cannot open the execution's log file"),
            }
        }
        if let Some(file) = files.get_mut(&execution_id) {
            let _ = writeln!(file, "{line}");
        }
    }
}

/// The time a fan-out stage still needs, from the rate its activities have completed at so far
/// (`elapsed / done` per activity, whatever the concurrency), as `12s left`; `None` before the
/// first completion. Times are the recorded ones, so the estimate is the same on every replay.
fn time_left(state: &ExecutionState, stage_id: &StageId) -> Option<String> {
    let (done, total) = state.stage_progress(stage_id);
    let started = state.stages.get(stage_id)?.started_at_ms?;
    let elapsed = (state.last_event_at_ms - started).max(0) as u64;
    let left_ms = estimate_left_ms(elapsed, done as u64, total as u64)?;
    Some(format!(
        "{} left",
        format_duration(std::time::Duration::from_millis(left_ms))
    ))
}

/// What is left at the rate so far: `done` activities took `elapsed_ms` together, however many
/// ran at once.
fn estimate_left_ms(elapsed_ms: u64, done: u64, total: u64) -> Option<u64> {
    (done > 0).then(|| elapsed_ms * total.saturating_sub(done) / done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_follows_the_rate_so_far_whatever_the_concurrency() {
        // 8 of 31 lines spoken in 5 s at concurrency 8: about 15 s left, not minutes.
        assert_eq!(estimate_left_ms(5_000, 8, 31), Some(14_375));
        assert_eq!(estimate_left_ms(5_000, 0, 31), None);
        assert_eq!(estimate_left_ms(5_000, 31, 31), Some(0));
    }
}
