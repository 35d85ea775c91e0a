//! What `status` reports about an execution, through the real binary: the `--json` fields
//! waiting and completed, the text report (inputs, the outline waiting, the next commands,
//! costs in workflow order) and the outline saved for editing.

use serde_json::Value;

use super::support::{Sandbox, assert_success, text};
use super::{STATUS_FIELDS, host_in, json_of, log_lines, run_to_approval};

#[test]
fn status_json_has_the_documented_fields_waiting_and_completed() {
    let sandbox = Sandbox::new();
    sandbox.repository_workflows("workflows");
    run_to_approval(&sandbox, "fields");
    let check = |status: &Value| {
        for field in STATUS_FIELDS {
            assert!(status.get(field).is_some(), "`{field}` missing: {status:#}");
        }
        assert_eq!(status["id"], "fields");
        assert_eq!(status["workflow"], "podcast");
        assert!(status["cost"]["by_stage"].is_object(), "{status:#}");
        assert!(status["cost"]["total_micros"].is_object(), "{status:#}");
        assert!(status["artifacts"].is_array(), "{status:#}");
        assert!(status["error"].is_null(), "{status:#}");
    };

    let waiting = json_of(&sandbox, &["status", "fields", "--json"]);
    check(&waiting);
    assert_eq!(waiting["status"], "waiting_for_approval");
    assert_eq!(waiting["stage"], "approval");
    assert_eq!(waiting["progress"]["stage"], "approval");
    assert_eq!(waiting["approval"]["stage"], "approval");
    assert!(
        waiting["approval"]["subject"]["title"].is_string(),
        "{waiting:#}"
    );
    assert_eq!(waiting["artifacts"], serde_json::json!([]));

    // The text report says what the execution is about, shows what waits for approval and
    // the commands that go on, and no counts for a gate.
    let waiting_text = text(&host_in(&sandbox, &["status", "fields"]).stdout);
    for expected in [
        "Inputs:   ",
        "topic=the history of tea",
        "Stage:    Awaiting approval\n",
        "Waiting for approval of:",
        "Next: host signal approve fields",
        "host signal reject fields --feedback",
    ] {
        assert!(
            waiting_text.contains(expected),
            "`{expected}` in:\n{waiting_text}"
        );
    }
    assert!(!waiting_text.contains("(0/0)"), "{waiting_text}");
    assert!(
        log_lines(&sandbox.data(), "fields")
            .contains(&"⏸ Awaiting approval: waiting for a person's decision".to_string())
    );
    let saved = sandbox.data().join("pending/fields-outline.json");
    assert!(saved.exists(), "the outline is saved for editing");
    // In the schema's order, as a person edits it: the title first, key points last.
    let saved_text = std::fs::read_to_string(&saved).unwrap();
    let at = |field: &str| saved_text.find(&format!("\"{field}\"")).unwrap();
    assert!(
        at("title") < at("summary") && at("summary") < at("segments"),
        "{saved_text}"
    );
    assert!(at("segments") < at("key_points"), "{saved_text}");
    let approved = host_in(&sandbox, &["signal", "approve", "fields", "--json"]);
    assert_success(&approved);
    assert!(!saved.exists(), "the saved outline is removed once decided");
    let reported: Value = serde_json::from_slice(&approved.stdout).expect("one JSON document");
    let completed = json_of(&sandbox, &["status", "fields", "--json"]);
    assert_eq!(
        reported, completed,
        "signal --json prints the status report"
    );
    check(&completed);
    assert_eq!(completed["status"], "completed");
    assert!(
        completed["stage"].is_null() && completed["progress"].is_null(),
        "{completed:#}"
    );
    assert!(completed["approval"].is_null(), "{completed:#}");
    let names: Vec<&str> = completed["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|artifact| artifact["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"transcript.md"), "{names:?}");

    // The text report lists each stage's cost in the order the stages run, every amount in
    // one format.
    let status = text(&host_in(&sandbox, &["status", "fields"]).stdout);
    let costed: Vec<&str> = status
        .lines()
        .skip_while(|line| !line.trim_start().starts_with("Cost:"))
        .skip(1)
        .take_while(|line| line.starts_with("            "))
        .filter_map(|line| line.trim().split(':').next())
        .collect();
    let order = [
        "ideation",
        "outlining",
        "segment_generation",
        "script_generation",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|stage| {
            costed
                .iter()
                .position(|costed| costed == stage)
                .unwrap_or_else(|| panic!("no cost line for {stage}:\n{status}"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|pair| pair[0] < pair[1]),
        "{status}"
    );
    assert!(!status.contains("0.000000"), "{status}");
}
