//! Read-side views shared by the command line and the server: one event as JSON, a filtered
//! page of the executions list, and shows with their episodes. Each is computed from the store
//! the same way for `host history --json`, `host list`, `host shows` and the HTTP API.

use pipeline_core::store::ExecutionRow;
use pipeline_core::{Event, ExecutionStatus};
use serde::Serialize;
use serde_json::Value;

use super::{Engine, EngineError};

/// One event as `host history --json` prints it: the event's own fields with its `sequence`
/// and `recorded_at_ms`; the started event without the pinned definition, which is large and
/// is the workflow file's business.
pub fn event_json(sequence: u64, event: &Event, recorded_at_ms: i64) -> Value {
    let mut value = serde_json::to_value(event).unwrap_or(Value::Null);
    if let Some(object) = value.as_object_mut() {
        object.insert("sequence".into(), sequence.into());
        object.insert("recorded_at_ms".into(), recorded_at_ms.into());
        if matches!(event, Event::ExecutionStarted { .. }) {
            object.remove("definition");
        }
    }
    value
}

/// Which executions a listing shows.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// A status name: `running`, `waiting_for_approval`, `completed`, ...
    pub status: Option<String>,
    pub workflow: Option<String>,
    pub show: Option<String>,
}

/// One row of the executions list. Fields in the order `host list --json` has always printed
/// them, new ones after.
#[derive(Debug, Clone, Serialize)]
pub struct ExecutionListing {
    pub id: String,
    pub workflow: String,
    pub status: &'static str,
    pub stage: Option<String>,
    pub show: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// A running execution that no process drives: it was interrupted and waits for a resume.
    pub interrupted: bool,
    /// What the execution is about: its `topic` input, or else its first text input.
    pub topic: Option<String>,
    /// The current stage's completed and total activities.
    pub progress: Option<ListedProgress>,
    /// Total cost so far, in the currency of the largest amount; none before any cost.
    pub cost: Option<pipeline_core::Cost>,
}

/// Completed and total activities of a stage.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ListedProgress {
    pub completed: usize,
    pub total: usize,
}

impl Engine {
    /// The executions matching `filter`, newest first.
    pub fn matching_executions(
        &self,
        filter: &ListFilter,
    ) -> Result<Vec<ExecutionRow>, EngineError> {
        let mut rows = self.store.executions()?;
        rows.retain(|row| {
            let summary = &row.summary;
            filter
                .status
                .as_ref()
                .is_none_or(|status| summary.status.as_str() == status)
                && filter
                    .workflow
                    .as_ref()
                    .is_none_or(|workflow| &summary.workflow == workflow)
                && filter
                    .show
                    .as_ref()
                    .is_none_or(|show| summary.show.as_ref() == Some(show))
        });
        Ok(rows)
    }

    /// The list row of one execution, with what its history says (topic, cost, progress).
    pub fn listing(&self, row: &ExecutionRow) -> Result<ExecutionListing, EngineError> {
        let state = self.load_state(&row.execution_id)?;
        self.listing_of(row, &state)
    }

    /// The list row of one execution from its already folded `state`.
    pub fn listing_of(
        &self,
        row: &ExecutionRow,
        state: &pipeline_core::ExecutionState,
    ) -> Result<ExecutionListing, EngineError> {
        let topic = state
            .inputs
            .get("topic")
            .or_else(|| state.inputs.values().find(|value| value.is_string()))
            .and_then(Value::as_str)
            .map(str::to_string);
        let progress = row.summary.stage.as_ref().map(|stage| {
            let (completed, total) = state.stage_progress(&pipeline_core::StageId(stage.clone()));
            ListedProgress { completed, total }
        });
        let interrupted = row.summary.status == ExecutionStatus::Running
            && self
                .driver_of(&row.execution_id, self.clock.now_ms())?
                .is_none();
        Ok(ExecutionListing {
            id: row.execution_id.clone(),
            workflow: row.summary.workflow.clone(),
            status: row.summary.status.as_str(),
            stage: row.summary.stage.clone(),
            show: row.summary.show.clone(),
            created_at_ms: row.summary.created_at_ms,
            updated_at_ms: row.summary.updated_at_ms,
            interrupted,
            topic,
            progress,
            cost: state.spent(),
        })
    }

    /// Every show with its runs (oldest first) and the concepts each covered.
    pub fn shows(&self) -> Result<Vec<ShowOverview>, EngineError> {
        let mut shows: std::collections::BTreeMap<String, Vec<ShowEpisode>> =
            std::collections::BTreeMap::new();
        for row in self.store.executions()?.into_iter().rev() {
            let Some(show) = row.summary.show.clone() else {
                continue;
            };
            let state = self.load_state(&row.execution_id)?;
            shows.entry(show).or_default().push(ShowEpisode {
                id: row.execution_id,
                status: row.summary.status.as_str(),
                covered_concepts: state.covered_concepts,
            });
        }
        Ok(shows
            .into_iter()
            .map(|(show, episodes)| ShowOverview { show, episodes })
            .collect())
    }
}

/// A show and its runs, as `host shows --json` prints them (in this field order).
#[derive(Debug, Clone, Serialize)]
pub struct ShowOverview {
    pub show: String,
    pub episodes: Vec<ShowEpisode>,
}

/// One run of a show; only a completed one is an episode.
#[derive(Debug, Clone, Serialize)]
pub struct ShowEpisode {
    pub id: String,
    pub status: &'static str,
    pub covered_concepts: Vec<String>,
}
