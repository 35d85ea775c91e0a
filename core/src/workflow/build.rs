//! From the parsed file to a validated [`Definition`]: every check a workflow author needs,
//! each problem reported with its position, all of them at once.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use serde_json::Value;
use toml::Spanned;

use super::calls::{BUILTIN_SERVICE, all_calls, call_spec};
use super::diagnostics::Diagnostic;
use super::raw::{self, RawRetry, RawStage, RawWorkflow};
use super::{
    CallStage, Definition, DefinitionBundle, GrantSpec, InputKind, InputSpec, OnError, SchemaFile,
    Stage, StageKind, TemplateFile,
};
use crate::duration::parse_duration;
use crate::ids::StageId;
use crate::retry::RetryPolicy;
use crate::template::{self, CONTEXT_ROOTS, TemplateError};

const SERVICES: &[&str] = &["llm", "tts", "mixer", "image"];
const DEFAULT_ATTEMPT_TIMEOUT_MS: u64 = 5 * 60 * 1_000;
const DEFAULT_REMINDER_MS: u64 = 7 * 24 * 3_600 * 1_000;

pub(super) fn build(bundle: &DefinitionBundle) -> Result<Definition, Vec<Diagnostic>> {
    let parsed = raw::parse(&bundle.path, &bundle.source, &bundle.environment)
        .map_err(|diagnostic| vec![diagnostic])?;
    let mut builder = Builder {
        bundle,
        diagnostics: Vec::new(),
    };
    let definition = builder.definition(parsed);
    if builder.diagnostics.is_empty() {
        Ok(definition)
    } else {
        Err(builder.diagnostics)
    }
}

struct Builder<'b> {
    bundle: &'b DefinitionBundle,
    diagnostics: Vec<Diagnostic>,
}

/// Where a template sits, for checking what it may refer to.
struct Scope<'s> {
    stage_index: usize,
    has_item: bool,
    stages: &'s [(String, Range<usize>)],
    inputs: &'s [InputSpec],
    has_show: bool,
}

