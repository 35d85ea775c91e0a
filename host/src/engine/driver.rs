//! Driving an execution: hold its lease, then loop — decide, record, run the activities that
//! are due, record their outcomes — until it finishes or waits for a person. Other processes
//! may append signals meanwhile; the driver notices them by polling and on append conflicts.

use std::collections::HashMap;
use std::time::Duration;

use pipeline_core::answers::attempt_input;
use pipeline_core::decide::{Decision, context, decide};
use pipeline_core::lineage::reuse_key;
use pipeline_core::replay::replay;
use pipeline_core::revise::add_revision_notes;
use pipeline_core::store::HistoryError;
use pipeline_core::{
    ActivityId, ActivityStatus, Definition, Event, ExecutionState, StageId, StageKind, StageStatus,
    WaitReason,
};
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::activity::ActivityJob;
use super::publish::PUBLISH_CALL;
use super::start::PreparedStart;
use super::store::{apply, decode_history};
use super::{Engine, EngineError, LEASE_TTL_MS, Observer};

/// How often a driver looks for events other processes appended (signals, cancel).
const POLL_INTERVAL_MS: i64 = 250;

/// How a drive may be stopped from outside.
#[derive(Debug, Clone, Default)]
pub struct DriveOptions {
    /// Becomes true on Ctrl-C: in-flight calls are dropped and the execution stays resumable.
    pub stop: Option<watch::Receiver<bool>>,
}

/// Where a drive left the execution.
#[derive(Debug)]
pub enum DriveOutcome {
    /// It ended (completed, failed, rejected or cancelled).
    Finished(Box<ExecutionState>),
    /// It waits for a person at an approval gate, at its budget, or paused after an outage.
    WaitingForApproval(Box<ExecutionState>),
}

impl DriveOutcome {
    pub fn state(&self) -> &ExecutionState {
        match self {
            DriveOutcome::Finished(state) | DriveOutcome::WaitingForApproval(state) => state,
        }
    }
}

type Running = JoinSet<(ActivityId, u32, Result<Event, EngineError>)>;

impl Engine {
    /// Drives an execution as far as it can go now. Refuses when another live process drives it.
    pub async fn drive(
        &self,
        execution_id: &str,
        observer: &dyn Observer,
        options: DriveOptions,
    ) -> Result<DriveOutcome, EngineError> {
        self.drive_from(execution_id, None, observer, options).await
    }

    /// Records a prepared start, the decisions that follow it and the execution's lease in
    /// one commit, and drives it on from that state without reading back what was written:
    /// what a batch does for each of its starts.
    pub async fn start_and_drive(
        &self,
        prepared: PreparedStart,
        observer: &dyn Observer,
        options: DriveOptions,
    ) -> Result<DriveOutcome, EngineError> {
        let PreparedStart {
            execution_id,
            definition,
            started,
            forked,
        } = prepared;
        let now_ms = self.clock.now_ms();
        let (state, decided) = self
            .record_owned_start(&definition, started, forked, now_ms)
            .await?;
        let execution_id = execution_id.0;
        observer.drive_started(&execution_id, None);
        notify(observer, &definition, &state, &decided);
        let outcome = self
            .drive_owned(&execution_id, Some((definition, state)), observer, options)
            .await;
        self.give_up_lease(&execution_id).await;
        outcome
    }

    /// Drives from `loaded` (the definition and the state as last committed) when given,
    /// else from the history.
    async fn drive_from(
        &self,
        execution_id: &str,
        loaded: Option<(Definition, ExecutionState)>,
        observer: &dyn Observer,
        options: DriveOptions,
    ) -> Result<DriveOutcome, EngineError> {
        // A lease row another process left behind means it stopped without releasing it.
        let previous = self
            .store
            .lease_holder(execution_id, i64::MIN)?
            .filter(|holder| holder.owner != self.owner.id);
        self.take_lease(execution_id).await?;
        if let Some(holder) = &previous {
            tracing::warn!(
                execution_id,
                previous = %holder,
                "took over an execution whose driver stopped without releasing it; an attempt it had in flight runs again under the same idempotency key"
            );
        }
        observer.drive_started(execution_id, previous.as_ref());
        let outcome = self
            .drive_owned(execution_id, loaded, observer, options)
            .await;
        self.give_up_lease(execution_id).await;
        outcome
    }

