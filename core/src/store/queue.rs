//! The write queue a group-committing store puts in front of its writer: the requests
//! (appends and lease changes) callers queue, the reply each waits for, and the answering of a
//! committed or failed batch. Both stores commit many callers' writes in one transaction and
//! acknowledge each only after that commit; this is the part of that they share.

use futures_channel::oneshot;

use super::{ExecutionSummary, HistoryError, LeaseHolder, LeaseOwner, NewEvent, StoredEvent};

/// One write waiting for a commit.
pub enum WriteRequest {
    Append(AppendRequest),
    Lease(LeaseRequest),
}

/// Appending events at an expected sequence.
pub struct AppendRequest {
    pub execution_id: String,
    pub first_sequence: u64,
    pub events: Vec<NewEvent>,
    /// The execution's row after the append, written in the same transaction.
    pub summary: Option<ExecutionSummary>,
    /// The lease owner the append must not find another holder than.
    pub owner: Option<String>,
    /// A new execution's lease, taken in the transaction of its first events.
    pub take_lease: Option<NewLease>,
    reply: oneshot::Sender<Result<Vec<StoredEvent>, HistoryError>>,
}

/// The lease a start takes for its owner.
pub struct NewLease {
    pub owner: LeaseOwner,
    pub now_ms: i64,
    pub ttl_ms: i64,
}

/// Taking (or renewing) a lease, or giving it up.
pub struct LeaseRequest {
    pub execution_id: String,
    pub change: LeaseChange,
    reply: oneshot::Sender<Result<Result<(), LeaseHolder>, HistoryError>>,
}

pub enum LeaseChange {
    Acquire {
        owner: LeaseOwner,
        now_ms: i64,
        ttl_ms: i64,
    },
    Release {
        owner_id: String,
    },
}

/// What one request of a committed batch came to.
pub enum Outcome {
    Append(Result<Vec<StoredEvent>, HistoryError>),
    Lease(Result<(), LeaseHolder>),
}

impl WriteRequest {
    pub fn execution_id(&self) -> &str {
        match self {
            WriteRequest::Append(append) => &append.execution_id,
            WriteRequest::Lease(lease) => &lease.execution_id,
        }
    }

    /// Answers the caller: with its request's outcome once the batch committed, or with why
    /// the batch failed as a whole.
    pub fn answer(self, outcome: Result<Outcome, HistoryError>) {
        match (self, outcome) {
            (WriteRequest::Append(append), Ok(Outcome::Append(outcome))) => {
                let _ = append.reply.send(outcome);
            }
            (WriteRequest::Lease(lease), Ok(Outcome::Lease(outcome))) => {
                let _ = lease.reply.send(Ok(outcome));
            }
            (WriteRequest::Append(append), Err(error)) => {
                let _ = append.reply.send(Err(error));
            }
            (WriteRequest::Lease(lease), Err(error)) => {
                let _ = lease.reply.send(Err(error));
            }
            // A store builds outcomes one per request, in order, so their kinds match; a reply
            // dropped here reaches its caller as a stopped writer, never as a false success.
            (WriteRequest::Append(_) | WriteRequest::Lease(_), Ok(_)) => {}
        }
    }
}

/// Queues an append with `send` and waits for its commit.
pub async fn submit_append(
    send: impl FnOnce(WriteRequest) -> Result<(), HistoryError>,
    execution_id: &str,
    first_sequence: u64,
    events: Vec<NewEvent>,
    summary: Option<ExecutionSummary>,
    owner: Option<String>,
    take_lease: Option<NewLease>,
) -> Result<Vec<StoredEvent>, HistoryError> {
    let (reply, answer) = oneshot::channel();
    send(WriteRequest::Append(AppendRequest {
        execution_id: execution_id.to_string(),
        first_sequence,
        events,
        summary,
        owner,
        take_lease,
        reply,
    }))?;
    answer.await.map_err(|_| HistoryError::WriterStopped)?
}

/// Queues a lease change with `send` and waits for its commit.
pub async fn submit_lease(
    send: impl FnOnce(WriteRequest) -> Result<(), HistoryError>,
    execution_id: &str,
    change: LeaseChange,
) -> Result<Result<(), LeaseHolder>, HistoryError> {
    let (reply, answer) = oneshot::channel();
    send(WriteRequest::Lease(LeaseRequest {
        execution_id: execution_id.to_string(),
        change,
        reply,
    }))?;
    answer.await.map_err(|_| HistoryError::WriterStopped)?
}
