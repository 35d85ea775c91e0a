//! Failure handling with real processes and the counting plugin: a per-attempt deadline stops a
//! slow call and retries it, `on_error = "continue"` records a failed stage and goes on, a
//! whole-execution limit ends a run that takes too long, and the circuit breaker stops calling
//! a plugin that keeps failing and says so.

mod support;

use pipeline_core::{Event, ExecutionState};
use support::{Sandbox, assert_success, text};

fn run(
    sandbox: &Sandbox,
    scenario: &str,
    items: &str,
    execution_timeout: &str,
) -> std::process::Output {
    let workflow = sandbox.workflow("failing");
    sandbox
        .command()
        .args(["run", workflow.to_str().unwrap(), "--id", scenario])
        .args([
            "--input",
            &format!("scenario={scenario}"),
            "--input",
            &format!("items={items}"),
        ])
        .env("FAILING_EXECUTION_TIMEOUT", execution_timeout)
        .output()
        .unwrap()
}

fn state(sandbox: &Sandbox, id: &str) -> ExecutionState {
    let history = sandbox.history(id);
    ExecutionState::fold(history.iter().map(|(event, at)| (event, *at))).unwrap()
}

fn failures(sandbox: &Sandbox, id: &str) -> Vec<(u32, String)> {
    sandbox
        .history(id)
        .into_iter()
        .filter_map(|(event, _)| match event {
            Event::ActivityFailed { attempt, error, .. } => Some((attempt, error.kind.to_string())),
            _ => None,
        })
        .collect()
}

fn a_slow_attempt_is_stopped_at_its_deadline_and_retried() {
    let sandbox = Sandbox::new().with_counter();
    let output = run(&sandbox, "strict", r#"["sleep-ms=5000"]"#, "1h");
    assert_eq!(
        output.status.code(),
        Some(1),
        "stderr: {}",
        text(&output.stderr)
    );
    assert_eq!(
        failures(&sandbox, "strict"),
        [
            (1, "deadline-exceeded".to_string()),
            (2, "deadline-exceeded".to_string())
        ]
    );
    let state = state(&sandbox, "strict");
    assert_eq!(state.status.as_str(), "failed");
    let status = sandbox.host(&["status", "strict", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["error"]["stage"], "strict");
    assert!(
        status["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did not finish within"),
        "{status}"
    );
}

fn a_stage_that_may_fail_records_its_error_and_the_execution_goes_on() {
    let sandbox = Sandbox::new().with_counter();
    let output = run(&sandbox, "lenient", r#"["fine", "fail-always"]"#, "1h");
    assert_success(&output);
    let state = state(&sandbox, "lenient");
    assert_eq!(state.status.as_str(), "completed");
    let optional = state.stage(&pipeline_core::StageId("lenient".into()));
    assert!(
        matches!(
            optional.status,
            pipeline_core::StageStatus::Failed {
                continued: true,
                ..
            }
        ),
        "{:?}",
        optional.status
    );
    let results = optional.output.clone().unwrap();
    assert!(results[0].as_str().unwrap().starts_with("echo:"));
    assert!(
        results[1].is_null(),
        "a failed item has no result: {results}"
    );
    // A permanent error is not retried.
    assert_eq!(
        failures(&sandbox, "lenient"),
        [(1, "invalid-request".to_string())]
    );
}

fn a_stage_past_its_limit_fails_without_waiting_for_its_calls() {
    let sandbox = Sandbox::new().with_counter();
    let output = run(
        &sandbox,
        "bounded",
        r#"["sleep-ms=3000", "sleep-ms=3000"]"#,
        "1h",
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "stderr: {}",
        text(&output.stderr)
    );
    let history = sandbox.history("bounded");
    let failed = history.iter().find_map(|(event, _)| match event {
        Event::StageFailed { stage, error, .. } if stage.0 == "bounded" => {
            Some(error.kind.to_string())
        }
        _ => None,
    });
    assert_eq!(failed.as_deref(), Some("stage-timeout"));
    assert!(
        !history
            .iter()
            .any(|(event, _)| matches!(event, Event::ActivityCompleted { .. })),
        "nothing completes after the limit"
    );
}

fn an_execution_past_its_limit_fails() {
    let sandbox = Sandbox::new().with_counter();
    let output = run(
        &sandbox,
        "strict",
        r#"["sleep-ms=400", "sleep-ms=400", "sleep-ms=400", "sleep-ms=400", "sleep-ms=400"]"#,
        "600ms",
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "stderr: {}",
        text(&output.stderr)
    );
    let history = sandbox.history("strict");
    let Some((Event::ExecutionFailed { error, .. }, _)) = history.last() else {
        panic!("the execution should end failed")
    };
    assert_eq!(error.kind, "execution-timeout");
    assert_success(&sandbox.host(&["replay", "strict"]));
}

fn the_circuit_breaker_stops_calling_a_failing_plugin_and_says_so() {
    let sandbox = Sandbox::new().with_counter();
    let output = run(
        &sandbox,
        "breaker",
        r#"["fail-until-attempt=99", "fail-until-attempt=99", "fail-until-attempt=99"]"#,
        "1h",
    );
    assert_success(&output);
    let kinds: Vec<String> = failures(&sandbox, "breaker")
        .into_iter()
        .map(|(_, kind)| kind)
        .collect();
    let opened = kinds
        .iter()
        .position(|kind| kind == "circuit-open")
        .expect("the breaker should open");
    assert_eq!(
        opened, 5,
        "the breaker opens after five failures in a row: {kinds:?}"
    );
    assert_eq!(
        sandbox.calls().len(),
        5,
        "no call reaches the plugin while the breaker is open"
    );
    let refusal = sandbox
        .history("breaker")
        .into_iter()
        .find_map(|(event, _)| match event {
            Event::ActivityFailed { error, .. } if error.kind == "circuit-open" => {
                Some(error.message)
            }
            _ => None,
        })
        .unwrap();
    assert!(
        refusal.contains("plugin `counter` failed 5 times in a row"),
        "{refusal}"
    );
}

support::postgres::on_both_stores!(
    a_slow_attempt_is_stopped_at_its_deadline_and_retried,
    a_stage_that_may_fail_records_its_error_and_the_execution_goes_on,
    a_stage_past_its_limit_fails_without_waiting_for_its_calls,
    an_execution_past_its_limit_fails,
    the_circuit_breaker_stops_calling_a_failing_plugin_and_says_so,
);
