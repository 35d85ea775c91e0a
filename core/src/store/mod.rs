//! What the engine needs from the database that holds its histories, whichever database that
//! is: the `HistoryStore` trait, the rows it stores, its error, and the hash chain every store
//! writes and verifies the same way, the write queue of a group-committing store, and the
//! blobs and request pacing shared by hosts on one database. The SQLite store in `host` and the PostgreSQL store
//! (crate `postgres-store`) implement it, each building on this module alone.

mod blobs;
pub mod chain;
mod error;
mod pacing;
pub mod queue;
mod schedules;
mod types;

use std::future::Future;
use std::pin::Pin;

pub use blobs::SharedBlobs;
pub use error::HistoryError;
pub use pacing::SharedPacing;
pub use schedules::{ScheduleRow, ScheduleStore};
pub use types::{ExecutionRow, ExecutionSummary, LeaseHolder, LeaseOwner, NewEvent, StoredEvent};

use crate::event::ReusedFrom;

/// The future of an append: the stored events once their transaction has committed.
pub type AppendFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<StoredEvent>, HistoryError>> + Send + 'a>>;

/// The future of taking a lease: `Ok(Err(holder))` when a live process holds it.
pub type LeaseFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Result<(), LeaseHolder>, HistoryError>> + Send + 'a>>;

/// The future of giving a lease up.
pub type ReleaseFuture<'a> = Pin<Box<dyn Future<Output = Result<(), HistoryError>> + Send + 'a>>;

/// The event log of every execution, the executions table kept in step with it, and the
/// leases that say which process drives an execution.
///
/// Appends and lease changes are asynchronous: they wait for a commit, which a store may share
/// between many callers. The other operations are short queries and block; async code calls them where a
/// blocking moment is acceptable or from `spawn_blocking`. The trait is object safe, so the
/// engine holds an `Arc<dyn HistoryStore>` and does not know which database it talks to.
pub trait HistoryStore: Send + Sync {
    /// Appends `events` to the history of `execution_id`, which must currently end just before
    /// `first_sequence` (else [`HistoryError::Conflict`], having written nothing). In the same
    /// transaction it writes the execution's row from `summary`, and with `owner` first checks
    /// that no other owner holds the lease (else [`HistoryError::LeaseLost`]). Resolves only
    /// once the transaction has committed; the events are hashed with [`chain::chain`].
    fn append_with<'a>(
        &'a self,
        execution_id: &'a str,
        first_sequence: u64,
        events: Vec<NewEvent>,
        summary: Option<ExecutionSummary>,
        owner: Option<String>,
    ) -> AppendFuture<'a>;

    /// [`append_with`](Self::append_with) without a row update or a lease check.
    fn append<'a>(
        &'a self,
        execution_id: &'a str,
        first_sequence: u64,
        events: Vec<NewEvent>,
    ) -> AppendFuture<'a> {
        self.append_with(execution_id, first_sequence, events, None, None)
    }

    /// Appends the first `events` of a new execution (a conflict if it has any) with its row,
    /// and takes its lease for `owner` until `now_ms + ttl_ms`, in one transaction: a start
    /// that its own process drives on at once costs one commit, and no worker can pick the
    /// execution up in between. A live holder of that id's lease makes it
    /// [`HistoryError::LeaseLost`], having written nothing.
    fn start_owned<'a>(
        &'a self,
        execution_id: &'a str,
        events: Vec<NewEvent>,
        summary: ExecutionSummary,
        owner: &'a LeaseOwner,
        now_ms: i64,
        ttl_ms: i64,
    ) -> AppendFuture<'a>;

    /// The whole history of an execution, returned only after [`chain::verify`] passes
    /// (against the `last_sequence` of its row); empty for an unknown execution.
    fn read(&self, execution_id: &str) -> Result<Vec<StoredEvent>, HistoryError>;

    /// The sequence number of the last event of an execution, 0 when it has none.
    fn last_sequence(&self, execution_id: &str) -> Result<u64, HistoryError>;

    /// Takes (or renews) the lease of `execution_id` for `owner` until `now_ms + ttl_ms`,
    /// unless a live process holds it: then says who. A lease whose holder is gone (expired,
    /// or a process on this machine that no longer exists) is taken over. Resolves once the
    /// change has committed.
    fn acquire_lease<'a>(
        &'a self,
        execution_id: &'a str,
        owner: &'a LeaseOwner,
        now_ms: i64,
        ttl_ms: i64,
    ) -> LeaseFuture<'a>;

    /// Gives the lease up, if `owner` still holds it.
    fn release_lease<'a>(
        &'a self,
        execution_id: &'a str,
        owner: &'a LeaseOwner,
    ) -> ReleaseFuture<'a>;

    /// Who holds the lease of an execution, if anyone does and has not let it expire.
    fn lease_holder(
        &self,
        execution_id: &str,
        now_ms: i64,
    ) -> Result<Option<LeaseHolder>, HistoryError>;

    /// One execution's row.
    fn execution(&self, execution_id: &str) -> Result<Option<ExecutionRow>, HistoryError>;

    /// Every execution, newest first.
    fn executions(&self) -> Result<Vec<ExecutionRow>, HistoryError>;

    /// Executions that can make progress at `now_ms`, oldest first: running ones (their owner
    /// may have died) and ones waiting for approval or paused whose wake-up time is due (a
    /// paused execution has one only once a resume is recorded).
    fn runnable(&self, now_ms: i64) -> Result<Vec<ExecutionRow>, HistoryError>;

    /// Executions waiting for approval or paused whose wake-up time is due at `now_ms` (a
    /// signal arrived, a timer fired), oldest first: the part of [`runnable`](Self::runnable) that
    /// others' commits create, without the running executions.
    fn due(&self, now_ms: i64) -> Result<Vec<ExecutionRow>, HistoryError>;

    /// Executions of one show, oldest first.
    fn executions_of_show(&self, show: &str) -> Result<Vec<ExecutionRow>, HistoryError>;

    /// A number that changes whenever anyone (any process, this one included) commits to the
    /// store, and is cheap enough to ask for every few milliseconds: a following worker polls
    /// it to learn at once of signals and starts other processes record, without querying
    /// for runnable executions when nothing changed.
    fn change_token(&self) -> Result<u64, HistoryError>;

    /// How many transactions this store has committed since it was opened; with group commit
    /// this grows more slowly than the number of appends.
    fn commit_count(&self) -> u64;

    /// The first `ActivityCompleted` recorded (by any execution) with this `reuse_key`
    /// ([`crate::lineage::reuse_key`]), for a run that reuses identical calls. A store keeps
    /// the index in the transaction that appends the event ([`crate::lineage::reuse_keys`]
    /// picks the events to index).
    fn reusable_result(&self, reuse_key: &str) -> Result<Option<ReusedFrom>, HistoryError>;
}
