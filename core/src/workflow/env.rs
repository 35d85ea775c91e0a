//! `${VAR}` in a workflow file, replaced from the environment. `$${` writes a literal `${`.
//! The values used are pinned in the bundle, so a resumed execution sees what the first run
//! saw even if the environment changed.

use std::collections::BTreeMap;
use std::ops::Range;

/// One `${NAME}` reference in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Reference {
    pub name: String,
    /// Byte range of the whole `${NAME}`.
    pub span: Range<usize>,
}

/// Finds the `${NAME}` references of `text`; malformed ones are returned as errors with their
/// position.
pub(super) fn references(text: &str) -> (Vec<Reference>, Vec<(Range<usize>, String)>) {
    let mut found = Vec::new();
    let mut malformed = Vec::new();
    let bytes = text.as_bytes();
    let mut index = 0;
    while let Some(offset) = text[index..].find("${") {
        let start = index + offset;
        if start > 0 && bytes[start - 1] == b'$' {
            index = start + 2;
            continue;
        }
        // A reference ends at its `}`; a quote or a line end first means it was never closed.
        let rest = &text[start + 2..];
        match rest.find(['}', '"', '\'', '\n']) {
            Some(length) if rest[length..].starts_with('}') => {
                let name = &rest[..length];
                let end = start + 2 + length + 1;
                if is_variable_name(name) {
                    found.push(Reference {
                        name: name.to_string(),
                        span: start..end,
                    });
                } else {
                    malformed.push((start..end, format!("`${{{name}}}` is not a valid environment variable reference: names are letters, digits and `_`, not starting with a digit")));
                }
                index = end;
            }
            stop => {
                let end = start + 2 + stop.unwrap_or(rest.len());
                malformed.push((
                    start..end,
                    format!(
                        "`{}` is not closed by `}}`; write `$${{` for a literal `${{`",
                        &text[start..end]
                    ),
                ));
                index = end;
            }
        }
    }
    (found, malformed)
}

/// Replaces every reference in `text` with its value from `values` (all of which were checked
/// to exist when the bundle was loaded) and `$${` with `${`.
pub(super) fn substitute(text: &str, values: &BTreeMap<String, String>) -> String {
    if !text.contains("${") {
        return text.to_string();
    }
    let (found, _) = references(text);
    let mut result = String::with_capacity(text.len());
    let mut last = 0;
    for reference in found {
        result.push_str(&text[last..reference.span.start]);
        result.push_str(values.get(&reference.name).map_or("", String::as_str));
        last = reference.span.end;
    }
    result.push_str(&text[last..]);
    result.replace("$${", "${")
}

/// Name endings that mark a variable as a secret: its value reaches only the plugins granted
/// it, and is never written into a workflow's text (which every history records).
pub const SECRET_SUFFIXES: [&str; 4] = ["_KEY", "_TOKEN", "_SECRET", "_PASSWORD"];

/// Whether a variable's name says it holds a secret (`OPENAI_API_KEY`, `GITHUB_TOKEN`).
pub fn looks_like_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_SUFFIXES.iter().any(|suffix| upper.ends_with(suffix))
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(first) if first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_names_and_keeps_escapes() {
        let values = BTreeMap::from([("MODEL".to_string(), "m1".to_string())]);
        assert_eq!(
            substitute("use ${MODEL} not $${MODEL}", &values),
            "use m1 not ${MODEL}"
        );
    }

    #[test]
    fn reports_malformed_references() {
        let (found, malformed) = references("${OK} ${not ok} \"${OPEN\" ${LAST}");
        assert_eq!(found.len(), 2);
        assert_eq!(malformed.len(), 2);
        assert!(
            malformed[1].1.starts_with("`${OPEN` is not closed"),
            "{malformed:?}"
        );
    }
}