    async fn give_up_lease(&self, execution_id: &str) {
        if let Err(error) = self.store.release_lease(execution_id, &self.owner).await {
            tracing::warn!(%error, execution_id, "could not release the lease; it expires on its own");
        }
    }

    /// Records a reset to `stage`: it and every later stage run again, earlier results stay.
    ///
    /// A published episode is not overwritten by the run that follows: its files move to
    /// `takes/<n>/` in the episode's folder, and the path is returned.
    pub async fn reset(
        &self,
        execution_id: &str,
        stage: &str,
    ) -> Result<(ExecutionState, Option<std::path::PathBuf>), EngineError> {
        let now = self.clock.now_ms();
        if let Some(holder) = self
            .store
            .lease_holder(execution_id, now)?
            .filter(|holder| holder.owner != self.owner.id)
        {
            return Err(EngineError::Owned {
                execution_id: execution_id.to_string(),
                holder,
            });
        }
        let loaded = self.load(execution_id)?;
        let stage_id = StageId(stage.to_string());
        if loaded.definition.stage(&stage_id).is_none() {
            let known: Vec<&str> = loaded
                .definition
                .stages
                .iter()
                .map(|stage| stage.id.as_str())
                .collect();
            return Err(EngineError::InvalidRequest(format!(
                "workflow {} has no stage `{stage}`; its stages are: {}",
                loaded.definition.name,
                known.join(", ")
            )));
        }
        if !loaded.state.stage_order.contains(&stage_id) {
            return Err(EngineError::InvalidRequest(format!(
                "execution {execution_id} has not reached stage `{stage}` yet, so there is nothing to reset"
            )));
        }
        let state = self
            .record(
                &loaded.definition,
                loaded.state,
                &[Event::ExecutionReset { to_stage: stage_id }],
                now,
                false,
            )
            .await?;
        Ok((state, self.keep_take(execution_id)?))
    }

    /// Replays the history against its pinned definition or `definition`. The history is
    /// folded once, by the replay itself: the pinned definition comes from its first event.
    pub fn replay(
        &self,
        execution_id: &str,
        definition: Option<&Definition>,
    ) -> Result<ExecutionState, EngineError> {
        let stored = self.store.read(execution_id)?;
        if stored.is_empty() {
            return Err(EngineError::UnknownExecution(execution_id.to_string()));
        }
        let events = decode_history(execution_id, &stored)?;
        drop(stored);
        let pinned = match (definition, events.first()) {
            (None, Some((first, at))) => {
                let started =
                    ExecutionState::start(first, *at).map_err(|source| EngineError::Replay {
                        execution_id: execution_id.to_string(),
                        source: source.into(),
                    })?;
                Some(
                    Definition::from_bundle(&started.bundle).map_err(|diagnostics| {
                        EngineError::PinnedDefinition {
                            execution_id: execution_id.to_string(),
                            diagnostics,
                        }
                    })?,
                )
            }
            _ => None,
        };
        let Some(definition) = definition.or(pinned.as_ref()) else {
            return Err(EngineError::UnknownExecution(execution_id.to_string()));
        };
        replay(definition, &events).map_err(|source| EngineError::Replay {
            execution_id: execution_id.to_string(),
            source,
        })
    }

    async fn take_lease(&self, execution_id: &str) -> Result<(), EngineError> {
        match self
            .store
            .acquire_lease(execution_id, &self.owner, self.clock.now_ms(), LEASE_TTL_MS)
            .await?
        {
            Ok(()) => Ok(()),
            Err(holder) => Err(EngineError::Owned {
                execution_id: execution_id.to_string(),
                holder,
            }),
        }
    }

