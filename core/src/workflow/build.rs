//! From the parsed file to a validated [`Definition`]: every check a workflow author needs,
//! each problem reported with its position, all of them at once.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use serde_json::Value;
use toml::Spanned;

use super::MAX_CONCURRENCY;
use super::calls::call_spec;
use super::diagnostics::Diagnostic;
use super::raw::{self, RawStage, RawWorkflow};
use super::references::{Scope, reference_problem};
use super::{
    Definition, DefinitionBundle, GrantSpec, InputKind, InputSpec, OnError, Stage, StageKind,
    StageReads,
};
use crate::duration::parse_duration;
use crate::ids::StageId;
use crate::retry::RetryPolicy;
use crate::template;

const SERVICES: &[&str] = &["llm", "tts", "mixer", "image"];
const DEFAULT_ATTEMPT_TIMEOUT_MS: u64 = 5 * 60 * 1_000;

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

pub(super) struct Builder<'b> {
    pub(super) bundle: &'b DefinitionBundle,
    pub(super) diagnostics: Vec<Diagnostic>,
}

impl Builder<'_> {
    pub(super) fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
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
        for name in &parsed.public_variables {
            if !super::env::looks_like_secret(name.get_ref()) {
                self.error(
                    name.span(),
                    format!(
                        "`{}` in public_variables does not look like a secret, so it needs no entry (only names ending in {} do)",
                        name.get_ref(),
                        super::env::SECRET_SUFFIXES.join(", ")
                    ),
                );
            }
        }
        let inputs = self.inputs(&parsed);
        let providers = self.providers(&parsed);
        let plugin_grants = self.grants(&parsed);
        let default_timeout =
            self.duration_or(parsed.defaults.timeout.as_ref(), DEFAULT_ATTEMPT_TIMEOUT_MS);
        let default_retry = self.retry(parsed.defaults.retry.as_ref(), &RetryPolicy::default());
        let default_concurrency = self
            .concurrency(parsed.defaults.concurrency.as_ref())
            .unwrap_or(4);
        let execution_timeout_ms = parsed
            .execution_timeout
            .as_ref()
            .and_then(|text| self.duration(text));
        let max_cost_micros = parsed.max_cost.as_ref().and_then(|cost| self.cost(cost));
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
                declared_inputs: &parsed.inputs,
                inputs: &inputs,
                has_show: false,
                has_output: false,
            };
            self.check_expression(show, &scope, "show");
        }
        let mut stages = Vec::new();
        for (index, stage) in parsed.stages.iter().enumerate() {
            let scope = Scope {
                stage_index: index,
                has_item: false,
                stages: &stage_names,
                declared_inputs: &parsed.inputs,
                inputs: &inputs,
                has_show,
                has_output: false,
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
                declared_inputs: &parsed.inputs,
                inputs: &inputs,
                has_show,
                has_output: false,
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
            max_cost_micros,
            reuse_identical: parsed.reuse == Some(super::raw::RawReuse::Identical),
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
                    let json = serde_json::to_value(value.get_ref()).unwrap_or(Value::Null);
                    match kind.coerce(&json) {
                        Ok(value) => Some(value),
                        Err(expected) => {
                            self.error(
                                value.span(),
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
                if let Err(invalid) = crate::origin::Origin::parse(host.get_ref()) {
                    self.error(host.span(), format!("plugin `{plugin}`: {invalid}"));
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

    fn concurrency(&mut self, value: Option<&Spanned<u32>>) -> Option<u32> {
        let value = value?;
        let count = *value.get_ref();
        if count == 0 {
            self.error(value.span(), "concurrency must be at least 1");
        } else if count > MAX_CONCURRENCY {
            let message = format!("concurrency {count} is more than a stage can run at once");
            self.error(
                value.span(),
                format!("{message} (at most {MAX_CONCURRENCY})"),
            );
        }
        Some(count.clamp(1, MAX_CONCURRENCY))
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

    /// A budget in units of the plugins' currency, as millionths.
    fn cost(&mut self, cost: &Spanned<f64>) -> Option<u64> {
        let amount = *cost.get_ref();
        let micros = (amount * 1e6).round();
        if !(1.0..1e15).contains(&micros) {
            self.error(
                cost.span(),
                "max_cost must be a positive amount, at least 0.000001 (in the currency the plugins report)",
            );
            return None;
        }
        Some(micros as u64)
    }

    pub(super) fn duration_or(&mut self, text: Option<&Spanned<String>>, default_ms: u64) -> u64 {
        text.and_then(|text| self.duration(text))
            .unwrap_or(default_ms)
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
            (None, Some(approval)) => self.approval_stage(raw, approval),
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
        let concurrency = self
            .concurrency(raw.concurrency.as_ref())
            .unwrap_or(default_concurrency);
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
        let when = raw.when.as_ref().map(|text| text.get_ref().clone());
        let for_each = raw.for_each.as_ref().map(|text| text.get_ref().clone());
        valid.then(|| Stage {
            id: StageId(id.clone()),
            title: raw.title.clone().unwrap_or_else(|| title_from_id(id)),
            reads: StageReads::of(when.as_deref(), for_each.as_deref(), &kind),
            kind,
            when,
            for_each,
            concurrency,
            retry,
            attempt_timeout_ms,
            stage_timeout_ms,
            on_error,
        })
    }

    pub(super) fn check_expression(
        &mut self,
        expression: &Spanned<String>,
        scope: &Scope<'_>,
        field: &str,
    ) {
        match template::expression_references(expression.get_ref()) {
            Ok(references) => self.check_references(&references, scope, expression.span(), field),
            Err(error) => self.error(
                expression.span(),
                format!("{field} expression does not compile: {}", error.message),
            ),
        }
    }

    pub(super) fn check_references(
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
                let problem = if raw.get_ref().id.get_ref() == subject {
                    "is the approval stage itself"
                } else if later {
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
                && call_spec(&call.service, &call.function).is_some_and(|spec| spec.takes_prompt)
            {
                self.error(span, format!("approval subject `{subject}` needs a `schema`, so that an edited replacement can be validated"));
            }
        }
    }
}

fn title_from_id(id: &str) -> String {
    let spaced = id.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => spaced,
    }
}
