//! Reusing identical completed calls: off by default; with `--reuse identical` (or the
//! workflow's `reuse = "identical"`) a rerun calls no provider, records where each result came
//! from at no cost, and replays and recovers like any run.

use pipeline_core::Event;

use crate::support::path_str;
use crate::support::{Sandbox, assert_exit, assert_success, text};

/// `(activity, reused from execution)` of every plugin call's completion.
fn plugin_completions(sandbox: &Sandbox, id: &str) -> Vec<(String, Option<String>)> {
    sandbox
        .history(id)
        .into_iter()
        .filter_map(|(event, _)| match event {
            Event::ActivityCompleted {
                activity,
                plugin: Some(_),
                reused_from,
                cost,
                ..
            } => {
                if reused_from.is_some() {
                    assert_eq!(cost, None, "a reused result cost something");
                }
                Some((activity.0, reused_from.map(|from| from.execution_id.0)))
            }
            _ => None,
        })
        .collect()
}

/// The outputs of the stages that call plugins (publishing writes this execution's own files).
fn called_outputs(sandbox: &Sandbox, id: &str) -> serde_json::Value {
    let mut outputs = sandbox.stage_outputs(id);
    outputs.as_object_mut().unwrap().remove("publishing");
    outputs
}

fn a_rerun_with_reuse_calls_no_provider_and_replays_and_recovers() {
    let sandbox = Sandbox::new().with_counter();
    let workflow = sandbox.workflow("fork");
    let workflow = path_str(&workflow);
    assert_success(&sandbox.host(&["run", workflow, "--id", "first"]));
    assert_success(&sandbox.host(&["run", workflow, "--id", "plain"]));
    assert_eq!(
        sandbox.calls().len(),
        2,
        "without reuse, an identical run calls again"
    );

    assert_success(&sandbox.host(&["run", workflow, "--id", "again", "--reuse", "identical"]));
    assert_eq!(sandbox.calls().len(), 2, "a reusing run called the model");
    let completions = plugin_completions(&sandbox, "again");
    assert_eq!(completions.len(), 4, "{completions:?}");
    assert!(
        completions
            .iter()
            .all(|(_, from)| from.as_deref() == Some("first")),
        "every call reuses the first completion: {completions:?}"
    );
    assert_eq!(
        called_outputs(&sandbox, "again"),
        called_outputs(&sandbox, "first")
    );
    let status = sandbox.host(&["status", "again"]);
    assert_success(&status);
    assert_success(&sandbox.host(&["replay", "again"]));
    let history = sandbox.host(&["history", "again"]);
    assert!(
        text(&history.stdout).contains("reused from first"),
        "{}",
        text(&history.stdout)
    );

    // Killed in the middle of a reusing run, it resumes and still calls nothing.
    let crashed = sandbox
        .command()
        .args(["run", workflow, "--id", "crashed", "--reuse", "identical"])
        .env("HOST_CRASH_AFTER_EVENTS", "6")
        .output()
        .unwrap();
    assert!(!crashed.status.success(), "the crash was not injected");
    assert_success(&sandbox.host(&["resume", "crashed"]));
    assert_eq!(sandbox.calls().len(), 2);
    assert_eq!(
        called_outputs(&sandbox, "crashed"),
        called_outputs(&sandbox, "first")
    );
    assert_success(&sandbox.host(&["replay", "crashed"]));
}

fn a_workflow_opts_in_with_reuse_identical() {
    let sandbox = Sandbox::new().with_counter();
    let workflow = sandbox.workflow("fork");
    let original = std::fs::read_to_string(&workflow).unwrap();
    std::fs::write(
        &workflow,
        original.replace("name = \"fork\"", "name = \"fork\"\nreuse = \"sometimes\""),
    )
    .unwrap();
    let refused = sandbox.host(&["validate", path_str(&workflow)]);
    assert_exit(&refused, 2, "an unknown reuse setting");
    assert!(
        text(&refused.stdout).contains("identical") || text(&refused.stderr).contains("identical")
    );

    std::fs::write(
        &workflow,
        original.replace("name = \"fork\"", "name = \"fork\"\nreuse = \"identical\""),
    )
    .unwrap();
    assert_success(&sandbox.host(&["run", path_str(&workflow), "--id", "one"]));
    assert_success(&sandbox.host(&["run", path_str(&workflow), "--id", "two"]));
    assert_eq!(sandbox.calls().len(), 1);
    assert!(
        plugin_completions(&sandbox, "two")
            .iter()
            .all(|(_, from)| from.as_deref() == Some("one"))
    );

    // A stage's own `reuse = "never"` wins: its model is asked every time, the speech is not.
    let never = original
        .replace("name = \"fork\"", "name = \"fork\"\nreuse = \"identical\"")
        .replace(
            "prompt = \"script.md\"",
            "prompt = \"script.md\"\nreuse = \"never\"",
        );
    std::fs::write(&workflow, never).unwrap();
    assert_success(&sandbox.host(&["run", path_str(&workflow), "--id", "three"]));
    assert_success(&sandbox.host(&[
        "run",
        path_str(&workflow),
        "--id",
        "four",
        "--reuse",
        "identical",
    ]));
    assert_eq!(sandbox.calls().len(), 3);
    let four = plugin_completions(&sandbox, "four");
    assert_eq!(four[0], ("script#0".to_string(), None), "{four:?}");
    assert!(
        four[1..]
            .iter()
            .all(|(_, from)| from.as_deref() == Some("three")),
        "{four:?}"
    );
}

#[test]
fn an_approval_stage_cannot_reuse() {
    let sandbox = Sandbox::new();
    let workflow = sandbox.workflow("two_gates");
    let original = std::fs::read_to_string(&workflow).unwrap();
    let edited = original.replace(
        "approval = { subject = \"draft\" }",
        "approval = { subject = \"draft\" }\nreuse = \"identical\"",
    );
    std::fs::write(&workflow, edited).unwrap();
    let refused = sandbox.host(&["validate", path_str(&workflow)]);
    assert_exit(&refused, 2, "reuse on an approval stage");
    let message = format!("{}{}", text(&refused.stdout), text(&refused.stderr));
    assert!(
        message.contains("an approval stage cannot use reuse"),
        "{message}"
    );
}

crate::support::postgres::on_both_stores!(
    a_rerun_with_reuse_calls_no_provider_and_replays_and_recovers,
    a_workflow_opts_in_with_reuse_identical,
);
