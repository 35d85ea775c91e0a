//! What can go wrong with a history, whichever database holds it, grouped by what the caller
//! must do: reload and decide again, stop driving, or report.

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
    /// The database itself failed or refused; `database` names it (a file path for SQLite).
    #[error("history database {database}: {message}")]
    Database { database: String, message: String },
    #[error("history writer has stopped")]
    WriterStopped,
    /// Another process took over the execution; this one must stop driving it.
    #[error("execution {execution_id} is now driven by {holder}; this process stopped driving it")]
    LeaseLost {
        execution_id: String,
        holder: String,
    },
}
