//! Starting an execution: load and validate the workflow, check the inputs, pin the plugins
//! and the show, and record `ExecutionStarted`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pipeline_core::show::ShowBlueprint;
use pipeline_core::template;
use pipeline_core::text::{abbreviate, printable};
use pipeline_core::workflow::load_bundle;
use pipeline_core::{
    Definition, DefinitionBundle, Event, ExecutionId, ExecutionState, ExecutionStatus, PluginPin,
};
use serde_json::{Value, json};

use super::{Engine, EngineError, clock};
use crate::plugin::Service;

/// What to start.
#[derive(Debug, Clone, Default)]
pub struct StartRequest {
    pub workflow: PathBuf,
    pub inputs: BTreeMap<String, Value>,
    /// A chosen id; one is generated when absent.
    pub execution_id: Option<String>,
    /// Service to plugin, over the workflow's `[providers]`.
    pub providers: BTreeMap<String, String>,
    /// The budget in millionths, over the workflow's `max_cost`.
    pub max_cost_micros: Option<u64>,
    /// `--reuse identical`: identical plugin calls reuse completed results.
    pub reuse_identical: bool,
}

/// What every start of one workflow shares: read, validated and pinned once.
struct Pinned {
    bundle: DefinitionBundle,
    definition_hash: String,
    definition: Definition,
    plugins: BTreeMap<String, PluginPin>,
}

/// A workflow ready to start, as `--dry-run` shows it.
pub struct PreparedStart {
    /// The id the execution will have (also in `started`).
    pub execution_id: ExecutionId,
    pub definition: Definition,
    pub started: Event,
    /// Facts recorded with the start, in the same commit: a fork's `StageForked` events.
    pub forked: Vec<Event>,
}

impl Engine {
    /// Validates everything a start needs without recording anything.
    pub fn prepare(&self, request: &StartRequest) -> Result<PreparedStart, EngineError> {
        let mut prepared = self.prepare_each(request, vec![request.inputs.clone()])?;
        Ok(prepared.remove(0))
    }

    /// [`prepare`](Self::prepare) for one start per set of inputs (each replacing the
    /// request's), reading the workflow and pinning its plugins once for all of them, as a
    /// batch does. Any start that would be refused refuses them all.
    pub fn prepare_each(
        &self,
        request: &StartRequest,
        each_inputs: Vec<BTreeMap<String, Value>>,
    ) -> Result<Vec<PreparedStart>, EngineError> {
        let bundle = load_bundle(&request.workflow, &|name| std::env::var(name).ok())
            .map_err(EngineError::Workflow)?;
        let definition = Definition::from_bundle(&bundle).map_err(EngineError::Workflow)?;
        let pinned = Pinned {
            plugins: self.pin_plugins(&definition, &request.providers)?,
            definition_hash: bundle.hash(),
            bundle,
            definition,
        };
        each_inputs
            .iter()
            .map(|inputs| self.prepare_one(request, &pinned, inputs))
            .collect()
    }

    /// The id of a new execution: the one asked for, if it is a valid id, else a generated
    /// one; refused when an execution already has it.
    pub(super) fn new_execution_id(
        &self,
        requested: Option<&String>,
        workflow: &str,
    ) -> Result<ExecutionId, EngineError> {
        let now_ms = self.clock.now_ms();
        let execution_id = match requested {
            Some(id) if !ExecutionId::is_valid(id) => {
                return Err(EngineError::InvalidRequest(format!(
                    "`{}` cannot be an execution id: use letters, digits, `-`, `_` and `.`, at most {} of them, not starting with `-` or `.`",
                    printable(&abbreviate(id, 40)),
                    ExecutionId::MAX_LENGTH
                )));
            }
            Some(id) => ExecutionId(id.clone()),
            None => ExecutionId::generate(workflow, &clock::day_of(now_ms), clock::entropy()),
        };
        if self.store.execution(&execution_id.0)?.is_some() {
            return Err(EngineError::InvalidRequest(format!(
                "an execution with id `{execution_id}` already exists"
            )));
        }
        Ok(execution_id)
    }

