//! Crash recovery with real processes: the counting workflow killed after every event boundary
//! (HOST_CRASH_AFTER_EVENTS) and resumed in a new process always ends like an uncrashed run,
//! with no completed activity run again; a crash during a retry backoff waits only the rest of
//! it; a second process never drives an execution another live process owns; a resume uses
//! the pinned definition whatever the files now say, and refuses a plugin whose digest changed.

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use pipeline_core::{Event, TimerPurpose};
use support::{Sandbox, assert_success, completed_keys, text};

fn a_crash_after_any_event_then_a_resume_ends_as_an_uncrashed_run() {
    let reference = Sandbox::new().with_counter();
    let workflow = reference.workflow("counting");
    assert_success(&reference.host(&["run", workflow.to_str().unwrap(), "--id", "count"]));
    let expected = reference.stage_outputs("count");
    let total_events = reference.history("count").len();
    assert!(
        total_events > 20,
        "the workflow should have many boundaries, has {total_events}"
    );

    for crash_after in 1..=total_events {
        let sandbox = Sandbox::new().with_counter();
        let workflow = sandbox.workflow("counting");
        let crashed = sandbox
            .command()
            .args(["run", workflow.to_str().unwrap(), "--id", "count"])
            .env("HOST_CRASH_AFTER_EVENTS", crash_after.to_string())
            .output()
            .unwrap();
        assert!(
            !crashed.status.success(),
            "crash after {crash_after}: the process should have aborted"
        );
        let before_resume = sandbox.history("count");
        assert!(
            before_resume.len() >= crash_after.min(total_events),
            "crash after {crash_after}: events committed before the abort were lost"
        );
        let completed_before: Vec<String> = completed_keys(&before_resume);
        let calls_before = sandbox.calls().len();

        let resumed = sandbox.host(&["resume", "count"]);
        assert_success(&resumed);
        assert_eq!(
            sandbox.stage_outputs("count"),
            expected,
            "crash after {crash_after}: a different result"
        );
        let calls_after = sandbox.calls();
        for key in &calls_after[calls_before..] {
            assert!(
                !completed_before.contains(key),
                "crash after {crash_after}: completed attempt {key} ran again"
            );
        }
        assert_success(&sandbox.host(&["replay", "count"]));
    }
}

fn a_crash_during_a_retry_backoff_waits_only_for_the_rest_of_it() {
    let sandbox = Sandbox::new().with_counter();
    let workflow = sandbox.workflow("counting");
    let backoff_ms = 3_000;
    // Find the boundary right after the backoff timer is recorded, from an uncrashed run.
    let probe = Sandbox::new().with_counter();
    let probe_workflow = probe.workflow("counting");
    let one_flaky_item = r#"items=["flaky fail-until-attempt=2"]"#;
    assert_success(
        &probe
            .command()
            .args([
                "run",
                probe_workflow.to_str().unwrap(),
                "--id",
                "probe",
                "--input",
                one_flaky_item,
            ])
            .env("COUNTING_BACKOFF", "10ms")
            .output()
            .unwrap(),
    );
    let timer_at = probe
        .history("probe")
        .iter()
        .position(|(event, _)| {
            matches!(
                event,
                Event::TimerStarted {
                    purpose: TimerPurpose::RetryBackoff { .. },
                    ..
                }
            )
        })
        .expect("a retry timer")
        + 1;

    let crashed = sandbox
        .command()
        .args([
            "run",
            workflow.to_str().unwrap(),
            "--id",
            "backoff",
            "--input",
            one_flaky_item,
        ])
        .env("COUNTING_BACKOFF", format!("{backoff_ms}ms"))
        .env("HOST_CRASH_AFTER_EVENTS", timer_at.to_string())
        .output()
        .unwrap();
    assert!(!crashed.status.success());
    let history = sandbox.history("backoff");
    let Some((Event::TimerStarted { fire_at_ms, .. }, _)) = history.last() else {
        panic!("the crash should come right after the timer was recorded");
    };
    std::thread::sleep(Duration::from_millis(backoff_ms as u64 * 2 / 3));
    assert_success(&sandbox.host(&["resume", "backoff"]));
    let history = sandbox.history("backoff");
    let retried_at = history
        .iter()
        .find_map(|(event, at)| {
            matches!(event, Event::ActivityStarted { attempt: 2, .. }).then_some(*at)
        })
        .expect("the second attempt ran");
    assert!(
        retried_at >= *fire_at_ms,
        "the retry ran before its backoff was over"
    );
    assert!(
        retried_at < fire_at_ms + backoff_ms / 2,
        "the retry ran {} ms after its timer was due: the resume restarted the backoff",
        retried_at - fire_at_ms
    );
}

