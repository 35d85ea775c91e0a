//! The SQL behind the store's rows: executions (kept in step with their events), leases (who
//! drives an execution) and events read back for verification.

use deadpool_postgres::GenericClient;
use pipeline_core::ExecutionStatus;
use pipeline_core::store::{ExecutionRow, ExecutionSummary, LeaseHolder, LeaseOwner, StoredEvent};
use tokio_postgres::types::ToSql;

use crate::retry::Failure;

/// The columns [`execution_row`] reads, in its order.
pub(crate) const EXECUTION_COLUMNS: &str = "execution_id, workflow, status, stage, show, created_at_ms, updated_at_ms, wake_at_ms, last_sequence";

/// The rows of the executions table that `clause` (a `WHERE` and/or `ORDER BY`) selects.
pub(crate) async fn executions(
    client: &impl GenericClient,
    clause: &str,
    parameters: &[&(dyn ToSql + Sync)],
) -> Result<Vec<ExecutionRow>, Failure> {
    let sql = format!("SELECT {EXECUTION_COLUMNS} FROM executions {clause}");
    let rows = client.query(&sql, parameters).await?;
    rows.iter().map(execution_row).collect()
}

fn execution_row(row: &tokio_postgres::Row) -> Result<ExecutionRow, Failure> {
    let status: String = row.get(2);
    let status = ExecutionStatus::from_name(&status).ok_or_else(|| {
        Failure::Permanent(format!(
            "execution {} has the unknown status `{status}` (a newer host wrote it, or the row was edited)",
            row.get::<_, String>(0)
        ))
    })?;
    Ok(ExecutionRow {
        execution_id: row.get(0),
        summary: ExecutionSummary {
            workflow: row.get(1),
            status,
            stage: row.get(3),
            show: row.get(4),
            created_at_ms: row.get(5),
            updated_at_ms: row.get(6),
            wake_at_ms: row.get(7),
        },
        last_sequence: row.get::<_, i64>(8) as u64,
    })
}

/// Writes the row of an execution after an append, in the append's transaction.
pub(crate) async fn upsert_execution(
    client: &impl GenericClient,
    execution_id: &str,
    summary: &ExecutionSummary,
    last_sequence: u64,
) -> Result<(), tokio_postgres::Error> {
    let statement = client
        .prepare_cached(
            "INSERT INTO executions (execution_id, workflow, status, stage, show, created_at_ms, updated_at_ms, wake_at_ms, last_sequence)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (execution_id) DO UPDATE SET status = $3, stage = $4, updated_at_ms = $7, wake_at_ms = $8, last_sequence = $9",
        )
        .await?;
    client
        .execute(
            &statement,
            &[
                &execution_id,
                &summary.workflow,
                &summary.status.as_str(),
                &summary.stage,
                &summary.show,
                &summary.created_at_ms,
                &summary.updated_at_ms,
                &summary.wake_at_ms,
                &(last_sequence as i64),
            ],
        )
        .await
        .map(|_| ())
}

/// The lease row of an execution, expired or not.
pub(crate) async fn read_lease(
    client: &impl GenericClient,
    execution_id: &str,
) -> Result<Option<LeaseHolder>, tokio_postgres::Error> {
    let statement = client
        .prepare_cached(
            "SELECT owner, pid, hostname, expires_at_ms FROM leases WHERE execution_id = $1",
        )
        .await?;
    Ok(client
        .query_opt(&statement, &[&execution_id])
        .await?
        .map(|row| LeaseHolder {
            owner: row.get(0),
            pid: row.get::<_, i64>(1) as u32,
            hostname: row.get(2),
            expires_at_ms: row.get(3),
        }))
}

/// Takes the lease of `execution_id` for `owner` until `now_ms + ttl_ms`, unless a live
/// process holds it: then says who. The caller holds the execution's advisory lock.
pub(crate) async fn acquire_lease(
    client: &impl GenericClient,
    execution_id: &str,
    owner: &LeaseOwner,
    now_ms: i64,
    ttl_ms: i64,
) -> Result<Result<(), LeaseHolder>, tokio_postgres::Error> {
    if let Some(holder) = read_lease(client, execution_id).await?
        && holder.keeps_out(owner, now_ms)
    {
        return Ok(Err(holder));
    }
    let statement = client
        .prepare_cached(
            "INSERT INTO leases (execution_id, owner, pid, hostname, expires_at_ms) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (execution_id) DO UPDATE SET owner = $2, pid = $3, hostname = $4, expires_at_ms = $5",
        )
        .await?;
    client
        .execute(
            &statement,
            &[
                &execution_id,
                &owner.id,
                &i64::from(owner.pid),
                &owner.hostname,
                &(now_ms + ttl_ms),
            ],
        )
        .await?;
    Ok(Ok(()))
}

/// Gives up the lease of `execution_id` if `owner` holds it.
pub(crate) async fn release_lease(
    client: &impl GenericClient,
    execution_id: &str,
    owner: &str,
) -> Result<(), tokio_postgres::Error> {
    let statement = client
        .prepare_cached("DELETE FROM leases WHERE execution_id = $1 AND owner = $2")
        .await?;
    client
        .execute(&statement, &[&execution_id, &owner])
        .await
        .map(|_| ())
}

/// Stored events of one execution from `first_sequence` on, in order, unverified.
pub(crate) async fn events_from(
    client: &impl GenericClient,
    execution_id: &str,
    first_sequence: u64,
) -> Result<Vec<StoredEvent>, tokio_postgres::Error> {
    let statement = client
        .prepare_cached(
            "SELECT sequence, event_type, payload, recorded_at_ms, hash
             FROM events WHERE execution_id = $1 AND sequence >= $2 ORDER BY sequence",
        )
        .await?;
    let rows = client
        .query(&statement, &[&execution_id, &(first_sequence as i64)])
        .await?;
    Ok(rows
        .iter()
        .map(|row| {
            let hash: Vec<u8> = row.get(4);
            StoredEvent {
                execution_id: execution_id.to_string(),
                sequence: row.get::<_, i64>(0) as u64,
                event_type: row.get(1),
                payload: row.get(2),
                recorded_at_ms: row.get(3),
                // A hash of the wrong length fails verification at its own event.
                hash: hash.try_into().unwrap_or([0; 32]),
            }
        })
        .collect())
}
