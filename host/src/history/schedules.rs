//! The `schedules` table: `ScheduleStore` for the SQLite store. Schedules change rarely (added,
//! removed, moved on once per due time), so their statements run on the reader connection
//! instead of queueing behind the writer thread's group commits; SQLite's lock and the busy
//! handler order them with the writer's transactions.

use pipeline_core::store::{HistoryError, ScheduleRow, ScheduleStore};
use rusqlite::params;

use super::SqliteStore;

impl ScheduleStore for SqliteStore {
    fn add_schedule(&self, schedule: &ScheduleRow) -> Result<bool, HistoryError> {
        let added = Self::lock(&self.reader)
            .execute(
                "INSERT INTO schedules (name, cron, workflow, request, created_at_ms, next_due_ms, last_execution)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (name) DO NOTHING",
                params![
                    schedule.name,
                    schedule.cron,
                    schedule.workflow,
                    schedule.request,
                    schedule.created_at_ms,
                    schedule.next_due_ms,
                    schedule.last_execution,
                ],
            )
            .map_err(|error| self.database_error(error))?;
        Ok(added == 1)
    }

    fn remove_schedule(&self, name: &str) -> Result<bool, HistoryError> {
        let removed = Self::lock(&self.reader)
            .execute("DELETE FROM schedules WHERE name = ?1", [name])
            .map_err(|error| self.database_error(error))?;
        Ok(removed == 1)
    }

    fn schedules(&self) -> Result<Vec<ScheduleRow>, HistoryError> {
        let connection = Self::lock(&self.reader);
        let mut statement = connection
            .prepare_cached(
                "SELECT name, cron, workflow, request, created_at_ms, next_due_ms, last_execution
                 FROM schedules ORDER BY name",
            )
            .map_err(|error| self.database_error(error))?;
        let rows = statement
            .query_map([], |row| {
                Ok(ScheduleRow {
                    name: row.get(0)?,
                    cron: row.get(1)?,
                    workflow: row.get(2)?,
                    request: row.get(3)?,
                    created_at_ms: row.get(4)?,
                    next_due_ms: row.get(5)?,
                    last_execution: row.get(6)?,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|error| self.database_error(error))?;
        Ok(rows)
    }

    fn advance_schedule(
        &self,
        name: &str,
        from_due_ms: i64,
        next_due_ms: i64,
        execution_id: Option<&str>,
    ) -> Result<bool, HistoryError> {
        let moved = Self::lock(&self.reader)
            .execute(
                "UPDATE schedules SET next_due_ms = ?3, last_execution = COALESCE(?4, last_execution)
                 WHERE name = ?1 AND next_due_ms = ?2",
                params![name, from_due_ms, next_due_ms, execution_id],
            )
            .map_err(|error| self.database_error(error))?;
        Ok(moved == 1)
    }
}
