//! Templates and expressions over an execution's context, with MiniJinja. The context has
//! `inputs`, `show`, `stages.<id>.output`, `execution` and, in a stage that fans out, `item`
//! and `index`. Undefined values are errors, so a typo never renders as an empty string.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use minijinja::{Environment, Expression, UndefinedBehavior};
use serde_json::Value;

/// Names a template may start a lookup with.
pub const CONTEXT_ROOTS: &[&str] = &["inputs", "show", "stages", "execution", "item", "index"];

/// A template or expression that failed to compile or evaluate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    pub message: String,
    /// 1-based line within the template, when known.
    pub line: Option<usize>,
}

impl From<minijinja::Error> for TemplateError {
    fn from(error: minijinja::Error) -> TemplateError {
        let mut message = error.kind().to_string();
        if let Some(detail) = error.detail() {
            message = format!("{message}: {detail}");
        }
        TemplateError {
            message,
            line: error.line(),
        }
    }
}

fn environment() -> &'static Environment<'static> {
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(|| {
        let mut environment = Environment::new();
        environment.set_undefined_behavior(UndefinedBehavior::Strict);
        environment.set_keep_trailing_newline(true);
        // Prompts are plain text, never HTML.
        environment.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        environment.add_filter("flatten", flatten);
        environment.add_filter("voice_for", voice_for);
        environment
    })
}

/// `[[a, b], [c]] | flatten` gives `[a, b, c]`: script lines across segments, say.
fn flatten(lists: Vec<minijinja::Value>) -> Result<Vec<minijinja::Value>, minijinja::Error> {
    let mut flat = Vec::new();
    for list in lists {
        let items = list.try_iter().map_err(|_| {
            minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                format!("flatten needs a list of lists, found {}", list.kind()),
            )
        })?;
        flat.extend(items);
    }
    Ok(flat)
}

/// `item.speaker | voice_for(show.hosts)`: the voice of the person with that name.
fn voice_for(
    speaker: String,
    people: Vec<minijinja::Value>,
) -> Result<minijinja::Value, minijinja::Error> {
    let mut names = Vec::new();
    for person in &people {
        let name = person
            .get_attr("name")
            .ok()
            .filter(|name| !name.is_undefined())
            .map(|name| name.to_string())
            .unwrap_or_default();
        if name == speaker {
            return person.get_attr("voice");
        }
        names.push(name);
    }
    Err(minijinja::Error::new(
        minijinja::ErrorKind::InvalidOperation,
        format!(
            "`{speaker}` is not one of the speakers ({}), so has no voice",
            names.join(", ")
        ),
    ))
}

/// A context converted for the template engine once, to render many templates with: a fan-out
/// renders each item's input with the same context plus `item` and `index`, and converting
/// the whole context (which holds the list being fanned out) for every item would make a
/// stage's start cost grow with the square of its items.
#[derive(Debug, Clone)]
pub struct SharedContext(minijinja::Value);

impl SharedContext {
    pub fn new(context: &Value) -> SharedContext {
        SharedContext(minijinja::Value::from_serialize(context))
    }

    /// This context with `item` and `index` bound, sharing everything else.
    pub fn with_item(&self, index: usize, item: &Value) -> SharedContext {
        let bound = minijinja::context! {
            item => minijinja::Value::from_serialize(item),
            index => index,
        };
        SharedContext(minijinja::value::merge_maps([bound, self.0.clone()]))
    }
}

impl serde::Serialize for SharedContext {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// Renders a text template.
pub fn render_text<C: serde::Serialize + ?Sized>(
    source: &str,
    context: &C,
) -> Result<String, TemplateError> {
    Ok(environment().render_str(source, context)?)
}

/// Evaluates an expression such as `not inputs.skip_cover` or `stages.script.output.lines`.
pub fn evaluate<C: serde::Serialize + ?Sized>(
    expression: &str,
    context: &C,
) -> Result<Value, TemplateError> {
    let compiled = compile_expression(expression)?;
    let value = compiled.eval(context)?;
    // Strict mode stops lookups through undefined values, but a missing last field evaluates
    // to undefined: report it rather than turn a typo into null.
    if value.is_undefined() {
        return Err(TemplateError {
            message: format!("`{expression}` is undefined (a missing field or a typo?)"),
            line: None,
        });
    }
    serde_json::to_value(&value).map_err(|error| TemplateError {
        message: format!("the expression's value cannot be represented as JSON: {error}"),
        line: None,
    })
}

/// Whether an evaluated `when` lets a stage run: false, null, 0, "" and empty lists do not.
pub fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(flag) => *flag,
        Value::Number(number) => number.as_f64() != Some(0.0),
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(fields) => !fields.is_empty(),
    }
}

