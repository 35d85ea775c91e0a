//! Imperfect LLM answers, with real processes and the counting plugin imitating a careless
//! model: an answer that is not JSON although the stage asked for JSON is the model's mistake,
//! retried, not a plugin bug that ends the execution.

mod support;

use pipeline_core::{ErrorKind, Event};
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
