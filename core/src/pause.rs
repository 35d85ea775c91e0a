//! Pausing instead of failing, and waiting for a slot. A stage whose retry policy says
//! `on_exhausted = "pause"` pauses the execution when its attempts run out on an error another
//! attempt could cure (a provider's outage); a `Signal::Resume` gives the failed activities a
//! fresh round of attempts. Separately, an attempt held back by its plugin's flow control is
//! marked as waiting for a slot, so status output can say why nothing seems to happen.

use crate::decide::{Decision, WaitReason};
use crate::event::{ActivityError, Event, Signal};
use crate::ids::{ActivityId, StageId};
use crate::state::{ActivityStatus, ExecutionState, ExecutionStatus};

/// Why and since when an execution is paused.
#[derive(Debug, Clone, PartialEq)]
pub struct Pause {
    /// The stage whose activities used up their attempts.
    pub stage: StageId,
    pub error: ActivityError,
    pub paused_at_ms: i64,
}

/// An attempt waiting for its plugin's flow control.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotWait {
    pub plugin: String,
    /// Which limit holds it back, for example `rate limit of 2 per second`.
    pub reason: String,
    pub since_ms: i64,
}

impl ExecutionState {
    /// Folds `ExecutionPaused`.
    pub(crate) fn pause(&mut self, stage: &StageId, error: &ActivityError, at: i64) {
        self.paused = Some(Pause {
            stage: stage.clone(),
            error: error.clone(),
            paused_at_ms: at,
        });
        self.status = ExecutionStatus::Paused;
    }

    /// Folds `ExecutionResumed`: every failed activity of the stage is ready for its next
    /// attempt, and counts its attempts for the retry policy from here.
    pub(crate) fn resume(&mut self, stage: &StageId) {
        self.paused = None;
        self.status = ExecutionStatus::Running;
        self.pending_signals
            .retain(|signal| matches!(signal, Signal::Cancel { .. }));
        let failed: Vec<(ActivityId, u32)> = self
            .stage(stage)
            .activities
            .iter()
            .filter_map(|id| match self.activities.get(id)?.status {
                ActivityStatus::AttemptFailed { attempt, .. } => Some((id.clone(), attempt)),
                _ => None,
            })
            .collect();
        for (id, attempt) in failed {
            let next_attempt = attempt + 1;
            if let Some(activity) =
                self.set_activity_status(&id, ActivityStatus::Ready { next_attempt })
            {
                activity.resumed_after = attempt;
            }
        }
    }

    /// Folds `ActivityWaiting` (`Some`) and `ActivitySlotTaken` (`None`). An attempt that is
    /// no longer the running one is left alone: the wait was about an attempt cut short.
    pub(crate) fn mark_slot_wait(
        &mut self,
        activity: &ActivityId,
        attempt: u32,
        wait: Option<SlotWait>,
    ) {
        if let Some(state) = self.activities.get_mut(activity)
            && matches!(state.status, ActivityStatus::Running { attempt: running, .. } if running == attempt)
        {
            state.slot_wait = wait;
        }
    }
}

/// Folds the flow-control facts; false for any other event.
pub(crate) fn apply_slot_event(state: &mut ExecutionState, event: &Event, at: i64) -> bool {
    match event {
        Event::ActivityWaiting {
            activity,
            attempt,
            plugin,
            reason,
        } => {
            let wait = SlotWait {
                plugin: plugin.clone(),
                reason: reason.clone(),
                since_ms: at,
            };
            state.mark_slot_wait(activity, *attempt, Some(wait));
            true
        }
        Event::ActivitySlotTaken { activity, attempt } => {
            state.mark_slot_wait(activity, *attempt, None);
            true
        }
        _ => false,
    }
}

/// While paused: a resume decides; otherwise the execution waits for one.
pub(crate) fn paused_step(state: &ExecutionState, pause: &Pause) -> Decision {
    if state
        .pending_signals
        .iter()
        .any(|signal| matches!(signal, Signal::Resume))
    {
        return Decision::Record(vec![Event::ExecutionResumed {
            stage: pause.stage.clone(),
        }]);
    }
    Decision::Wait {
        until_ms: None,
        reason: WaitReason::Paused,
    }
}
