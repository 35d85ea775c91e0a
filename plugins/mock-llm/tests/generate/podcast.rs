//! The podcast workflow's steps: concept, outline and script, following the context.

use mock_llm::request::Role;
use mock_llm::respond::respond;
use serde_json::{Value, json};

use crate::support::{answer_valid, message, request};

const SHOW: &str = r#"```json
{"show": {"name": "Bean There", "hosts": [
  {"name": "Maya", "personality": "curious", "voice": "en-female-1"},
  {"name": "Jon", "personality": "skeptical", "voice": "en-male-2"}
]}}
```"#;

fn concept_schema() -> Value {
    json!({
        "type": "object",
        "required": ["title", "premise", "key_questions"],
        "properties": {
            "title": {"type": "string", "maxLength": 90},
            "premise": {"type": "string", "minLength": 40},
            "angle": {"type": "string"},
            "key_questions": {"type": "array", "items": {"type": "string"}, "minItems": 3, "maxItems": 5},
            "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": true},
            "estimated_minutes": {"type": "integer", "minimum": 10, "maximum": 40}
        }
    })
}

fn outline_schema() -> Value {
    json!({
        "type": "object",
        "required": ["title", "segments"],
        "properties": {
            "title": {"type": "string"},
            "summary": {"type": "string"},
            "segments": {"type": "array", "minItems": 3, "maxItems": 6, "items": {"$ref": "#/$defs/segment"}}
        },
        "$defs": {"segment": {
            "type": "object",
            "required": ["title", "summary", "key_points", "duration_seconds"],
            "properties": {
                "title": {"type": "string", "minLength": 3},
                "summary": {"type": "string"},
                "key_points": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 4},
                "duration_seconds": {"type": "integer", "minimum": 60, "maximum": 900}
            }
        }}
    })
}

fn script_schema() -> Value {
    json!({
        "type": "object",
        "required": ["title", "segments"],
        "properties": {
            "title": {"type": "string"},
            "segments": {"type": "array", "items": {
                "type": "object",
                "required": ["title", "lines"],
                "properties": {
                    "title": {"type": "string"},
                    "lines": {"type": "array", "minItems": 2, "items": {
                        "type": "object",
                        "required": ["speaker", "text"],
                        "properties": {
                            "speaker": {"type": "string"},
                            "text": {"type": "string", "minLength": 1},
                            "voice": {"type": "string"},
                            "emotion": {"enum": ["neutral", "warm", "excited"]}
                        }
                    }}
                }
            }}
        }
    })
}

fn edited_outline() -> String {
    let outline = json!({
        "title": "Coffee Through Time",
        "segments": [
            {"title": "Goats, Monks and a Legend", "summary": "The legend of Kaldi and his dancing goats.",
             "key_points": ["Kaldi noticed his goats had extra energy", "Monks brewed the berries"]},
            {"title": "Penny Universities", "summary": "How coffeehouses became places to argue and learn."},
            {"title": "Espresso Machines and Steam"},
            {"title": "Your Morning Cup Today", "key_points": ["Most coffee is grown near the equator"]}
        ]
    });
    format!("Write the script for this approved outline:\n```json\n{outline:#}\n```")
}

fn script_request() -> mock_llm::request::Request {
    request(
        vec![
            message(
                Role::System,
                &format!("You write podcast scripts.\nTopic: the history of coffee\n{SHOW}"),
            ),
            message(Role::User, &edited_outline()),
        ],
        Some(&script_schema()),
    )
}

#[test]
fn same_request_gives_identical_bytes() {
    let first = respond(&script_request()).expect("answers");
    let second = respond(&script_request()).expect("answers");
    assert_eq!(first, second);
}

#[test]
fn concept_is_valid_and_topic_aware() {
    let schema = concept_schema();
    let concept = answer_valid(
        &request(
            vec![message(
                Role::User,
                "Topic: deep sea creatures\nPitch an episode.",
            )],
            Some(&schema),
        ),
        &schema,
    );
    let text = concept.to_string().to_lowercase();
    assert!(text.contains("deep sea creatures"), "{concept:#}");
    assert!(concept["estimated_minutes"].is_i64());
}

#[test]
fn covered_concepts_are_avoided() {
    let schema = concept_schema();
    let mut covered: Vec<String> = Vec::new();
    for _ in 0..6 {
        let context = json!({"covered_concepts": covered});
        let prompt = format!("Topic: urban foxes\nSuggest a new concept.\n```json\n{context}\n```");
        let concept = answer_valid(
            &request(vec![message(Role::User, &prompt)], Some(&schema)),
            &schema,
        );
        let title = concept["title"].as_str().expect("title").to_string();
        assert!(!covered.contains(&title), "{title} was covered already");
        covered.push(title);
    }
}

