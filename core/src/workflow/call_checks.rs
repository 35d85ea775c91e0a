//! The checks of a stage that calls a function: the function exists and has a provider, its
//! input fields are the ones it takes, its prompt, system and schema files are sound, and its
//! output checks read only what they may.

use std::collections::BTreeMap;

use serde_json::Value;
use toml::Spanned;

use super::build::Builder;
use super::calls::{BUILTIN_SERVICE, all_calls, call_spec};
use super::diagnostics::Diagnostic;
use super::raw::{RawCheck, RawReuse, RawStage};
use super::references::{Scope, reference_offset, reference_problem};
use super::schema::check_schema;
use super::{CallStage, OutputCheck, SchemaBody, SchemaFile, StageKind, TemplateFile};
use crate::template::{self, TemplateError};

impl Builder<'_> {
    pub(super) fn call_stage(
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
        let schema = raw
            .schema
            .as_ref()
            .and_then(|path| self.schema_file(path, scope));
        let checks = raw
            .checks
            .iter()
            .map(|check| self.output_check(check.get_ref(), scope))
            .collect();
        Some(StageKind::Call(Box::new(CallStage {
            service: service.to_string(),
            function: function.to_string(),
            input,
            prompt,
            system,
            schema,
            checks,
            reuse_identical: raw.reuse.map(|reuse| reuse == RawReuse::Identical),
        })))
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
        self.check_template_file(path, source, scope);
        Some(TemplateFile {
            path: path.get_ref().clone(),
            source: source.clone(),
        })
    }

    /// Reports, in the file, what a template file reads that it may not and why it does not
    /// compile.
    fn check_template_file(&mut self, path: &Spanned<String>, source: &str, scope: &Scope<'_>) {
        match template::template_references(source) {
            Ok(references) => {
                for reference in &references {
                    if let Err(message) = reference_problem(reference, scope) {
                        let file = path.get_ref();
                        self.diagnostics
                            .push(match reference_offset(source, reference) {
                                Some(offset) => {
                                    Diagnostic::at(file, source, offset..offset, message)
                                }
                                None => Diagnostic::in_file(file, message),
                            });
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
    }

    /// A schema file: checked as a JSON Schema now, or, when it is a template, checked for
    /// what it reads; its rendering is checked when the stage starts.
    fn schema_file(&mut self, path: &Spanned<String>, scope: &Scope<'_>) -> Option<SchemaFile> {
        let text = self.bundle.files.get(path.get_ref())?;
        let schema = |body| SchemaFile {
            path: path.get_ref().clone(),
            body,
        };
        if SchemaFile::is_template(text) {
            self.check_template_file(path, text, scope);
            return Some(schema(SchemaBody::Template(text.clone())));
        }
        match check_schema(path.get_ref(), text) {
            Ok(parsed) => Some(schema(SchemaBody::Fixed(parsed))),
            Err(diagnostic) => {
                self.diagnostics.push(diagnostic);
                None
            }
        }
    }

    /// One `[[stages.checks]]` entry. It reads what the stage's templates read, plus `output`;
    /// `item` and `index` are its own `for_each`'s, not the stage's.
    fn output_check(&mut self, check: &RawCheck, scope: &Scope<'_>) -> OutputCheck {
        let list_scope = Scope {
            has_item: false,
            has_output: true,
            ..*scope
        };
        if let Some(for_each) = &check.for_each {
            self.check_expression(for_each, &list_scope, "check for_each");
        }
        let item_scope = Scope {
            has_item: check.for_each.is_some(),
            ..list_scope
        };
        self.check_expression(&check.that, &item_scope, "check `that`");
        match template::template_references(check.message.get_ref()) {
            Ok(references) => self.check_references(
                &references,
                &item_scope,
                check.message.span(),
                "check message",
            ),
            Err(error) => self.error(
                check.message.span(),
                format!("check message does not compile: {}", error.message),
            ),
        }
        OutputCheck {
            for_each: check.for_each.as_ref().map(|text| text.get_ref().clone()),
            that: check.that.get_ref().clone(),
            message: check.message.get_ref().clone(),
        }
    }
}
