//! Workflow definitions: the TOML format a workflow author edits, loaded into a validated
//! [`Definition`]. Loading reads the workflow file and every file it names (prompts, schemas)
//! into a [`DefinitionBundle`], which an execution pins in its history: resuming rebuilds the
//! definition from the bundle, never from the files on disk.

mod build;
mod bundle;
mod call_checks;
mod calls;
mod diagnostics;
mod env;
mod gate_checks;
mod raw;
mod reads;
mod references;
mod retry_table;
mod schema;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::StageId;
use crate::retry::RetryPolicy;

pub use bundle::{DefinitionBundle, load_bundle};
pub use calls::{BUILTIN_SERVICE, CallSpec, call_spec};
pub use diagnostics::Diagnostic;

/// The most activities one stage may run at once: a stage records as started as many attempts
/// as it may run, and a billion would be recorded together and never run.
pub const MAX_CONCURRENCY: u32 = 1024;
pub use env::{SECRET_SUFFIXES, looks_like_secret};
pub use reads::StageReads;

/// A validated workflow definition.
#[derive(Debug, Clone)]
pub struct Definition {
    pub name: String,
    pub version: u32,
    pub description: Option<String>,
    /// Expression giving the show's name; its blueprint is loaded when an execution starts.
    pub show: Option<String>,
    pub inputs: Vec<InputSpec>,
    /// Service (`llm`, `tts`, `mixer`, `image`) to the plugin that serves it.
    pub providers: BTreeMap<String, String>,
    /// What each plugin may reach, on top of the host's configuration.
    pub plugin_grants: BTreeMap<String, GrantSpec>,
    /// The whole execution fails once it has run this long (approval waits included).
    pub execution_timeout_ms: Option<u64>,
    /// The budget, in millionths of the currency the plugins report, unless a run sets its own.
    pub max_cost_micros: Option<u64>,
    /// `reuse = "identical"`: a plugin call identical to a completed one (same call, request,
    /// plugin digest and definition) reuses its result instead of calling the provider.
    pub reuse_identical: bool,
    /// Expression giving the concepts an episode covered, recorded for its show on completion.
    pub covered_concepts: Option<String>,
    pub stages: Vec<Stage>,
}

/// One declared input.
#[derive(Debug, Clone, PartialEq)]
pub struct InputSpec {
    pub name: String,
    pub kind: InputKind,
    pub description: Option<String>,
    /// None means the input is required.
    pub default: Option<Value>,
}

/// The type of an input, checked when an execution starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    String,
    Integer,
    Number,
    Bool,
    List,
    Object,
}

/// What a plugin may reach, declared by the workflow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantSpec {
    /// `scheme://host[:port]` entries the plugin may send HTTP requests to.
    pub allowed_hosts: Vec<String>,
    /// Environment variables passed to the plugin (and only to it).
    pub secrets: Vec<String>,
    pub memory_limit_mib: Option<u64>,
}

/// One stage of a workflow.
#[derive(Debug, Clone)]
pub struct Stage {
    pub id: StageId,
    /// Shown in progress output, for example "Audio synthesis".
    pub title: String,
    pub kind: StageKind,
    /// Expression; the stage is skipped when it is false.
    pub when: Option<String>,
    /// Expression giving a list; one activity per item, bound to `item` and `index`.
    pub for_each: Option<String>,
    /// How many of the stage's activities run at once.
    pub concurrency: u32,
    pub retry: RetryPolicy,
    /// Deadline of one attempt, start to close.
    pub attempt_timeout_ms: u64,
    /// Limit on the whole stage, retries and waits included.
    pub stage_timeout_ms: Option<u64>,
    pub on_error: OnError,
    /// The earlier stages' outputs its templates read: all a step's context needs to hold.
    pub reads: StageReads,
}

/// What a stage does.
#[derive(Debug, Clone)]
pub enum StageKind {
    /// Calls one function of a service (boxed: it is many times the size of an approval).
    Call(Box<CallStage>),
    /// Waits for a person to approve the output of `subject`.
    Approval {
        subject: StageId,
        reminder_after_ms: u64,
    },
}

/// A stage that calls a plugin (or a function of the host).
#[derive(Debug, Clone)]
pub struct CallStage {
    pub service: String,
    pub function: String,
    /// Input fields as templates (a value that is exactly one `{{ expression }}` keeps the
    /// expression's type).
    pub input: BTreeMap<String, Value>,
    /// For LLM stages: the prompt template, its optional system template and output schema.
    pub prompt: Option<TemplateFile>,
    pub system: Option<TemplateFile>,
    pub schema: Option<SchemaFile>,
    /// Conditions every attempt's output must meet before it counts.
    pub checks: Vec<OutputCheck>,
    /// The stage's own `reuse`, over the workflow's and the run's: `Some(false)` for
    /// `"never"` (its provider should answer afresh), `Some(true)` for `"identical"`.
    pub reuse_identical: Option<bool>,
}

