//! Schedules: a workflow started by the worker at the times of a cron expression (UTC; five
//! fields, or six with seconds first). Each due time starts at most one run, because the
//! run's id is derived from the schedule's name and the due time (`<name>-<YYYYMMDD>T<HHMMSS>`):
//! a second start of the same due time, by another worker or after a crash between the start
//! and moving the schedule on, meets the existing execution and only moves the schedule on.
//!
//! Missed runs: when no worker ran at a due time (or several), the next pass starts the latest
//! missed due time once and skips the older ones; a schedule never starts a run for a time
//! before it was added.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use pipeline_core::ExecutionId;
use pipeline_core::store::{ScheduleRow, ScheduleStore};
use serde_json::{Value, json};

use super::{Engine, EngineError, StartRequest, rfc3339};

/// Longest schedule name: leaves room in the run's id for the due time.
const MAX_NAME_LENGTH: usize = 64;

/// A schedule to add.
#[derive(Debug, Clone)]
pub struct ScheduleSpec {
    pub name: String,
    pub cron: String,
    pub workflow: PathBuf,
    pub inputs: BTreeMap<String, Value>,
    /// Service to plugin, over the workflow's `[providers]`.
    pub providers: BTreeMap<String, String>,
}

/// What a worker's pass did for one due schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledStart {
    pub schedule: String,
    pub due_ms: i64,
    /// The run's id, or why it could not start (the due time is then skipped).
    pub outcome: Result<String, String>,
}

/// A cron expression checked; the error says what is wrong with it.
pub fn parse_cron(expression: &str) -> Result<Cron, EngineError> {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .build()
        .parse(expression)
        .map_err(|error| {
            EngineError::InvalidRequest(format!(
                "`{expression}` is not a cron expression: {error} (five fields: minute hour day-of-month month day-of-week, or six with seconds first; times are UTC)"
            ))
        })
}

/// The first due time strictly after `after_ms`.
pub fn next_due_after(cron: &Cron, after_ms: i64) -> Option<i64> {
    let after = DateTime::<Utc>::from_timestamp_millis(after_ms)?;
    cron.find_next_occurrence(&after, false)
        .ok()
        .map(|due| due.timestamp_millis())
}

/// The id of a schedule's run for one due time.
pub fn run_id(schedule: &str, due_ms: i64) -> String {
    // `2026-12-03T06:00:00.000Z` → `20261203T060000`.
    let stamp: String = rfc3339(due_ms)
        .chars()
        .take(19)
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect();
    format!("{schedule}-{stamp}")
}

impl Engine {
    /// Checks a schedule (its name, its cron expression, and that its workflow starts with its
    /// inputs and providers, as `host run` would check them) and adds it; nothing is recorded
    /// when anything is wrong. Its first run is at the first due time after now.
    pub fn add_schedule(
        &self,
        schedules: &dyn ScheduleStore,
        spec: ScheduleSpec,
    ) -> Result<ScheduleRow, EngineError> {
        if spec.name.len() > MAX_NAME_LENGTH || !ExecutionId::is_valid(&spec.name) {
            return Err(EngineError::InvalidRequest(format!(
                "`{}` cannot be a schedule name: use letters, digits, `-`, `_` and `.`, at most {MAX_NAME_LENGTH}, not starting with `-` or `.`",
                pipeline_core::text::printable(&pipeline_core::text::abbreviate(&spec.name, 40))
            )));
        }
        let cron = parse_cron(&spec.cron)?;
        let now_ms = self.clock.now_ms();
        let next_due_ms = next_due_after(&cron, now_ms).ok_or_else(|| {
            EngineError::InvalidRequest(format!("`{}` is never due again", spec.cron))
        })?;
        let workflow = std::fs::canonicalize(&spec.workflow).map_err(|error| {
            EngineError::InvalidRequest(format!(
                "cannot read workflow {}: {error}",
                spec.workflow.display()
            ))
        })?;
        let request = StartRequest {
            workflow: workflow.clone(),
            inputs: spec.inputs.clone(),
            execution_id: Some(run_id(&spec.name, next_due_ms)),
            providers: spec.providers.clone(),
            max_cost_micros: None,
            reuse_identical: false,
        };
        self.prepare(&request)?;
        let row = ScheduleRow {
            name: spec.name.clone(),
            cron: spec.cron.clone(),
            workflow: workflow.display().to_string(),
            request: json!({ "inputs": spec.inputs, "providers": spec.providers }).to_string(),
            created_at_ms: now_ms,
            next_due_ms,
            last_execution: None,
        };
        if !schedules.add_schedule(&row)? {
            return Err(EngineError::InvalidRequest(format!(
                "a schedule named `{}` already exists; `host schedule remove {}` first to replace it",
                spec.name, spec.name
            )));
        }
        Ok(row)
    }

