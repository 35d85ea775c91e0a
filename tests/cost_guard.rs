//! The cost guard, with real processes and the counting plugin (10 millionths of a USD per
//! call): a run whose recorded cost reaches its budget pauses before the next plugin call
//! instead of spending on, says so in `status` (text and `--json`), and goes on when the
//! producer approves a higher budget, which the published manifest shows; or ends when they
//! reject it.

mod support;

use pipeline_core::Event;
use serde_json::Value;
use support::{Sandbox, assert_exit, assert_success, text};

fn start(sandbox: &Sandbox, id: &str, max_cost: &str) -> std::process::Output {
    let workflow = sandbox.workflow("budget");
    sandbox
        .command()
        .args(["run", workflow.to_str().unwrap(), "--id", id])
        .args(["--max-cost", max_cost])
        .output()
        .unwrap()
}

fn status_json(sandbox: &Sandbox, id: &str) -> Value {
    let output = sandbox.host(&["status", id, "--json"]);
    assert_success(&output);
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn a_run_pauses_when_its_cost_reaches_the_budget_and_goes_on_with_a_higher_one() {
    let sandbox = Sandbox::new().with_counter();
    let output = start(&sandbox, "capped", "0.00002");
    assert_success(&output);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("reached its budget"), "{stdout}");
    assert!(
        stdout.contains("host signal approve capped --budget"),
        "{stdout}"
    );
    // Two calls cost 0.00002; the third is not started.
    assert_eq!(sandbox.calls().len(), 2);
    let status = status_json(&sandbox, "capped");
    assert_eq!(status["status"], "waiting_for_approval");
    assert_eq!(
        status["budget"],
        serde_json::json!({ "limit_micros": 20, "spent_micros": 20, "currency": "USD", "paused": true })
    );
    let text_status = text(&sandbox.host(&["status", "capped"]).stdout);
    assert!(
        text_status.contains("Budget:   0.00002 of 0.00002 USD, paused"),
        "{text_status}"
    );

    let refused = sandbox.host(&["signal", "approve", "capped"]);
    assert_exit(&refused, 3, "an approval without a budget at a budget gate");
    assert!(
        text(&refused.stderr).contains("--budget"),
        "{}",
        text(&refused.stderr)
    );
    let refused = sandbox.host(&["signal", "approve", "capped", "--budget", "0.00001"]);
    assert_exit(&refused, 3, "a budget below what was spent");
    assert_eq!(sandbox.calls().len(), 2);

    let approved = sandbox.host(&["signal", "approve", "capped", "--budget", "1.00"]);
    assert_success(&approved);
    assert_eq!(sandbox.calls().len(), 4);
    let status = status_json(&sandbox, "capped");
    assert_eq!(status["status"], "completed");
    assert_eq!(status["budget"]["limit_micros"], 1_000_000);
    assert_eq!(status["budget"]["spent_micros"], 40);
    assert_eq!(status["budget"]["paused"], false);
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(sandbox.data().join("episodes/capped/manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["cost"]["budget_micros"], 1_000_000);
    assert_eq!(manifest["cost"]["total_micros"]["USD"], 40);
    let history = sandbox.history("capped");
    assert!(history.iter().any(|(event, _)| matches!(
        event,
        Event::BudgetReached {
            budget_micros: 20,
            ..
        }
    )));
    assert!(history.iter().any(|(event, _)| matches!(
        event,
        Event::BudgetRaised {
            budget_micros: 1_000_000
        }
    )));
}

#[test]
fn rejecting_at_the_budget_ends_the_execution_without_spending_more() {
    let sandbox = Sandbox::new().with_counter();
    assert_success(&start(&sandbox, "stopped", "0.00003"));
    assert_eq!(sandbox.calls().len(), 3);
    let rejected = sandbox.host(&["signal", "reject", "stopped", "--feedback", "too expensive"]);
    assert_success(&rejected);
    assert_eq!(status_json(&sandbox, "stopped")["status"], "rejected");
    assert_eq!(sandbox.calls().len(), 3);
}

#[test]
fn a_workflow_without_a_budget_is_never_paused() {
    let sandbox = Sandbox::new().with_counter();
    let workflow = sandbox.workflow("budget");
    let output = sandbox
        .command()
        .args(["run", workflow.to_str().unwrap(), "--id", "free"])
        .output()
        .unwrap();
    assert_success(&output);
    assert_eq!(sandbox.calls().len(), 4);
    assert_eq!(status_json(&sandbox, "free")["budget"], Value::Null);
}

#[test]
fn the_workflows_max_cost_is_the_budget_unless_the_run_sets_one() {
    let sandbox = Sandbox::new().with_counter();
    let workflow = sandbox.workflow("budget");
    let source = std::fs::read_to_string(&workflow).unwrap();
    std::fs::write(
        &workflow,
        source.replace("name = \"budget\"", "name = \"budget\"\nmax_cost = 0.00001"),
    )
    .unwrap();
    let run = |id: &str, extra: &[&str]| {
        let output = sandbox
            .command()
            .args(["run", workflow.to_str().unwrap(), "--id", id])
            .args(extra)
            .output()
            .unwrap();
        assert_success(&output);
        status_json(&sandbox, id)
    };
    let status = run("workflow-budget", &[]);
    assert_eq!(status["budget"]["limit_micros"], 10);
    assert_eq!(status["budget"]["paused"], true);
    assert_eq!(sandbox.calls().len(), 1);
    let status = run("run-budget", &["--max-cost", "0.00003"]);
    assert_eq!(status["budget"]["limit_micros"], 30);
    assert_eq!(sandbox.calls().len(), 1 + 3);
}