/// Renders a tree of input templates: strings are templates, except that a string that is
/// exactly one `{{ expression }}` becomes the expression's value with its type (a list stays
/// a list). Other values are kept.
pub fn render_tree<C: serde::Serialize + ?Sized>(
    tree: &Value,
    context: &C,
) -> Result<Value, TemplateError> {
    Ok(match tree {
        Value::String(text) => match sole_expression(text) {
            Some(expression) => evaluate(expression, context)?,
            None => Value::String(render_text(text, context)?),
        },
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| render_tree(item, context))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, value)| Ok((key.clone(), render_tree(value, context)?)))
                .collect::<Result<_, TemplateError>>()?,
        ),
        other => other.clone(),
    })
}

/// The variable paths a template reads (`stages.outline.output`, `inputs.topic`), after
/// checking that it compiles.
pub fn template_references(source: &str) -> Result<BTreeSet<String>, TemplateError> {
    let template = environment().template_from_str(source)?;
    Ok(template.undeclared_variables(true).into_iter().collect())
}

/// The variable paths an expression reads, after checking that it compiles.
pub fn expression_references(expression: &str) -> Result<BTreeSet<String>, TemplateError> {
    let compiled = compile_expression(expression)?;
    Ok(compiled.undeclared_variables(true).into_iter().collect())
}

/// The references of an input tree (see [`render_tree`]).
pub fn tree_references(tree: &Value) -> Result<BTreeSet<String>, TemplateError> {
    let mut found = BTreeSet::new();
    match tree {
        Value::String(text) => match sole_expression(text) {
            Some(expression) => found.extend(expression_references(expression)?),
            None => found.extend(template_references(text)?),
        },
        Value::Array(items) => {
            for item in items {
                found.extend(tree_references(item)?);
            }
        }
        Value::Object(fields) => {
            for value in fields.values() {
                found.extend(tree_references(value)?);
            }
        }
        _ => {}
    }
    Ok(found)
}

/// Compiles an expression. MiniJinja 2.24's lexer panics on an expression that goes on after a
/// `}}` (it takes it for the end of a tag and finds nothing left to lex in), so that is
/// refused first.
fn compile_expression(expression: &str) -> Result<Expression<'_, '_>, TemplateError> {
    if expression.contains("}}") {
        return Err(TemplateError {
            message: "an expression cannot contain `}}`; write it without `{{ }}`".to_string(),
            line: None,
        });
    }
    Ok(environment().compile_expression(expression)?)
}

/// `stages.x.output` in `{{ stages.x.output }}`, when the text is nothing but that.
fn sole_expression(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    if inner.contains("{{") || inner.contains("}}") || inner.contains("{%") {
        return None;
    }
    Some(inner.trim())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_sole_expression_keeps_its_type() {
        let context = json!({"stages": {"script": {"output": {"lines": [1, 2]}}}, "inputs": {"topic": "tides"}});
        let tree = json!({"clips": "{{ stages.script.output.lines }}", "title": "On {{ inputs.topic }}", "gap": 5});
        let rendered = render_tree(&tree, &context).unwrap();
        assert_eq!(
            rendered,
            json!({"clips": [1, 2], "title": "On tides", "gap": 5})
        );
    }

    #[test]
    fn lines_flatten_and_speakers_find_their_voices() {
        let context = json!({
            "segments": [{"lines": [{"speaker": "Ada"}]}, {"lines": [{"speaker": "Lin"}]}],
            "hosts": [{"name": "Ada", "voice": "aria"}, {"name": "Lin", "voice": "basil"}],
        });
        let lines = evaluate("segments | map(attribute='lines') | flatten", &context).unwrap();
        assert_eq!(lines.as_array().map(Vec::len), Some(2));
        assert_eq!(
            render_text("{{ 'Lin' | voice_for(hosts) }}", &context).unwrap(),
            "basil"
        );
        let error = render_text("{{ 'Bob' | voice_for(hosts) }}", &context).unwrap_err();
        assert!(error.message.contains("Bob"), "{error}");
    }

    #[test]
    fn an_expression_with_a_closing_tag_is_an_error_not_a_panic() {
        for expression in ["stages.a}}b", "x }} y", "x -}} y", "x }}"] {
            assert!(expression_references(expression).is_err(), "{expression}");
            assert!(evaluate(expression, &json!({})).is_err(), "{expression}");
        }
    }

    #[test]
    fn undefined_values_are_errors() {
        let error = render_text("{{ inputs.missing }}", &json!({"inputs": {}})).unwrap_err();
        assert!(error.message.contains("undefined"), "{error}");
    }

    #[test]
    fn references_name_nested_paths() {
        let found = template_references("{% for s in stages.outline.output.segments %}{{ s.title }}{% endfor %}{{ inputs.topic }}").unwrap();
        assert!(found.contains("inputs.topic"), "{found:?}");
        assert!(
            found.iter().any(|path| path.starts_with("stages.outline")),
            "{found:?}"
        );
    }
}
