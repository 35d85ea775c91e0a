//! The executions table (one row per execution, kept in step with its events) and leases (which
//! process drives an execution).

use rusqlite::{Connection, OptionalExtension as _, params};

use super::{HistoryError, HistoryStore};

/// What the executions table records about an execution after an append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionSummary {
    pub workflow: String,
    pub status: String,
    pub stage: Option<String>,
    pub show: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// When a timer or deadline makes the execution able to progress again.
    pub wake_at_ms: Option<i64>,
}

/// One row of the executions table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionRow {
    pub execution_id: String,
    pub summary: ExecutionSummary,
    pub last_sequence: u64,
}

/// The process asking for a lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseOwner {
    /// Unique per process run, for example `host-1234-<random>`.
    pub id: String,
    pub pid: u32,
    pub hostname: String,
}

/// Who holds a lease someone else asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseHolder {
    pub owner: String,
    pub pid: u32,
    pub hostname: String,
    pub expires_at_ms: i64,
}

impl std::fmt::Display for LeaseHolder {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "process {} on {} ({})",
            self.pid, self.hostname, self.owner
        )
    }
}

impl HistoryStore {
    /// Takes the lease of `execution_id` for `owner` until `now_ms + ttl_ms`, unless a live
    /// process holds it: then says who. A lease whose holder is gone (expired, or a process
    /// on this machine that no longer exists) is taken over.
    pub fn acquire_lease(
        &self,
        execution_id: &str,
        owner: &LeaseOwner,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<Result<(), LeaseHolder>, HistoryError> {
        let mut connection = self
            .control
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let outcome = (|| {
            let transaction =
                connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let current = read_lease(&transaction, execution_id)?;
            if let Some(holder) = current
                && holder.owner != owner.id
                && holder.expires_at_ms > now_ms
                && (holder.hostname != owner.hostname || process_exists(holder.pid))
            {
                return Ok(Err(holder));
            }
            transaction.execute(
                "INSERT INTO leases (execution_id, owner, pid, hostname, expires_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (execution_id) DO UPDATE SET owner = ?2, pid = ?3, hostname = ?4, expires_at_ms = ?5",
                params![execution_id, owner.id, owner.pid, owner.hostname, now_ms + ttl_ms],
            )?;
            transaction.commit()?;
            Ok(Ok(()))
        })();
        outcome.map_err(|error: rusqlite::Error| self.database_error(error))
    }

    /// Gives the lease up, if `owner` still holds it.
    pub fn release_lease(
        &self,
        execution_id: &str,
        owner: &LeaseOwner,
    ) -> Result<(), HistoryError> {
        let connection = self
            .control
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        connection
            .execute(
                "DELETE FROM leases WHERE execution_id = ?1 AND owner = ?2",
                params![execution_id, owner.id],
            )
            .map(|_| ())
            .map_err(|error| self.database_error(error))
    }

    /// Who holds the lease of an execution, if anyone does and has not let it expire.
    pub fn lease_holder(
        &self,
        execution_id: &str,
        now_ms: i64,
    ) -> Result<Option<LeaseHolder>, HistoryError> {
        let connection = self
            .reader
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let holder =
            read_lease(&connection, execution_id).map_err(|error| self.database_error(error))?;
        Ok(holder.filter(|holder| holder.expires_at_ms > now_ms))
    }

    /// One execution's row.
    pub fn execution(&self, execution_id: &str) -> Result<Option<ExecutionRow>, HistoryError> {
        Ok(self
            .query_executions("WHERE execution_id = ?1", params![execution_id])?
            .into_iter()
            .next())
    }

    /// Every execution, newest first.
    pub fn executions(&self) -> Result<Vec<ExecutionRow>, HistoryError> {
        self.query_executions("ORDER BY created_at_ms DESC, execution_id", params![])
    }

    /// Executions that can make progress at `now_ms`: running ones (their owner may have died)
    /// and waiting ones whose timer is due.
    pub fn runnable(&self, now_ms: i64) -> Result<Vec<ExecutionRow>, HistoryError> {
        self.query_executions(
            "WHERE status = 'running' OR (status = 'waiting_for_approval' AND wake_at_ms <= ?1)
             ORDER BY created_at_ms, execution_id",
            params![now_ms],
        )
    }

    /// Executions of one show, oldest first.
    pub fn executions_of_show(&self, show: &str) -> Result<Vec<ExecutionRow>, HistoryError> {
        self.query_executions(
            "WHERE show = ?1 ORDER BY created_at_ms, execution_id",
            params![show],
        )
    }

    fn query_executions(
        &self,
        clause: &str,
        parameters: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<ExecutionRow>, HistoryError> {
        let connection = self
            .reader
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let sql = format!(
            "SELECT execution_id, workflow, status, stage, show, created_at_ms, updated_at_ms, wake_at_ms, last_sequence
             FROM executions {clause}"
        );
        let rows = (|| {
            let mut statement = connection.prepare_cached(&sql)?;
            let rows = statement.query_map(parameters, |row| {
                Ok(ExecutionRow {
                    execution_id: row.get(0)?,
                    summary: ExecutionSummary {
                        workflow: row.get(1)?,
                        status: row.get(2)?,
                        stage: row.get(3)?,
                        show: row.get(4)?,
                        created_at_ms: row.get(5)?,
                        updated_at_ms: row.get(6)?,
                        wake_at_ms: row.get(7)?,
                    },
                    last_sequence: row.get::<_, i64>(8)? as u64,
                })
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })();
        rows.map_err(|error| self.database_error(error))
    }

    fn database_error(&self, error: rusqlite::Error) -> HistoryError {
        HistoryError::Database {
            path: self.path.clone(),
            message: error.to_string(),
        }
    }
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
            summary.status,
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

fn read_lease(
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

/// Whether a process with this id runs on this machine (Linux: it has a /proc entry).
fn process_exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}
