//! Reading a JSON Schema: following `$ref`, flattening `allOf`/`anyOf`/`oneOf`, and the
//! keywords the generator has to honour.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::request::Failure;

/// How many `$ref` and combinator steps one schema may take before it is called a loop.
const MAX_RESOLVE_STEPS: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Object,
    Array,
    String,
    Integer,
    Number,
    Boolean,
    Null,
}

/// The whole schema document, so `$ref` pointers can be looked up.
pub struct Schema<'a> {
    root: &'a Value,
}

impl<'a> Schema<'a> {
    pub fn new(root: &'a Value) -> Self {
        Self { root }
    }

    pub fn root(&self) -> &'a Value {
        self.root
    }

    /// The schema with references followed and combinators flattened into one object.
    pub fn resolve<'s>(&'s self, schema: &'s Value) -> Result<Cow<'s, Value>, Failure> {
        let mut current = Cow::Borrowed(schema);
        for _ in 0..MAX_RESOLVE_STEPS {
            let object = match current.as_ref() {
                Value::Bool(true) => return Ok(Cow::Owned(Value::Object(Map::new()))),
                Value::Bool(false) => {
                    return Err(Failure::invalid(
                        "json schema contains `false`, which no value satisfies",
                    ));
                }
                Value::Object(object) => object,
                _ => return Err(Failure::invalid("json schema node is not an object")),
            };
            if let Some(reference) = object.get("$ref") {
                let reference = reference
                    .as_str()
                    .ok_or_else(|| Failure::invalid("json schema `$ref` is not a string"))?;
                current = Cow::Borrowed(self.lookup(reference)?);
            } else if let Some(parts) = object.get("allOf") {
                let mut merged = without(object, "allOf");
                for part in as_list(parts, "allOf")? {
                    let part = self.resolve(part)?;
                    if let Value::Object(part) = part.as_ref() {
                        merge(&mut merged, part);
                    }
                }
                current = Cow::Owned(Value::Object(merged));
            } else if let Some((keyword, options)) = ["anyOf", "oneOf"]
                .iter()
                .find_map(|keyword| Some((*keyword, object.get(*keyword)?)))
            {
                let options = as_list(options, keyword)?;
                // Prefer an alternative that is not just `null`: a real value reads better.
                let chosen = options
                    .iter()
                    .find(|option| option.get("type").and_then(Value::as_str) != Some("null"))
                    .or(options.first())
                    .ok_or_else(|| Failure::invalid(format!("json schema `{keyword}` is empty")))?;
                let mut merged = without(object, keyword);
                if let Value::Object(chosen) = self.resolve(chosen)?.as_ref() {
                    merge(&mut merged, chosen);
                }
                current = Cow::Owned(Value::Object(merged));
            } else {
                return Ok(current);
            }
        }
        Err(Failure::invalid(
            "json schema references loop without reaching a definition",
        ))
    }

    fn lookup(&self, reference: &str) -> Result<&'a Value, Failure> {
        let pointer = reference.strip_prefix('#').ok_or_else(|| {
            Failure::invalid(format!(
                "json schema `$ref` {reference:?} is not local; only `#/...` references are supported"
            ))
        })?;
        self.root.pointer(pointer).ok_or_else(|| {
            Failure::invalid(format!(
                "json schema `$ref` {reference:?} points at nothing"
            ))
        })
    }
}

fn as_list<'v>(value: &'v Value, keyword: &str) -> Result<&'v Vec<Value>, Failure> {
    value
        .as_array()
        .ok_or_else(|| Failure::invalid(format!("json schema `{keyword}` is not an array")))
}

fn without(object: &Map<String, Value>, keyword: &str) -> Map<String, Value> {
    let mut copy = object.clone();
    copy.remove(keyword);
    copy
}

/// Adds `part` to `target`: properties and required lists are united, other keywords taken
/// from `part`.
fn merge(target: &mut Map<String, Value>, part: &Map<String, Value>) {
    for (key, value) in part {
        match (key.as_str(), target.get_mut(key), value) {
            ("properties", Some(Value::Object(existing)), Value::Object(added)) => {
                for (name, schema) in added {
                    existing
                        .entry(name.clone())
                        .or_insert_with(|| schema.clone());
                }
            }
            ("required", Some(Value::Array(existing)), Value::Array(added)) => {
                for name in added {
                    if !existing.contains(name) {
                        existing.push(name.clone());
                    }
                }
            }
            _ => {
                target.insert(key.clone(), value.clone());
            }
        }
    }
}