/// A condition on a stage's output, declared as `[[stages.checks]]`: what later stages rely on
/// and a schema cannot say (a speaker who is one of the show's hosts, say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputCheck {
    /// Expression giving a list; `that` must hold for each item, bound to `item` and `index`.
    pub for_each: Option<String>,
    /// Expression over `output` and the stage's context that must be true.
    pub that: String,
    /// Template saying what is wrong when `that` is false; the next attempt's request tells
    /// the model.
    pub message: String,
}

/// A template loaded from a file next to the workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateFile {
    pub path: String,
    pub source: String,
}

/// A JSON Schema loaded from a file next to the workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaFile {
    pub path: String,
    pub body: SchemaBody,
}

/// What a schema file holds.
#[derive(Debug, Clone, PartialEq)]
pub enum SchemaBody {
    /// The schema as written, checked when the workflow is loaded.
    Fixed(Value),
    /// A file with template tags (`{{ }}`, `{% %}`), rendered with the stage's context when
    /// the stage starts, so a schema can name the show's hosts.
    Template(String),
}

/// What happens when a stage fails for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// The execution fails.
    Fail,
    /// The error is recorded and the execution goes on without the stage's output.
    Continue,
}

impl Definition {
    /// Builds the definition pinned in `bundle`, reporting every problem found.
    pub fn from_bundle(bundle: &DefinitionBundle) -> Result<Definition, Vec<Diagnostic>> {
        build::build(bundle)
    }

    pub fn stage(&self, id: &StageId) -> Option<&Stage> {
        self.stages.iter().find(|stage| &stage.id == id)
    }

    pub fn stage_index(&self, id: &StageId) -> Option<usize> {
        self.stages.iter().position(|stage| &stage.id == id)
    }

    /// The services this workflow calls plugins for, in stage order, without repeats.
    pub fn services_used(&self) -> Vec<String> {
        let mut services: Vec<String> = Vec::new();
        for stage in &self.stages {
            if let StageKind::Call(call) = &stage.kind
                && call.service != BUILTIN_SERVICE
                && !services.contains(&call.service)
            {
                services.push(call.service.clone());
            }
        }
        services
    }

    /// Checks run-time inputs against the declared ones and fills in defaults. Every problem
    /// is reported at once.
    pub fn resolve_inputs(
        &self,
        given: &BTreeMap<String, Value>,
    ) -> Result<BTreeMap<String, Value>, Vec<String>> {
        let mut resolved = BTreeMap::new();
        let mut problems = Vec::new();
        for name in given.keys() {
            if !self.inputs.iter().any(|input| &input.name == name) {
                let known: Vec<&str> = self
                    .inputs
                    .iter()
                    .map(|input| input.name.as_str())
                    .collect();
                problems.push(format!(
                    "unknown input `{name}`; workflow {} takes: {}",
                    self.name,
                    known.join(", ")
                ));
            }
        }
        for input in &self.inputs {
            match given.get(&input.name).or(input.default.as_ref()) {
                None => problems.push(format!(
                    "missing input `{}`{}; give it with --input {}=...",
                    input.name,
                    input
                        .description
                        .as_deref()
                        .map(|text| format!(" ({text})"))
                        .unwrap_or_default(),
                    input.name
                )),
                Some(value) => match input.kind.coerce(value) {
                    Ok(value) => {
                        resolved.insert(input.name.clone(), value);
                    }
                    Err(expected) => problems.push(format!(
                        "input `{}` must be {expected}, got {value}",
                        input.name
                    )),
                },
            }
        }
        if problems.is_empty() {
            Ok(resolved)
        } else {
            Err(problems)
        }
    }
}

impl InputKind {
    pub fn parse(text: &str) -> Option<InputKind> {
        Some(match text {
            "string" => InputKind::String,
            "integer" => InputKind::Integer,
            "number" => InputKind::Number,
            "bool" | "boolean" => InputKind::Bool,
            "list" => InputKind::List,
            "object" => InputKind::Object,
            _ => return None,
        })
    }

    /// Accepts a value of this kind; strings from the command line are converted when they
    /// spell one (`true`, `42`, JSON for lists and objects).
    pub fn coerce(self, value: &Value) -> Result<Value, &'static str> {
        let from_text = |text: &str| serde_json::from_str::<Value>(text.trim()).ok();
        let converted = match (self, value) {
            (InputKind::String, Value::String(_)) => Some(value.clone()),
            (InputKind::String, Value::Number(number)) => Some(Value::String(number.to_string())),
            (_, Value::String(text)) if self != InputKind::String => from_text(text),
            _ => Some(value.clone()),
        };
        let fits = |candidate: &Value| match self {
            InputKind::String => candidate.is_string(),
            InputKind::Integer => candidate.is_i64() || candidate.is_u64(),
            InputKind::Number => candidate.is_number(),
            InputKind::Bool => candidate.is_boolean(),
            InputKind::List => candidate.is_array(),
            InputKind::Object => candidate.is_object(),
        };
        match converted {
            Some(candidate) if fits(&candidate) => Ok(candidate),
            _ => Err(match self {
                InputKind::String => "a string",
                InputKind::Integer => "an integer",
                InputKind::Number => "a number",
                InputKind::Bool => "true or false",
                InputKind::List => "a JSON list",
                InputKind::Object => "a JSON object",
            }),
        }
    }
}
