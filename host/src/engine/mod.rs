//! The durable engine: starts executions, drives them (load the history, fold it into state,
//! decide, record, run activities, record their outcomes) and accepts signals. Every state
//! change is one committed append; nothing about an execution lives only in memory, so a
//! process can die at any instant and another one continues from the history. Above single
//! drives sit the worker (every runnable execution, once or following), batches of starts and
//! the status report, so the command line and a server share them.

mod activity;
mod batch;
mod breaker;
mod clock;
mod costs;
mod driver;
mod error;
mod flow;
mod fork;
mod observer;
mod publish;
mod report;
mod schedule;
mod signal;
pub mod start;
mod store;
mod upgrade;
mod views;
mod worker;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

pub use batch::{AUTO_APPROVAL_FEEDBACK, BatchOptions, Driven};
pub use clock::{Clock, SystemClock, rfc3339, start_of_day};
pub use costs::{Amounts, CostFilter, CostRollup};
pub use driver::{DriveOptions, DriveOutcome};
pub use error::EngineError;
pub use flow::{FlowControl, FlowLimits};
pub use fork::ForkRequest;
pub use observer::{NoObserver, Observer};
use pipeline_core::store::{HistoryStore, LeaseOwner, SharedBlobs, SharedPacing};
pub use report::{
    BudgetReport, CostReport, ErrorReport, PauseReport, PendingApproval, SlotWaitReport,
    StageProgress, StageReport, StatusReport,
};
pub use schedule::{ScheduleSpec, ScheduledStart, next_due_after, parse_cron, run_id};
pub use signal::record_signal;
pub use start::StartRequest;
pub use store::{LoadedExecution, decode_history, summary_of};
pub use upgrade::{UpgradeEntry, UpgradeReport, UpgradeVerdict};
pub use views::{
    ExecutionListing, ListFilter, ListedProgress, ShowEpisode, ShowOverview, event_json,
};
pub use worker::{
    DEFAULT_CONCURRENCY, DEFAULT_POLL_INTERVAL, WATCH_INTERVAL, Worker, WorkerSummary, WorkerWaker,
};

use crate::blob_store::BlobStore;
use crate::plugin::PluginHost;
use crate::settings::DataDir;
use breaker::CircuitBreakers;

/// Environment variable for fault injection: the process aborts right after committing the
/// N-th event it appends, as if killed, so crash tests can stop it at every event boundary.
pub const CRASH_AFTER_EVENTS_VARIABLE: &str = "HOST_CRASH_AFTER_EVENTS";

/// How long a lease lasts without renewal; the owner renews it well before.
pub const LEASE_TTL_MS: i64 = 15_000;

/// What hosts sharing one database share besides the histories.
#[derive(Clone)]
pub struct SharedByHosts {
    pub blobs: Arc<dyn SharedBlobs>,
    pub pacing: Arc<dyn SharedPacing>,
}

/// Everything an engine needs; cheap to clone (shared parts are behind `Arc`).
#[derive(Clone)]
pub struct Engine {
    /// The history database, behind the storage trait: the engine works the same on any.
    pub store: Arc<dyn HistoryStore>,
    pub blobs: Arc<BlobStore>,
    pub plugins: Arc<PluginHost>,
    pub clock: Arc<dyn Clock>,
    pub episodes_dir: PathBuf,
    owner: LeaseOwner,
    breakers: Arc<CircuitBreakers>,
    /// Concurrency and rate limits per plugin, shared by every drive of this process.
    flow: Arc<FlowControl>,
    crash_after_events: Option<u64>,
    appended_events: Arc<AtomicU64>,
}

impl Engine {
    /// The same engine for a host sharing a database with others: every blob is kept in the
    /// database too (and the blobs other hosts wrote are read from it), and rate-limited
    /// plugins are paced there, so each limit holds across every host.
    pub fn shared_by_hosts(mut self, shared: SharedByHosts) -> Engine {
        self.blobs =
            Arc::new(BlobStore::new(self.blobs.root().to_path_buf()).shared_with(shared.blobs));
        self.flow = Arc::new(
            FlowControl::new(&self.plugins.config().limits).pacing_shared_by_hosts(shared.pacing),
        );
        self
    }

    /// Opens the engine over a data directory's blob store and plugins, with `store` holding
    /// the histories.
    pub fn open(
        data: &DataDir,
        store: Arc<dyn HistoryStore>,
        plugins: PluginHost,
    ) -> Result<Engine, EngineError> {
        let crash_after_events = match std::env::var(CRASH_AFTER_EVENTS_VARIABLE) {
            Ok(text) => Some(text.trim().parse::<u64>().map_err(|_| {
                EngineError::InvalidRequest(format!(
                    "{CRASH_AFTER_EVENTS_VARIABLE} must be a whole number of events, not `{text}`"
                ))
            })?),
            Err(_) => None,
        };
        let limits = &plugins.config().limits;
        // A misspelled section would limit nothing, silently: refused, naming it.
        if let Some(unknown) = limits.keys().find(|name| !plugins.knows(name)) {
            return Err(EngineError::InvalidRequest(format!(
                "config.toml has [limits.{unknown}], but no plugin is named `{unknown}` (no {unknown}.wasm in the plugins directory and no built-in)"
            )));
        }
        let flow = Arc::new(FlowControl::new(limits));
        let pid = std::process::id();
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|name| name.trim().to_string())
            .unwrap_or_else(|_| "localhost".into());
        let owner = LeaseOwner {
            id: format!("host-{pid}-{:x}", clock::entropy()),
            pid,
            hostname,
        };
        Ok(Engine {
            store,
            blobs: Arc::new(BlobStore::new(data.blobs_dir())),
            plugins: Arc::new(plugins),
            clock: Arc::new(SystemClock),
            episodes_dir: data.episodes_dir(),
            owner,
            breakers: Arc::new(CircuitBreakers::default()),
            flow,
            crash_after_events,
            appended_events: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Who this process is, as lease holders are shown.
    pub fn owner(&self) -> &LeaseOwner {
        &self.owner
    }
}
