//! The workflow file as written: TOML parsed with positions kept, `${VAR}` substituted in
//! every string, then read into plain structs. Meaning is checked later, in `build`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diagnostics::Diagnostic;
use super::env;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWorkflow {
    pub name: Spanned<String>,
    pub version: Option<u32>,
    pub description: Option<String>,
    pub show: Option<Spanned<String>>,
    #[serde(default)]
    pub inputs: BTreeMap<String, Spanned<RawInput>>,
    #[serde(default)]
    pub providers: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub plugins: BTreeMap<String, RawGrants>,
    #[serde(default)]
    pub defaults: RawDefaults,
    pub execution_timeout: Option<Spanned<String>>,
    pub max_cost: Option<Spanned<f64>>,
    pub covered_concepts: Option<Spanned<String>>,
    pub reuse: Option<RawReuse>,
    /// Variables whose names look secret but whose values may be written into the workflow
    /// (and so recorded); read by `bundle` before substitution.
    #[serde(default)]
    pub public_variables: Vec<Spanned<String>>,
    #[serde(default)]
    pub stages: Vec<Spanned<RawStage>>,
}

/// `reuse`: whether plugin calls identical to completed ones reuse their results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum RawReuse {
    Identical,
    Never,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInput {
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    pub description: Option<String>,
    pub default: Option<Spanned<toml::Value>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGrants {
    #[serde(default)]
    pub allowed_hosts: Vec<Spanned<String>>,
    #[serde(default)]
    pub secrets: Vec<Spanned<String>>,
    pub memory_limit_mib: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDefaults {
    pub timeout: Option<Spanned<String>>,
    pub retry: Option<RawRetry>,
    pub concurrency: Option<Spanned<u32>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRetry {
    pub max_attempts: Option<Spanned<u32>>,
    pub initial_interval: Option<Spanned<String>>,
    pub backoff_coefficient: Option<Spanned<f64>>,
    pub maximum_interval: Option<Spanned<String>>,
    pub non_retryable: Option<Vec<String>>,
    pub on_exhausted: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStage {
    pub id: Spanned<String>,
    pub title: Option<String>,
    pub call: Option<Spanned<String>>,
    pub approval: Option<Spanned<RawApproval>>,
    pub when: Option<Spanned<String>>,
    pub for_each: Option<Spanned<String>>,
    pub concurrency: Option<Spanned<u32>>,
    pub prompt: Option<Spanned<String>>,
    pub system: Option<Spanned<String>>,
    pub schema: Option<Spanned<String>>,
    #[serde(default)]
    pub input: BTreeMap<String, Spanned<toml::Value>>,
    pub retry: Option<RawRetry>,
    pub timeout: Option<Spanned<String>>,
    pub stage_timeout: Option<Spanned<String>>,
    pub on_error: Option<Spanned<String>>,
    #[serde(default)]
    pub checks: Vec<Spanned<RawCheck>>,
    pub reuse: Option<RawReuse>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCheck {
    pub for_each: Option<Spanned<String>>,
    pub that: Spanned<String>,
    pub message: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApproval {
    pub subject: Spanned<String>,
    pub reminder_after: Option<Spanned<String>>,
}

/// Parses `source` (named `file` in messages), substituting `${VAR}` from `environment`.
pub(super) fn parse(
    file: &str,
    source: &str,
    environment: &BTreeMap<String, String>,
) -> Result<RawWorkflow, Diagnostic> {
    let mut table = parse_table(file, source)?;
    substitute_table(table.get_mut(), environment);
    let deserializer = toml::de::Deserializer::from(table);
    RawWorkflow::deserialize(deserializer).map_err(|error| diagnostic(file, source, &error))
}

/// Byte ranges of the string values in `source`: where `${VAR}` is substituted, and so the
/// only places a reference counts (one in a comment or a key is left as it is).
pub(super) fn string_spans(file: &str, source: &str) -> Result<Vec<Range<usize>>, Diagnostic> {
    let table = parse_table(file, source)?;
    let mut spans = Vec::new();
    for (_, value) in table.get_ref().iter() {
        collect_string_spans(value, &mut spans);
    }
    Ok(spans)
}

fn parse_table<'s>(file: &str, source: &'s str) -> Result<Spanned<DeTable<'s>>, Diagnostic> {
    DeTable::parse(source).map_err(|error| diagnostic(file, source, &error))
}

fn diagnostic(file: &str, source: &str, error: &toml::de::Error) -> Diagnostic {
    let message = error.message().trim_end();
    match error.span() {
        Some(span) => Diagnostic::at(file, source, span, message),
        None => Diagnostic::in_file(file, message),
    }
}

fn collect_string_spans(value: &Spanned<DeValue<'_>>, spans: &mut Vec<Range<usize>>) {
    match value.get_ref() {
        DeValue::String(_) => spans.push(value.span()),
        DeValue::Array(items) => {
            for item in items.iter() {
                collect_string_spans(item, spans);
            }
        }
        DeValue::Table(table) => {
            for (_, item) in table.iter() {
                collect_string_spans(item, spans);
            }
        }
        _ => {}
    }
}

fn substitute_table(table: &mut DeTable<'_>, environment: &BTreeMap<String, String>) {
    for (_, value) in table.iter_mut() {
        substitute_value(value.get_mut(), environment);
    }
}

fn substitute_value(value: &mut DeValue<'_>, environment: &BTreeMap<String, String>) {
    match value {
        DeValue::String(text) if text.contains("${") => {
            *text = Cow::Owned(env::substitute(text, environment));
        }
        DeValue::Array(items) => {
            for item in items.iter_mut() {
                substitute_value(item.get_mut(), environment);
            }
        }
        DeValue::Table(table) => substitute_table(table, environment),
        _ => {}
    }
}
