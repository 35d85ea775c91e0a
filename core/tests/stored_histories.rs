//! Histories recorded by earlier builds still load, fold and replay: one from before the cost
//! guard, one paused at its budget and raised. The event enum is a stored format: a change
//! that breaks these fixtures needs a migration, not a new fixture.

use std::path::Path;

use pipeline_core::replay::replay;
use pipeline_core::{ActivityStatus, Definition, Event, ExecutionState};

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
    // From before the cost guard: no budget, never paused.
    assert_eq!(state.budget_micros, None);
    assert_eq!(state.budget_gate, None);
    let definition = Definition::from_bundle(&state.bundle).expect("the pinned definition builds");
    let replayed = replay(&definition, &events).expect("the history replays");
    assert_eq!(replayed, state);
}

#[test]
fn a_history_paused_at_its_budget_and_raised_folds_and_replays() {
    // Recorded with `host run tests/workflows/budget/workflow.toml --max-cost 0.00002`, then
    // `host signal approve <id> --budget 1`.
    let events = load("budget-v1.jsonl");
    let state = ExecutionState::fold(events.iter().map(|(event, at)| (event, *at))).unwrap();
    assert_eq!(state.status.as_str(), "completed");
    assert_eq!(state.budget_micros, Some(1_000_000));
    assert_eq!(state.budget_gate, None);
    assert!(events.iter().any(|(event, _)| matches!(
        event,
        Event::BudgetReached {
            budget_micros: 20,
            ..
        }
    )));
    let definition = Definition::from_bundle(&state.bundle).expect("the pinned definition builds");
    let replayed = replay(&definition, &events).expect("the history replays");
    assert_eq!(replayed, state);
}

#[test]
fn every_stage_tally_agrees_with_its_activities_after_each_event() {
    // The tally is what `decide` reads instead of scanning a stage's activities, so it must
    // say exactly what the statuses say, at every point of a real history (fan-outs included).
    for name in ["podcast-v1.jsonl", "budget-v1.jsonl"] {
        let events = load(name);
        let mut state = ExecutionState::start(&events[0].0, events[0].1).unwrap();
        for (event, at) in &events[1..] {
            state.apply(event, *at).unwrap();
            for (stage_id, stage) in &state.stages {
                let mut expected = pipeline_core::tally::ActivityTally::default();
                for (position, id) in stage.activities.iter().enumerate() {
                    let status = &state.activities[id].status;
                    match status {
                        ActivityStatus::Scheduled | ActivityStatus::Ready { .. } => {
                            expected.startable.insert(position);
                        }
                        ActivityStatus::Running { .. } => {
                            expected.running.insert(position);
                        }
                        ActivityStatus::AttemptFailed { .. } => {
                            expected.failed.insert(position);
                        }
                        ActivityStatus::BackingOff { .. } => {
                            expected.backing_off.insert(position);
                        }
                        ActivityStatus::Completed { .. } => expected.completed += 1,
                    }
                }
                assert_eq!(
                    stage.tally, expected,
                    "{name}: stage {stage_id} after {event:?}"
                );
            }
        }
    }
}
