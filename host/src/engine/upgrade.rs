//! Upgrades: move executions that have not finished to an edited workflow definition (and the
//! plugin files as they are now) when replaying their history against it decides the same,
//! recorded as an `ExecutionUpgraded` fact; the others stay pinned, with the reason.

use std::collections::BTreeMap;
use std::path::Path;

use pipeline_core::replay::replay;
use pipeline_core::store::HistoryError;
use pipeline_core::workflow::load_bundle;
use pipeline_core::{Definition, DefinitionBundle, Event, ExecutionState, PluginPin};
use serde::Serialize;

use super::{Engine, EngineError};

/// What an upgrade would do (or did) to one execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UpgradeVerdict {
    /// Its history replays the same under the new definition: it can move.
    Compatible,
    /// Moved to the new definition (`--apply`).
    Upgraded,
    /// Already on this definition and these plugins.
    Current,
    /// Stays pinned: the reason says why.
    Incompatible,
    /// Stays pinned for now: another live process drives it.
    Busy,
}

/// One non-finished execution of the workflow and its verdict.
#[derive(Debug, Clone, Serialize)]
pub struct UpgradeEntry {
    pub id: String,
    pub status: String,
    pub stage: Option<String>,
    pub verdict: UpgradeVerdict,
    /// Why it stays pinned (incompatible or busy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The result of `upgrade --check` or `--apply`, as `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct UpgradeReport {
    pub workflow: String,
    pub definition_hash: String,
    pub executions: Vec<UpgradeEntry>,
}

impl UpgradeReport {
    /// Whether some execution stays pinned (would not decide the same, or is busy).
    pub fn any_left_pinned(&self) -> bool {
        self.executions.iter().any(|entry| {
            matches!(
                entry.verdict,
                UpgradeVerdict::Incompatible | UpgradeVerdict::Busy
            )
        })
    }
}

/// What a compatible execution moves with: the plugins it pins from now on, and the state
/// it was judged on (the upgrade is appended right after it).
type Movable = (BTreeMap<String, PluginPin>, ExecutionState);

/// The edited workflow, read once for every execution.
struct Target {
    bundle: DefinitionBundle,
    hash: String,
    definition: Definition,
}

impl Engine {
    /// Replays every non-finished execution of the workflow in `workflow` against that file
    /// and the plugins as they are now; records nothing.
    pub fn check_upgrade(&self, workflow: &Path) -> Result<UpgradeReport, EngineError> {
        let target = read_target(workflow)?;
        let executions = self
            .judge_all(&target)?
            .into_iter()
            .map(|(entry, _)| entry)
            .collect();
        Ok(target.report(executions))
    }

    /// Judges like [`check_upgrade`](Self::check_upgrade), then records `ExecutionUpgraded`
    /// in every compatible execution that no live process drives; the others keep their
    /// pinned definition.
    pub async fn apply_upgrade(&self, workflow: &Path) -> Result<UpgradeReport, EngineError> {
        let target = read_target(workflow)?;
        let mut executions = Vec::new();
        for (mut entry, movable) in self.judge_all(&target)? {
            if let Some((plugins, state)) = movable {
                let now_ms = self.clock.now_ms();
                if let Some(holder) = self.store.lease_holder(&entry.id, now_ms)? {
                    entry.verdict = UpgradeVerdict::Busy;
                    entry.reason = Some(format!(
                        "driven by {holder} right now; run the upgrade again once it waits"
                    ));
                } else {
                    let event = Event::ExecutionUpgraded {
                        definition_hash: target.hash.clone(),
                        definition: target.bundle.clone(),
                        plugins,
                    };
                    // Appended after the event the history was judged on, so anything
                    // recorded meanwhile makes it a conflict rather than an unjudged move.
                    match self
                        .record(&target.definition, state, &[event], now_ms, false)
                        .await
                    {
                        Ok(_) => entry.verdict = UpgradeVerdict::Upgraded,
                        Err(EngineError::History(HistoryError::Conflict { .. })) => {
                            entry.verdict = UpgradeVerdict::Busy;
                            entry.reason = Some(
                                "its history grew while it was judged; run the upgrade again"
                                    .into(),
                            );
                        }
                        Err(error) => return Err(error),
                    }
                }
            }
            executions.push(entry);
        }
        Ok(target.report(executions))
    }

    /// Every non-finished execution of the target's workflow, oldest first, judged.
    fn judge_all(
        &self,
        target: &Target,
    ) -> Result<Vec<(UpgradeEntry, Option<Movable>)>, EngineError> {
        let mut judged = Vec::new();
        for row in self.store.executions()?.into_iter().rev() {
            if row.summary.workflow == target.definition.name && !row.summary.status.is_terminal() {
                judged.push(self.judge(target, &row.execution_id)?);
            }
        }
        Ok(judged)
    }

    /// The verdict for one execution, with the plugins it would pin and the state it was
    /// judged on when compatible.
    fn judge(
        &self,
        target: &Target,
        execution_id: &str,
    ) -> Result<(UpgradeEntry, Option<Movable>), EngineError> {
        let (mut events, state) = self.load_history(execution_id)?;
        let mut entry = UpgradeEntry {
            id: execution_id.to_string(),
            status: state.status.as_str().to_string(),
            stage: pipeline_core::decide::current_stage(&target.definition, &state)
                .map(|stage| stage.id.0.clone()),
            verdict: UpgradeVerdict::Compatible,
            reason: None,
        };
        // The execution keeps the plugins it chose for the services it calls, as they are now.
        let used = target.definition.services_used();
        let chosen: BTreeMap<String, String> = state
            .plugins
            .iter()
            .filter(|(service, _)| used.contains(*service))
            .map(|(service, pin)| (service.clone(), pin.name.clone()))
            .collect();
        let plugins = match self.pin_plugins(&target.definition, &chosen) {
            Ok(plugins) => plugins,
            Err(error) => {
                entry.verdict = UpgradeVerdict::Incompatible;
                entry.reason = Some(error.to_string());
                return Ok((entry, None));
            }
        };
        if state.definition_hash == target.hash && state.plugins == plugins {
            entry.verdict = UpgradeVerdict::Current;
            return Ok((entry, None));
        }
        // Every recorded decision is checked against the new definition, including those
        // made after an earlier upgrade.
        for (event, _) in &mut events {
            if let Event::ExecutionUpgraded { definition, .. } = event {
                *definition = target.bundle.clone();
            }
        }
        if let Err(error) = replay(&target.definition, &events) {
            entry.verdict = UpgradeVerdict::Incompatible;
            entry.reason = Some(error.to_string());
            return Ok((entry, None));
        }
        Ok((entry, Some((plugins, state))))
    }
}

impl Target {
    fn report(self, executions: Vec<UpgradeEntry>) -> UpgradeReport {
        UpgradeReport {
            workflow: self.definition.name,
            definition_hash: self.hash,
            executions,
        }
    }
}

fn read_target(workflow: &Path) -> Result<Target, EngineError> {
    let bundle =
        load_bundle(workflow, &|name| std::env::var(name).ok()).map_err(EngineError::Workflow)?;
    let definition = Definition::from_bundle(&bundle).map_err(EngineError::Workflow)?;
    Ok(Target {
        hash: bundle.hash(),
        bundle,
        definition,
    })
}
