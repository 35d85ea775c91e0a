//! Where an execution's results and definition come from besides its own calls: stages taken
//! from another execution by a fork, a move to an edited definition by an upgrade, and the
//! key under which a completed plugin call may be reused by an identical one.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::event::{Event, PluginPin};
use crate::ids::StageId;
use crate::state::{ExecutionState, StageStatus};
use crate::workflow::{Definition, DefinitionBundle};

impl ExecutionState {
    /// A forked stage: settled as its source recorded it, without running.
    pub(crate) fn take_forked(
        &mut self,
        stage: &StageId,
        output: &Value,
        skipped: Option<&str>,
        at: i64,
    ) {
        let state = self.reach(stage);
        state.status = match skipped {
            Some(reason) => StageStatus::Skipped {
                reason: reason.to_string(),
            },
            None => StageStatus::Completed,
        };
        state.started_at_ms = Some(at);
        state.finished_at_ms = Some(at);
        state.output = Some(output.clone());
    }

    /// An upgrade: what is decided from here on follows the new definition and plugins.
    pub(crate) fn upgrade(
        &mut self,
        definition_hash: &str,
        definition: &DefinitionBundle,
        plugins: &BTreeMap<String, PluginPin>,
    ) {
        self.definition_hash = definition_hash.to_string();
        self.bundle = definition.clone();
        self.plugins = plugins.clone();
    }
}

/// The `StageForked` events that take every stage before `from` (in definition order) from
/// `source`; refused, with the reason, when `from` is not a stage or one of those stages has
/// not settled in the source.
pub fn forked_stages(
    definition: &Definition,
    source: &ExecutionState,
    from: &str,
) -> Result<Vec<Event>, String> {
    let Some(position) = definition
        .stages
        .iter()
        .position(|stage| stage.id.0 == from)
    else {
        let names: Vec<&str> = definition
            .stages
            .iter()
            .map(|stage| stage.id.0.as_str())
            .collect();
        return Err(format!(
            "workflow {} has no stage `{from}` (its stages: {})",
            definition.name,
            names.join(", ")
        ));
    };
    definition.stages[..position]
        .iter()
        .map(|stage| {
            let state = source.stage(&stage.id);
            let skipped = match &state.status {
                StageStatus::Completed | StageStatus::Failed { continued: true, .. } => None,
                StageStatus::Skipped { reason } => Some(reason.clone()),
                _ => {
                    return Err(format!(
                        "stage `{}` of execution {} has not finished, so there is nothing to fork before `{from}`",
                        stage.id, source.execution_id
                    ));
                }
            };
            Ok(Event::StageForked {
                stage: stage.id.clone(),
                source_execution: source.execution_id.clone(),
                output: state.output.clone().unwrap_or(Value::Null),
                skipped,
            })
        })
        .collect()
}

/// The key under which a plugin call's result may be reused: a digest of the call, the exact
/// request sent, the plugin's digest and the definition's hash, so that a change to any of
/// them calls the plugin again.
pub fn reuse_key(
    call: &str,
    request: &Value,
    plugin_digest: &str,
    definition_hash: &str,
) -> String {
    let identity = json!({
        "call": call,
        "request": request,
        "plugin": plugin_digest,
        "definition": definition_hash,
    });
    format!(
        "sha256:{:x}",
        Sha256::digest(identity.to_string().as_bytes())
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::reuse_key;

    #[test]
    fn a_reuse_key_changes_with_each_thing_that_decides_the_result() {
        let request = json!({ "prompt": "tea", "temperature": 0.7 });
        let key = reuse_key("llm.generate", &request, "sha256:a", "sha256:d");
        assert_eq!(
            key,
            reuse_key("llm.generate", &request, "sha256:a", "sha256:d")
        );
        assert!(key.starts_with("sha256:"));
        for other in [
            reuse_key("tts.synthesize", &request, "sha256:a", "sha256:d"),
            reuse_key(
                "llm.generate",
                &json!({ "prompt": "tea" }),
                "sha256:a",
                "sha256:d",
            ),
            reuse_key("llm.generate", &request, "sha256:b", "sha256:d"),
            reuse_key("llm.generate", &request, "sha256:a", "sha256:e"),
        ] {
            assert_ne!(key, other);
        }
    }
}

/// The one field a store's reuse index needs from a completion's payload; the rest (an output
/// may be large) is skipped over without being built, since stores run this as they commit.
#[derive(serde::Deserialize)]
struct Keyed {
    reuse_key: Option<String>,
}

/// The completions among `stored` that carry a reuse key, with their keys: what a store
/// indexes in the transaction that appends them.
pub fn reuse_keys(
    stored: &[crate::store::StoredEvent],
) -> impl Iterator<Item = (String, &crate::store::StoredEvent)> {
    stored.iter().filter_map(|event| {
        // Most events are not completions of plugin calls; only those are decoded.
        if event.event_type != "ActivityCompleted" || !event.payload.contains("\"reuse_key\"") {
            return None;
        }
        let Keyed { reuse_key } = serde_json::from_str(&event.payload).ok()?;
        Some((reuse_key?, event))
    })
}