impl Builder<'_> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic::at(
            &self.bundle.path,
            &self.bundle.source,
            span,
            message,
        ));
    }

    fn definition(&mut self, parsed: RawWorkflow) -> Definition {
        if parsed.name.get_ref().trim().is_empty() {
            self.error(parsed.name.span(), "`name` must not be empty");
        }
        let inputs = self.inputs(&parsed);
        let providers = self.providers(&parsed);
        let plugin_grants = self.grants(&parsed);
        let default_timeout =
            self.duration_or(parsed.defaults.timeout.as_ref(), DEFAULT_ATTEMPT_TIMEOUT_MS);
        let default_retry = self.retry(parsed.defaults.retry.as_ref(), &RetryPolicy::default());
        let default_concurrency = parsed.defaults.concurrency.unwrap_or(4).max(1);
        let execution_timeout_ms = parsed
            .execution_timeout
            .as_ref()
            .and_then(|text| self.duration(text));
        let stage_names: Vec<(String, Range<usize>)> = parsed
            .stages
            .iter()
            .map(|stage| {
                (
                    stage.get_ref().id.get_ref().clone(),
                    stage.get_ref().id.span(),
                )
            })
            .collect();
        let has_show = parsed.show.is_some();
        if let Some(show) = &parsed.show {
            let scope = Scope {
                stage_index: 0,
                has_item: false,
                stages: &[],
                inputs: &inputs,
                has_show: false,
            };
            self.check_expression(show, &scope, "show");
        }
        let mut stages = Vec::new();
        for (index, stage) in parsed.stages.iter().enumerate() {
            let scope = Scope {
                stage_index: index,
                has_item: false,
                stages: &stage_names,
                inputs: &inputs,
                has_show,
            };
            if let Some(built) = self.stage(
                stage,
                &scope,
                &providers,
                (default_timeout, &default_retry, default_concurrency),
            ) {
                stages.push(built);
            }
        }
        self.check_approval_subjects(&parsed, &stages);
        if stages.is_empty() && parsed.stages.is_empty() {
            self.error(
                parsed.name.span(),
                "the workflow has no stages; add at least one [[stages]] table",
            );
        }
        if let Some(covered) = &parsed.covered_concepts {
            let scope = Scope {
                stage_index: stage_names.len(),
                has_item: false,
                stages: &stage_names,
                inputs: &inputs,
                has_show,
            };
            self.check_expression(covered, &scope, "covered_concepts");
        }
        Definition {
            name: parsed.name.get_ref().clone(),
            version: parsed.version.unwrap_or(1),
            description: parsed.description.clone(),
            show: parsed.show.as_ref().map(|show| show.get_ref().clone()),
            inputs,
            providers,
            plugin_grants,
            execution_timeout_ms,
            covered_concepts: parsed
                .covered_concepts
                .as_ref()
                .map(|text| text.get_ref().clone()),
            stages,
        }
    }

    fn inputs(&mut self, parsed: &RawWorkflow) -> Vec<InputSpec> {
        let mut inputs = Vec::new();
        for (name, input) in &parsed.inputs {
            let spec = input.get_ref();
            let Some(kind) = InputKind::parse(spec.kind.get_ref()) else {
                self.error(spec.kind.span(), format!("input `{name}` has unknown type `{}`; expected string, integer, number, bool, list or object", spec.kind.get_ref()));
                continue;
            };
            let default = match &spec.default {
                None => None,
                Some(value) => {
                    let json = serde_json::to_value(value).unwrap_or(Value::Null);
                    match kind.coerce(&json) {
                        Ok(value) => Some(value),
                        Err(expected) => {
                            self.error(
                                input.span(),
                                format!("default of input `{name}` must be {expected}"),
                            );
                            None
                        }
                    }
                }
            };
            inputs.push(InputSpec {
                name: name.clone(),
                kind,
                description: spec.description.clone(),
                default,
            });
        }
        inputs
    }

    fn providers(&mut self, parsed: &RawWorkflow) -> BTreeMap<String, String> {
        let mut providers = BTreeMap::new();
        for (service, plugin) in &parsed.providers {
            if !SERVICES.contains(&service.as_str()) {
                self.error(
                    plugin.span(),
                    format!(
                        "unknown service `{service}` in [providers]; expected one of: {}",
                        SERVICES.join(", ")
                    ),
                );
            } else if plugin.get_ref().trim().is_empty() {
                self.error(
                    plugin.span(),
                    format!("provider of `{service}` must name a plugin"),
                );
            } else {
                providers.insert(service.clone(), plugin.get_ref().clone());
            }
        }
        providers
    }

    fn grants(&mut self, parsed: &RawWorkflow) -> BTreeMap<String, GrantSpec> {
        let mut grants = BTreeMap::new();
        for (plugin, raw) in &parsed.plugins {
            for host in &raw.allowed_hosts {
                let text = host.get_ref();
                let valid = text.split_once("://").is_some_and(|(scheme, rest)| {
                    matches!(scheme, "http" | "https") && !rest.is_empty() && !rest.contains('/')
                });
                if !valid {
                    self.error(host.span(), format!("allowed host `{text}` of plugin `{plugin}` must look like `https://api.example.com` or `http://127.0.0.1:8080` (scheme, host, optional port, no path)"));
                }
            }
            for secret in &raw.secrets {
                let name = secret.get_ref();
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    self.error(secret.span(), format!("secret `{name}` of plugin `{plugin}` must be an environment variable name"));
                }
            }
            grants.insert(
                plugin.clone(),
                GrantSpec {
                    allowed_hosts: raw
                        .allowed_hosts
                        .iter()
                        .map(|host| host.get_ref().clone())
                        .collect(),
                    secrets: raw
                        .secrets
                        .iter()
                        .map(|secret| secret.get_ref().clone())
                        .collect(),
                    memory_limit_mib: raw.memory_limit_mib,
                },
            );
        }
        grants
    }

    fn duration(&mut self, text: &Spanned<String>) -> Option<u64> {
        match parse_duration(text.get_ref()) {
            Ok(duration) => Some(duration.as_millis() as u64),
            Err(message) => {
                self.error(text.span(), message);
                None
            }
        }
    }

    fn duration_or(&mut self, text: Option<&Spanned<String>>, default_ms: u64) -> u64 {
        text.and_then(|text| self.duration(text))
            .unwrap_or(default_ms)
    }

    fn retry(&mut self, raw: Option<&RawRetry>, base: &RetryPolicy) -> RetryPolicy {
        let Some(raw) = raw else { return base.clone() };
        let mut policy = base.clone();
        if let Some(attempts) = raw.max_attempts {
            policy.max_attempts = attempts.max(1);
        }
        if let Some(interval) = &raw.initial_interval {
            policy.initial_interval_ms =
                self.duration_or(Some(interval), policy.initial_interval_ms);
        }
        if let Some(interval) = &raw.maximum_interval {
            policy.maximum_interval_ms =
                self.duration_or(Some(interval), policy.maximum_interval_ms);
        }
        if let Some(coefficient) = raw.backoff_coefficient {
            policy.backoff_coefficient = coefficient.max(1.0);
        }
        if let Some(kinds) = &raw.non_retryable {
            policy.non_retryable = kinds.clone();
        }
        policy
    }

    fn stage(
        &mut self,
        spanned: &Spanned<RawStage>,
        scope: &Scope<'_>,
        providers: &BTreeMap<String, String>,
        (default_timeout, default_retry, default_concurrency): (u64, &RetryPolicy, u32),
    ) -> Option<Stage> {
        let raw = spanned.get_ref();
        let id = raw.id.get_ref();
        let mut valid = true;
        if id.is_empty()
            || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || id.starts_with(|c: char| c.is_ascii_digit())
        {
            self.error(raw.id.span(), format!("stage id `{id}` must be letters, digits and `_`, not starting with a digit (templates read it as stages.{id})"));
            valid = false;
        }
        if scope.stages[..scope.stage_index]
            .iter()
            .any(|(earlier, _)| earlier == id)
        {
            self.error(raw.id.span(), format!("duplicate stage id `{id}`"));
            valid = false;
        }
        let item_scope = Scope {
            has_item: raw.for_each.is_some(),
            ..*scope
        };
        if let Some(when) = &raw.when {
            self.check_expression(when, scope, "when");
        }
        if let Some(for_each) = &raw.for_each {
            self.check_expression(for_each, scope, "for_each");
            self.check_for_each_is_list(for_each, scope);
        }
        let kind = match (&raw.call, &raw.approval) {
            (Some(call), None) => self.call_stage(raw, call, &item_scope, providers),
            (None, Some(approval)) => {
                if raw.for_each.is_some() {
                    self.error(approval.span(), "an approval stage cannot use for_each");
                }
                let reminder_after_ms = self.duration_or(
                    approval.get_ref().reminder_after.as_ref(),
                    DEFAULT_REMINDER_MS,
                );
                Some(StageKind::Approval {
                    subject: StageId(approval.get_ref().subject.get_ref().clone()),
                    reminder_after_ms,
                })
            }
            (Some(_), Some(_)) => {
                self.error(
                    raw.id.span(),
                    format!(
                        "stage `{id}` has both `call` and `approval`; a stage does one or the other"
                    ),
                );
                None
            }
            (None, None) => {
                self.error(
                    raw.id.span(),
                    format!(
                        "stage `{id}` needs `call = \"service.function\"` or an `approval` table"
                    ),
                );
                None
            }
        };
        let concurrency = match &raw.concurrency {
            Some(value) if *value.get_ref() == 0 => {
                self.error(value.span(), "concurrency must be at least 1");
                1
            }
            Some(value) => *value.get_ref(),
            None => default_concurrency,
        };
        let on_error = match raw
            .on_error
            .as_ref()
            .map(|value| (value.get_ref().as_str(), value.span()))
        {
            None | Some(("fail", _)) => OnError::Fail,
            Some(("continue", _)) => OnError::Continue,
            Some((other, span)) => {
                self.error(
                    span,
                    format!("on_error must be \"fail\" or \"continue\", not `{other}`"),
                );
                OnError::Fail
            }
        };
        let attempt_timeout_ms = self.duration_or(raw.timeout.as_ref(), default_timeout);
        let stage_timeout_ms = raw
            .stage_timeout
            .as_ref()
            .and_then(|text| self.duration(text));
        let retry = self.retry(raw.retry.as_ref(), default_retry);
        let kind = kind?;
        valid.then(|| Stage {
            id: StageId(id.clone()),
            title: raw.title.clone().unwrap_or_else(|| title_from_id(id)),
            kind,
            when: raw.when.as_ref().map(|text| text.get_ref().clone()),
            for_each: raw.for_each.as_ref().map(|text| text.get_ref().clone()),
            concurrency,
            retry,
            attempt_timeout_ms,
            stage_timeout_ms,
            on_error,
        })
    }

    fn call_stage(
        &mut self,
        raw: &RawStage,
        call: &Spanned<String>,
        scope: &Scope<'_>,
        providers: &BTreeMap<String, String>,
    ) -> Option<StageKind> {
        let Some((service, function)) = call.get_ref().split_once('.') else {
            self.error(
                call.span(),
                format!(
                    "call `{}` must be `service.function`, one of: {}",
                    call.get_ref(),
                    all_calls().join(", ")
                ),
            );
            return None;
        };
        let Some(spec) = call_spec(service, function) else {
            self.error(
                call.span(),
                format!(
                    "unknown function `{}`; expected one of: {}",
                    call.get_ref(),
                    all_calls().join(", ")
                ),
            );
            return None;
        };
        if service != BUILTIN_SERVICE && !providers.contains_key(service) {
            self.error(call.span(), format!("no provider for service `{service}`; add `{service} = \"<plugin>\"` under [providers]"));
        }
        for (field, value) in [
            ("prompt", &raw.prompt),
            ("system", &raw.system),
            ("schema", &raw.schema),
        ] {
            if let Some(value) = value
                && !spec.takes_prompt
            {
                self.error(
                    value.span(),
                    format!("`{field}` applies only to llm.generate stages"),
                );
            }
        }
        if spec.takes_prompt && raw.prompt.is_none() {
            self.error(
                call.span(),
                format!(
                    "llm.generate stage `{}` needs `prompt = \"<template file>\"`",
                    raw.id.get_ref()
                ),
            );
        }
        let mut input = BTreeMap::new();
        for (key, value) in &raw.input {
            if !spec.required.contains(&key.as_str()) && !spec.optional.contains(&key.as_str()) {
                let accepted: Vec<&str> =
                    spec.required.iter().chain(spec.optional).copied().collect();
                self.error(
                    value.span(),
                    format!(
                        "{} takes no input `{key}`; it takes: {}",
                        call.get_ref(),
                        accepted.join(", ")
                    ),
                );
                continue;
            }
            let json = serde_json::to_value(value.get_ref()).unwrap_or(Value::Null);
            match template::tree_references(&json) {
                Ok(references) => self.check_references(
                    &references,
                    scope,
                    value.span(),
                    &format!("input `{key}`"),
                ),
                Err(error) => self.error(value.span(), format!("input `{key}`: {}", error.message)),
            }
            input.insert(key.clone(), json);
        }
        for required in spec.required {
            if !raw.input.contains_key(*required) {
                self.error(
                    call.span(),
                    format!(
                        "{} needs input `{required}` under [stages.input]",
                        call.get_ref()
                    ),
                );
            }
        }
        let prompt = raw
            .prompt
            .as_ref()
            .and_then(|path| self.template_file(path, scope));
        let system = raw
            .system
            .as_ref()
            .and_then(|path| self.template_file(path, scope));
        let schema = raw.schema.as_ref().and_then(|path| self.schema_file(path));
        Some(StageKind::Call(CallStage {
            service: service.to_string(),
            function: function.to_string(),
            input,
            prompt,
            system,
            schema,
        }))
    }

    fn template_file(&mut self, path: &Spanned<String>, scope: &Scope<'_>) -> Option<TemplateFile> {
        let Some(source) = self.bundle.files.get(path.get_ref()) else {
            self.error(
                path.span(),
                format!(
                    "file `{}` is not part of the loaded workflow",
                    path.get_ref()
                ),
            );
            return None;
        };
        match template::template_references(source) {
            Ok(references) => {
                for reference in &references {
                    if let Err(message) = reference_problem(reference, scope) {
                        let offset = source
                            .find(reference.split('.').next_back().unwrap_or(reference))
                            .unwrap_or(0);
                        self.diagnostics.push(Diagnostic::at(
                            path.get_ref(),
                            source,
                            offset..offset,
                            message,
                        ));
                    }
                }
            }
            Err(TemplateError { message, line }) => self.diagnostics.push(Diagnostic {
                file: path.get_ref().clone(),
                line: line.unwrap_or(0),
                column: usize::from(line.is_some()),
                message: format!("template does not compile: {message}"),
            }),
        }
        Some(TemplateFile {
            path: path.get_ref().clone(),
            source: source.clone(),
        })
    }

    fn schema_file(&mut self, path: &Spanned<String>) -> Option<SchemaFile> {
        let text = self.bundle.files.get(path.get_ref())?;
        let schema: Value = match serde_json::from_str(text) {
            Ok(schema) => schema,
            Err(error) => {
                self.diagnostics.push(Diagnostic {
                    file: path.get_ref().clone(),
                    line: error.line(),
                    column: error.column(),
                    message: format!("schema is not valid JSON: {error}"),
                });
                return None;
            }
        };
        if let Err(error) = jsonschema::meta::validate(&schema) {
            self.diagnostics.push(Diagnostic::in_file(
                path.get_ref(),
                format!("invalid JSON Schema: {error}"),
            ));
            return None;
        }
        if let Err(error) = jsonschema::validator_for(&schema) {
            self.diagnostics.push(Diagnostic::in_file(
                path.get_ref(),
                format!("invalid JSON Schema: {error}"),
            ));
            return None;
        }
        Some(SchemaFile {
            path: path.get_ref().clone(),
            schema,
        })
    }

    fn check_expression(&mut self, expression: &Spanned<String>, scope: &Scope<'_>, field: &str) {
        match template::expression_references(expression.get_ref()) {
            Ok(references) => self.check_references(&references, scope, expression.span(), field),
            Err(error) => self.error(
                expression.span(),
                format!("{field} expression does not compile: {}", error.message),
            ),
        }
    }

    fn check_references(
        &mut self,
        references: &BTreeSet<String>,
        scope: &Scope<'_>,
        span: Range<usize>,
        field: &str,
    ) {
        for reference in references {
            if let Err(message) = reference_problem(reference, scope) {
                self.error(span.clone(), format!("{field}: {message}"));
            }
        }
    }

    /// A `for_each` that names an input or an LLM output whose schema is not a list can never
    /// fan out; say so now rather than at run time.
    fn check_for_each_is_list(&mut self, for_each: &Spanned<String>, scope: &Scope<'_>) {
        let path: Vec<&str> = for_each.get_ref().trim().split('.').collect();
        if !path.iter().all(|part| {
            !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }) {
            return;
        }
        if let ["inputs", name] = path.as_slice()
            && let Some(input) = scope.inputs.iter().find(|input| input.name == *name)
            && input.kind != InputKind::List
        {
            self.error(
                for_each.span(),
                format!("for_each over input `{name}`, which is not a list"),
            );
        }
        if let ["stages", stage, "output", rest @ ..] = path.as_slice()
            && let Some(schema) = self.schema_of_stage(stage)
        {
            let mut node = &schema;
            for key in rest {
                match node
                    .get("properties")
                    .and_then(|properties| properties.get(*key))
                {
                    Some(child) => node = child,
                    None => return,
                }
            }
            if let Some(kind) = node.get("type").and_then(Value::as_str)
                && kind != "array"
            {
                self.error(
                    for_each.span(),
                    format!(
                        "for_each over `{}`, which its schema declares as {kind}, not a list",
                        for_each.get_ref()
                    ),
                );
            }
        }
    }

    fn schema_of_stage(&self, stage: &str) -> Option<Value> {
        let parsed = raw::parse(
            &self.bundle.path,
            &self.bundle.source,
            &self.bundle.environment,
        )
        .ok()?;
        let raw = parsed
            .stages
            .iter()
            .find(|candidate| candidate.get_ref().id.get_ref() == stage)?;
        if raw.get_ref().for_each.is_some() {
            return None;
        }
        let text = self
            .bundle
            .files
            .get(raw.get_ref().schema.as_ref()?.get_ref())?;
        serde_json::from_str(text).ok()
    }

    fn check_approval_subjects(&mut self, parsed: &RawWorkflow, stages: &[Stage]) {
        for (index, raw) in parsed.stages.iter().enumerate() {
            let Some(approval) = &raw.get_ref().approval else {
                continue;
            };
            let subject = approval.get_ref().subject.get_ref();
            let earlier = parsed.stages[..index]
                .iter()
                .any(|stage| stage.get_ref().id.get_ref() == subject);
            let built = stages.iter().find(|stage| stage.id.0 == *subject);
            let span = approval.get_ref().subject.span();
            if !earlier {
                let later = parsed.stages[index..]
                    .iter()
                    .any(|stage| stage.get_ref().id.get_ref() == subject);
                let problem = if later {
                    "runs after the approval"
                } else {
                    "is not a stage of this workflow"
                };
                self.error(
                    span,
                    format!(
                        "approval subject `{subject}` {problem}; it must name an earlier stage"
                    ),
                );
            } else if let Some(Stage {
                kind: StageKind::Call(call),
                for_each: None,
                ..
            }) = built
                && call.schema.is_none()
            {
                self.error(span, format!("approval subject `{subject}` needs a `schema`, so that an edited replacement can be validated"));
            }
        }
    }
}

