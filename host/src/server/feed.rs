//! The feed: one task that notices every event committed to the store, by this process or any
//! other, and passes it on as it commits — to the event streams, the webhooks and the metrics.
//!
//! The store is the only source: drives in this process ring a doorbell (through the worker's
//! observer) so their events go out at once, and a short poll of the executions table catches
//! what other processes record (`host signal --no-wait`, another worker). An execution whose
//! `last_sequence` grew has the events after the last one passed on read back from its
//! verified history, so nothing is passed on that was not committed, and nothing is skipped.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use pipeline_core::{Definition, Event, ExecutionState};
use serde_json::Value;
use tokio::sync::{Notify, broadcast, watch};

use crate::engine::{Engine, ExecutionListing, Observer, StatusReport, WorkerWaker, event_json};

/// How often the feed looks for what other processes recorded.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The shortest gap between two passes, so a drive recording many events a second is read in
/// batches rather than once per event.
const COALESCE: Duration = Duration::from_millis(20);

/// How many items a slow subscriber may fall behind before it re-reads from the store.
const BACKLOG: usize = 4096;

/// What the feed passes on.
#[derive(Debug, Clone)]
pub enum FeedItem {
    /// A committed event, as `host history --json` prints it.
    Event {
        execution_id: String,
        sequence: u64,
        event: Arc<Value>,
    },
    /// An execution's report and list row after the events just passed on.
    Changed {
        report: Arc<StatusReport>,
        listing: Arc<ExecutionListing>,
    },
}

/// Something the feed tells as it passes events on (webhooks, metrics).
pub trait FeedListener: Send + Sync {
    fn event(&self, execution_id: &str, event: &Event, recorded_at_ms: i64, report: &StatusReport);
}

/// The running feed; cheap to clone.
#[derive(Clone)]
pub struct Feed {
    sender: broadcast::Sender<FeedItem>,
    doorbell: Arc<Notify>,
}

impl Feed {
    /// Starts the feed over `engine`'s store: events committed before now are not passed on
    /// (a subscriber reads those from the store), everything after is. `waker` is woken when
    /// another process changed an execution, so this process's worker acts on it at once.
    pub fn start(
        engine: Engine,
        listeners: Vec<Arc<dyn FeedListener>>,
        waker: WorkerWaker,
        mut stop: watch::Receiver<bool>,
    ) -> Feed {
        let (sender, _) = broadcast::channel(BACKLOG);
        let doorbell = Arc::new(Notify::new());
        let feed = Feed {
            sender: sender.clone(),
            doorbell: doorbell.clone(),
        };
        tokio::spawn(async move {
            let mut reader = Reader {
                engine,
                known: HashMap::new(),
                token: None,
                sender,
                listeners,
            };
            let first = tokio::task::spawn_blocking(move || {
                reader.skip_existing();
                reader
            });
            let Ok(mut reader) = first.await else { return };
            loop {
                tokio::select! {
                    () = doorbell.notified() => {}
                    () = tokio::time::sleep(POLL_INTERVAL) => {}
                    _ = stop.wait_for(|stopped| *stopped) => return,
                }
                let pass = tokio::task::spawn_blocking(move || {
                    let outside = reader.pass();
                    (reader, outside)
                });
                let Ok((next, changed_outside)) = pass.await else {
                    return;
                };
                reader = next;
                if changed_outside {
                    waker.wake();
                }
                tokio::time::sleep(COALESCE).await;
            }
        });
        feed
    }

    pub fn subscribe(&self) -> broadcast::Receiver<FeedItem> {
        self.sender.subscribe()
    }

    /// An observer for this process's drives: each committed event rings the doorbell.
    pub fn doorbell(&self) -> Arc<dyn Observer> {
        Arc::new(Doorbell(self.doorbell.clone()))
    }

    /// Rings the doorbell: something was just recorded in this process.
    pub fn ring(&self) {
        self.doorbell.notify_one();
    }
}

struct Doorbell(Arc<Notify>);

impl Observer for Doorbell {
    fn recorded(&self, _: &Definition, _: &ExecutionState, _: &Event) {
        self.0.notify_one();
    }
}

/// The feed's state between passes: how many events of each execution were passed on, and
/// the store's change token when it last looked.
struct Reader {
    engine: Engine,
    known: HashMap<String, u64>,
    token: Option<u64>,
    sender: broadcast::Sender<FeedItem>,
    listeners: Vec<Arc<dyn FeedListener>>,
}

impl Reader {
    fn skip_existing(&mut self) {
        match self.engine.store.executions() {
            Ok(rows) => {
                for row in rows {
                    self.known.insert(row.execution_id, row.last_sequence);
                }
            }
            Err(error) => tracing::warn!(%error, "the event feed could not read the executions"),
        }
    }

    /// Passes on what was committed since the last pass. Returns whether an execution changed
    /// that no drive of this process holds (another process recorded something).
    fn pass(&mut self) -> bool {
        // Nobody committed anything since the last look: no need to read the executions.
        let token = self.engine.store.change_token().ok();
        if token.is_some() && token == self.token {
            return false;
        }
        self.token = token;
        let rows = match self.engine.store.executions() {
            Ok(rows) => rows,
            Err(error) => {
                tracing::warn!(%error, "the event feed could not read the executions");
                return false;
            }
        };
        let mut changed_outside = false;
        for row in rows {
            let known = self.known.get(&row.execution_id).copied().unwrap_or(0);
            if row.last_sequence <= known {
                continue;
            }
            match self.pass_on(&row.execution_id, known) {
                Ok(driven_here) => {
                    changed_outside |= !driven_here;
                    self.known.insert(row.execution_id, row.last_sequence);
                }
                Err(error) => {
                    // A history that does not verify stays unread; `host check` names it.
                    tracing::warn!(%error, execution_id = row.execution_id, "the event feed skipped an execution");
                    self.known.insert(row.execution_id, row.last_sequence);
                }
            }
        }
        changed_outside
    }

    /// Passes on the events of one execution after `known`; returns whether this process
    /// holds its lease.
    fn pass_on(&self, execution_id: &str, known: u64) -> Result<bool, crate::engine::EngineError> {
        // One read of the history serves the events, the report and the list row.
        let (events, state) = self.engine.load_history(execution_id)?;
        let report = Arc::new(self.engine.status_report_of(&state)?);
        let row = self.engine.store.execution(execution_id)?;
        for (index, (event, at)) in events.iter().enumerate().skip(known as usize) {
            let sequence = index as u64 + 1;
            for listener in &self.listeners {
                listener.event(execution_id, event, *at, &report);
            }
            let _ = self.sender.send(FeedItem::Event {
                execution_id: execution_id.to_string(),
                sequence,
                event: Arc::new(event_json(sequence, event, *at)),
            });
        }
        if let Some(row) = row {
            let listing = Arc::new(self.engine.listing_of(&row, &state)?);
            let _ = self.sender.send(FeedItem::Changed {
                report: report.clone(),
                listing,
            });
        }
        let owner = self.engine.owner().id.clone();
        Ok(self
            .engine
            .store
            .lease_holder(execution_id, self.engine.clock.now_ms())?
            .is_some_and(|holder| holder.owner == owner))
    }
}
