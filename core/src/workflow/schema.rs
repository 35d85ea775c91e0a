//! A stage's output schema file: JSON that must also be a valid JSON Schema, each problem
//! reported at its place in the schema file.

use serde_json::Value;

use super::diagnostics::Diagnostic;
use super::{SchemaBody, SchemaFile};
use crate::template::{self, TemplateError};

impl SchemaFile {
    /// Whether schema text is a template rather than the schema as written.
    pub(super) fn is_template(text: &str) -> bool {
        text.contains("{{") || text.contains("{%")
    }

    /// The schema an activity is held to: the file as written, or the template rendered with
    /// the stage's `context` and checked like a written schema.
    pub fn render<C: serde::Serialize + ?Sized>(
        &self,
        context: &C,
    ) -> Result<Value, TemplateError> {
        let source = match &self.body {
            SchemaBody::Fixed(schema) => return Ok(schema.clone()),
            SchemaBody::Template(source) => source,
        };
        let text = template::render_text(source, context)?;
        check_schema(&self.path, &text).map_err(|diagnostic| TemplateError {
            message: format!(
                "the schema it renders is not valid: {} (line {} of the rendered text)",
                diagnostic.message, diagnostic.line
            ),
            line: None,
        })
    }
}

/// Parses and checks the schema file named `file` whose text is `text`.
pub(super) fn check_schema(file: &str, text: &str) -> Result<Value, Diagnostic> {
    let schema: Value = serde_json::from_str(text).map_err(|error| {
        // serde_json ends its messages with the position, which the diagnostic carries anyway.
        let full = error.to_string();
        let message = full
            .rsplit_once(" at line ")
            .map_or(full.as_str(), |(message, _)| message);
        let (line, column) = match (error.line(), error.column()) {
            // serde_json places an error at a newline in column 0 of the line that follows, and
            // one in an empty file in column 0 of line 1.
            (line, 0) if line > 1 => {
                let previous = text.split('\n').nth(line - 2).unwrap_or_default();
                (line - 1, previous.chars().count() + 1)
            }
            (line, column) => (line.max(1), column.max(1)),
        };
        Diagnostic {
            file: file.to_string(),
            line,
            column,
            message: format!("schema is not valid JSON: {message}"),
        }
    })?;
    let problem = match jsonschema::meta::validate(&schema) {
        Err(error) => Some((
            error.instance_path().as_str().to_string(),
            error.to_string(),
        )),
        Ok(()) => jsonschema::validator_for(&schema).err().map(|error| {
            (
                error.instance_path().as_str().to_string(),
                error.to_string(),
            )
        }),
    };
    let Some((pointer, message)) = problem else {
        return Ok(schema);
    };
    let message = if pointer.is_empty() {
        format!("invalid JSON Schema: {message}")
    } else {
        format!("invalid JSON Schema at {pointer}: {message}")
    };
    Err(match value_offset(text, &pointer) {
        Some(offset) => Diagnostic::at(file, text, offset..offset, message),
        None => Diagnostic::in_file(file, message),
    })
}

/// Byte offset in `text`, a valid JSON document, of the value that JSON pointer `pointer`
/// names. serde_json keeps no positions, so the text is walked along the pointer.
fn value_offset(text: &str, pointer: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut position = skip_space(bytes, 0);
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        match bytes.get(position)? {
            b'{' => {
                position = skip_space(bytes, position + 1);
                loop {
                    let key_end = string_end(bytes, position)?;
                    let key: String = serde_json::from_str(text.get(position..key_end)?).ok()?;
                    // Past the key, the blanks and the colon, to the member's value.
                    position = skip_space(bytes, skip_space(bytes, key_end) + 1);
                    if key == segment {
                        break;
                    }
                    // Past the value, the blanks and the comma, to the next key.
                    position =
                        skip_space(bytes, skip_space(bytes, value_end(bytes, position)?) + 1);
                }
            }
            b'[' => {
                position = skip_space(bytes, position + 1);
                for _ in 0..segment.parse::<usize>().ok()? {
                    position =
                        skip_space(bytes, skip_space(bytes, value_end(bytes, position)?) + 1);
                }
            }
            _ => return None,
        }
    }
    Some(position)
}

fn skip_space(bytes: &[u8], mut position: usize) -> usize {
    while bytes.get(position).is_some_and(u8::is_ascii_whitespace) {
        position += 1;
    }
    position
}

/// The offset just past the string that opens at `start`.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    if bytes.get(start) != Some(&b'"') {
        return None;
    }
    let mut position = start + 1;
    loop {
        match bytes.get(position)? {
            b'\\' => position += 2,
            b'"' => return Some(position + 1),
            _ => position += 1,
        }
    }
}

/// The offset just past the value that starts at `start`.
fn value_end(bytes: &[u8], start: usize) -> Option<usize> {
    match bytes.get(start)? {
        b'"' => string_end(bytes, start),
        b'{' | b'[' => {
            let mut depth = 0_usize;
            let mut position = start;
            loop {
                match bytes.get(position)? {
                    b'"' => {
                        position = string_end(bytes, position)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(position + 1);
                        }
                    }
                    _ => {}
                }
                position += 1;
            }
        }
        _ => Some(
            start
                + bytes[start..]
                    .iter()
                    .position(|byte| {
                        matches!(byte, b',' | b'}' | b']') || byte.is_ascii_whitespace()
                    })
                    .unwrap_or(bytes.len() - start),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_lead_to_their_values() {
        let text = r#"{ "a": [1, {"b\"": "x"}, {"c": {"d": true}}], "e": {"a": 2} }"#;
        let at = |pointer: &str| value_offset(text, pointer).map(|offset| &text[offset..]);
        assert!(at("/a/2/c/d").unwrap().starts_with("true"));
        assert!(at("/a/1/b\"").unwrap().starts_with("\"x\""));
        assert!(at("/e/a").unwrap().starts_with("2}"));
        assert_eq!(at("/missing"), None);
        assert_eq!(at("/a/7"), None);
    }

    #[test]
    fn an_invalid_schema_is_reported_where_the_problem_is() {
        let text = "{\n  \"properties\": {\n    \"lines\": { \"type\": 5 }\n  }\n}\n";
        let diagnostic = check_schema("s.json", text).unwrap_err();
        assert_eq!(
            (diagnostic.line, diagnostic.column),
            (3, 24),
            "{diagnostic}"
        );
        assert!(
            diagnostic.message.contains("/properties/lines/type"),
            "{diagnostic}"
        );
    }

    #[test]
    fn json_errors_are_placed_on_a_character_of_the_file() {
        let diagnostic = check_schema("s.json", "{\n  \"a\n\": 1 }").unwrap_err();
        assert_eq!((diagnostic.line, diagnostic.column), (2, 5), "{diagnostic}");
        let diagnostic = check_schema("s.json", "").unwrap_err();
        assert_eq!((diagnostic.line, diagnostic.column), (1, 1), "{diagnostic}");
    }
}
