//! Histories recorded by earlier builds still load, fold and replay. The event enum is a stored
//! format: a change that breaks these fixtures needs a migration, not a new fixture.

use std::path::Path;

use pipeline_core::replay::replay;
use pipeline_core::{Definition, Event, ExecutionState};

fn load(name: &str) -> Vec<(Event, i64)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/histories")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .enumerate()
        .map(|(index, line)| {
            let row: serde_json::Value = serde_json::from_str(line).unwrap();
            let event_type = row["type"].as_str().unwrap();
            let event = Event::from_payload(event_type, &row["payload"].to_string())
                .unwrap_or_else(|error| panic!("{name} event {}: {error}", index + 1));
            (event, row["recorded_at_ms"].as_i64().unwrap())
        })
        .collect()
}

#[test]
fn a_completed_podcast_history_from_the_first_format_folds_and_replays() {
    let events = load("podcast-v1.jsonl");
    let state = ExecutionState::fold(events.iter().map(|(event, at)| (event, *at))).unwrap();
    assert_eq!(state.status.as_str(), "completed");
    assert!(!state.covered_concepts.is_empty());
    let definition = Definition::from_bundle(&state.bundle).expect("the pinned definition builds");
    let replayed = replay(&definition, &events).expect("the history replays");
    assert_eq!(replayed, state);
}