    async fn drive_owned(
        &self,
        execution_id: &str,
        loaded: Option<(Definition, ExecutionState)>,
        observer: &dyn Observer,
        mut options: DriveOptions,
    ) -> Result<DriveOutcome, EngineError> {
        let (mut definition, mut state) = match loaded {
            Some(loaded) => loaded,
            None => {
                let loaded = self.load(execution_id)?;
                (loaded.definition, loaded.state)
            }
        };
        let mut definition_hash = state.definition_hash.clone();
        let mut running: Running = JoinSet::new();
        let (slot_notices, mut slot_notice) = tokio::sync::mpsc::unbounded_channel();
        let mut in_flight: HashMap<ActivityId, tokio::task::AbortHandle> = HashMap::new();
        let mut lease_renewed_at = self.clock.now_ms();
        loop {
            // An upgrade appended by another process since the drive began (seen when the
            // state was reloaded) changes what is decided from here on.
            if state.definition_hash != definition_hash {
                definition = super::store::pinned_definition(execution_id, &state)?;
                definition_hash.clone_from(&state.definition_hash);
            }
            let now = self.clock.now_ms();
            if now - lease_renewed_at > LEASE_TTL_MS / 3 {
                if let Err(error) = self.take_lease(execution_id).await {
                    running.abort_all();
                    return Err(error);
                }
                lease_renewed_at = now;
            }
            match decide(&definition, &state, now) {
                Decision::Record(events) => {
                    state = self
                        .record_as_owner(&definition, state, events, now, observer)
                        .await?;
                    drop_unneeded(&state, &mut in_flight);
                }
                Decision::Finished => {
                    running.abort_all();
                    return Ok(DriveOutcome::Finished(Box::new(state)));
                }
                Decision::Wait { until_ms, reason } => {
                    self.spawn_due(
                        &definition,
                        &state,
                        &mut running,
                        &mut in_flight,
                        &slot_notices,
                    );
                    if in_flight.is_empty()
                        && matches!(
                            reason,
                            WaitReason::Approval { .. } | WaitReason::Budget | WaitReason::Paused
                        )
                    {
                        return Ok(DriveOutcome::WaitingForApproval(Box::new(state)));
                    }
                    let pause = until_ms.map_or(POLL_INTERVAL_MS, |until| {
                        (until - now).clamp(0, POLL_INTERVAL_MS)
                    });
                    let stop = async {
                        match options.stop.as_mut() {
                            Some(stop) => {
                                while !*stop.borrow_and_update() {
                                    if stop.changed().await.is_err() {
                                        std::future::pending::<()>().await;
                                    }
                                }
                            }
                            None => std::future::pending().await,
                        }
                    };
                    tokio::select! {
                        Some(joined) = running.join_next(), if !running.is_empty() => {
                            let (activity, attempt, event) = match joined {
                                Ok(done) => done,
                                Err(error) if error.is_cancelled() => continue,
                                Err(error) => {
                                    tracing::error!(%error, "an activity task panicked");
                                    continue;
                                }
                            };
                            in_flight.remove(&activity);
                            let event = match event {
                                Ok(event) => event,
                                Err(error) => {
                                    running.abort_all();
                                    return Err(error);
                                }
                            };
                            state = self.record_outcome(&definition, state, &activity, attempt, event, observer).await?;
                            drop_unneeded(&state, &mut in_flight);
                        }
                        Some(notice) = slot_notice.recv() => {
                            let (Event::ActivityWaiting { activity, attempt, .. }
                            | Event::ActivitySlotTaken { activity, attempt }) = &notice
                            else {
                                continue;
                            };
                            let (activity, attempt) = (activity.clone(), *attempt);
                            state = self.record_outcome(&definition, state, &activity, attempt, notice, observer).await?;
                        }
                        () = tokio::time::sleep(Duration::from_millis(pause as u64)) => {
                            if self.store.last_sequence(execution_id)? != state.last_sequence {
                                state = self.load_state(execution_id)?;
                                drop_unneeded(&state, &mut in_flight);
                            }
                        }
                        () = stop => {
                            running.abort_all();
                            return Err(EngineError::Interrupted {
                                execution_id: execution_id.to_string(),
                            });
                        }
                    }
                }
            }
        }
    }

