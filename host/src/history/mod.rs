//! The SQLite history store: an append-only log of events per execution, each event chained to
//! the previous one by a SHA-256 hash so that corruption or tampering is detected on read. It
//! implements `pipeline_core::store::HistoryStore`, whose types are re-exported here.
//!
//! Writes (appends and lease changes) go through one writer thread that folds those of many
//! concurrent executions into one transaction (group commit) and acknowledges each caller
//! only after the commit that holds its change. Events here are untyped (a type name and a JSON payload); the engine's
//! typed events are layered on top.

mod executions;
mod reuse;
mod schedules;
mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::thread::JoinHandle;

use pipeline_core::event::ReusedFrom;
use pipeline_core::store::queue::{WriteQueue, WriteRequest};
use pipeline_core::store::{AppendFuture, LeaseFuture, ReleaseFuture, chain};
use rusqlite::{Connection, OptionalExtension as _, params};

pub use pipeline_core::store::{
    ExecutionRow, ExecutionSummary, HistoryError, HistoryStore, LeaseHolder, LeaseOwner, NewEvent,
    ScheduleRow, ScheduleStore, StoredEvent,
};
pub use schema::{Durability, WAL_AUTOCHECKPOINT_VARIABLE, snapshot};

/// The event log of every execution, in one SQLite database.
pub struct SqliteStore {
    path: PathBuf,
    requests: Option<mpsc::Sender<WriteRequest>>,
    writer_thread: Option<JoinHandle<()>>,
    /// Reads use their own connection so they never wait behind a commit (WAL readers run
    /// alongside the writer). A std mutex: each read is one short blocking query.
    reader: Mutex<Connection>,
    /// Only asks `PRAGMA data_version`, which changes when another connection (of any
    /// process, the writer included) commits; it never writes, so every commit counts.
    /// Opened on first use: only a following worker asks.
    watcher: Mutex<Option<Connection>>,
    durability: Durability,
    commits: Arc<AtomicU64>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and starts its writer.
    pub fn open(path: &Path, durability: Durability) -> Result<SqliteStore, HistoryError> {
        let writer_connection = schema::open(path, durability)?;
        let reader = schema::open(path, durability)?;
        let (requests, receiver) = mpsc::channel();
        let commits = Arc::new(AtomicU64::new(0));
        let writer_thread = writer::start(
            writer_connection,
            path.to_path_buf(),
            receiver,
            commits.clone(),
        )
        .map_err(|error| HistoryError::Database {
            database: path.display().to_string(),
            message: format!("cannot start the writer thread: {error}"),
        })?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            requests: Some(requests),
            writer_thread: Some(writer_thread),
            reader: Mutex::new(reader),
            watcher: Mutex::new(None),
            durability,
            commits,
        })
    }

    /// A connection is only ever held for one statement or transaction, so a panic while it
    /// was held cannot have left it in a state another caller must not see.
    fn lock(connection: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
        connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn database_error(&self, error: rusqlite::Error) -> HistoryError {
        HistoryError::Database {
            database: self.path.display().to_string(),
            message: error.to_string(),
        }
    }
}

impl WriteQueue for SqliteStore {
    fn send(&self, request: WriteRequest) -> Result<(), HistoryError> {
        self.requests
            .as_ref()
            .ok_or(HistoryError::WriterStopped)?
            .send(request)
            .map_err(|_| HistoryError::WriterStopped)
    }
}

