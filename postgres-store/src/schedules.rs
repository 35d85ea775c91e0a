//! The `schedules` table: `ScheduleStore` for the PostgreSQL store, so the workers of every
//! host sharing the database start scheduled runs. A due time still starts once: the run's id
//! is derived from it, and moving a schedule on is a compare-and-set of its next due time.

use deadpool_postgres::GenericClient as _;
use pipeline_core::store::{HistoryError, ScheduleRow, ScheduleStore};

use crate::PostgresStore;

impl ScheduleStore for PostgresStore {
    fn add_schedule(&self, schedule: &ScheduleRow) -> Result<bool, HistoryError> {
        let schedule = schedule.clone();
        self.query(move |client, _| {
            let row = schedule.clone();
            async move {
                let added = client
                    .execute(
                        "INSERT INTO schedules (name, cron, workflow, request, created_at_ms, next_due_ms, last_execution)
                         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (name) DO NOTHING",
                        &[
                            &row.name,
                            &row.cron,
                            &row.workflow,
                            &row.request,
                            &row.created_at_ms,
                            &row.next_due_ms,
                            &row.last_execution,
                        ],
                    )
                    .await?;
                Ok(added == 1)
            }
        })
    }

    fn remove_schedule(&self, name: &str) -> Result<bool, HistoryError> {
        let name = name.to_string();
        self.query(move |client, _| {
            let name = name.clone();
            async move {
                let removed = client
                    .execute("DELETE FROM schedules WHERE name = $1", &[&name])
                    .await?;
                Ok(removed == 1)
            }
        })
    }

    fn schedules(&self) -> Result<Vec<ScheduleRow>, HistoryError> {
        self.query(move |client, _| async move {
            let rows = client
                .query(
                    "SELECT name, cron, workflow, request, created_at_ms, next_due_ms, last_execution
                     FROM schedules ORDER BY name",
                    &[],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|row| ScheduleRow {
                    name: row.get(0),
                    cron: row.get(1),
                    workflow: row.get(2),
                    request: row.get(3),
                    created_at_ms: row.get(4),
                    next_due_ms: row.get(5),
                    last_execution: row.get(6),
                })
                .collect())
        })
    }

    fn advance_schedule(
        &self,
        name: &str,
        from_due_ms: i64,
        next_due_ms: i64,
        execution_id: Option<&str>,
    ) -> Result<bool, HistoryError> {
        let (name, execution_id) = (name.to_string(), execution_id.map(str::to_string));
        self.query(move |client, _| {
            let (name, execution_id) = (name.clone(), execution_id.clone());
            async move {
                let moved = client
                    .execute(
                        "UPDATE schedules SET next_due_ms = $3, last_execution = COALESCE($4, last_execution)
                         WHERE name = $1 AND next_due_ms = $2",
                        &[&name, &from_due_ms, &next_due_ms, &execution_id],
                    )
                    .await?;
                Ok(moved == 1)
            }
        })
    }
}
