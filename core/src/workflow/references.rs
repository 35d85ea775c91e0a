//! What a template or an expression may read where it stands, and where in a template file a
//! reference is written (MiniJinja says which names a template reads, not where).

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;

use super::InputSpec;
use super::raw::RawInput;
use crate::template::CONTEXT_ROOTS;

/// Where a template sits, for checking what it may refer to.
pub(super) struct Scope<'s> {
    pub stage_index: usize,
    pub has_item: bool,
    pub stages: &'s [(String, Range<usize>)],
    /// Every declared input, those of an unknown type included, so that a bad type is
    /// reported once and not again at every use of the input.
    pub declared_inputs: &'s BTreeMap<String, Spanned<RawInput>>,
    /// The inputs whose declarations are valid, with their types.
    pub inputs: &'s [InputSpec],
    pub has_show: bool,
    /// In a stage's checks, which read the output they check.
    pub has_output: bool,
}

/// Why `reference` (a dotted path a template reads) is not allowed where it is, if it is not.
pub(super) fn reference_problem(reference: &str, scope: &Scope<'_>) -> Result<(), String> {
    let mut parts = reference.split('.');
    let root = parts.next().unwrap_or_default();
    match root {
        "inputs" => match parts.next() {
            Some(name) if !scope.declared_inputs.contains_key(name) => Err(format!(
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
                Some(position) if position == scope.stage_index => Err(format!(
                    "stage `{stage}` reads its own output; only earlier stages' outputs can be used"
                )),
                Some(position) if position > scope.stage_index => Err(format!(
                    "stage `{stage}` runs after this one; only earlier stages' outputs can be used"
                )),
                Some(_) => match parts.next() {
                    None | Some("output") => Ok(()),
                    Some(other) => {
                        Err(format!("stages.{stage}.{other}: a stage has only `output`"))
                    }
                },
            }
        }
        "item" | "index" if !scope.has_item => Err(format!(
            "`{root}` exists only in a {} with for_each",
            if scope.has_output { "check" } else { "stage" }
        )),
        "output" if scope.has_output => Ok(()),
        "output" => Err("`output` exists only in a stage's checks".to_string()),
        "show" if !scope.has_show => {
            Err("`show` is used but the workflow names no show (set `show = ...`)".to_string())
        }
        _ if CONTEXT_ROOTS.contains(&root) => Ok(()),
        _ if is_global_function(root) => Ok(()),
        _ => Err(format!(
            "unknown name `{root}`; templates can use {}{}",
            CONTEXT_ROOTS.join(", "),
            if scope.has_output {
                " and, in checks, output"
            } else {
                ""
            }
        )),
    }
}

/// Byte offset of `reference` (a dotted path such as `stages.outline.output`) in the template
/// `source`: the first place inside a `{{ }}` or `{% %}` tag where the longest leading part of
/// the path is written as a whole name.
pub(super) fn reference_offset(source: &str, reference: &str) -> Option<usize> {
    let parts: Vec<&str> = reference.split('.').collect();
    let tags = tag_ranges(source);
    (1..=parts.len()).rev().find_map(|length| {
        let path = parts[..length].join(".");
        tags.iter()
            .find_map(|tag| find_name(source, tag.clone(), &path))
    })
}

/// MiniJinja's global functions, which static analysis reports like variables.
fn is_global_function(name: &str) -> bool {
    matches!(name, "range" | "dict" | "namespace" | "debug" | "loop")
}

/// Byte ranges of the `{{ }}` and `{% %}` tags of `source`, an unclosed one running to the
/// end. Comments are skipped: a name in a comment is not read.
fn tag_ranges(source: &str) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let mut index = 0;
    while let Some(offset) = source[index..].find('{') {
        let start = index + offset;
        let close = match source.as_bytes().get(start + 1) {
            Some(b'{') => "}}",
            Some(b'%') => "%}",
            Some(b'#') => "#}",
            _ => {
                index = start + 1;
                continue;
            }
        };
        let end = source[start + 2..]
            .find(close)
            .map_or(source.len(), |length| start + 2 + length);
        if close != "#}" {
            ranges.push(start..end);
        }
        index = end;
    }
    ranges
}

/// Offset of `path` within `range` of `source`, where it is a whole name rather than part of a
/// longer one.
fn find_name(source: &str, range: Range<usize>, path: &str) -> Option<usize> {
    let tag = &source[range.clone()];
    let is_name = |c: char| c.is_alphanumeric() || c == '_';
    tag.match_indices(path)
        .map(|(offset, _)| offset)
        .find(|&offset| {
            let before = tag[..offset].chars().next_back();
            let after = tag[offset + path.len()..].chars().next();
            !before.is_some_and(|c| is_name(c) || c == '.') && !after.is_some_and(is_name)
        })
        .map(|offset| range.start + offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_found_inside_tags_as_whole_names() {
        let source = "The topic, {# topic #} then {{ item.topic }} and {{ topic }}.";
        let offset = reference_offset(source, "topic").unwrap();
        assert_eq!(&source[offset..offset + 7], "topic }");
        let source = "{% for s in stages.outline.output %}{{ stages.outline }}{% endfor %}";
        assert_eq!(
            reference_offset(source, "stages.outline.output.title"),
            Some(12)
        );
        assert_eq!(reference_offset("{{ unclosed", "unclosed"), Some(3));
        assert_eq!(reference_offset("no tags at all", "tags"), None);
    }
}
