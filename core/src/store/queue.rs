//! The write queue a group-committing store puts in front of its writer: the requests
//! (appends and lease changes) callers queue, the reply each waits for, and the answering of a
//! committed or failed batch. Both stores commit many callers' writes in one transaction and
//! acknowledge each only after that commit; this is the part of that they share.

use futures_channel::oneshot;

use super::{
    AppendFuture, ExecutionSummary, HistoryError, LeaseFuture, LeaseHolder, LeaseOwner, NewEvent,
    ReleaseFuture, StoredEvent,
};

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

/// A store whose writes go through a queue to its writer: it says how a request is queued,
/// and gets the `HistoryStore` write operations built on that, the same for every such store.
pub trait WriteQueue: Sync {
    /// Queues `request` for the writer; fails only when the writer has stopped.
    fn send(&self, request: WriteRequest) -> Result<(), HistoryError>;

    /// [`HistoryStore::append_with`](super::HistoryStore::append_with) through the queue.
    fn queue_append<'a>(
        &'a self,
        execution_id: &'a str,
        first_sequence: u64,
        events: Vec<NewEvent>,
        summary: Option<ExecutionSummary>,
        owner: Option<String>,
    ) -> AppendFuture<'a> {
        Box::pin(submit_append(
            self,
            execution_id,
            first_sequence,
            events,
            summary,
            owner,
            None,
        ))
    }

    /// [`HistoryStore::start_owned`](super::HistoryStore::start_owned) through the queue.
    fn queue_start_owned<'a>(
        &'a self,
        execution_id: &'a str,
        events: Vec<NewEvent>,
        summary: ExecutionSummary,
        owner: &'a LeaseOwner,
        now_ms: i64,
        ttl_ms: i64,
    ) -> AppendFuture<'a> {
        let lease = NewLease {
            owner: owner.clone(),
            now_ms,
            ttl_ms,
        };
        Box::pin(submit_append(
            self,
            execution_id,
            1,
            events,
            Some(summary),
            None,
            Some(lease),
        ))
    }

    /// [`HistoryStore::acquire_lease`](super::HistoryStore::acquire_lease) through the queue,
    /// so many drives' leases share commits with the appends.
    fn queue_acquire_lease<'a>(
        &'a self,
        execution_id: &'a str,
        owner: &'a LeaseOwner,
        now_ms: i64,
        ttl_ms: i64,
    ) -> LeaseFuture<'a> {
        let change = LeaseChange::Acquire {
            owner: owner.clone(),
            now_ms,
            ttl_ms,
        };
        Box::pin(submit_lease(self, execution_id, change))
    }

    /// [`HistoryStore::release_lease`](super::HistoryStore::release_lease) through the queue.
    /// Releasing always succeeds: a lease held by someone else is left alone.
    fn queue_release_lease<'a>(
        &'a self,
        execution_id: &'a str,
        owner: &'a LeaseOwner,
    ) -> ReleaseFuture<'a> {
        let change = LeaseChange::Release {
            owner_id: owner.id.clone(),
        };
        Box::pin(async move { submit_lease(self, execution_id, change).await.map(|_| ()) })
    }
}

/// Queues an append and waits for its commit.
async fn submit_append(
    queue: &(impl WriteQueue + ?Sized),
    execution_id: &str,
    first_sequence: u64,
    events: Vec<NewEvent>,
    summary: Option<ExecutionSummary>,
    owner: Option<String>,
    take_lease: Option<NewLease>,
) -> Result<Vec<StoredEvent>, HistoryError> {
    let (reply, answer) = oneshot::channel();
    queue.send(WriteRequest::Append(AppendRequest {
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

/// Queues a lease change and waits for its commit.
async fn submit_lease(
    queue: &(impl WriteQueue + ?Sized),
    execution_id: &str,
    change: LeaseChange,
) -> Result<Result<(), LeaseHolder>, HistoryError> {
    let (reply, answer) = oneshot::channel();
    queue.send(WriteRequest::Lease(LeaseRequest {
        execution_id: execution_id.to_string(),
        change,
        reply,
    }))?;
    answer.await.map_err(|_| HistoryError::WriterStopped)?
}
