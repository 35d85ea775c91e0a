//! The engine's view of the history store: typed events in and out, the executions table kept
//! in step, and fault injection after commits.

use std::sync::atomic::Ordering;

use pipeline_core::store::{ExecutionSummary, HistoryError, HistoryStore, NewEvent, StoredEvent};
use pipeline_core::{Definition, Event, ExecutionState};

use super::{Engine, EngineError};

/// An execution read back from the store and folded.
pub struct LoadedExecution {
    pub state: ExecutionState,
    pub definition: Definition,
    /// The events with their recording times, as replay takes them.
    pub events: Vec<(Event, i64)>,
}

/// Decodes stored events, reporting the first that does not decode.
pub fn decode_history(
    execution_id: &str,
    stored: &[StoredEvent],
) -> Result<Vec<(Event, i64)>, EngineError> {
    stored
        .iter()
        .map(|event| {
            Event::from_payload(&event.event_type, &event.payload)
                .map(|decoded| (decoded, event.recorded_at_ms))
                .map_err(|reason| {
                    EngineError::History(HistoryError::Corrupt {
                        execution_id: execution_id.to_string(),
                        sequence: event.sequence,
                        reason,
                    })
                })
        })
        .collect()
}

/// The verified, decoded events of an execution in `store`, with the state folded from them.
pub(super) fn load_history_from(
    store: &dyn HistoryStore,
    execution_id: &str,
) -> Result<(Vec<(Event, i64)>, ExecutionState), EngineError> {
    let stored = store.read(execution_id)?;
    if stored.is_empty() {
        return Err(EngineError::UnknownExecution(execution_id.to_string()));
    }
    let events = decode_history(execution_id, &stored)?;
    let state =
        ExecutionState::fold(events.iter().map(|(event, at)| (event, *at))).map_err(|source| {
            EngineError::Fold {
                execution_id: execution_id.to_string(),
                source,
            }
        })?;
    Ok((events, state))
}

/// Applies one event to the state being recorded.
pub(super) fn apply(
    state: &mut ExecutionState,
    event: &Event,
    now_ms: i64,
) -> Result<(), EngineError> {
    state
        .apply(event, now_ms)
        .map_err(|source| EngineError::Fold {
            execution_id: state.execution_id.0.clone(),
            source,
        })
}

/// The executions-table row of a state.
/// An event as the store appends it, recorded at `now_ms`.
pub(super) fn new_event(event: &Event, now_ms: i64) -> NewEvent {
    NewEvent {
        event_type: event.type_name().to_string(),
        payload: event.to_payload(),
        recorded_at_ms: now_ms,
    }
}

pub fn summary_of(
    definition: &Definition,
    state: &ExecutionState,
    now_ms: i64,
) -> ExecutionSummary {
    let stage =
        pipeline_core::decide::current_stage(definition, state).map(|stage| stage.id.0.clone());
    // Only waiting executions need a wake-up time (running ones are always runnable): the
    // earliest pending timer or the execution's deadline. Derived from the state rather than
    // by deciding again, which would render the next stage's templates on every append.
    let deadline = definition
        .execution_timeout_ms
        .map(|limit| state.started_at_ms.saturating_add(limit as i64));
    // A signal waiting to be acted on (an approval given while no process drives the
    // execution) makes it runnable at once.
    let wake_at_ms = if state.status.is_terminal() {
        None
    } else if !state.pending_signals.is_empty() {
        Some(now_ms)
    } else if state.budget_gate.is_some() || state.paused.is_some() {
        // Paused at the budget or after an outage, timers wait for a person's decision too.
        deadline
    } else {
        state
            .timers
            .values()
            .map(|timer| timer.fire_at_ms)
            .chain(deadline)
            .min()
    };
    ExecutionSummary {
        workflow: state.workflow.clone(),
        status: state.status,
        stage,
        show: state
            .show
            .as_ref()
            .and_then(|show| show.get("slug"))
            .and_then(|slug| slug.as_str())
            .map(str::to_string),
        created_at_ms: state.started_at_ms,
        updated_at_ms: now_ms,
        wake_at_ms,
    }
}

impl Engine {
    /// The folded state alone, for callers that already hold the definition (a driver
    /// reloading after another process appended) or need none (a show's covered concepts):
    /// building a definition compiles its schemas and templates.
    pub fn load_state(&self, execution_id: &str) -> Result<ExecutionState, EngineError> {
        Ok(self.load_history(execution_id)?.1)
    }

    /// The verified, decoded events with the state folded from them, without building the
    /// definition.
    pub fn load_history(
        &self,
        execution_id: &str,
    ) -> Result<(Vec<(Event, i64)>, ExecutionState), EngineError> {
        load_history_from(self.store.as_ref(), execution_id)
    }

    /// Reads, verifies, decodes and folds an execution, and builds its pinned definition.
    pub fn load(&self, execution_id: &str) -> Result<LoadedExecution, EngineError> {
        let (events, state) = self.load_history(execution_id)?;
        let definition = pinned_definition(execution_id, &state)?;
        Ok(LoadedExecution {
            state,
            definition,
            events,
        })
    }