impl HistoryStore for SqliteStore {
    /// Queues the append for the writer thread; many concurrent appends share one commit.
    fn append_with<'a>(
        &'a self,
        execution_id: &'a str,
        first_sequence: u64,
        events: Vec<NewEvent>,
        summary: Option<ExecutionSummary>,
        owner: Option<String>,
    ) -> AppendFuture<'a> {
        self.queue_append(execution_id, first_sequence, events, summary, owner)
    }

    fn read(&self, execution_id: &str) -> Result<Vec<StoredEvent>, HistoryError> {
        let connection = Self::lock(&self.reader);
        // The committed count is read first: each statement sees its own WAL snapshot, and a
        // commit landing between the two reads can only add events, never hide them.
        let committed = executions::committed_sequence(&connection, execution_id)
            .map_err(|error| self.database_error(error))?;
        let events = schema::read_events(&connection, execution_id)
            .map_err(|error| self.database_error(error))?;
        chain::verify(execution_id, &events, committed)?;
        Ok(events)
    }

    fn last_sequence(&self, execution_id: &str) -> Result<u64, HistoryError> {
        Self::lock(&self.reader)
            .query_row(
                "SELECT max(sequence) FROM events WHERE execution_id = ?1",
                [execution_id],
                |row| row.get::<_, Option<i64>>(0),
            )
            .optional()
            .map(|found| found.flatten().unwrap_or(0) as u64)
            .map_err(|error| self.database_error(error))
    }

    fn start_owned<'a>(
        &'a self,
        execution_id: &'a str,
        events: Vec<NewEvent>,
        summary: ExecutionSummary,
        owner: &'a LeaseOwner,
        now_ms: i64,
        ttl_ms: i64,
    ) -> AppendFuture<'a> {
        self.queue_start_owned(execution_id, events, summary, owner, now_ms, ttl_ms)
    }

    /// Queued for the writer like an append, so many drives' leases share commits.
    fn acquire_lease<'a>(
        &'a self,
        execution_id: &'a str,
        owner: &'a LeaseOwner,
        now_ms: i64,
        ttl_ms: i64,
    ) -> LeaseFuture<'a> {
        self.queue_acquire_lease(execution_id, owner, now_ms, ttl_ms)
    }

    fn release_lease<'a>(
        &'a self,
        execution_id: &'a str,
        owner: &'a LeaseOwner,
    ) -> ReleaseFuture<'a> {
        self.queue_release_lease(execution_id, owner)
    }

    fn lease_holder(
        &self,
        execution_id: &str,
        now_ms: i64,
    ) -> Result<Option<LeaseHolder>, HistoryError> {
        let holder = executions::read_lease(&Self::lock(&self.reader), execution_id)
            .map_err(|error| self.database_error(error))?;
        Ok(holder.filter(|holder| holder.expires_at_ms > now_ms))
    }

    fn execution(&self, execution_id: &str) -> Result<Option<ExecutionRow>, HistoryError> {
        Ok(executions::query(
            &Self::lock(&self.reader),
            "WHERE execution_id = ?1",
            params![execution_id],
        )
        .map_err(|error| self.database_error(error))?
        .into_iter()
        .next())
    }

    fn executions(&self) -> Result<Vec<ExecutionRow>, HistoryError> {
        executions::query(
            &Self::lock(&self.reader),
            "ORDER BY created_at_ms DESC, execution_id",
            params![],
        )
        .map_err(|error| self.database_error(error))
    }

    fn runnable(&self, now_ms: i64) -> Result<Vec<ExecutionRow>, HistoryError> {
        executions::query(
            &Self::lock(&self.reader),
            "WHERE status = 'running' OR (status IN ('waiting_for_approval', 'paused') AND wake_at_ms <= ?1)
             ORDER BY created_at_ms, execution_id",
            params![now_ms],
        )
        .map_err(|error| self.database_error(error))
    }

    fn due(&self, now_ms: i64) -> Result<Vec<ExecutionRow>, HistoryError> {
        executions::query(
            &Self::lock(&self.reader),
            "WHERE status IN ('waiting_for_approval', 'paused') AND wake_at_ms <= ?1
             ORDER BY created_at_ms, execution_id",
            params![now_ms],
        )
        .map_err(|error| self.database_error(error))
    }

    fn executions_of_show(&self, show: &str) -> Result<Vec<ExecutionRow>, HistoryError> {
        executions::query(
            &Self::lock(&self.reader),
            "WHERE show = ?1 ORDER BY created_at_ms, execution_id",
            params![show],
        )
        .map_err(|error| self.database_error(error))
    }

    fn reusable_result(&self, reuse_key: &str) -> Result<Option<ReusedFrom>, HistoryError> {
        reuse::lookup(&Self::lock(&self.reader), reuse_key)
            .map_err(|error| self.database_error(error))
    }

    fn change_token(&self) -> Result<u64, HistoryError> {
        let mut watcher = self
            .watcher
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let connection = match &mut *watcher {
            Some(connection) => connection,
            empty => empty.insert(schema::open(&self.path, self.durability)?),
        };
        connection
            .query_row("PRAGMA data_version", [], |row| row.get::<_, i64>(0))
            .map(|version| version as u64)
            .map_err(|error| self.database_error(error))
    }

    fn commit_count(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }
}

impl Drop for SqliteStore {
    /// Closing the request channel lets the writer finish what is queued and exit.
    fn drop(&mut self) {
        drop(self.requests.take());
        if let Some(thread) = self.writer_thread.take() {
            let _ = thread.join();
        }
    }
}
