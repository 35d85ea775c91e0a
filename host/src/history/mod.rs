//! The history store: an append-only log of events per execution in SQLite, each event chained
//! to the previous one by a SHA-256 hash so that corruption or tampering is detected on read.
//!
//! Writes go through one writer thread that folds the appends of many concurrent executions
//! into one transaction (group commit) and acknowledges each caller only after the commit that
//! holds its events. Events here are untyped (a type name and a JSON payload); the engine's
//! typed events are layered on top.

mod chain;
mod executions;
mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use rusqlite::{Connection, OptionalExtension as _};

pub use executions::{ExecutionRow, ExecutionSummary, LeaseHolder, LeaseOwner};
pub use schema::{Durability, WAL_AUTOCHECKPOINT_VARIABLE};

/// An event to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// The event's kind, for example `ActivityCompleted`.
    pub event_type: String,
    /// The event's body as JSON text; stored and hashed byte for byte.
    pub payload: String,
    /// When the event was recorded, in milliseconds since the Unix epoch (from the engine's
    /// injected clock, never read here).
    pub recorded_at_ms: i64,
}

/// An event as stored, with its place in the log and its chained hash.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub execution_id: String,
    /// 1 for the first event of an execution, then consecutive.
    pub sequence: u64,
    pub event_type: String,
    pub payload: String,
    pub recorded_at_ms: i64,
    /// SHA-256 over the previous event's hash and this event's fields.
    pub hash: [u8; 32],
}

/// What went wrong with the history.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// Another writer appended first; reload the history and decide again.
    #[error(
        "execution {execution_id}: expected to append event {expected} but the history ends at {actual}"
    )]
    Conflict {
        execution_id: String,
        expected: u64,
        actual: u64,
    },
    /// The stored history does not verify; it must not be replayed.
    #[error("history of execution {execution_id} is corrupt at event {sequence}: {reason}")]
    Corrupt {
        execution_id: String,
        sequence: u64,
        reason: String,
    },
    #[error("history database {path}: {message}")]
    Database { path: PathBuf, message: String },
    #[error("history writer has stopped")]
    WriterStopped,
    /// Another process took over the execution; this one must stop driving it.
    #[error("execution {execution_id} is now driven by {holder}; this process stopped driving it")]
    LeaseLost {
        execution_id: String,
        holder: String,
    },
}

/// The event log of every execution, in one SQLite database.
pub struct HistoryStore {
    path: PathBuf,
    requests: Option<mpsc::Sender<writer::AppendRequest>>,
    writer_thread: Option<JoinHandle<()>>,
    /// Reads use their own connection so they never wait behind a commit (WAL readers run
    /// alongside the writer). A std mutex: each read is one short blocking query.
    reader: Mutex<Connection>,
    /// Lease changes, which must not queue behind a batch of appends.
    control: Mutex<Connection>,
    commits: Arc<AtomicU64>,
}

impl HistoryStore {
    /// Opens (creating if needed) the database at `path` and starts its writer.
    pub fn open(path: &Path, durability: Durability) -> Result<HistoryStore, HistoryError> {
        let writer_connection = schema::open(path, durability)?;
        let reader = schema::open(path, durability)?;
        let control = schema::open(path, durability)?;
        let (requests, receiver) = mpsc::channel();
        let commits = Arc::new(AtomicU64::new(0));
        let writer_thread = writer::start(
            writer_connection,
            path.to_path_buf(),
            receiver,
            commits.clone(),
        )
        .map_err(|error| HistoryError::Database {
            path: path.to_path_buf(),
            message: format!("cannot start the writer thread: {error}"),
        })?;
        Ok(HistoryStore {
            path: path.to_path_buf(),
            requests: Some(requests),
            writer_thread: Some(writer_thread),
            reader: Mutex::new(reader),
            control: Mutex::new(control),
            commits,
        })
    }

    /// Appends `events` to the history of `execution_id`, which must currently end just before
    /// `first_sequence`. Returns once the events are committed; many concurrent appends share
    /// one commit.
    pub async fn append(
        &self,
        execution_id: &str,
        first_sequence: u64,
        events: Vec<NewEvent>,
    ) -> Result<Vec<StoredEvent>, HistoryError> {
        self.append_with(execution_id, first_sequence, events, None, None)
            .await
    }

    /// Like [`append`](Self::append), and in the same transaction updates the execution's row
    /// from `summary` and, with `owner`, first checks that this owner still holds the lease.
    pub async fn append_with(
        &self,
        execution_id: &str,
        first_sequence: u64,
        events: Vec<NewEvent>,
        summary: Option<ExecutionSummary>,
        owner: Option<String>,
    ) -> Result<Vec<StoredEvent>, HistoryError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let request = writer::AppendRequest {
            execution_id: execution_id.to_string(),
            first_sequence,
            events,
            summary,
            owner,
            reply,
        };
        self.requests
            .as_ref()
            .ok_or(HistoryError::WriterStopped)?
            .send(request)
            .map_err(|_| HistoryError::WriterStopped)?;
        answer.await.map_err(|_| HistoryError::WriterStopped)?
    }

    /// The whole history of an execution, verified: sequences must run from 1 without gaps and
    /// every hash must match. Blocking; call from `spawn_blocking` in async code.
    pub fn read(&self, execution_id: &str) -> Result<Vec<StoredEvent>, HistoryError> {
        let connection = self
            .reader
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let database_error = |error: rusqlite::Error| HistoryError::Database {
            path: self.path.clone(),
            message: error.to_string(),
        };
        // The committed count is read first: each statement sees its own WAL snapshot, and a
        // commit landing between the two reads can only add events, never hide them.
        let committed =
            executions::committed_sequence(&connection, execution_id).map_err(database_error)?;
        let events = schema::read_events(&connection, execution_id).map_err(database_error)?;
        chain::verify(execution_id, &events)?;
        let found = events.last().map_or(0, |event| event.sequence);
        if let Some(committed) = committed
            && committed > found
        {
            return Err(HistoryError::Corrupt {
                execution_id: execution_id.to_string(),
                sequence: found + 1,
                reason: format!(
                    "the history ends at event {found} but {committed} events were committed (it was truncated)"
                ),
            });
        }
        Ok(events)
    }

    /// The sequence number of the last event of an execution, 0 when it has none.
    pub fn last_sequence(&self, execution_id: &str) -> Result<u64, HistoryError> {
        let connection = self
            .reader
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        connection
            .query_row(
                "SELECT max(sequence) FROM events WHERE execution_id = ?1",
                [execution_id],
                |row| row.get::<_, Option<i64>>(0),
            )
            .optional()
            .map(|found| found.flatten().unwrap_or(0) as u64)
            .map_err(|error| HistoryError::Database {
                path: self.path.clone(),
                message: error.to_string(),
            })
    }

    /// How many transactions the writer has committed; with group commit this grows more
    /// slowly than the number of appends.
    pub fn commit_count(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }
}

impl Drop for HistoryStore {
    /// Closing the request channel lets the writer finish what is queued and exit.
    fn drop(&mut self) {
        drop(self.requests.take());
        if let Some(thread) = self.writer_thread.take() {
            let _ = thread.join();
        }
    }
}