fn a_second_process_refuses_a_live_execution_and_takes_over_a_dead_one() {
    let sandbox = Sandbox::new().with_counter();
    let workflow = sandbox.workflow("counting");
    let mut owner = sandbox
        .command()
        .args([
            "run",
            workflow.to_str().unwrap(),
            "--id",
            "slow",
            "--input",
            r#"items=["sleep-ms=4000"]"#,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !sandbox.calls().iter().any(|key| key.contains("fan")) {
        assert!(Instant::now() < deadline, "the slow activity never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let second = sandbox.host(&["resume", "slow"]);
    assert_eq!(
        second.status.code(),
        Some(5),
        "stderr: {}",
        text(&second.stderr)
    );
    assert!(
        text(&second.stderr).contains(&format!("process {}", owner.id())),
        "the refusal should name the owner: {}",
        text(&second.stderr)
    );

    owner.kill().unwrap();
    owner.wait().unwrap();
    let started = Instant::now();
    assert_success(&sandbox.host(&["resume", "slow"]));
    assert!(
        started.elapsed() < Duration::from_secs(14),
        "the dead owner's lease should be taken over at once"
    );
    let calls = sandbox.calls();
    let fan_calls: Vec<&String> = calls.iter().filter(|key| key.contains("/fan#")).collect();
    assert_eq!(
        fan_calls.len(),
        2,
        "the interrupted attempt runs again, once: {calls:?}"
    );
    assert_eq!(fan_calls[0], fan_calls[1], "with the same idempotency key");
    assert_eq!(
        calls.iter().filter(|key| key.contains("/first#")).count(),
        1,
        "the completed first stage never runs again"
    );
}

fn a_resumed_execution_uses_its_pinned_definition_not_the_edited_files() {
    let reference = Sandbox::new().with_counter();
    let workflow = reference.workflow("counting");
    assert_success(&reference.host(&["run", workflow.to_str().unwrap(), "--id", "pinned"]));
    let expected = reference.stage_outputs("pinned");

    let sandbox = Sandbox::new().with_counter();
    let workflow = sandbox.workflow("counting");
    let crashed = sandbox
        .command()
        .args(["run", workflow.to_str().unwrap(), "--id", "pinned"])
        .env("HOST_CRASH_AFTER_EVENTS", "8")
        .output()
        .unwrap();
    assert!(!crashed.status.success());
    // Edit the prompt and the workflow on disk, as an author would between two runs.
    let directory = workflow.parent().unwrap();
    std::fs::write(directory.join("fan.md"), "EDITED {{ item }}").unwrap();
    std::fs::write(directory.join("last.md"), "EDITED").unwrap();
    let edited = std::fs::read_to_string(&workflow)
        .unwrap()
        .replace("concurrency = 2", "concurrency = 1");
    std::fs::write(&workflow, edited).unwrap();
    assert_success(&sandbox.host(&["resume", "pinned"]));
    assert_eq!(sandbox.stage_outputs("pinned"), expected);
    assert!(!sandbox.calls().is_empty());
}

fn a_plugin_that_changed_since_the_start_is_refused_with_both_digests() {
    let sandbox = Sandbox::new().with_counter();
    let workflow = sandbox.workflow("gated_counting");
    assert_success(&sandbox.host(&[
        "run",
        workflow.to_str().unwrap(),
        "--id",
        "swapped",
        "--input",
        "topic=tea",
    ]));
    let pinned = sandbox
        .history("swapped")
        .into_iter()
        .find_map(|(event, _)| match event {
            Event::ExecutionStarted { plugins, .. } => plugins.get("llm").cloned(),
            _ => None,
        });
    let pinned = pinned.expect("the llm plugin is pinned");
    std::fs::copy(
        test_artifacts::HOSTILE_WASM,
        sandbox.data().join("plugins/counter.wasm"),
    )
    .unwrap();
    let approved = sandbox.host(&["signal", "approve", "swapped"]);
    assert_eq!(
        approved.status.code(),
        Some(1),
        "stderr: {}",
        text(&approved.stderr)
    );
    let history = sandbox.history("swapped");
    let error = history
        .iter()
        .find_map(|(event, _)| match event {
            Event::ActivityFailed { error, .. } if error.kind == "plugin-changed" => {
                Some(error.message.clone())
            }
            _ => None,
        })
        .expect("the changed plugin is refused");
    assert!(error.contains(&pinned.digest), "{error}");
    assert!(
        !history.iter().any(|(event, _)| matches!(event, Event::ActivityCompleted { activity, .. } if activity.0.starts_with("fan"))),
        "no result of the swapped plugin is recorded"
    );
}

support::postgres::on_both_stores!(
    a_crash_after_any_event_then_a_resume_ends_as_an_uncrashed_run,
    a_crash_during_a_retry_backoff_waits_only_for_the_rest_of_it,
    a_second_process_refuses_a_live_execution_and_takes_over_a_dead_one,
    a_resumed_execution_uses_its_pinned_definition_not_the_edited_files,
    a_plugin_that_changed_since_the_start_is_refused_with_both_digests,
);
