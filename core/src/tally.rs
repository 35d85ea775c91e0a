//! A stage's activities grouped by where they are, kept in step with the fold, so that
//! deciding after one completion of a fan-out looks at the few activities that can change
//! (the running ones, the failed, the startable) instead of every item of the stage: a
//! completion costs the same in a stage of ten items and one of a hundred thousand.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::ids::{ActivityId, StageId};
use crate::state::{ActivityState, ActivityStatus, ExecutionState};

/// Positions (in the stage's activity list, which is item order) of the activities in each
/// status. Ordered sets, so every decision walks them in item order, as it always has.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ActivityTally {
    /// Scheduled, or ready for their next attempt after a backoff: these can start.
    pub startable: BTreeSet<usize>,
    /// An attempt started and has no recorded outcome.
    pub running: BTreeSet<usize>,
    /// The last attempt failed and nothing was decided about it yet (or it gave up).
    pub failed: BTreeSet<usize>,
    /// Waiting for a retry timer.
    pub backing_off: BTreeSet<usize>,
    /// How many completed.
    pub completed: usize,
}

impl ActivityTally {
    /// An empty tally, usable in constants.
    pub const EMPTY: ActivityTally = ActivityTally {
        startable: BTreeSet::new(),
        running: BTreeSet::new(),
        failed: BTreeSet::new(),
        backing_off: BTreeSet::new(),
        completed: 0,
    };

    /// Moves the activity at `position` from the group of `from` (None when it is new) to
    /// the group of `to`.
    pub(crate) fn moved(
        &mut self,
        position: usize,
        from: Option<&ActivityStatus>,
        to: &ActivityStatus,
    ) {
        if let Some(from) = from {
            match self.group(from) {
                Some(group) => {
                    group.remove(&position);
                }
                None => self.completed = self.completed.saturating_sub(1),
            }
        }
        match self.group(to) {
            Some(group) => {
                group.insert(position);
            }
            None => self.completed += 1,
        }
    }

    /// The set holding activities in `status`; None for completed ones, which are counted.
    fn group(&mut self, status: &ActivityStatus) -> Option<&mut BTreeSet<usize>> {
        match status {
            ActivityStatus::Scheduled | ActivityStatus::Ready { .. } => Some(&mut self.startable),
            ActivityStatus::Running { .. } => Some(&mut self.running),
            ActivityStatus::AttemptFailed { .. } => Some(&mut self.failed),
            ActivityStatus::BackingOff { .. } => Some(&mut self.backing_off),
            ActivityStatus::Completed { .. } => None,
        }
    }
}

impl ExecutionState {
    /// Outputs of a stage's settled activities in item order, `null` for failed ones; a stage
    /// without fan-out gives its one activity's output.
    pub fn partial_output(&self, stage: &StageId) -> Value {
        let Some(state) = self.stages.get(stage) else {
            return Value::Null;
        };
        let outputs: Vec<Value> = state
            .activities
            .iter()
            .map(
                |id| match self.activities.get(id).map(|activity| &activity.status) {
                    Some(ActivityStatus::Completed { output }) => output.clone(),
                    _ => Value::Null,
                },
            )
            .collect();
        let fanned_out = state
            .activities
            .first()
            .and_then(|id| self.activities.get(id))
            .is_some_and(|activity| activity.item.is_some());
        if state.activities.is_empty() {
            return Value::Null;
        }
        if fanned_out {
            Value::Array(outputs)
        } else {
            outputs.into_iter().next().unwrap_or(Value::Null)
        }
    }

    /// Sets an activity's status, keeping its stage's tally in step. An activity of an
    /// earlier generation (its stage was reset since) is in no tally and only changes itself.
    pub(crate) fn set_activity_status(
        &mut self,
        id: &ActivityId,
        status: ActivityStatus,
    ) -> Option<&mut ActivityState> {
        let activity = self.activities.get_mut(id)?;
        let previous = std::mem::replace(&mut activity.status, status);
        let (stage, item) = (activity.stage.clone(), activity.item);
        if let Some(stage_state) = self.stages.get_mut(&stage) {
            // Items are scheduled in order, so an item's position is its index; the search is
            // a fallback that a history written by this engine never needs.
            let position = Some(item.unwrap_or(0))
                .filter(|position| stage_state.activities.get(*position) == Some(id))
                .or_else(|| {
                    stage_state
                        .activities
                        .iter()
                        .position(|listed| listed == id)
                });
            if let (Some(position), Some(activity)) = (position, self.activities.get(id)) {
                stage_state
                    .tally
                    .moved(position, Some(&previous), &activity.status);
            }
        }
        self.activities.get_mut(id)
    }

    /// The activities of a stage at `positions`, with their ids.
    pub fn activities_at<'s>(
        &'s self,
        listed: &'s [ActivityId],
        positions: impl IntoIterator<Item = &'s usize> + 's,
    ) -> impl Iterator<Item = (&'s ActivityId, &'s ActivityState)> + 's {
        positions.into_iter().filter_map(move |position| {
            let id = listed.get(*position)?;
            self.activities.get(id).map(|activity| (id, activity))
        })
    }
}
