//! The worker: drives every execution that can make progress (running ones whose owner may
//! have died, waiting ones whose timer is due or that got a signal), a bounded number at a
//! time, once or following until stopped. `host worker` runs one; a server runs one and wakes
//! it when it records a signal or a start itself.
//!
//! A following worker learns of work other processes record without being told: every
//! [`WATCH_INTERVAL`] it asks the store's change token (in SQLite, `PRAGMA data_version`: a
//! read of shared memory, no query, no lock), and only when it moved looks for waiting
//! executions that became due (an approval, a fired timer), which an index answers. So an
//! approval recorded by `host signal --no-wait` is acted on within milliseconds, each of many
//! workers following one database pays a few microseconds per tick while nothing happens, and
//! none of them writes anything to find out. Running executions whose owner may have died
//! are looked for every poll interval, as before. Drives are started as slots free up, so
//! a worker busy with a long batch still picks up what became runnable meanwhile.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;

use pipeline_core::store::ScheduleStore;

use super::batch::Driven;
use super::{DriveOptions, Engine, EngineError, NoObserver, Observer};

/// How often a following worker looks for work nobody told it about: signals recorded and
/// executions started by other processes, timers coming due.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(500);

/// How often a following worker asks the store whether anyone committed anything.
pub const WATCH_INTERVAL: Duration = Duration::from_millis(5);

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
    /// Where the schedules are, when this worker starts their due runs.
    schedules: Option<Arc<dyn ScheduleStore>>,
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
            schedules: None,
        }
    }

    /// Starts the due runs of the schedules in `schedules` (see `schedule`): at the start of a
    /// pass, and every poll interval while following.
    pub fn with_schedules(mut self, schedules: Arc<dyn ScheduleStore>) -> Worker {
        self.schedules = Some(schedules);
        self
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
        self.start_scheduled().await;
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

    /// Drives until stopped, starting a drive whenever an execution becomes runnable and a
    /// slot is free (see the module's notes for how it learns of them): at once for what this
    /// process records and wakes it for, within [`WATCH_INTERVAL`] for due executions other
    /// processes record, within the poll interval for executions whose owner died. Returns
    /// the totals, or [`EngineError::Interrupted`] as soon as a drive is stopped.
    pub async fn follow(
        &self,
        on_driven: &mut impl FnMut(Driven),
    ) -> Result<WorkerSummary, EngineError> {
        let engine = &self.engine;
        let mut stop = self.stop.clone();
        let mut total = WorkerSummary::default();
        let mut tasks: JoinSet<Driven> = JoinSet::new();
        let mut driving: HashSet<String> = HashSet::new();
        // Executions another process drives, and when to try them again: without this, each
        // commit of that process would send this worker to ask for their leases again.
        let mut owned_elsewhere: HashMap<String, Instant> = HashMap::new();
        let mut token = engine.store.change_token()?;
        let mut look = Look::Everything;
        let mut polled_at = Instant::now();
        let mut scheduled_at: Option<Instant> = None;
        let mut tick = tokio::time::interval(WATCH_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Once stopped, nothing new starts; drives in flight were told through their options.
        let mut stopping = false;
        loop {
            stopping |= stop.as_ref().is_some_and(|stop| *stop.borrow());
            if stopping && tasks.is_empty() {
                return Ok(total);
            }
            if !stopping && look != Look::Nothing && driving.len() < self.concurrency {
                let now_ms = engine.clock.now_ms();
                let rows = match look {
                    Look::Everything => {
                        polled_at = Instant::now();
                        engine.store.runnable(now_ms)?
                    }
                    _ => engine.store.due(now_ms)?,
                };
                look = Look::Nothing;
                let now = Instant::now();
                owned_elsewhere.retain(|_, retry_at| *retry_at > now);
                for row in rows {
                    if driving.len() >= self.concurrency {
                        // The rest wait for a free slot, which looks again.
                        break;
                    }
                    if driving.contains(&row.execution_id)
                        || owned_elsewhere.contains_key(&row.execution_id)
                    {
                        continue;
                    }
                    driving.insert(row.execution_id.clone());
                    let (engine, observer) = (engine.clone(), self.observer.clone());
                    let options = DriveOptions {
                        stop: self.stop.clone(),
                    };
                    tasks.spawn(async move {
                        let outcome = engine
                            .drive(&row.execution_id, observer.as_ref(), options)
                            .await;
                        Driven {
                            execution_id: row.execution_id,
                            outcome,
                        }
                    });
                }
            }
            tokio::select! {
                Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                    // A drive that panicked has printed its panic; the other executions go on.
                    let Ok(driven) = joined else { continue };
                    driving.remove(&driven.execution_id);
                    // The slot is free, and the drive may have left work (a signal that came
                    // while it ran) that only a full look finds.
                    look = Look::Everything;
                    match &driven.outcome {
                        Ok(_) => total.drives += 1,
                        Err(EngineError::Owned { .. }) => {
                            owned_elsewhere.insert(
                                driven.execution_id.clone(),
                                Instant::now() + self.poll_interval,
                            );
                            continue;
                        }
                        Err(EngineError::Interrupted { execution_id }) => {
                            return Err(EngineError::Interrupted {
                                execution_id: execution_id.clone(),
                            });
                        }
                        Err(_) => total.errors += 1,
                    }
                    on_driven(driven);
                }
                _ = tick.tick() => {
                    let now_token = engine.store.change_token()?;
                    if now_token != token {
                        token = now_token;
                        look = look.max(Look::Due);
                    }
                    if polled_at.elapsed() >= self.poll_interval {
                        look = Look::Everything;
                    }
                    if self.schedules.is_some()
                        && !stopping
                        && scheduled_at.is_none_or(|at| at.elapsed() >= self.poll_interval)
                    {
                        scheduled_at = Some(Instant::now());
                        if self.start_scheduled().await > 0 {
                            look = Look::Everything;
                        }
                    }
                }
                () = self.wake.notified() => look = Look::Everything,
                () = stopped(stop.as_mut()), if !stopping => stopping = true,
            }
        }
    }
}

impl Worker {
    /// Starts the due runs of the schedules, if this worker has them; how many it started. A
    /// failure is logged and the worker goes on: the next pass tries again.
    async fn start_scheduled(&self) -> usize {
        let Some(schedules) = &self.schedules else {
            return 0;
        };
        match self.engine.start_due_schedules(schedules.as_ref()).await {
            Ok(started) => {
                for start in &started {
                    match &start.outcome {
                        Ok(execution_id) => tracing::info!(
                            schedule = start.schedule,
                            execution_id,
                            "started a scheduled run"
                        ),
                        Err(error) => {
                            tracing::warn!(schedule = start.schedule, %error, "a scheduled run could not start; its due time is skipped")
                        }
                    }
                }
                started.len()
            }
            Err(error) => {
                tracing::warn!(%error, "could not read the schedules");
                0
            }
        }
    }
}

/// What a following worker looks for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Look {
    Nothing,
    /// Waiting executions whose wake-up time came (someone committed something).
    Due,
    /// Every runnable execution, running ones whose owner may have died included.
    Everything,
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
