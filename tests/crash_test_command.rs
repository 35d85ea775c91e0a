//! `host crash-test`, the crash tester users run on their own workflows: it passes a
//! deterministic workflow at every boundary, reports the first failing boundary of a workflow
//! whose plugin is not deterministic, and passes sampled boundaries of the podcast and the
//! story on the mock plugins (the full sweeps take minutes; see BENCHMARKS.md).

mod support;

use support::{Sandbox, assert_success, text};

fn summary(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
        panic!(
            "stdout is the JSON summary:\n{}\nstderr:\n{}",
            text(&output.stdout),
            text(&output.stderr)
        )
    })
}

#[test]
fn every_boundary_of_a_deterministic_workflow_passes() {
    let sandbox = Sandbox::new().with_counter();
    let workflow = sandbox.workflow("counting");
    let output = sandbox.host(&["crash-test", workflow.to_str().unwrap(), "--json"]);
    assert_success(&output);
    let summary = summary(&output);
    let events = summary["reference_events"].as_u64().unwrap();
    assert!(events > 20, "{summary}");
    assert_eq!(summary["boundaries_tested"].as_u64(), Some(events));
    assert_eq!(summary["passed"].as_u64(), Some(events));
    assert_eq!(summary["failed"], 0);
    assert!(
        !sandbox
            .data()
            .join("crash-tests")
            .read_dir()
            .unwrap()
            .any(|_| true),
        "scratch directories are removed"
    );
}

#[test]
fn a_plugin_that_answers_differently_each_time_fails_with_the_first_boundary_named() {
    let sandbox = Sandbox::new().with_counter();
    let workflow = sandbox.workflow("counting");
    let output = sandbox.host(&[
        "crash-test",
        workflow.to_str().unwrap(),
        "--input",
        r#"items=["count-calls"]"#,
        "--sample",
        "3",
        "--json",
    ]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "stderr: {}",
        text(&output.stderr)
    );
    let summary = summary(&output);
    assert_eq!(summary["boundaries_tested"], 3);
    assert!(summary["failed"].as_u64().unwrap() >= 1, "{summary}");
    let failure = &summary["first_failure"];
    assert!(
        failure["crash_after_events"].as_u64().is_some(),
        "{summary}"
    );
    assert!(
        failure["reason"]
            .as_str()
            .unwrap()
            .contains("different output"),
        "{summary}"
    );
}

#[test]
fn sampled_boundaries_of_the_podcast_and_the_story_pass() {
    let sandbox = Sandbox::new();
    let workflows = sandbox.repository_workflows("repository-workflows");
    for (workflow, input) in [
        ("podcast.toml", "topic=tides"),
        ("story.toml", "premise=a lighthouse keeper"),
    ] {
        let output = sandbox.host(&[
            "crash-test",
            workflows.join(workflow).to_str().unwrap(),
            "--input",
            input,
            "--auto-approve",
            "--sample",
            "3",
            "--json",
        ]);
        assert_success(&output);
        let summary = summary(&output);
        assert_eq!(summary["passed"], 3, "{workflow}: {summary}");
    }
}
