//! Schema constraints, prose answers, usage and errors.

use mock_llm::request::{FailureKind, Finish, Request, Role};
use mock_llm::respond::{DEFAULT_MODEL, respond};
use serde_json::{Value, json};

use crate::support::{answer_valid, message, request, validate};

fn ask(schema: &Value) -> Value {
    answer_valid(
        &request(
            vec![message(Role::User, "Topic: paper airplanes")],
            Some(schema),
        ),
        schema,
    )
}

#[test]
fn honours_constraints() {
    let schema = json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["kind", "fixed", "short", "long", "count", "ratio", "tags", "maybe", "pair"],
        "properties": {
            "kind": {"type": "string", "enum": ["a", "b"]},
            "fixed": {"const": 42},
            "short": {"type": "string", "maxLength": 5},
            "long": {"type": "string", "minLength": 500},
            "count": {"type": "integer", "minimum": 100, "maximum": 120, "multipleOf": 7},
            "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 0.5},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 9, "uniqueItems": true},
            "maybe": {"type": ["null", "boolean"]},
            "pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string", "format": "date"}]},
            "choice": {"oneOf": [{"type": "integer", "minimum": 3}, {"type": "string", "maxLength": 0}]},
            "email": {"type": "string", "format": "email"},
            "nested": {"allOf": [
                {"type": "object", "properties": {"a": {"type": "string"}}},
                {"required": ["b"], "properties": {"b": {"type": "integer", "maximum": -5}}}
            ]},
            "empty": {}
        }
    });
    let value = ask(&schema);
    assert_eq!(value["nested"]["b"], json!(-5));
    assert_eq!(value["pair"][1], "2024-06-01");
}

#[test]
fn draft_four_definitions_and_recursion_terminate() {
    let schema = json!({
        "definitions": {"node": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/definitions/node"}}
            }
        }},
        "$ref": "#/definitions/node"
    });
    ask(&schema);
}

#[test]
fn top_level_non_objects_work() {
    ask(&json!({"type": "array", "items": {"type": "string"}, "minItems": 2}));
    ask(&json!({"type": "integer", "minimum": 5, "maximum": 5}));
    ask(&json!(true));
}

#[test]
fn the_validator_catches_mistakes() {
    let schema =
        json!({"type": "object", "required": ["a"], "properties": {"b": {"maxLength": 1}}});
    assert_eq!(validate(&schema, &json!({"b": "long"})).len(), 2);
}

#[test]
fn prose_mentions_the_outline_and_cuts_at_max_tokens() {
    let outline = r#"{"segments": [{"title": "Folding Basics"}, {"title": "Record Flights"}]}"#;
    let messages = vec![message(
        Role::User,
        &format!("Topic: paper airplanes\n{outline}"),
    )];
    let full = respond(&request(messages.clone(), None)).expect("answers");
    assert_eq!(full.finish, Finish::Stop);
    assert!(full.text.contains("Folding Basics") && full.text.contains("Record Flights"));
    assert!(full.text.contains("paper airplanes"));
    assert!(serde_json::from_str::<Value>(&full.text).is_err());

    let short = respond(&Request {
        max_tokens: Some(10),
        ..request(messages, None)
    })
    .expect("answers");
    assert_eq!(short.finish, Finish::Length);
    assert!(short.text.chars().count() <= 40);
    assert!(short.output_tokens <= 10);
}

#[test]
fn json_is_never_cut() {
    let schema = json!({"type": "object", "properties": {"summary": {"type": "string"}}});
    let answer = respond(&Request {
        max_tokens: Some(1),
        ..request(vec![message(Role::User, "Topic: kites")], Some(&schema))
    })
    .expect("answers");
    assert_eq!(answer.finish, Finish::Stop);
    assert!(validate(&schema, &serde_json::from_str(&answer.text).expect("json")).is_empty());
}

#[test]
fn usage_and_model() {
    let content = "x".repeat(41);
    let answer = respond(&request(vec![message(Role::User, &content)], None)).expect("answers");
    assert_eq!(answer.input_tokens, 11);
    assert_eq!(
        answer.output_tokens,
        answer.text.chars().count().div_ceil(4) as u64
    );
    assert_eq!(answer.model, DEFAULT_MODEL);
    let named = respond(&Request {
        model: Some("big-model".to_string()),
        ..request(vec![message(Role::User, "hi")], None)
    })
    .expect("answers");
    assert_eq!(named.model, "big-model");
}

#[test]
fn temperature_and_model_are_part_of_the_seed_but_stay_valid() {
    let schema = json!({"type": "object", "properties": {"title": {"type": "string"}}});
    let base = request(vec![message(Role::User, "Topic: kites")], Some(&schema));
    for temperature in [0.0, 0.7, 1.5] {
        let answer = respond(&Request {
            temperature: Some(temperature),
            ..base.clone()
        })
        .expect("answers");
        let value: Value = serde_json::from_str(&answer.text).expect("json");
        assert!(validate(&schema, &value).is_empty());
    }
}

#[test]
fn bad_requests_are_invalid() {
    let cases = [
        (request(Vec::new(), None), "messages are empty"),
        (
            Request {
                json_schema: Some("{not json".to_string()),
                ..request(vec![message(Role::User, "hi")], None)
            },
            "json schema is not valid json",
        ),
        (
            request(
                vec![message(Role::User, "hi")],
                Some(&json!({"$ref": "#/$defs/missing"})),
            ),
            "points at nothing",
        ),
        (
            request(
                vec![message(Role::User, "hi")],
                Some(&json!({"type": "array", "minItems": 3, "maxItems": 2})),
            ),
            "minItems",
        ),
        (
            request(
                vec![message(Role::User, "hi")],
                Some(&json!({"type": "integer", "minimum": 3, "maximum": 2})),
            ),
            "admits no value",
        ),
        (
            request(
                vec![message(Role::User, "hi")],
                Some(&json!({"type": "date"})),
            ),
            "unknown",
        ),
    ];
    for (bad, expected) in cases {
        let failure = respond(&bad).expect_err("rejected");
        assert_eq!(failure.kind, FailureKind::InvalidRequest);
        assert!(failure.message.contains(expected), "{}", failure.message);
    }
}
