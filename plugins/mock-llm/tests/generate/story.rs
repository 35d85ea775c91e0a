//! The story workflow's steps: idea, script, revision and enhancement.

use mock_llm::request::Role;
use serde_json::{Value, json};

use crate::support::{answer_valid, message, request};

fn idea_schema() -> Value {
    json!({
        "type": "object",
        "required": ["title", "logline", "characters", "setting"],
        "properties": {
            "title": {"type": "string"},
            "logline": {"type": "string", "maxLength": 200},
            "characters": {"type": "array", "minItems": 2, "items": {
                "type": "object",
                "required": ["name", "role", "description"],
                "properties": {
                    "name": {"type": "string"},
                    "role": {"type": "string"},
                    "description": {"type": "string"}
                }
            }},
            "setting": {"type": "string"},
            "genre": {"enum": ["fantasy", "mystery", "sci-fi"]}
        }
    })
}

fn script_schema() -> Value {
    json!({
        "type": "object",
        "required": ["title", "scenes", "revision_notes"],
        "properties": {
            "title": {"type": "string"},
            "scenes": {"type": "array", "minItems": 3, "items": {
                "type": "object",
                "required": ["heading", "narration", "dialogue"],
                "properties": {
                    "heading": {"type": "string"},
                    "narration": {"type": "string"},
                    "dialogue": {"type": "array", "items": {
                        "type": "object",
                        "required": ["character", "line"],
                        "properties": {"character": {"type": "string"}, "line": {"type": "string"}}
                    }}
                }
            }},
            "revision_notes": {"type": "array", "items": {"type": "string"}}
        }
    })
}

fn fenced(value: &Value) -> String {
    format!("```json\n{value:#}\n```")
}

#[test]
fn idea_then_script_keeps_the_characters() {
    let idea_schema = idea_schema();
    let idea = answer_valid(
        &request(
            vec![message(
                Role::User,
                "Write a short story about a lighthouse keeper who collects lost sounds.",
            )],
            Some(&idea_schema),
        ),
        &idea_schema,
    );
    let names: Vec<&str> = idea["characters"]
        .as_array()
        .expect("characters")
        .iter()
        .filter_map(|character| character["name"].as_str())
        .collect();
    assert!(
        idea["logline"]
            .as_str()
            .expect("logline")
            .contains("lighthouse keeper")
    );

    let script_schema = script_schema();
    let prompt = format!(
        "Topic: a lighthouse keeper who collects lost sounds\nTurn this idea into a script.\n{}",
        fenced(&idea)
    );
    let script = answer_valid(
        &request(vec![message(Role::User, &prompt)], Some(&script_schema)),
        &script_schema,
    );
    for scene in script["scenes"].as_array().expect("scenes") {
        for line in scene["dialogue"].as_array().expect("dialogue") {
            let speaker = line["character"].as_str().expect("character");
            assert!(
                names.contains(&speaker),
                "{speaker} is not one of {names:?}"
            );
        }
    }
}

fn rework(instruction: &str) -> (Value, Value) {
    let schema = script_schema();
    let draft = answer_valid(
        &request(
            vec![message(
                Role::User,
                "Topic: a clockmaker's last apprentice\nWrite the script.",
            )],
            Some(&schema),
        ),
        &schema,
    );
    let prompt = format!("{instruction}\n{}", fenced(&draft));
    let reworked = answer_valid(
        &request(
            vec![
                message(Role::System, "Topic: a clockmaker's last apprentice"),
                message(Role::User, &prompt),
            ],
            Some(&schema),
        ),
        &schema,
    );
    (draft, reworked)
}

fn headings(script: &Value) -> Vec<Value> {
    script["scenes"]
        .as_array()
        .expect("scenes")
        .iter()
        .map(|scene| scene["heading"].clone())
        .collect()
}

#[test]
fn revision_keeps_structure_and_changes_text() {
    let (draft, revised) = rework("Revise this script: tighten the pacing.");
    assert_eq!(headings(&draft), headings(&revised));
    assert_ne!(draft["scenes"], revised["scenes"]);
    let before = draft["scenes"][0]["narration"].as_str().expect("narration");
    let after = revised["scenes"][0]["narration"]
        .as_str()
        .expect("narration");
    assert!(after.starts_with(before) && after.len() > before.len());
    assert!(
        !revised["revision_notes"]
            .as_array()
            .expect("notes")
            .is_empty()
    );
}

#[test]
fn enhancement_adds_sensory_detail() {
    let (draft, enhanced) = rework("Enhance this script with atmosphere.");
    assert_eq!(headings(&draft), headings(&enhanced));
    assert_ne!(draft, enhanced);
    let notes = enhanced["revision_notes"].to_string();
    assert!(
        notes.contains("Added")
            || notes.contains("Strengthened")
            || notes.contains("Raised")
            || notes.contains("Gave"),
        "{notes}"
    );
}

#[test]
fn explicit_draft_key_is_reworked_without_instructions() {
    let schema = json!({
        "type": "object",
        "properties": {"title": {"type": "string"}, "summary": {"type": "string"}}
    });
    let context = json!({"draft": {"title": "Old Clocks", "summary": "Time runs out."}});
    let answer = answer_valid(
        &request(vec![message(Role::User, &fenced(&context))], Some(&schema)),
        &schema,
    );
    assert_eq!(answer["title"], "Old Clocks");
    let summary = answer["summary"].as_str().expect("summary");
    assert!(summary.starts_with("Time runs out.") && summary.len() > 20);
}