/// Why `reference` (a dotted path a template reads) is not allowed where it is, if it is not.
fn reference_problem(reference: &str, scope: &Scope<'_>) -> Result<(), String> {
    let mut parts = reference.split('.');
    let root = parts.next().unwrap_or_default();
    match root {
        "inputs" => match parts.next() {
            Some(name) if !scope.inputs.iter().any(|input| input.name == name) => Err(format!(
                "unknown input `{name}` (declare it under [inputs.{name}])"
            )),
            _ => Ok(()),
        },
        "stages" => {
            let Some(stage) = parts.next() else {
                return Ok(());
            };
            match scope.stages.iter().position(|(id, _)| id == stage) {
                None => Err(format!("unknown stage `{stage}`")),
                Some(position) if position >= scope.stage_index => Err(format!(
                    "stage `{stage}` runs {} this one; only earlier stages' outputs can be used",
                    if position == scope.stage_index {
                        "as"
                    } else {
                        "after"
                    }
                )),
                Some(_) => match parts.next() {
                    None | Some("output") => Ok(()),
                    Some(other) => {
                        Err(format!("stages.{stage}.{other}: a stage has only `output`"))
                    }
                },
            }
        }
        "item" | "index" if !scope.has_item => {
            Err(format!("`{root}` exists only in a stage with for_each"))
        }
        "show" if !scope.has_show => {
            Err("`show` is used but the workflow names no show (set `show = ...`)".to_string())
        }
        _ if CONTEXT_ROOTS.contains(&root) => Ok(()),
        _ if is_global_function(root) => Ok(()),
        _ => Err(format!(
            "unknown name `{root}`; templates can use {}",
            CONTEXT_ROOTS.join(", ")
        )),
    }
}

/// MiniJinja's global functions, which static analysis reports like variables.
fn is_global_function(name: &str) -> bool {
    matches!(name, "range" | "dict" | "namespace" | "debug" | "loop")
}

fn title_from_id(id: &str) -> String {
    let spaced = id.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => spaced,
    }
}
