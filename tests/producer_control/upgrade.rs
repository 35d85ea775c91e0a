//! `host upgrade`: an edit to stages an execution has not reached is compatible, an edit to
//! one it already ran is not; `--apply` moves the compatible one (recorded in its history),
//! which then finishes under the new definition, and leaves the other pinned with the reason.

use pipeline_core::Event;
use serde_json::Value;

use crate::support::path_str;
use crate::support::{Sandbox, assert_exit, assert_success, text};

fn upgrade(sandbox: &Sandbox, mode: &str, workflow: &str) -> (std::process::Output, Value) {
    let output = sandbox.host(&["upgrade", mode, workflow, "--json"]);
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
        panic!(
            "not JSON:\n{}\n{}",
            text(&output.stdout),
            text(&output.stderr)
        )
    });
    (output, report)
}

/// Each execution of a report as `id:verdict`.
fn verdicts(report: &Value) -> Vec<String> {
    report["executions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            format!(
                "{}:{}",
                entry["id"].as_str().unwrap(),
                entry["verdict"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn an_upgrade_moves_what_decides_the_same_and_leaves_the_rest_pinned() {
    let sandbox = Sandbox::new();
    let workflow_path = sandbox.workflow("two_gates");
    let workflow = path_str(&workflow_path);
    let folder = workflow_path.parent().unwrap();
    // One parked at the first gate, one at the second (it has run the revision).
    assert_success(&sandbox.host(&["run", workflow, "--id", "early"]));
    assert_success(&sandbox.host(&["run", workflow, "--id", "late"]));
    assert_success(&sandbox.host(&["signal", "approve", "late"]));
    // A finished one is not considered.
    assert_success(&sandbox.host(&["run", workflow, "--id", "done", "--auto-approve"]));

    // Nothing changed: both are current.
    let (unchanged, report) = upgrade(&sandbox, "--check", workflow);
    assert_success(&unchanged);
    assert_eq!(verdicts(&report), ["early:current", "late:current"]);

    // An edit to the last stage, which neither has reached: both can move.
    std::fs::write(folder.join("final.md"), "Close the approved revision \"{{ stages.revision_approval.output.approved.title }}\" warmly.\n").unwrap();
    let (compatible, report) = upgrade(&sandbox, "--check", workflow);
    assert_success(&compatible);
    assert_eq!(verdicts(&report), ["early:compatible", "late:compatible"]);

    let events_before = sandbox.history("early").len();
    // An edit to the revision, which only `late` has run: it would not decide the same.
    std::fs::write(folder.join("revision.md"), "Rework the approved draft titled \"{{ stages.draft_approval.output.approved.title }}\" for radio.\n").unwrap();
    let (incompatible, report) = upgrade(&sandbox, "--check", workflow);
    assert_exit(&incompatible, 1, "a check with an incompatible execution");
    assert_eq!(verdicts(&report), ["early:compatible", "late:incompatible"]);
    let reason = report["executions"][1]["reason"].as_str().unwrap();
    assert!(reason.contains("non-determinism"), "{reason}");
    assert_eq!(
        sandbox.history("early").len(),
        events_before,
        "a check recorded something"
    );

    let (applied, report) = upgrade(&sandbox, "--apply", workflow);
    assert_exit(&applied, 1, "an apply that leaves one pinned");
    assert_eq!(verdicts(&report), ["early:upgraded", "late:incompatible"]);
    let upgraded = sandbox.history("early");
    assert!(matches!(
        upgraded.last(),
        Some((Event::ExecutionUpgraded { definition_hash, .. }, _)) if Some(definition_hash.as_str()) == report["definition_hash"].as_str()
    ));
    assert!(
        !sandbox
            .history("late")
            .iter()
            .any(|(event, _)| matches!(event, Event::ExecutionUpgraded { .. }))
    );

    // Both finish, each under its own definition.
    for id in ["early", "late"] {
        assert_success(&sandbox.host(&["resume", id, "--auto-approve"]));
        assert_success(&sandbox.host(&["replay", id]));
    }
    let revision_prompt = |id: &str| {
        sandbox
            .history(id)
            .into_iter()
            .find_map(|(event, _)| match event {
                Event::ActivityScheduled { stage, input, .. } if stage.0 == "revision" => {
                    Some(input.to_string())
                }
                _ => None,
            })
            .unwrap()
    };
    assert!(revision_prompt("early").contains("for radio"));
    assert!(!revision_prompt("late").contains("for radio"));
    let (after, report) = upgrade(&sandbox, "--check", workflow);
    assert_success(&after);
    assert_eq!(verdicts(&report), Vec::<String>::new());
}

#[test]
fn an_upgrade_with_a_broken_file_is_refused() {
    let sandbox = Sandbox::new();
    let missing = sandbox.directory.path().join("missing.toml");
    let refused = sandbox.host(&["upgrade", "--check", path_str(&missing)]);
    assert_exit(&refused, 2, "a missing workflow file");
    let neither = sandbox.host(&["upgrade", path_str(&missing)]);
    assert_exit(&neither, 2, "neither --check nor --apply");
}

/// `bytes` with a custom section appended: the same component, run the same way, with
/// another digest, as a rebuilt plugin has.
fn rebuilt(mut bytes: Vec<u8>) -> Vec<u8> {
    let name = b"rebuilt";
    let payload = b"2";
    bytes.push(0);
    bytes.push((1 + name.len() + payload.len()) as u8);
    bytes.push(name.len() as u8);
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(payload);
    bytes
}

#[test]
fn an_upgrade_moves_a_parked_execution_onto_a_rebuilt_plugin() {
    let sandbox = Sandbox::new().with_counter();
    let workflow_path = sandbox.workflow("gated_counting");
    let workflow = path_str(&workflow_path);
    assert_success(&sandbox.host(&["run", workflow, "--id", "parked", "--input", "topic=tides"]));
    let plugin = sandbox.data().join("plugins/counter.wasm");
    std::fs::write(&plugin, rebuilt(std::fs::read(&plugin).unwrap())).unwrap();

    let (checked, report) = upgrade(&sandbox, "--check", workflow);
    assert_success(&checked);
    assert_eq!(verdicts(&report), ["parked:compatible"]);
    let (applied, report) = upgrade(&sandbox, "--apply", workflow);
    assert_success(&applied);
    assert_eq!(verdicts(&report), ["parked:upgraded"]);
    assert_success(&sandbox.host(&["signal", "approve", "parked"]));
    let status: Value =
        serde_json::from_slice(&sandbox.host(&["status", "parked", "--json"]).stdout).unwrap();
    assert_eq!(status["status"], "completed", "{status:#}");
}