    fn prepare_one(
        &self,
        request: &StartRequest,
        pinned: &Pinned,
        inputs: &BTreeMap<String, Value>,
    ) -> Result<PreparedStart, EngineError> {
        let Pinned {
            bundle,
            definition_hash,
            definition,
            plugins,
        } = pinned;
        let inputs = definition
            .resolve_inputs(inputs)
            .map_err(|problems| EngineError::InvalidRequest(problems.join("\n")))?;
        let show = self.load_show(definition, &request.workflow, &inputs)?;
        let execution_id =
            self.new_execution_id(request.execution_id.as_ref(), &definition.name)?;
        let started = Event::ExecutionStarted {
            execution_id: execution_id.clone(),
            workflow: definition.name.clone(),
            definition_hash: definition_hash.to_string(),
            definition: bundle.clone(),
            inputs,
            plugins: plugins.clone(),
            show,
            budget_micros: request.max_cost_micros.or(definition.max_cost_micros),
            reuse_identical: request.reuse_identical,
        };
        Ok(PreparedStart {
            execution_id,
            definition: definition.clone(),
            started,
            forked: Vec::new(),
        })
    }

    /// Records the start of a prepared execution.
    pub async fn start(&self, prepared: PreparedStart) -> Result<ExecutionState, EngineError> {
        let now_ms = self.clock.now_ms();
        self.record_start(
            &prepared.definition,
            prepared.started,
            prepared.forked,
            now_ms,
        )
        .await
    }

    pub(super) fn pin_plugins(
        &self,
        definition: &Definition,
        overrides: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, PluginPin>, EngineError> {
        let used = definition.services_used();
        for service in overrides.keys() {
            if !used.contains(service) {
                return Err(EngineError::InvalidRequest(format!(
                    "--provider {service}=...: workflow {} calls no `{service}` service (it uses: {})",
                    definition.name,
                    used.join(", ")
                )));
            }
        }
        let mut pins = BTreeMap::new();
        for service_name in used {
            let plugin_name = overrides
                .get(&service_name)
                .or(definition.providers.get(&service_name))
                .ok_or_else(|| {
                    EngineError::InvalidRequest(format!("no provider for service `{service_name}`"))
                })?;
            if plugin_name.contains(std::path::MAIN_SEPARATOR) || plugin_name.ends_with(".wasm") {
                // Executions pin plugins by name and look them up again at every call (and on
                // resume, perhaps from another directory); a path would not resolve the same.
                return Err(EngineError::InvalidRequest(format!(
                    "provider `{plugin_name}` for service `{service_name}` is a path; plugins are named, not given by path: copy the component into the plugins directory as <name>.wasm (or point --plugins-dir at its folder) and use `{service_name}={}`",
                    Path::new(plugin_name.as_str())
                        .file_stem()
                        .map_or_else(|| "<name>".into(), |stem| stem.to_string_lossy())
                )));
            }
            let service = Service::from_name(&service_name).ok_or_else(|| {
                EngineError::InvalidRequest(format!("unknown service `{service_name}`"))
            })?;
            let plugin = self.plugins.load_for(plugin_name, service)?;
            // Secrets are checked now, so a run does not fail stages later for a missing key.
            for secret in definition
                .plugin_grants
                .get(&plugin.name)
                .map_or(&[][..], |grants| &grants.secrets[..])
            {
                if std::env::var_os(secret).is_none() {
                    return Err(EngineError::InvalidRequest(format!(
                        "plugin `{}` is granted the secret {secret} by the workflow, but {secret} is not set in the environment",
                        plugin.name
                    )));
                }
            }
            pins.insert(
                service_name,
                PluginPin {
                    name: plugin.name.clone(),
                    digest: plugin.digest.clone(),
                },
            );
        }
        Ok(pins)
    }

    /// The show blueprint named by the workflow, with the concepts its earlier episodes covered.
    fn load_show(
        &self,
        definition: &Definition,
        workflow: &Path,
        inputs: &BTreeMap<String, Value>,
    ) -> Result<Option<Value>, EngineError> {
        let Some(expression) = &definition.show else {
            return Ok(None);
        };
        let name =
            template::evaluate(expression, &json!({ "inputs": inputs })).map_err(|error| {
                EngineError::InvalidRequest(format!("show `{expression}`: {error}"))
            })?;
        let Some(slug) = name.as_str().filter(|slug| {
            !slug.is_empty()
                && slug
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        }) else {
            return Err(EngineError::InvalidRequest(format!(
                "show name {name} must be letters, digits, `-` and `_` (it names shows/<name>.toml)"
            )));
        };
        let folder = match workflow.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let blueprint = ShowBlueprint::load(folder, slug)?;
        let mut covered = Vec::new();
        let mut episodes = 0;
        for row in self.store.executions_of_show(slug)? {
            if row.summary.status != ExecutionStatus::Completed {
                continue;
            }
            let state = self.load_state(&row.execution_id)?;
            episodes += 1;
            for concept in state.covered_concepts {
                if !covered.contains(&concept) {
                    covered.push(concept);
                }
            }
        }
        Ok(Some(blueprint.context(slug, &covered, episodes)))
    }
}
