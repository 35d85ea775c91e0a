//! What an execution has spent and may spend: cost totals per stage and currency, and the
//! cost guard (a budget pinned when the execution starts; reaching it pauses the execution
//! before its next plugin call, until a person raises the budget or ends it).

use std::collections::BTreeMap;

use crate::decide::{Decision, WaitReason, current_stage};
use crate::event::{Cost, Event, Signal};
use crate::ids::{ActivityId, StageId};
use crate::state::{ExecutionState, ExecutionStatus};
use crate::workflow::{Definition, Stage};

/// A pause because the recorded cost reached the budget.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetGate {
    /// The stage that was about to call a plugin.
    pub stage: StageId,
    pub spent: Cost,
    pub budget_micros: u64,
    pub reached_at_ms: i64,
}

impl ExecutionState {
    /// Total cost over all stages, per currency.
    pub fn total_cost(&self) -> BTreeMap<String, u64> {
        let mut totals = BTreeMap::new();
        for cost in self.cost_by_stage.values() {
            *totals.entry(cost.currency.clone()).or_insert(0) += cost.amount_micros;
        }
        totals
    }

    /// What has been spent, for the budget: the largest total of any currency (plugins report
    /// one currency; should several appear, the budget holds each of them). None before any
    /// cost is recorded.
    pub fn spent(&self) -> Option<Cost> {
        self.total_cost()
            .into_iter()
            .max_by_key(|(_, micros)| *micros)
            .map(|(currency, amount_micros)| Cost {
                amount_micros,
                currency,
            })
    }

    /// Adds a completed call's cost to its stage's.
    pub(crate) fn add_cost(&mut self, stage: StageId, cost: &Cost) {
        let total = self.cost_by_stage.entry(stage).or_insert(Cost {
            amount_micros: 0,
            currency: cost.currency.clone(),
        });
        total.amount_micros += cost.amount_micros;
    }

    /// Folds `BudgetReached`.
    pub(crate) fn pause_at_budget(
        &mut self,
        stage: &StageId,
        spent: &Cost,
        budget_micros: u64,
        at: i64,
    ) {
        self.budget_gate = Some(BudgetGate {
            stage: stage.clone(),
            spent: spent.clone(),
            budget_micros,
            reached_at_ms: at,
        });
        self.status = ExecutionStatus::WaitingForApproval;
    }

    /// Folds `BudgetRaised`.
    pub(crate) fn raise_budget(&mut self, budget_micros: u64) {
        self.budget_micros = Some(budget_micros);
        self.budget_gate = None;
        self.status = ExecutionStatus::Running;
        // The approval that raised it is used up, like a gate's.
        self.pending_signals
            .retain(|signal| matches!(signal, Signal::Cancel { .. }));
    }
}

/// A decision that would start a plugin call once the recorded cost has reached the budget
/// becomes a pause instead. Calls of the host's own functions cost nothing and go on.
pub(crate) fn hold_at_budget(
    decision: Decision,
    state: &ExecutionState,
    stage: &Stage,
) -> Decision {
    // The total spent adds up every stage's cost: only an execution with a budget pays it.
    let (Some(budget_micros), Decision::Record(events)) = (state.budget_micros, &decision) else {
        return decision;
    };
    let Some(spent) = state.spent() else {
        return decision;
    };
    let calls_a_plugin = |activity: &ActivityId| {
        state.activities.get(activity).is_some_and(|activity| {
            let service = activity.call.split_once('.').map(|(service, _)| service);
            service.is_some_and(|service| state.plugins.contains_key(service))
        })
    };
    let spends = events.iter().any(
        |event| matches!(event, Event::ActivityStarted { activity, .. } if calls_a_plugin(activity)),
    );
    if spends && spent.amount_micros >= budget_micros {
        Decision::Record(vec![Event::BudgetReached {
            stage: stage.id.clone(),
            spent,
            budget_micros,
        }])
    } else {
        decision
    }
}

/// At the budget: a raised budget or a rejection decides; otherwise the attempts in flight
/// finish (their results are recorded), then the execution waits for a person.
pub(crate) fn budget_step(
    definition: &Definition,
    state: &ExecutionState,
    stage: &StageId,
) -> Decision {
    for signal in &state.pending_signals {
        match signal {
            Signal::Approve {
                budget_micros: Some(budget_micros),
                ..
            } => {
                return Decision::Record(vec![Event::BudgetRaised {
                    budget_micros: *budget_micros,
                }]);
            }
            Signal::Reject { feedback } => {
                return Decision::Record(vec![Event::ExecutionRejected {
                    stage: stage.clone(),
                    feedback: feedback.clone(),
                }]);
            }
            Signal::Approve { .. }
            | Signal::Cancel { .. }
            | Signal::Revise { .. }
            | Signal::Resume => {}
        }
    }
    let in_flight = current_stage(definition, state)
        .is_some_and(|current| !state.stage(&current.id).tally.running.is_empty());
    Decision::Wait {
        until_ms: None,
        reason: if in_flight {
            WaitReason::Activities
        } else {
            WaitReason::Budget
        },
    }
}
