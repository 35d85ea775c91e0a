//! Finds JSON objects embedded in message text: a whole message that is JSON, a fenced
//! ```json block, or an object written inline in prose.

use serde_json::{Map, Value};

/// How many `{` positions one message may try to parse, so a pathological message with many
/// unbalanced braces cannot make the scan quadratic.
const MAX_PARSE_ATTEMPTS: usize = 256;

/// One message split into the JSON objects it carries and the prose around them.
pub struct Embedded {
    /// The objects, in the order they appear.
    pub objects: Vec<Map<String, Value>>,
    /// The text with the objects and code-fence lines removed.
    pub prose: String,
}

pub fn split_message(text: &str) -> Embedded {
    let mut objects = Vec::new();
    let mut prose = String::new();
    let mut cursor = 0;
    let mut attempts = 0;
    let mut search_from = 0;
    while let Some(found) = text[search_from..].find('{') {
        let start = search_from + found;
        if attempts == MAX_PARSE_ATTEMPTS {
            break;
        }
        attempts += 1;
        let mut stream = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
        match stream.next() {
            Some(Ok(Value::Object(object))) => {
                let end = start + stream.byte_offset();
                prose.push_str(&text[cursor..start]);
                objects.push(object);
                cursor = end;
                search_from = end;
            }
            _ => search_from = start + 1,
        }
    }
    prose.push_str(&text[cursor..]);
    let prose = prose
        .lines()
        .filter(|line| !line.trim_start().starts_with("```"))
        .collect::<Vec<_>>()
        .join("\n");
    Embedded { objects, prose }
}

/// Depth-first search for the first object holding `key` whose value `accept` takes.
pub fn find_with_key<'v, T>(
    value: &'v Value,
    key: &str,
    accept: &dyn Fn(&'v Map<String, Value>, &'v Value) -> Option<T>,
) -> Option<T> {
    match value {
        Value::Object(object) => {
            if let Some(found) = object.get(key).and_then(|inner| accept(object, inner)) {
                return Some(found);
            }
            object
                .values()
                .find_map(|inner| find_with_key(inner, key, accept))
        }
        Value::Array(items) => items
            .iter()
            .find_map(|inner| find_with_key(inner, key, accept)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_fenced_inline_and_whole_objects() {
        let whole = split_message(r#"{"a": 1}"#);
        assert_eq!(whole.objects.len(), 1);
        assert_eq!(whole.prose.trim(), "");

        let mixed = split_message(
            "Here is the show:\n```json\n{\"hosts\": []}\n```\nand inline {\"b\": {\"c\": 2}} too.",
        );
        assert_eq!(mixed.objects.len(), 2);
        assert!(mixed.objects[1].contains_key("b"));
        assert_eq!(mixed.prose, "Here is the show:\n\nand inline  too.");
    }

    #[test]
    fn ignores_braces_that_are_not_json() {
        let embedded = split_message("a {not json} and {\"ok\": true} {");
        assert_eq!(embedded.objects.len(), 1);
    }
}