/// The type a resolved schema asks for, inferred from its keywords when `type` is absent.
pub fn shape(schema: &Value) -> Result<Shape, Failure> {
    let named = match schema.get("type") {
        Some(Value::String(name)) => Some(name.as_str()),
        Some(Value::Array(names)) => {
            let names: Vec<&str> = names.iter().filter_map(Value::as_str).collect();
            names
                .iter()
                .find(|name| **name != "null")
                .or(names.first())
                .copied()
        }
        Some(_) => {
            return Err(Failure::invalid(
                "json schema `type` is not a string or list",
            ));
        }
        None => None,
    };
    let has = |keyword: &str| schema.get(keyword).is_some();
    Ok(match named {
        Some("object") => Shape::Object,
        Some("array") => Shape::Array,
        Some("string") => Shape::String,
        Some("integer") => Shape::Integer,
        Some("number") => Shape::Number,
        Some("boolean") => Shape::Boolean,
        Some("null") => Shape::Null,
        Some(other) => {
            return Err(Failure::invalid(format!(
                "json schema type {other:?} is unknown"
            )));
        }
        None if has("properties") || has("required") => Shape::Object,
        None if has("items") || has("prefixItems") || has("minItems") => Shape::Array,
        None if has("minimum") || has("maximum") || has("multipleOf") => Shape::Number,
        None => Shape::String,
    })
}

/// A non-negative count keyword such as `minItems`.
pub fn count(schema: &Value, keyword: &str) -> Option<usize> {
    schema
        .get(keyword)?
        .as_u64()
        .map(|value| usize::try_from(value).unwrap_or(usize::MAX))
}

pub fn number(schema: &Value, keyword: &str) -> Option<f64> {
    schema.get(keyword)?.as_f64()
}

/// `minItems`/`maxItems` style bounds, checked for consistency.
pub fn count_bounds(
    schema: &Value,
    min_keyword: &str,
    max_keyword: &str,
) -> Result<(usize, Option<usize>), Failure> {
    let min = count(schema, min_keyword).unwrap_or(0);
    let max = count(schema, max_keyword);
    if max.is_some_and(|max| max < min) {
        return Err(Failure::invalid(format!(
            "json schema `{min_keyword}` is larger than `{max_keyword}`"
        )));
    }
    Ok((min, max))
}

pub fn clamp_count(wanted: usize, min: usize, max: Option<usize>) -> usize {
    wanted.max(min).min(max.unwrap_or(usize::MAX))
}

pub fn properties(schema: &Value) -> Vec<(&String, &Value)> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|properties| properties.iter().collect())
        .unwrap_or_default()
}

pub fn required(schema: &Value) -> Vec<&str> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn follows_refs_and_merges_all_of() {
        let root = json!({
            "$defs": {"line": {"type": "object", "properties": {"text": {"type": "string"}}}},
            "allOf": [{"$ref": "#/$defs/line"}, {"required": ["text"]}]
        });
        let schema = Schema::new(&root);
        let resolved = schema.resolve(schema.root()).expect("resolves");
        assert_eq!(shape(&resolved).expect("shape"), Shape::Object);
        assert_eq!(required(&resolved), vec!["text"]);
        assert_eq!(properties(&resolved).len(), 1);
    }

    #[test]
    fn rejects_broken_refs_and_loops() {
        let root = json!({"$ref": "#/definitions/missing"});
        let schema = Schema::new(&root);
        let error = schema.resolve(schema.root()).expect_err("missing");
        assert!(error.message.contains("points at nothing"));

        let root =
            json!({"definitions": {"a": {"$ref": "#/definitions/a"}}, "$ref": "#/definitions/a"});
        let schema = Schema::new(&root);
        assert!(schema.resolve(schema.root()).is_err());
    }

    #[test]
    fn prefers_non_null_alternatives() {
        let root = json!({"anyOf": [{"type": "null"}, {"type": "integer"}]});
        let schema = Schema::new(&root);
        let resolved = schema.resolve(schema.root()).expect("resolves");
        assert_eq!(shape(&resolved).expect("shape"), Shape::Integer);
    }
}