    /// Records events decided at `now`, with that time, and every decision that follows them
    /// at once, so that replay decides the same; on a conflict (someone appended a signal)
    /// reloads and lets the caller decide again.
    async fn record_as_owner(
        &self,
        definition: &Definition,
        mut state: ExecutionState,
        mut events: Vec<Event>,
        now: i64,
        observer: &dyn Observer,
    ) -> Result<ExecutionState, EngineError> {
        let execution_id = state.execution_id.0.clone();
        for event in &events {
            apply(&mut state, event, now)?;
        }
        decide_onwards(definition, &mut state, &mut events, now)?;
        match self
            .record_applied(definition, state, &events, now, true)
            .await
        {
            Ok(next) => {
                notify(observer, definition, &next, &events);
                Ok(next)
            }
            Err(EngineError::History(HistoryError::Conflict { .. })) => {
                Ok(self.load_state(&execution_id)?)
            }
            Err(error) => Err(error),
        }
    }

    /// Records an activity's outcome, with the decisions it leads to, unless the history moved
    /// on without it (the stage was cancelled, reset or timed out meanwhile).
    async fn record_outcome(
        &self,
        definition: &Definition,
        mut state: ExecutionState,
        activity: &ActivityId,
        attempt: u32,
        event: Event,
        observer: &dyn Observer,
    ) -> Result<ExecutionState, EngineError> {
        loop {
            let still_running = matches!(
                state.activities.get(activity).map(|activity| &activity.status),
                Some(ActivityStatus::Running { attempt: current, .. }) if *current == attempt
            ) && !state.status.is_terminal();
            if !still_running {
                return Ok(state);
            }
            let execution_id = state.execution_id.0.clone();
            let now = self.clock.now_ms();
            apply(&mut state, &event, now)?;
            let mut events = vec![event.clone()];
            decide_onwards(definition, &mut state, &mut events, now)?;
            match self
                .record_applied(definition, state, &events, now, true)
                .await
            {
                Ok(next) => {
                    notify(observer, definition, &next, &events);
                    return Ok(next);
                }
                Err(EngineError::History(HistoryError::Conflict { .. })) => {
                    state = self.load_state(&execution_id)?
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Starts a task for every attempt the history says is running and this process is not
    /// running yet: new attempts, and after a crash the attempts that were cut off.
    fn spawn_due(
        &self,
        definition: &Definition,
        state: &ExecutionState,
        running: &mut Running,
        in_flight: &mut HashMap<ActivityId, tokio::task::AbortHandle>,
        slot_notices: &tokio::sync::mpsc::UnboundedSender<Event>,
    ) {
        // Only running stages have running attempts worth starting, and their tallies list
        // them: a fan-out of many items is not walked after every completion.
        let running_attempts = state
            .stage_order
            .iter()
            .map(|stage| state.stage(stage))
            .filter(|stage| stage.status == StageStatus::Running)
            .flat_map(|stage| state.activities_at(&stage.activities, &stage.tally.running));
        for (id, activity) in running_attempts {
            let ActivityStatus::Running {
                attempt,
                idempotency_key,
                ..
            } = &activity.status
            else {
                continue;
            };
            if in_flight.contains_key(id) {
                continue;
            }
            let Some(stage) = definition.stage(&activity.stage) else {
                continue;
            };
            let service = activity
                .call
                .split_once('.')
                .map_or(activity.call.as_str(), |(service, _)| service);
            let checks = match &stage.kind {
                StageKind::Call(call) => call.checks.clone(),
                StageKind::Approval { .. } => Vec::new(),
            };
            let check_context = if checks.is_empty() {
                serde_json::Value::Null
            } else {
                context(state, &stage.reads, None)
            };
            let mut input = attempt_input(activity, *attempt);
            add_revision_notes(state, activity, &mut input);
            let plugin = state.plugins.get(service).cloned();
            let job = ActivityJob {
                activity: id.clone(),
                attempt: *attempt,
                idempotency_key: idempotency_key.clone(),
                call: activity.call.clone(),
                reuse_key: plugin.as_ref().map(|pin| {
                    reuse_key(&activity.call, &input, &pin.digest, &state.definition_hash)
                }),
                reuse_identical: match &stage.kind {
                    StageKind::Call(call) => call.reuse_identical,
                    StageKind::Approval { .. } => None,
                }
                .unwrap_or(state.reuse_identical || definition.reuse_identical),
                input,
                checks,
                check_context,
                plugin,
                grants: state
                    .plugins
                    .get(service)
                    .and_then(|pin| definition.plugin_grants.get(&pin.name))
                    .cloned(),
                timeout: Duration::from_millis(stage.attempt_timeout_ms),
                execution_id: state.execution_id.0.clone(),
                manifest_extra: (activity.call == PUBLISH_CALL).then(|| manifest_extra(state)),
                slot_notices: slot_notices.clone(),
                recorded_waiting: activity.slot_wait.is_some(),
            };
            if matches!(stage.kind, StageKind::Call(_)) {
                let engine = self.clone();
                let (activity_id, attempt) = (id.clone(), *attempt);
                let handle = running
                    .spawn(async move { (activity_id, attempt, engine.run_activity(job).await) });
                in_flight.insert(id.clone(), handle);
            }
        }
    }
}

/// Decisions taken one after another in one commit, at most; a bound that a real workflow
/// never reaches, so a definition that kept deciding could not grow one transaction forever.
const MAX_DECISIONS_PER_COMMIT: usize = 64;

/// Keeps deciding at `now` on `state` (which has `events` applied) while the decision is to
/// record more, appending those events and applying them. One commit then carries a step's
/// outcome, the end of its stage and the start of the next, instead of one commit each. Replay
/// sees the same: it decides again at each decision event, on the state before it.
pub(super) fn decide_onwards(
    definition: &Definition,
    state: &mut ExecutionState,
    events: &mut Vec<Event>,
    now: i64,
) -> Result<(), EngineError> {
    for _ in 0..MAX_DECISIONS_PER_COMMIT {
        let Decision::Record(more) = decide(definition, state, now) else {
            return Ok(());
        };
        for event in &more {
            apply(state, event, now)?;
        }
        events.extend(more);
    }
    Ok(())
}

/// Drops in-flight attempts the history no longer wants (the stage ended, or the execution).
fn drop_unneeded(
    state: &ExecutionState,
    in_flight: &mut HashMap<ActivityId, tokio::task::AbortHandle>,
) {
    in_flight.retain(|id, handle| {
        let wanted = !state.status.is_terminal()
            && state.activities.get(id).is_some_and(|activity| {
                matches!(activity.status, ActivityStatus::Running { .. })
                    && state.stage(&activity.stage).status == StageStatus::Running
            });
        if !wanted {
            handle.abort();
        }
        wanted
    });
}

fn notify(
    observer: &dyn Observer,
    definition: &Definition,
    recorded: &ExecutionState,
    events: &[Event],
) {
    for event in events {
        observer.recorded(definition, recorded, event);
    }
}

/// What the manifest says beyond the files: where the episode came from and what it cost.
fn manifest_extra(state: &ExecutionState) -> serde_json::Value {
    let cost_by_stage = serde_json::to_value(&state.cost_by_stage).unwrap_or_default();
    json!({
        "execution_id": state.execution_id,
        "workflow": state.workflow,
        "definition_hash": state.definition_hash,
        "inputs": state.inputs,
        "plugins": state.plugins,
        "cost": {
            "by_stage": cost_by_stage,
            "total_micros": state.total_cost(),
            "budget_micros": state.budget_micros,
        },
    })
}
