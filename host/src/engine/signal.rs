//! Recording a signal (approve, reject, revise, cancel) after checking that it fits. It needs
//! only the history store, not the plugins, so recording one from a process that does not
//! drive the execution (`host signal --no-wait`, a server's API) skips loading them.

use pipeline_core::signals::check_signal;
use pipeline_core::store::{HistoryError, HistoryStore};
use pipeline_core::{Definition, Event, ExecutionState, Signal};

use super::store::{apply, load_history_from, new_event, summary_of};
use super::{Clock, Engine, EngineError};

impl Engine {
    /// Records a signal after checking that it fits; nothing is recorded when it does not.
    pub async fn signal(
        &self,
        execution_id: &str,
        signal: Signal,
    ) -> Result<ExecutionState, EngineError> {
        let state = record_signal(
            self.store.as_ref(),
            self.clock.as_ref(),
            execution_id,
            signal,
        )
        .await?;
        self.after_commit(1);
        Ok(state)
    }
}

/// Records a signal in `store` after checking that it fits the execution's state and pinned
/// definition; nothing is recorded when it does not. An append that meets another one (the
/// driver recorded something meanwhile) checks again on the new state.
pub async fn record_signal(
    store: &dyn HistoryStore,
    clock: &dyn Clock,
    execution_id: &str,
    signal: Signal,
) -> Result<ExecutionState, EngineError> {
    loop {
        let (_, mut state) = load_history_from(store, execution_id)?;
        let definition = Definition::from_bundle(&state.bundle).map_err(|diagnostics| {
            EngineError::PinnedDefinition {
                execution_id: execution_id.to_string(),
                diagnostics,
            }
        })?;
        check_signal(&definition, &state, &signal).map_err(EngineError::SignalRefused)?;
        let event = Event::SignalReceived {
            signal: signal.clone(),
        };
        let now_ms = clock.now_ms();
        apply(&mut state, &event, now_ms)?;
        let row = new_event(&event, now_ms);
        let appended = store
            .append_with(
                execution_id,
                state.last_sequence,
                vec![row],
                Some(summary_of(&definition, &state, now_ms)),
                None,
            )
            .await;
        match appended {
            Err(HistoryError::Conflict { .. }) => continue,
            Err(error) => return Err(error.into()),
            Ok(_) => return Ok(state),
        }
    }
}