    /// Appends `events` at time `now_ms` in one transaction, as `owner` when driving, and
    /// returns the state with them applied. The state is consumed rather than copied (a copy
    /// per step grows with the history): on an error, callers reload it from the store, which
    /// is the truth anyway. Honours the crash-injection setting right after the commit.
    pub(super) async fn record(
        &self,
        definition: &Definition,
        state: ExecutionState,
        events: &[Event],
        now_ms: i64,
        as_owner: bool,
    ) -> Result<ExecutionState, EngineError> {
        let mut next = state;
        for event in events {
            apply(&mut next, event, now_ms)?;
        }
        self.record_applied(definition, next, events, now_ms, as_owner)
            .await
    }

    /// Appends `events`, which `next` already has applied, at time `now_ms` in one transaction.
    pub(super) async fn record_applied(
        &self,
        definition: &Definition,
        next: ExecutionState,
        events: &[Event],
        now_ms: i64,
        as_owner: bool,
    ) -> Result<ExecutionState, EngineError> {
        let first_sequence = next.last_sequence + 1 - events.len() as u64;
        let summary = summary_of(definition, &next, now_ms);
        let rows: Vec<NewEvent> = events
            .iter()
            .map(|event| new_event(event, now_ms))
            .collect();
        let count = rows.len() as u64;
        self.store
            .append_with(
                &next.execution_id.0,
                first_sequence,
                rows,
                Some(summary),
                as_owner.then(|| self.owner.id.clone()),
            )
            .await?;
        self.after_commit(count);
        Ok(next)
    }

    /// Appends the first event of a new execution, with the facts that come with it (a
    /// fork's stages), in one commit.
    pub(super) async fn record_start(
        &self,
        definition: &Definition,
        started: Event,
        forked: Vec<Event>,
        now_ms: i64,
    ) -> Result<ExecutionState, EngineError> {
        let mut state =
            ExecutionState::start(&started, now_ms).map_err(|source| EngineError::Fold {
                execution_id: String::new(),
                source,
            })?;
        for event in &forked {
            apply(&mut state, event, now_ms)?;
        }
        let summary = summary_of(definition, &state, now_ms);
        let rows = std::iter::once(&started)
            .chain(&forked)
            .map(|event| new_event(event, now_ms))
            .collect();
        self.store
            .append_with(&state.execution_id.0, 1, rows, Some(summary), None)
            .await
            .map_err(|error| match error {
                HistoryError::Conflict { execution_id, .. } => EngineError::InvalidRequest(
                    format!("an execution with id `{execution_id}` already exists"),
                ),
                other => other.into(),
            })?;
        self.after_commit(1 + forked.len() as u64);
        Ok(state)
    }

    /// Appends the first event of a new execution with the decisions that follow it at once,
    /// taking its lease, in one commit; returns the state and the decided events.
    pub(super) async fn record_owned_start(
        &self,
        definition: &Definition,
        started: Event,
        forked: Vec<Event>,
        now_ms: i64,
    ) -> Result<(ExecutionState, Vec<Event>), EngineError> {
        let mut state =
            ExecutionState::start(&started, now_ms).map_err(|source| EngineError::Fold {
                execution_id: String::new(),
                source,
            })?;
        for event in &forked {
            apply(&mut state, event, now_ms)?;
        }
        let leading = 1 + forked.len();
        let mut events = vec![started];
        events.extend(forked);
        super::driver::decide_onwards(definition, &mut state, &mut events, now_ms)?;
        let rows: Vec<NewEvent> = events
            .iter()
            .map(|event| new_event(event, now_ms))
            .collect();
        self.store
            .start_owned(
                &state.execution_id.0,
                rows,
                summary_of(definition, &state, now_ms),
                &self.owner,
                now_ms,
                super::LEASE_TTL_MS,
            )
            .await
            .map_err(|error| match error {
                HistoryError::Conflict { execution_id, .. } => EngineError::InvalidRequest(
                    format!("an execution with id `{execution_id}` already exists"),
                ),
                other => other.into(),
            })?;
        self.after_commit(events.len() as u64);
        events.drain(..leading);
        Ok((state, events))
    }

    /// Fault injection: abort like a kill -9 once the configured number of events is committed.
    pub(super) fn after_commit(&self, count: u64) {
        let total = self.appended_events.fetch_add(count, Ordering::SeqCst) + count;
        if let Some(limit) = self.crash_after_events
            && total >= limit
        {
            eprintln!(
                "{}={limit}: aborting after committing event {total}",
                super::CRASH_AFTER_EVENTS_VARIABLE
            );
            std::process::abort();
        }
    }
}

/// The definition pinned in an execution's history, rebuilt from its bundle.
pub(super) fn pinned_definition(
    execution_id: &str,
    state: &ExecutionState,
) -> Result<Definition, EngineError> {
    Definition::from_bundle(&state.bundle).map_err(|diagnostics| EngineError::PinnedDefinition {
        execution_id: execution_id.to_string(),
        diagnostics,
    })
}
