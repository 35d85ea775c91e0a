//! Forking: a new execution that takes the recorded results of every stage before a chosen
//! one from another execution, and runs the rest (with other inputs or plugins if asked).
//! The source is never changed; `reset` is the in-place variant.

use std::collections::BTreeMap;

use pipeline_core::Event;
use pipeline_core::lineage::forked_stages;
use pipeline_core::template;
use serde_json::{Value, json};

use super::start::PreparedStart;
use super::{Engine, EngineError};

/// What to fork.
#[derive(Debug, Clone, Default)]
pub struct ForkRequest {
    /// The execution whose results are taken.
    pub source: String,
    /// The first stage that runs again; every stage before it is taken from the source.
    pub from_stage: String,
    /// A chosen id for the new execution; one is generated when absent.
    pub execution_id: Option<String>,
    /// Inputs over the source's.
    pub inputs: BTreeMap<String, Value>,
    /// Service to plugin, over the source's pins.
    pub providers: BTreeMap<String, String>,
    /// `--reuse identical` for the new execution.
    pub reuse_identical: bool,
}

impl Engine {
    /// Validates a fork and prepares its start, recording nothing. The new execution pins the
    /// source's definition, show and budget; its plugins are the source's (re-pinned as they
    /// are now) with the overrides.
    pub fn prepare_fork(&self, request: &ForkRequest) -> Result<PreparedStart, EngineError> {
        let loaded = self.load(&request.source)?;
        let (source, definition) = (loaded.state, loaded.definition);
        let forked = forked_stages(&definition, &source, &request.from_stage)
            .map_err(EngineError::InvalidRequest)?;
        let mut inputs = source.inputs.clone();
        inputs.extend(request.inputs.clone());
        let inputs = definition
            .resolve_inputs(&inputs)
            .map_err(|problems| EngineError::InvalidRequest(problems.join("\n")))?;
        if let Some(expression) = &definition.show {
            let show_of = |inputs: &BTreeMap<String, Value>| {
                template::evaluate(expression, &json!({ "inputs": inputs })).ok()
            };
            if show_of(&inputs) != show_of(&source.inputs) {
                return Err(EngineError::InvalidRequest(format!(
                    "a fork keeps the show of execution {}; its inputs cannot name another show",
                    source.execution_id
                )));
            }
        }
        let mut providers: BTreeMap<String, String> = source
            .plugins
            .iter()
            .map(|(service, pin)| (service.clone(), pin.name.clone()))
            .collect();
        for (service, plugin) in &request.providers {
            if !providers.contains_key(service) {
                return Err(EngineError::InvalidRequest(format!(
                    "--provider {service}=...: execution {} calls no `{service}` service (it uses: {})",
                    source.execution_id,
                    providers.keys().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
            providers.insert(service.clone(), plugin.clone());
        }
        let plugins = self.pin_plugins(&definition, &providers)?;
        let execution_id =
            self.new_execution_id(request.execution_id.as_ref(), &definition.name)?;
        let started = Event::ExecutionStarted {
            execution_id: execution_id.clone(),
            workflow: source.workflow.clone(),
            definition_hash: source.definition_hash.clone(),
            definition: source.bundle.clone(),
            inputs,
            plugins,
            show: source.show.clone(),
            budget_micros: source.budget_micros,
            reuse_identical: request.reuse_identical,
        };
        Ok(PreparedStart {
            execution_id,
            definition,
            started,
            forked,
        })
    }
}
