//! What the worker needs from a database to start scheduled runs exactly once: the schedules
//! and how far each has got, kept in the same database as the histories. Kept apart from
//! `HistoryStore` so that a store without schedules needs nothing new; the SQLite store in
//! `host` implements both.

use super::HistoryError;

/// One schedule as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRow {
    /// Unique; scheduled runs are named `<name>-<due time>`.
    pub name: String,
    /// The cron expression, as given (UTC).
    pub cron: String,
    /// The absolute path of the workflow file, read again at every run.
    pub workflow: String,
    /// The inputs and provider choices of every run, as JSON text
    /// (`{"inputs": {...}, "providers": {...}}`).
    pub request: String,
    pub created_at_ms: i64,
    /// The earliest due time not yet started.
    pub next_due_ms: i64,
    /// The run started last, if any.
    pub last_execution: Option<String>,
}

/// Schedules in a database. Every method is one short blocking statement.
pub trait ScheduleStore: Send + Sync {
    /// Adds a schedule; false (and nothing written) when one of that name exists.
    fn add_schedule(&self, schedule: &ScheduleRow) -> Result<bool, HistoryError>;

    /// Removes a schedule; false when there is none of that name. Runs it started stay.
    fn remove_schedule(&self, name: &str) -> Result<bool, HistoryError>;

    /// Every schedule, by name.
    fn schedules(&self) -> Result<Vec<ScheduleRow>, HistoryError>;

    /// Moves a schedule on after its run for a due time was started (or found started, or
    /// could not start: `execution_id` none): only if its next due time is still
    /// `from_due_ms`, so two workers cannot both move it.
    fn advance_schedule(
        &self,
        name: &str,
        from_due_ms: i64,
        next_due_ms: i64,
        execution_id: Option<&str>,
    ) -> Result<bool, HistoryError>;
}
