//! Imperfect LLM answers, with real processes and the counting plugin imitating a careless
//! model: an answer that is not JSON although the stage asked for JSON is the model's mistake,
//! retried, not a plugin bug that ends the execution; an answer that fails the stage's checks
//! or its schema (templated with the hosts) is retried, and the retry tells the model why.

mod support;

use pipeline_core::{ActivityError, ErrorKind, Event};
use serde_json::{Value, json};
use support::{Sandbox, assert_success};

fn run(sandbox: &Sandbox, scenario: &str) -> std::process::Output {
    let workflow = sandbox.workflow("answers");
    sandbox
        .command()
        .args(["run", workflow.to_str().unwrap(), "--id", scenario])
        .args(["--input", &format!("scenario={scenario}")])
        .output()
        .unwrap()
}

#[test]
fn an_answer_that_is_not_json_is_a_retryable_malformed_answer() {
    let sandbox = Sandbox::new().with_counter();
    let output = run(&sandbox, "careless");
    assert_success(&output);
    let history = sandbox.history("careless");
    let failed: Vec<_> = history
        .iter()
        .filter_map(|(event, _)| match event {
            Event::ActivityFailed { attempt, error, .. } => Some((*attempt, error.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    let (attempt, error) = &failed[0];
    assert_eq!(*attempt, 1);
    assert_eq!(error.kind, ErrorKind::MalformedAnswer);
    assert!(error.retryable, "{error:?}");
    assert!(error.message.contains("not JSON"), "{}", error.message);
    assert!(
        history
            .iter()
            .any(|(event, _)| matches!(event, Event::ActivityCompleted { attempt: 2, .. }))
    );
}

/// The attempts that failed, in order.
fn failures(sandbox: &Sandbox, id: &str) -> Vec<(u32, ActivityError)> {
    sandbox
        .history(id)
        .into_iter()
        .filter_map(|(event, _)| match event {
            Event::ActivityFailed { attempt, error, .. } => Some((attempt, error)),
            _ => None,
        })
        .collect()
}

/// The output of the stage's completed activity.
fn completed_output(sandbox: &Sandbox, id: &str) -> Value {
    sandbox
        .history(id)
        .into_iter()
        .find_map(|(event, _)| match event {
            Event::ActivityCompleted { output, .. } => Some(output),
            _ => None,
        })
        .expect("an activity completed")
}

#[test]
fn an_answer_failing_a_check_is_retried_with_feedback_saying_why() {
    let sandbox = Sandbox::new().with_counter();
    let output = run(&sandbox, "checked");
    assert_success(&output);
    let failed = failures(&sandbox, "checked");
    assert_eq!(failed.len(), 1, "{failed:?}");
    let (attempt, error) = &failed[0];
    assert_eq!(*attempt, 1);
    assert_eq!(error.kind, ErrorKind::CheckFailed);
    assert!(error.retryable, "{error:?}");
    assert_eq!(
        error.message,
        "the answer failed its checks: line 2 is spoken by Zed, who is not one of Maya, Theo"
    );
    // The counting plugin echoes the last message of the request it gets: the retry's was the
    // feedback, and a model that listens no longer uses the speaker it names.
    let lines = completed_output(&sandbox, "checked")["lines"].clone();
    assert_eq!(lines[0]["speaker"], "Maya");
    assert_eq!(lines[1]["speaker"], "Maya");
    assert_eq!(
        lines[0]["text"],
        "echo: Your previous answer was not accepted: the answer failed its checks: line 2 is \
         spoken by Zed, who is not one of Maya, Theo. Answer again, fixing that."
    );
    assert_eq!(sandbox.calls().len(), 2);
}

#[test]
fn a_schema_templated_with_the_hosts_refuses_another_speaker() {
    let sandbox = Sandbox::new().with_counter();
    let output = run(&sandbox, "enumerated");
    assert_success(&output);
    let history = sandbox.history("enumerated");
    let schema = history
        .iter()
        .find_map(|(event, _)| match event {
            Event::ActivityScheduled { input, .. } => Some(input["json_schema"].clone()),
            _ => None,
        })
        .expect("the activity was scheduled");
    assert_eq!(
        schema["properties"]["lines"]["items"]["properties"]["speaker"],
        json!({ "enum": ["Maya", "Theo"] })
    );
    let failed = failures(&sandbox, "enumerated");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].1.kind, ErrorKind::SchemaViolation);
    assert!(
        failed[0].1.message.contains("Zed"),
        "{}",
        failed[0].1.message
    );
    let lines = completed_output(&sandbox, "enumerated")["lines"].clone();
    assert_eq!(lines[1]["speaker"], "Maya");
}