#[test]
fn outline_has_topic_segments() {
    let schema = outline_schema();
    let outline = answer_valid(
        &request(
            vec![message(
                Role::User,
                "Make an outline for an episode about honey bees.",
            )],
            Some(&schema),
        ),
        &schema,
    );
    let segments = outline["segments"].as_array().expect("segments");
    assert!((3..=5).contains(&segments.len()));
    let titles: Vec<&str> = segments
        .iter()
        .filter_map(|s| s["title"].as_str())
        .collect();
    let unique: std::collections::BTreeSet<&&str> = titles.iter().collect();
    assert_eq!(unique.len(), titles.len(), "{titles:?}");
    assert!(outline.to_string().contains("honey bees"));
}

#[test]
fn script_follows_the_edited_outline_with_the_given_hosts() {
    let schema = script_schema();
    let script = answer_valid(&script_request(), &schema);
    assert_eq!(script["title"], "Coffee Through Time");
    let segments = script["segments"].as_array().expect("segments");
    let titles: Vec<&str> = segments
        .iter()
        .filter_map(|s| s["title"].as_str())
        .collect();
    assert_eq!(
        titles,
        [
            "Goats, Monks and a Legend",
            "Penny Universities",
            "Espresso Machines and Steam",
            "Your Morning Cup Today"
        ]
    );
    for segment in segments {
        let lines = segment["lines"].as_array().expect("lines");
        let first = lines[0]["text"].as_str().expect("text");
        assert!(
            first.contains(segment["title"].as_str().expect("title")),
            "{first}"
        );
        let speakers: Vec<&str> = lines.iter().filter_map(|l| l["speaker"].as_str()).collect();
        assert!(
            speakers.iter().all(|s| ["Maya", "Jon"].contains(s)),
            "{speakers:?}"
        );
        assert!(
            speakers.windows(2).all(|pair| pair[0] != pair[1]),
            "{speakers:?}"
        );
        let voices: Vec<&str> = lines.iter().filter_map(|l| l["voice"].as_str()).collect();
        assert!(voices.contains(&"en-male-2"));
    }
    let all = script.to_string();
    assert!(all.contains("Kaldi noticed his goats had extra energy"));
    assert!(all.contains("How coffeehouses became places to argue and learn."));
}

#[test]
fn flat_script_names_segments_in_order() {
    let schema = json!({
        "type": "object",
        "required": ["lines"],
        "properties": {"lines": {"type": "array", "maxItems": 14, "items": {
            "type": "object",
            "required": ["speaker", "text", "segment_title"],
            "properties": {
                "speaker": {"enum": ["HOST_A", "HOST_B"]},
                "text": {"type": "string", "maxLength": 80},
                "segment_title": {"type": "string"},
                "duration_ms": {"type": "integer", "minimum": 500}
            }
        }}}
    });
    let mut script_request = script_request();
    script_request.json_schema = Some(schema.to_string());
    let script = answer_valid(&script_request, &schema);
    let lines = script["lines"].as_array().expect("lines");
    let mut order: Vec<&str> = lines
        .iter()
        .filter_map(|line| line["segment_title"].as_str())
        .collect();
    order.dedup();
    assert_eq!(
        order,
        [
            "Goats, Monks and a Legend",
            "Penny Universities",
            "Espresso Machines and Steam",
            "Your Morning Cup Today"
        ]
    );
    // Even with a tight maxLength, each segment's first line still names it.
    let mut previous = "";
    for line in lines {
        let title = line["segment_title"].as_str().expect("segment");
        if title != previous {
            assert!(line["text"].as_str().expect("text").contains(title));
            previous = title;
        }
    }
}

#[test]
fn script_without_outline_invents_segments_from_the_topic() {
    let schema = script_schema();
    let script = answer_valid(
        &request(
            vec![message(Role::User, "Write a script about tidal energy.")],
            Some(&schema),
        ),
        &schema,
    );
    let segments = script["segments"].as_array().expect("segments");
    assert!((3..=5).contains(&segments.len()));
    let speakers: Vec<&str> = segments[0]["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .filter_map(|line| line["speaker"].as_str())
        .collect();
    assert_eq!(&speakers[..2], ["Alex", "Sam"]);
    assert!(script.to_string().contains("tidal energy"));
}
