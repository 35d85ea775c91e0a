//! Revision and enhancement: finding the earlier draft in context and changing its text in a
//! way a reader can see, while its structure stays as it was.

use serde_json::{Map, Value};

use crate::context::{Context, Rewrite};
use crate::hash::pick;
use crate::kinds::TextKind;
use crate::phrases;
use crate::schema::properties;
use crate::theme::Theme;

/// The draft to rework: an embedded object under a `draft` key, or, when the instructions ask
/// for a revision or enhancement, the newest embedded object that has at least half of the
/// schema's top-level properties (and two of them, when the schema has two or more).
pub fn find_draft(context: &Context, root: &Value) -> Option<Map<String, Value>> {
    let explicit = context
        .objects
        .iter()
        .find_map(|object| object.get("draft")?.as_object().cloned());
    if explicit.is_some() {
        return explicit;
    }
    context.rewrite?;
    let names: Vec<&String> = properties(root).into_iter().map(|(name, _)| name).collect();
    if names.is_empty() {
        return None;
    }
    let needed = names.len().div_ceil(2).max(names.len().min(2));
    context
        .objects
        .iter()
        .find(|object| {
            names
                .iter()
                .filter(|name| object.contains_key(**name))
                .count()
                >= needed
        })
        .cloned()
}

/// `original` reworked for a revision or enhancement. Prose grows by a sentence, some spoken
/// lines gain a short beat, and names, titles and labels stay as they were.
pub fn rework(theme: &Theme, kind: TextKind, original: &str, seed: u64) -> String {
    let addition = match kind {
        TextKind::Logline
        | TextKind::Summary
        | TextKind::Description
        | TextKind::Narration
        | TextKind::Generic => {
            let bank = match theme.rewrite() {
                Rewrite::Revise => phrases::REVISE_ADDITIONS,
                Rewrite::Enhance => phrases::ENHANCE_ADDITIONS,
            };
            theme.fill(bank[pick(seed, bank.len())], &[])
        }
        // Every third line, so the dialogue changes without every line sounding padded.
        TextKind::Spoken if seed.is_multiple_of(3) => {
            theme.pick_fill(phrases::SPOKEN_ADDITIONS, seed / 3, &[])
        }
        _ => return original.to_string(),
    };
    let original = original.trim_end();
    if original.is_empty() {
        return addition;
    }
    let joiner = if original.ends_with(['.', '!', '?', '"']) {
        " "
    } else {
        ". "
    };
    format!("{original}{joiner}{addition}")
}
