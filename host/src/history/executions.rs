//! The executions table (one row per execution, kept in step with its events) and leases (which
//! process drives an execution): the SQL behind the store's row and lease operations.

use pipeline_core::ExecutionStatus;
use rusqlite::{Connection, OptionalExtension as _, params};

use super::{ExecutionRow, ExecutionSummary, LeaseHolder, LeaseOwner};

/// A status column holding a name this host does not know (a newer host wrote it, or the row
/// was edited).
#[derive(Debug, thiserror::Error)]
#[error("unknown execution status `{0}`")]
struct UnknownStatus(String);

/// Takes the lease of `execution_id` for `owner` until `now_ms + ttl_ms`, unless a live
/// process holds it: then says who. A lease whose holder is gone (expired, or a process on
/// this machine that no longer exists) is taken over. Runs in the writer's transaction.
pub(super) fn acquire_lease(
    connection: &Connection,
    execution_id: &str,
    owner: &LeaseOwner,
    now_ms: i64,
    ttl_ms: i64,
) -> rusqlite::Result<Result<(), LeaseHolder>> {
    let current = read_lease(connection, execution_id)?;
    if let Some(holder) = current
        && holder.keeps_out(owner, now_ms)
    {
        return Ok(Err(holder));
    }
    connection
        .prepare_cached(
            "INSERT INTO leases (execution_id, owner, pid, hostname, expires_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (execution_id) DO UPDATE SET owner = ?2, pid = ?3, hostname = ?4, expires_at_ms = ?5",
        )?
        .execute(params![execution_id, owner.id, owner.pid, owner.hostname, now_ms + ttl_ms])?;
    Ok(Ok(()))
}

/// Gives up the lease of `execution_id` if `owner` holds it.
pub(super) fn release_lease(
    connection: &Connection,
    execution_id: &str,
    owner: &str,
) -> rusqlite::Result<()> {
    connection
        .prepare_cached("DELETE FROM leases WHERE execution_id = ?1 AND owner = ?2")?
        .execute(params![execution_id, owner])
        .map(|_| ())
}

/// The rows of the executions table that `clause` (a `WHERE` and/or `ORDER BY`) selects.
pub(super) fn query(
    connection: &Connection,
    clause: &str,
    parameters: &[&dyn rusqlite::ToSql],
) -> rusqlite::Result<Vec<ExecutionRow>> {
    let sql = format!(
        "SELECT execution_id, workflow, status, stage, show, created_at_ms, updated_at_ms, wake_at_ms, last_sequence
         FROM executions {clause}"
    );
    let mut statement = connection.prepare_cached(&sql)?;
    let rows = statement.query_map(parameters, |row| {
        let status = row.get_ref(2)?.as_str()?;
        let status = ExecutionStatus::from_name(status).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                2,
                rusqlite::types::Type::Text,
                Box::new(UnknownStatus(status.to_string())),
            )
        })?;
        Ok(ExecutionRow {
            execution_id: row.get(0)?,
            summary: ExecutionSummary {
                workflow: row.get(1)?,
                status,
                stage: row.get(3)?,
                show: row.get(4)?,
                created_at_ms: row.get(5)?,
                updated_at_ms: row.get(6)?,
                wake_at_ms: row.get(7)?,
            },
            last_sequence: row.get::<_, i64>(8)? as u64,
        })
    })?;
    rows.collect()
}

/// Writes the row of an execution after an append, in the append's transaction.
pub(super) fn upsert(
    connection: &Connection,
    execution_id: &str,
    summary: &ExecutionSummary,
    last_sequence: u64,
) -> rusqlite::Result<()> {
    connection
        .prepare_cached(
            "INSERT INTO executions (execution_id, workflow, status, stage, show, created_at_ms, updated_at_ms, wake_at_ms, last_sequence)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (execution_id) DO UPDATE SET status = ?3, stage = ?4, updated_at_ms = ?7, wake_at_ms = ?8, last_sequence = ?9",
        )?
        .execute(params![
            execution_id,
            summary.workflow,
            summary.status.as_str(),
            summary.stage,
            summary.show,
            summary.created_at_ms,
            summary.updated_at_ms,
            summary.wake_at_ms,
            last_sequence as i64,
        ])
        .map(|_| ())
}

/// The number of events the executions table says were committed, if it has a row.
pub(super) fn committed_sequence(
    connection: &Connection,
    execution_id: &str,
) -> rusqlite::Result<Option<u64>> {
    connection
        .prepare_cached("SELECT last_sequence FROM executions WHERE execution_id = ?1")?
        .query_row([execution_id], |row| row.get::<_, i64>(0))
        .optional()
        .map(|found| found.map(|sequence| sequence as u64))
}

/// The holder of the lease when it is someone other than `owner`.
pub(super) fn lease_holder_other_than(
    connection: &Connection,
    execution_id: &str,
    owner: &str,
) -> rusqlite::Result<Option<String>> {
    Ok(read_lease(connection, execution_id)?
        .filter(|holder| holder.owner != owner)
        .map(|holder| holder.to_string()))
}

/// The lease row of an execution, expired or not.
pub(super) fn read_lease(
    connection: &Connection,
    execution_id: &str,
) -> rusqlite::Result<Option<LeaseHolder>> {
    connection
        .prepare_cached(
            "SELECT owner, pid, hostname, expires_at_ms FROM leases WHERE execution_id = ?1",
        )?
        .query_row([execution_id], |row| {
            Ok(LeaseHolder {
                owner: row.get(0)?,
                pid: row.get::<_, i64>(1)? as u32,
                hostname: row.get(2)?,
                expires_at_ms: row.get(3)?,
            })
        })
        .optional()
}