    /// Starts the run of every schedule that is due now (the latest due time of each, older
    /// missed ones skipped) and moves each schedule on. A run already started for that due
    /// time is not started again.
    pub async fn start_due_schedules(
        &self,
        schedules: &dyn ScheduleStore,
    ) -> Result<Vec<ScheduledStart>, EngineError> {
        let now_ms = self.clock.now_ms();
        let mut started = Vec::new();
        for row in schedules.schedules()? {
            if row.next_due_ms > now_ms {
                continue;
            }
            // Stored expressions were checked when added; one that no longer parses (edited
            // by hand) is left alone rather than stopping every other schedule.
            let Ok(cron) = parse_cron(&row.cron) else {
                tracing::warn!(
                    schedule = row.name,
                    cron = row.cron,
                    "schedule has an unreadable cron expression; skipped"
                );
                continue;
            };
            let latest = DateTime::<Utc>::from_timestamp_millis(now_ms)
                .and_then(|now| cron.find_previous_occurrence(&now, true).ok())
                .map_or(row.next_due_ms, |due| due.timestamp_millis());
            let due_ms = latest.max(row.next_due_ms);
            let outcome = self.start_scheduled_run(&row, due_ms).await;
            let next_due_ms = next_due_after(&cron, due_ms.max(now_ms)).unwrap_or(i64::MAX);
            schedules.advance_schedule(
                &row.name,
                row.next_due_ms,
                next_due_ms,
                outcome.as_ref().ok().map(String::as_str),
            )?;
            started.push(ScheduledStart {
                schedule: row.name,
                due_ms,
                outcome,
            });
        }
        Ok(started)
    }

    /// Starts one schedule's run for `due_ms`; its id when it was started now or before.
    async fn start_scheduled_run(&self, row: &ScheduleRow, due_ms: i64) -> Result<String, String> {
        let execution_id = run_id(&row.name, due_ms);
        if self
            .store
            .execution(&execution_id)
            .map_err(|error| error.to_string())?
            .is_some()
        {
            return Ok(execution_id);
        }
        let request: Value =
            serde_json::from_str(&row.request).map_err(|error| error.to_string())?;
        let start = StartRequest {
            workflow: PathBuf::from(&row.workflow),
            inputs: serde_json::from_value(request["inputs"].clone()).unwrap_or_default(),
            execution_id: Some(execution_id.clone()),
            providers: serde_json::from_value(request["providers"].clone()).unwrap_or_default(),
            max_cost_micros: None,
            reuse_identical: false,
        };
        let prepared = self.prepare(&start).map_err(|error| error.to_string())?;
        match self.start(prepared).await {
            Ok(_) => Ok(execution_id),
            // Another worker started it between the look and the start.
            Err(_) if self.store.execution(&execution_id).ok().flatten().is_some() => {
                Ok(execution_id)
            }
            Err(error) => Err(error.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_expressions_give_their_due_times_in_utc() {
        let weekly = parse_cron("0 6 * * MON").unwrap();
        // Thursday 2026-12-03 14:05:09 UTC → Monday 2026-12-07 06:00 UTC.
        let due = next_due_after(&weekly, 1_796_306_709_250).unwrap();
        assert_eq!(rfc3339(due), "2026-12-07T06:00:00.000Z");
        assert_eq!(run_id("weekly", due), "weekly-20261207T060000");
        let every_two_seconds = parse_cron("*/2 * * * * *").unwrap();
        assert_eq!(next_due_after(&every_two_seconds, 1_000), Some(2_000));
        assert_eq!(next_due_after(&every_two_seconds, 2_000), Some(4_000));
    }

    #[test]
    fn bad_expressions_are_refused_saying_what_cron_is() {
        for bad in [
            "",
            "every monday",
            "61 * * * *",
            "* * * *",
            "0 6 * * FUNDAY",
        ] {
            let error = parse_cron(bad).unwrap_err().to_string();
            assert!(error.contains("is not a cron expression"), "{bad}: {error}");
        }
    }
}
