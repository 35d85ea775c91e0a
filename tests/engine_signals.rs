//! Signals and lifecycle commands with real processes: refused signals record nothing; a signal
//! is durable when no process drives the execution; approval reminders; `host cancel` stops an
//! activity in flight in another process; `host reset` re-runs from a stage; Ctrl-C leaves an
//! execution resumable; `host worker` finishes executions whose owner crashed.

mod engine_helpers;
mod support;

use std::time::{Duration, Instant};

use engine_helpers::{
    assert_refused, call_keys, event_types, json, run_counting, spawn_slow_run, status,
};
use pipeline_core::{Event, Signal};
use support::{Sandbox, assert_success, completed_keys, exit_within, text};

/// Runs the approval workflow; it stops at its gate and the process exits.
fn run_to_approval(sandbox: &Sandbox, id: &str) {
    let workflow = sandbox.workflow("approval");
    assert_success(&sandbox.host(&["run", workflow.to_str().unwrap(), "--id", id]));
    assert_eq!(status(sandbox, id)["status"], "waiting_for_approval");
}

fn refused_signals_record_nothing() {
    let sandbox = Sandbox::new().with_counter();
    run_to_approval(&sandbox, "gate");
    run_counting(&sandbox, "busy", Some(5));
    run_counting(&sandbox, "done", None);
    let files = sandbox.directory.path();
    std::fs::write(files.join("not-json.json"), "this is { not json").unwrap();
    std::fs::write(files.join("wrong-shape.json"), r#"{"headline": "x"}"#).unwrap();
    let not_json = files.join("not-json.json");
    let wrong_shape = files.join("wrong-shape.json");
    let absent = files.join("absent.json");
    let ids = ["gate", "busy", "done"];
    let counts = |sandbox: &Sandbox| -> Vec<usize> {
        ids.iter().map(|id| sandbox.history(id).len()).collect()
    };
    let before = counts(&sandbox);

    let cases: Vec<(Vec<&str>, i32, Vec<&str>)> = vec![
        (vec!["signal", "approve", "nosuch"], 2, vec!["`nosuch`"]),
        (
            vec!["signal", "reject", "nosuch", "--feedback", "no"],
            2,
            vec!["`nosuch`"],
        ),
        (vec!["cancel", "nosuch"], 2, vec!["`nosuch`"]),
        (
            vec!["signal", "approve", "busy"],
            3,
            vec!["busy", "not waiting for approval"],
        ),
        (
            vec!["signal", "reject", "busy", "--feedback", "no"],
            3,
            vec!["busy", "not waiting for approval"],
        ),
        (
            vec!["signal", "approve", "done"],
            3,
            vec!["done", "already ended"],
        ),
        (vec!["cancel", "done"], 3, vec!["done", "already ended"]),
        (
            vec!["signal", "reject", "gate", "--feedback", ""],
            3,
            vec!["feedback"],
        ),
        (
            vec!["signal", "reject", "gate", "--feedback", "   "],
            3,
            vec!["feedback"],
        ),
        (
            vec![
                "signal",
                "approve",
                "gate",
                "--outline",
                not_json.to_str().unwrap(),
            ],
            3,
            vec!["not-json.json", "not valid JSON"],
        ),
        (
            vec![
                "signal",
                "approve",
                "gate",
                "--outline",
                wrong_shape.to_str().unwrap(),
            ],
            3,
            vec!["does not match schema"],
        ),
        (
            vec![
                "signal",
                "approve",
                "gate",
                "--outline",
                absent.to_str().unwrap(),
            ],
            3,
            vec!["absent.json"],
        ),
    ];
    for (arguments, code, fragments) in cases {
        let command = arguments.join(" ");
        let output = sandbox.host(&arguments);
        assert_refused(&output, code, &fragments, &command);
        assert_eq!(
            counts(&sandbox),
            before,
            "`host {command}` recorded something"
        );
    }
    let listed = json(&sandbox, &["list", "--json"]);
    assert_eq!(
        listed.as_array().map(Vec::len),
        Some(3),
        "no execution may appear for an unknown id: {listed}"
    );
    assert_eq!(status(&sandbox, "gate")["status"], "waiting_for_approval");
}

fn a_signal_is_recorded_durably_when_no_process_drives_the_execution() {
    let sandbox = Sandbox::new();
    run_to_approval(&sandbox, "later");
    let edited = sandbox.directory.path().join("edited.json");
    std::fs::write(&edited, r#"{"title": "An edited title"}"#).unwrap();
    assert_success(&sandbox.host(&[
        "signal",
        "approve",
        "later",
        "--no-wait",
        "--outline",
        edited.to_str().unwrap(),
        "--feedback",
        "shorter, please",
    ]));
    let history = sandbox.history("later");
    let Some((Event::SignalReceived { signal }, _)) = history.last() else {
        panic!("the signal should be the last event, with nothing after it: {history:?}");
    };
    assert_eq!(
        signal,
        &Signal::Approve {
            replacement: Some(serde_json::json!({ "title": "An edited title" })),
            feedback: Some("shorter, please".into()),
            budget_micros: None,
        }
    );
    // Nothing was driven on: the signal waits in the history for whoever resumes.
    assert_eq!(status(&sandbox, "later")["status"], "waiting_for_approval");

    assert_success(&sandbox.host(&["resume", "later"]));
    assert_eq!(status(&sandbox, "later")["status"], "completed");
    let history = sandbox.history("later");
    let approval = history
        .iter()
        .find_map(|(event, _)| match event {
            Event::StageCompleted { stage, output } if stage.0 == "approval" => Some(output),
            _ => None,
        })
        .expect("the approval stage completed");
    assert_eq!(approval["approved"]["title"], "An edited title");
    assert_eq!(approval["edited"], true);
    assert_eq!(approval["feedback"], "shorter, please");
    let final_input = history
        .iter()
        .find_map(|(event, _)| match event {
            Event::ActivityScheduled { stage, input, .. } if stage.0 == "final" => Some(input),
            _ => None,
        })
        .expect("the final stage ran");
    assert!(
        final_input.to_string().contains("An edited title"),
        "the final stage should use the approved replacement: {final_input}"
    );
    assert_success(&sandbox.host(&["replay", "later"]));
}

fn an_approval_pending_past_its_reminder_time_is_flagged_once() {
    let sandbox = Sandbox::new();
    run_to_approval(&sandbox, "slow");
    std::thread::sleep(Duration::from_millis(1_500));
    let worker = sandbox.host(&["worker"]);
    assert_success(&worker);
    assert!(
        text(&worker.stdout).contains("slow: waiting_for_approval"),
        "{}",
        text(&worker.stdout)
    );
    let reminders = |sandbox: &Sandbox| {
        event_types(sandbox, "slow")
            .iter()
            .filter(|kind| **kind == "ApprovalReminder")
            .count()
    };
    assert_eq!(
        reminders(&sandbox),
        1,
        "{:?}",
        event_types(&sandbox, "slow")
    );
    let approval = &status(&sandbox, "slow")["approval"];
    assert_eq!(approval["reminder"], true, "{approval}");
    assert_eq!(approval["stage"], "approval", "{approval}");
    let text_status = sandbox.host(&["status", "slow"]);
    assert_success(&text_status);
    assert!(
        text(&text_status.stdout).contains("WARNING"),
        "{}",
        text(&text_status.stdout)
    );
    assert_success(&sandbox.host(&["worker"]));
    assert_eq!(reminders(&sandbox), 1, "the reminder is recorded once");
    assert_success(&sandbox.host(&["replay", "slow"]));

    assert_success(&sandbox.host(&["signal", "approve", "slow"]));
    assert_eq!(status(&sandbox, "slow")["status"], "completed");
    assert_success(&sandbox.host(&["replay", "slow"]));
}

fn a_gate_takes_one_decision_and_later_signals_for_it_are_refused() {
    let sandbox = Sandbox::new();
    run_to_approval(&sandbox, "decided");
    assert_success(&sandbox.host(&["signal", "approve", "decided", "--no-wait"]));
    let recorded = sandbox.history("decided").len();
    // The gate is decided (approved) though nobody has driven it on yet; a rejection now would
    // be recorded and then silently ignored, so it must be refused.
    let reject = sandbox.host(&["signal", "reject", "decided", "--feedback", "too late"]);
    assert_refused(&reject, 3, &["decided"], "reject after approve");
    let again = sandbox.host(&["signal", "approve", "decided", "--no-wait"]);
    assert_refused(&again, 3, &["decided"], "second approve");
    assert_eq!(sandbox.history("decided").len(), recorded);
}

fn a_signal_given_at_one_gate_never_decides_a_later_gate() {
    let sandbox = Sandbox::new();
    let workflow = sandbox.workflow("two_gates");
    assert_success(&sandbox.host(&["run", workflow.to_str().unwrap(), "--id", "twice"]));
    assert_success(&sandbox.host(&["signal", "approve", "twice", "--no-wait"]));
    // A repeated approval (a retried request, a double click in a UI) is refused or at most
    // recorded; either way it belongs to the gate that was waiting when it was given.
    let repeated = sandbox.host(&["signal", "approve", "twice", "--no-wait"]);
    assert!(
        matches!(repeated.status.code(), Some(0 | 3)),
        "{}",
        text(&repeated.stderr)
    );
    assert_success(&sandbox.host(&["resume", "twice"]));
    let status = status(&sandbox, "twice");
    assert_eq!(
        status["status"], "waiting_for_approval",
        "nobody has seen the revision, so its gate must wait: {status}"
    );
    assert_eq!(status["approval"]["stage"], "revision_approval", "{status}");
}

fn cancel_stops_an_activity_in_flight_in_another_process() {
    let sandbox = Sandbox::new().with_counter();
    let mut owner = spawn_slow_run(&sandbox, "doomed", 5_000);
    let events_in_flight = sandbox.history("doomed").len();
    let reset = sandbox.host(&["reset", "doomed", "--to", "first"]);
    assert_refused(
        &reset,
        5,
        &["doomed", "process"],
        "reset of a driven execution",
    );
    let approve = sandbox.host(&["signal", "approve", "doomed"]);
    assert_refused(
        &approve,
        3,
        &["not waiting for approval"],
        "approve while running",
    );
    assert_eq!(sandbox.history("doomed").len(), events_in_flight);
    let started = Instant::now();
    let cancel = sandbox.host(&["cancel", "doomed"]);
    assert_success(&cancel);
    assert!(
        text(&cancel.stdout).contains("doomed: cancelled"),
        "{}",
        text(&cancel.stdout)
    );
    let exit = exit_within(&mut owner, Duration::from_secs(4), "the cancelled run");
    assert_eq!(exit.code(), Some(1));
    assert!(
        started.elapsed() < Duration::from_millis(3_000),
        "the owner should stop well before its 5 s call ends, took {:?}",
        started.elapsed()
    );
    assert_eq!(status(&sandbox, "doomed")["status"], "cancelled");
    let types = event_types(&sandbox, "doomed");
    assert_eq!(types.last(), Some(&"ExecutionCancelled"), "{types:?}");
    assert_eq!(
        types
            .iter()
            .filter(|kind| **kind == "ActivityCompleted")
            .count(),
        1,
        "only the first stage completed: {types:?}"
    );
    let calls = sandbox.calls();
    let resumed = sandbox.host(&["resume", "doomed"]);
    assert_eq!(resumed.status.code(), Some(1), "{}", text(&resumed.stderr));
    assert_eq!(sandbox.calls(), calls, "a cancelled execution runs nothing");
    assert!(!calls.iter().any(|key| key.contains("/last#")));
    assert_success(&sandbox.host(&["replay", "doomed"]));
}

fn cancel_works_on_executions_no_process_drives() {
    let sandbox = Sandbox::new().with_counter();
    // Crashed with the first fan-out attempt started but never finished.
    let workflow = sandbox.workflow("counting");
    let crashed = sandbox
        .command()
        .args(["run", workflow.to_str().unwrap(), "--id", "orphan"])
        .env("HOST_CRASH_AFTER_EVENTS", "11")
        .output()
        .unwrap();
    assert!(!crashed.status.success());
    assert_eq!(
        event_types(&sandbox, "orphan").last(),
        Some(&"ActivityStarted")
    );
    run_to_approval(&sandbox, "gate");
    let calls = sandbox.calls();

    for id in ["orphan", "gate"] {
        let cancel = sandbox.host(&["cancel", id]);
        assert_success(&cancel);
        assert!(
            text(&cancel.stdout).contains(&format!("{id}: cancelled")),
            "{}",
            text(&cancel.stdout)
        );
        assert_eq!(status(&sandbox, id)["status"], "cancelled");
        assert_eq!(
            event_types(&sandbox, id).last(),
            Some(&"ExecutionCancelled")
        );
        assert_success(&sandbox.host(&["replay", id]));
    }
    assert_eq!(
        sandbox.calls(),
        calls,
        "cancelling must not run the cut-off attempt again"
    );
}

fn reset_runs_the_stage_and_everything_after_it_again() {
    let sandbox = Sandbox::new().with_counter();
    run_counting(&sandbox, "again", None);
    let calls_before = call_keys(&sandbox, &["again"]).len();
    let events_before = sandbox.history("again").len();

    let unknown = sandbox.host(&["reset", "again", "--to", "nowhere"]);
    assert_refused(
        &unknown,
        2,
        &["nowhere", "first, fan, last"],
        "reset --to nowhere",
    );
    assert_eq!(sandbox.history("again").len(), events_before);

    assert_success(&sandbox.host(&["reset", "again", "--to", "fan"]));
    let new_calls = call_keys(&sandbox, &["again"])[calls_before..].to_vec();
    assert!(
        !new_calls.iter().any(|key| key.contains("/first#")),
        "the first stage keeps its result: {new_calls:?}"
    );
    for expected in [
        "again/fan#1/0/1",
        "again/fan#1/1/1",
        "again/fan#1/2/1",
        "again/last#1/1",
    ] {
        assert!(
            new_calls.iter().any(|key| key == expected),
            "{expected} should have run: {new_calls:?}"
        );
    }
    let history = sandbox.history("again");
    let reset_at = history
        .iter()
        .position(|(event, _)| matches!(event, Event::ExecutionReset { .. }))
        .expect("the reset is recorded");
    assert_eq!(reset_at, events_before, "the reset follows the old history");
    let scheduled: Vec<String> = history[reset_at..]
        .iter()
        .filter_map(|(event, _)| match event {
            Event::ActivityScheduled { activity, .. } => Some(activity.0.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(scheduled, ["fan#1/0", "fan#1/1", "fan#1/2", "last#1"]);
    assert_eq!(status(&sandbox, "again")["status"], "completed");
    assert_success(&sandbox.host(&["replay", "again"]));
}

fn ctrl_c_stops_a_run_that_resume_then_completes() {
    let sandbox = Sandbox::new().with_counter();
    let mut owner = spawn_slow_run(&sandbox, "interrupted", 1_500);
    let pid = libc::pid_t::try_from(owner.id()).unwrap();
    // SAFETY: kill(2) with a pid this test spawned and has not reaped; it only sends a signal.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let signalled = Instant::now();
    let exit = exit_within(&mut owner, Duration::from_secs(10), "the interrupted run");
    assert_eq!(exit.code(), Some(130));
    assert!(
        signalled.elapsed() < Duration::from_millis(1_200),
        "Ctrl-C should drop the call in flight rather than wait for it, took {:?}",
        signalled.elapsed()
    );
    let types = event_types(&sandbox, "interrupted");
    assert!(
        !types.contains(&"ExecutionCancelled") && types.last() == Some(&"ActivityStarted"),
        "an interruption records nothing: {types:?}"
    );
    let completed_before = completed_keys(&sandbox.history("interrupted"));

    assert_success(&sandbox.host(&["resume", "interrupted"]));
    assert_eq!(status(&sandbox, "interrupted")["status"], "completed");
    let calls = call_keys(&sandbox, &["interrupted"]);
    let fan: Vec<&String> = calls.iter().filter(|key| key.contains("/fan#")).collect();
    assert_eq!(fan.len(), 2, "the interrupted call runs again: {calls:?}");
    assert_eq!(fan[0], fan[1], "with the same idempotency key");
    for key in &completed_before {
        assert_eq!(
            calls.iter().filter(|call| *call == key).count(),
            1,
            "{key} completed before the interruption and must not run again"
        );
    }
    assert_success(&sandbox.host(&["replay", "interrupted"]));
}

fn a_malformed_crash_setting_is_refused_before_anything_runs() {
    let sandbox = Sandbox::new().with_counter();
    let workflow = sandbox.workflow("counting");
    let output = sandbox
        .command()
        .args(["run", workflow.to_str().unwrap(), "--id", "never"])
        .env("HOST_CRASH_AFTER_EVENTS", "abc")
        .output()
        .unwrap();
    assert_refused(
        &output,
        2,
        &["HOST_CRASH_AFTER_EVENTS", "`abc`"],
        "run with HOST_CRASH_AFTER_EVENTS=abc",
    );
    assert!(sandbox.calls().is_empty());
    assert_eq!(json(&sandbox, &["list", "--json"]), serde_json::json!([]));
}

fn a_worker_finishes_executions_whose_owner_crashed() {
    let sandbox = Sandbox::new().with_counter();
    run_counting(&sandbox, "early", Some(5));
    run_counting(&sandbox, "midway", Some(15));
    let completed_before: Vec<String> = ["early", "midway"]
        .iter()
        .flat_map(|id| completed_keys(&sandbox.history(id)))
        .collect();
    let calls_before = call_keys(&sandbox, &["early", "midway"]).len();

    let started = Instant::now();
    let worker = sandbox.host(&["worker"]);
    assert_success(&worker);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "dead owners' leases should be taken over at once"
    );
    let stdout = text(&worker.stdout);
    for id in ["early", "midway"] {
        assert!(stdout.contains(&format!("{id}: completed")), "{stdout}");
    }
    let listed = json(&sandbox, &["list", "--json"]);
    for row in listed.as_array().unwrap() {
        assert_eq!(row["status"], "completed", "{listed}");
    }
    for key in &call_keys(&sandbox, &["early", "midway"])[calls_before..] {
        assert!(
            !completed_before.contains(key),
            "completed attempt {key} ran again"
        );
    }
    for id in ["early", "midway"] {
        assert_success(&sandbox.host(&["replay", id]));
    }
}

support::postgres::on_both_stores!(
    refused_signals_record_nothing,
    a_signal_is_recorded_durably_when_no_process_drives_the_execution,
    an_approval_pending_past_its_reminder_time_is_flagged_once,
    a_gate_takes_one_decision_and_later_signals_for_it_are_refused,
    a_signal_given_at_one_gate_never_decides_a_later_gate,
    cancel_stops_an_activity_in_flight_in_another_process,
    cancel_works_on_executions_no_process_drives,
    reset_runs_the_stage_and_everything_after_it_again,
    ctrl_c_stops_a_run_that_resume_then_completes,
    a_malformed_crash_setting_is_refused_before_anything_runs,
    a_worker_finishes_executions_whose_owner_crashed,
);
