//! A workflow file together with every file it names and the environment values it used: what
//! an execution pins in its history, hashed so that a changed definition is recognised.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::diagnostics::Diagnostic;
use super::{env, raw};
use crate::files::{self, FileError, limits};

/// The complete source of a definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefinitionBundle {
    /// The workflow file as it was given, for messages.
    pub path: String,
    /// The workflow file's text.
    pub source: String,
    /// Prompt and schema files by the relative path the workflow names them with.
    pub files: BTreeMap<String, String>,
    /// Values of the `${VAR}` references, as they were when the bundle was loaded.
    pub environment: BTreeMap<String, String>,
}

impl DefinitionBundle {
    /// `sha256:<hex>` over the bundle's canonical JSON form.
    pub fn hash(&self) -> String {
        let canonical = serde_json::to_vec(self).expect("a bundle is plain strings");
        format!("sha256:{}", hex::encode(Sha256::digest(canonical)))
    }
}

/// Reads the workflow at `path` and the files it names, taking `${VAR}` values from `lookup`.
/// Reports every missing variable and file at once.
pub fn load_bundle(
    path: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<DefinitionBundle, Vec<Diagnostic>> {
    let shown = path.display().to_string();
    let source = files::read_text(path, limits::WORKFLOW_FILE_BYTES).map_err(|error| {
        vec![Diagnostic::in_file(
            &shown,
            format!("cannot read the workflow: {error}"),
        )]
    })?;
    let mut diagnostics = Vec::new();
    let mut references = Vec::new();
    for string in raw::string_spans(&shown, &source).map_err(|diagnostic| vec![diagnostic])? {
        let (found, malformed) = env::references(source.get(string.clone()).unwrap_or_default());
        for (span, message) in malformed {
            let span = string.start + span.start..string.start + span.end;
            diagnostics.push(Diagnostic::at(&shown, &source, span, message));
        }
        references.extend(found.into_iter().map(|reference| env::Reference {
            span: string.start + reference.span.start..string.start + reference.span.end,
            ..reference
        }));
    }
    let public = public_variables(&source);
    let mut environment = BTreeMap::new();
    for reference in references {
        if env::looks_like_secret(&reference.name) && !public.contains(&reference.name) {
            diagnostics.push(Diagnostic::at(
                &shown,
                &source,
                reference.span,
                format!(
                    "`${{{name}}}` looks like a secret (its name ends in {suffixes}) and the workflow's text is recorded in every history: grant it to the plugin that needs it (`[plugins.<plugin>] secrets = [\"{name}\"]`), or, if it is not a secret, list it in `public_variables`",
                    name = reference.name,
                    suffixes = env::SECRET_SUFFIXES.join(", ")
                ),
            ));
            continue;
        }
        match lookup(&reference.name) {
            Some(value) => {
                environment.insert(reference.name, value);
            }
            None => diagnostics.push(Diagnostic::at(
                &shown,
                &source,
                reference.span,
                format!("environment variable {} is not set", reference.name),
            )),
        }
    }
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    let parsed =
        raw::parse(&shown, &source, &environment).map_err(|diagnostic| vec![diagnostic])?;
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut files = BTreeMap::new();
    for stage in &parsed.stages {
        let stage = stage.get_ref();
        for (field, reference) in [
            ("prompt", &stage.prompt),
            ("system", &stage.system),
            ("schema", &stage.schema),
        ] {
            let Some(reference) = reference else { continue };
            let relative = reference.get_ref();
            if files.contains_key(relative) {
                continue;
            }
            let read = files::inside_folder(directory, relative)
                .and_then(|resolved| files::read_text(&resolved, limits::WORKFLOW_FILE_BYTES));
            match read {
                Ok(text) => {
                    files.insert(relative.clone(), text);
                }
                Err(FileError::OutsideFolder { .. }) => diagnostics.push(Diagnostic::at(
                    &shown,
                    &source,
                    reference.span(),
                    format!(
                        "{field} file `{relative}` is outside the workflow's folder: prompt, system and schema files must be inside it"
                    ),
                )),
                Err(error) => diagnostics.push(Diagnostic::at(
                    &shown,
                    &source,
                    reference.span(),
                    format!("{field} file `{relative}` cannot be read: {error}"),
                )),
            }
        }
    }
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    Ok(DefinitionBundle {
        path: shown,
        source,
        files,
        environment,
    })
}

/// The workflow's `public_variables`, read before substitution (a file that is not TOML is
/// reported by the parse that follows).
fn public_variables(source: &str) -> Vec<String> {
    let Ok(table) = source.parse::<toml::Table>() else {
        return Vec::new();
    };
    table
        .get("public_variables")
        .and_then(toml::Value::as_array)
        .map(|names| {
            names
                .iter()
                .filter_map(toml::Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}
