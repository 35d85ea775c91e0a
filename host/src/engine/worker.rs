//! The worker: drives every execution that can make progress (running ones whose owner may
//! have died, waiting ones whose timer is due or that got a signal), a bounded number at a
//! time, once or following until stopped. `host worker` runs one; a server runs one and wakes
//! it when it records a signal or a start itself.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;

use super::batch::Driven;
use super::{DriveOptions, Engine, EngineError, NoObserver, Observer};

/// How often a following worker looks for work nobody told it about: signals recorded and
/// executions started by other processes, timers coming due.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(500);

/// How many executions a worker drives at once unless told otherwise.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// Drives the runnable executions of one engine. Build it with [`Worker::new`] and the `with_`
/// methods, then call [`Worker::drive_runnable`] once or [`Worker::follow`].
pub struct Worker {
    engine: Engine,
    observer: Arc<dyn Observer>,
    concurrency: usize,
    poll_interval: Duration,
    stop: Option<watch::Receiver<bool>>,
    /// Ends a following worker's wait early. `Notify` keeps one permit when nobody waits, so a
    /// wake-up that arrives during a pass is not lost: the next wait returns at once.
    wake: Arc<Notify>,
}

/// Wakes a following worker at once, for work recorded in this process. Cheap to clone.
#[derive(Debug, Clone)]
pub struct WorkerWaker {
    wake: Arc<Notify>,
}

/// What a worker did until it returned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerSummary {
    /// Drives that ended with the execution finished or waiting for approval.
    pub drives: usize,
    /// Executions that could not be driven (a corrupt history, say); each was reported.
    pub errors: usize,
}

impl Worker {
    /// A worker with [`DEFAULT_CONCURRENCY`], [`DEFAULT_POLL_INTERVAL`], no observer and no stop.
    pub fn new(engine: Engine) -> Worker {
        Worker {
            engine,
            observer: Arc::new(NoObserver),
            concurrency: DEFAULT_CONCURRENCY,
            poll_interval: DEFAULT_POLL_INTERVAL,
            stop: None,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Drives at most `concurrency` executions at once (at least one).
    pub fn with_concurrency(mut self, concurrency: usize) -> Worker {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Told about every event the worker's drives record.
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Worker {
        self.observer = observer;
        self
    }

    /// Stops when `stop` becomes true: drives in flight end as interrupted and stay resumable,
    /// and a following worker ends its wait.
    pub fn with_stop(mut self, stop: watch::Receiver<bool>) -> Worker {
        self.stop = Some(stop);
        self
    }

    /// How long a following worker waits between passes when nobody wakes it.
    pub fn with_poll_interval(mut self, poll_interval: Duration) -> Worker {
        self.poll_interval = poll_interval;
        self
    }

    /// A handle that wakes this worker from another task.
    pub fn waker(&self) -> WorkerWaker {
        WorkerWaker {
            wake: self.wake.clone(),
        }
    }

    /// One pass: drives every execution runnable now, until each finishes or waits, passing
    /// each result to `on_driven` as it comes. Executions another process drives are skipped
    /// without a report; an execution that cannot be driven is reported and the others go on.
    /// Returns [`EngineError::Interrupted`] as soon as a drive is stopped.
    pub async fn drive_runnable(
        &self,
        on_driven: &mut impl FnMut(Driven),
    ) -> Result<WorkerSummary, EngineError> {
        let engine = &self.engine;
        let runnable = engine.store.runnable(engine.clock.now_ms())?;
        let limit = Arc::new(Semaphore::new(self.concurrency));
        let mut tasks = JoinSet::new();
        for row in runnable {
            let (engine, observer, limit) = (engine.clone(), self.observer.clone(), limit.clone());
            let options = DriveOptions {
                stop: self.stop.clone(),
            };
            tasks.spawn(async move {
                let _slot = limit.acquire_owned().await;
                let outcome = engine
                    .drive(&row.execution_id, observer.as_ref(), options)
                    .await;
                Driven {
                    execution_id: row.execution_id,
                    outcome,
                }
            });
        }
        let mut summary = WorkerSummary::default();
        while let Some(joined) = tasks.join_next().await {
            // A drive that panicked has printed its panic; the other executions go on.
            let Ok(driven) = joined else { continue };
            match &driven.outcome {
                Ok(_) => summary.drives += 1,
                Err(EngineError::Owned { .. }) => continue,
                Err(EngineError::Interrupted { execution_id }) => {
                    return Err(EngineError::Interrupted {
                        execution_id: execution_id.clone(),
                    });
                }
                Err(_) => summary.errors += 1,
            }
            on_driven(driven);
        }
        Ok(summary)
    }

    /// Passes until stopped: after each pass, waits for a wake-up, the poll interval or the
    /// stop, whichever comes first, and goes again. Returns the totals of every pass.
    pub async fn follow(
        &self,
        on_driven: &mut impl FnMut(Driven),
    ) -> Result<WorkerSummary, EngineError> {
        let mut stop = self.stop.clone();
        let mut total = WorkerSummary::default();
        loop {
            let pass = self.drive_runnable(on_driven).await?;
            total.drives += pass.drives;
            total.errors += pass.errors;
            if stop.as_ref().is_some_and(|stop| *stop.borrow()) {
                return Ok(total);
            }
            tokio::select! {
                () = tokio::time::sleep(self.poll_interval) => {}
                () = self.wake.notified() => {}
                () = stopped(stop.as_mut()) => {}
            }
        }
    }
}

impl WorkerWaker {
    /// Ends the worker's current wait, or its next one if it is in a pass.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Resolves once `stop` is true; never without a stop, or when its sender is gone.
async fn stopped(stop: Option<&mut watch::Receiver<bool>>) {
    let Some(stop) = stop else {
        return std::future::pending().await;
    };
    if stop.wait_for(|stopped| *stopped).await.is_err() {
        std::future::pending::<()>().await;
    }
}
