//! What executions cost, rolled up: totals per workflow, show, stage and provider over every
//! execution of a data directory (or those of one show, or started since a date), from the cost
//! each completed call recorded. Every completion counts, retries and reset runs included: that
//! is what was spent.

use std::collections::BTreeMap;

use pipeline_core::Event;
use serde::Serialize;

use super::{Engine, EngineError};

/// Which executions to count.
#[derive(Debug, Clone, Default)]
pub struct CostFilter {
    /// Only executions started at or after this time (milliseconds since the Unix epoch).
    pub since_ms: Option<i64>,
    /// Only the episodes of this show.
    pub show: Option<String>,
}

/// Amounts in millionths, per currency.
pub type Amounts = BTreeMap<String, u64>;

/// The roll-up; each map goes from a name to its amounts per currency.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CostRollup {
    pub executions: usize,
    pub total: Amounts,
    pub by_workflow: BTreeMap<String, Amounts>,
    /// Executions without a show are counted under `-`.
    pub by_show: BTreeMap<String, Amounts>,
    pub by_stage: BTreeMap<String, Amounts>,
    /// The plugin that made each call (its pinned name).
    pub by_provider: BTreeMap<String, Amounts>,
}

impl Engine {
    /// Adds up the recorded cost of every completed call of the executions `filter` selects.
    pub fn cost_rollup(&self, filter: &CostFilter) -> Result<CostRollup, EngineError> {
        let mut rollup = CostRollup::default();
        for row in self.store.executions()? {
            let summary = &row.summary;
            if filter
                .since_ms
                .is_some_and(|since| summary.created_at_ms < since)
                || filter
                    .show
                    .as_ref()
                    .is_some_and(|show| summary.show.as_ref() != Some(show))
            {
                continue;
            }
            rollup.executions += 1;
            let (events, _) = self.load_history(&row.execution_id)?;
            for (event, _) in &events {
                let Event::ActivityCompleted {
                    activity,
                    cost: Some(cost),
                    plugin,
                    ..
                } = event
                else {
                    continue;
                };
                // Activity ids are `<stage>#<generation>[/<item>]`.
                let stage = activity.0.split('#').next().unwrap_or_default();
                let provider = plugin.as_ref().map_or("host", |pin| pin.name.as_str());
                let show = summary.show.as_deref().unwrap_or("-");
                for (map, key) in [
                    (&mut rollup.by_workflow, summary.workflow.as_str()),
                    (&mut rollup.by_show, show),
                    (&mut rollup.by_stage, stage),
                    (&mut rollup.by_provider, provider),
                ] {
                    add(map.entry(key.to_string()).or_default(), cost);
                }
                add(&mut rollup.total, cost);
            }
        }
        Ok(rollup)
    }
}

fn add(amounts: &mut Amounts, cost: &pipeline_core::Cost) {
    *amounts.entry(cost.currency.clone()).or_default() += cost.amount_micros;
}
