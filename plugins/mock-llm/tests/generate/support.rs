//! Test support: a small JSON Schema validator covering the keywords the mock honours, and
//! helpers to build requests.

use mock_llm::request::{Message, Request, Response, Role};
use mock_llm::respond::respond;
use serde_json::Value;

pub fn message(role: Role, content: &str) -> Message {
    Message {
        role,
        content: content.to_string(),
    }
}

pub fn request(messages: Vec<Message>, schema: Option<&Value>) -> Request {
    Request {
        messages,
        json_schema: schema.map(Value::to_string),
        ..Request::default()
    }
}

/// Answers `request`, checks the answer against `schema` and returns it parsed.
pub fn answer_valid(request: &Request, schema: &Value) -> Value {
    let response: Response = respond(request).expect("the mock answers");
    let value: Value = serde_json::from_str(&response.text).expect("the answer is json");
    let errors = validate(schema, &value);
    assert!(errors.is_empty(), "invalid answer {value:#}: {errors:?}");
    value
}

/// Every way `value` breaks `schema`, as readable paths; empty when it is valid.
pub fn validate(schema: &Value, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(schema, schema, value, "$", &mut errors);
    errors
}

fn check(root: &Value, schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    macro_rules! fail {
        ($($message:tt)*) => {
            errors.push(format!("{path}: {}", format!($($message)*)))
        };
    }
    let schema = match schema {
        Value::Bool(true) => return,
        Value::Bool(false) => return fail!("schema false"),
        other => other,
    };
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let target = root
            .pointer(reference.trim_start_matches('#'))
            .expect("test schema references resolve");
        check(root, target, value, path, errors);
        return;
    }
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        for part in parts {
            check(root, part, value, path, errors);
        }
    }
    for keyword in ["anyOf", "oneOf"] {
        if let Some(options) = schema.get(keyword).and_then(Value::as_array) {
            let passing = options
                .iter()
                .filter(|option| validate_with(root, option, value))
                .count();
            if passing == 0 || (keyword == "oneOf" && passing > 1) {
                fail!("{keyword} matched {passing} options");
            }
        }
    }
    if let Some(constant) = schema.get("const")
        && constant != value
    {
        fail!("expected const {constant}");
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        fail!("{value} not in enum");
    }
    if let Some(types) = schema.get("type") {
        let names: Vec<&str> = match types {
            Value::String(name) => vec![name.as_str()],
            Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !names.iter().any(|name| has_type(value, name)) {
            fail!("{value} is not of type {names:?}");
        }
    }
    let number = |keyword: &str| schema.get(keyword).and_then(Value::as_f64);
    let count = |keyword: &str| schema.get(keyword).and_then(Value::as_u64);
    match value {
        Value::String(text) => {
            let length = text.chars().count() as u64;
            if count("minLength").is_some_and(|min| length < min) {
                fail!("string shorter than minLength: {text:?}");
            }
            if count("maxLength").is_some_and(|max| length > max) {
                fail!("string longer than maxLength: {text:?}");
            }
        }
        Value::Number(number_value) => {
            let value = number_value.as_f64().expect("finite");
            let exclusive_flag = |keyword: &str| schema.get(keyword) == Some(&Value::Bool(true));
            if let Some(min) = number("minimum")
                && (value < min || (exclusive_flag("exclusiveMinimum") && value <= min))
            {
                fail!("{value} below minimum {min}");
            }
            if let Some(max) = number("maximum")
                && (value > max || (exclusive_flag("exclusiveMaximum") && value >= max))
            {
                fail!("{value} above maximum {max}");
            }
            if number("exclusiveMinimum").is_some_and(|min| value <= min) {
                fail!("{value} not above exclusiveMinimum");
            }
            if number("exclusiveMaximum").is_some_and(|max| value >= max) {
                fail!("{value} not below exclusiveMaximum");
            }
            if let Some(step) = number("multipleOf") {
                let ratio = value / step;
                if (ratio - ratio.round()).abs() > 1e-9 {
                    fail!("{value} is not a multiple of {step}");
                }
            }
        }
        Value::Array(items) => {
            let length = items.len() as u64;
            if count("minItems").is_some_and(|min| length < min) {
                fail!("{length} items, fewer than minItems");
            }
            if count("maxItems").is_some_and(|max| length > max) {
                fail!("{length} items, more than maxItems");
            }
            if schema.get("uniqueItems") == Some(&Value::Bool(true)) {
                for (index, item) in items.iter().enumerate() {
                    if items[..index].contains(item) {
                        fail!("duplicate item {item}");
                    }
                }
            }
            let tuple = schema
                .get("prefixItems")
                .or_else(|| schema.get("items").filter(|items| items.is_array()))
                .and_then(Value::as_array);
            for (index, item) in items.iter().enumerate() {
                let item_schema = match tuple.and_then(|tuple| tuple.get(index)) {
                    Some(entry) => Some(entry),
                    None => schema.get("items").filter(|items| !items.is_array()),
                };
                if let Some(item_schema) = item_schema {
                    check(root, item_schema, item, &format!("{path}[{index}]"), errors);
                }
            }
        }
        Value::Object(object) => {
            if let Some(required) = schema.get("required").and_then(Value::as_array) {
                for name in required.iter().filter_map(Value::as_str) {
                    if !object.contains_key(name) {
                        fail!("missing required {name}");
                    }
                }
            }
            let length = object.len() as u64;
            if count("minProperties").is_some_and(|min| length < min) {
                fail!("fewer than minProperties");
            }
            if count("maxProperties").is_some_and(|max| length > max) {
                fail!("more than maxProperties");
            }
            let properties = schema.get("properties").and_then(Value::as_object);
            for (name, item) in object {
                let child = format!("{path}.{name}");
                match properties.and_then(|properties| properties.get(name)) {
                    Some(property) => check(root, property, item, &child, errors),
                    None => match schema.get("additionalProperties") {
                        Some(Value::Bool(false)) => {
                            fail!("{name}: additional property not allowed");
                        }
                        Some(extra @ Value::Object(_)) => check(root, extra, item, &child, errors),
                        _ => {}
                    },
                }
            }
        }
        _ => {}
    }
}

fn validate_with(root: &Value, schema: &Value, value: &Value) -> bool {
    let mut errors = Vec::new();
    check(root, schema, value, "$", &mut errors);
    errors.is_empty()
}

fn has_type(value: &Value, name: &str) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => false,
    }
}
