//! Shared by the integrity and signal tests: running the test workflows to a chosen point,
//! reading status and histories back, and checking that a refusal is clean (its exit code, a
//! message naming what is wrong, no panic).

// Each test binary compiles this module and uses a different part of it.
#![allow(dead_code)]

use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Sandbox, assert_success, text};

/// Runs the counting workflow to its end, or until the crash `crash_after` events in, and
/// checks that what was recorded replays.
pub fn run_counting(sandbox: &Sandbox, id: &str, crash_after: Option<u64>) {
    let workflow = sandbox.workflow("counting");
    let mut command = sandbox.command();
    command.args(["run", workflow.to_str().unwrap(), "--id", id]);
    if let Some(events) = crash_after {
        command.env("HOST_CRASH_AFTER_EVENTS", events.to_string());
    }
    let output = command.output().unwrap();
    match crash_after {
        None => assert_success(&output),
        Some(_) => assert!(!output.status.success(), "the run should have crashed"),
    }
    assert_success(&sandbox.host(&["replay", id]));
}

/// Runs `host <arguments>` and parses its JSON output.
pub fn json(sandbox: &Sandbox, arguments: &[&str]) -> serde_json::Value {
    let output = sandbox.host(arguments);
    assert_success(&output);
    serde_json::from_slice(&output.stdout).expect("JSON output")
}

/// `host status <id> --json`.
pub fn status(sandbox: &Sandbox, id: &str) -> serde_json::Value {
    json(sandbox, &["status", id, "--json"])
}

/// The type of every event in an execution's history, in order.
pub fn event_types(sandbox: &Sandbox, id: &str) -> Vec<&'static str> {
    sandbox
        .history(id)
        .iter()
        .map(|(event, _)| event.type_name())
        .collect()
}

/// Runs `host <arguments>` with backtraces on, so that a panic could not go unnoticed.
pub fn host_with_backtraces(sandbox: &Sandbox, arguments: &[&str]) -> Output {
    sandbox
        .command()
        .args(arguments)
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap()
}

/// Asserts a clean refusal: exit code `code`, an `error:` message containing every fragment,
/// and no panic.
pub fn assert_refused(output: &Output, code: i32, fragments: &[&str], command: &str) {
    let stderr = text(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(code),
        "`host {command}`: stdout:\n{}\nstderr:\n{stderr}",
        text(&output.stdout)
    );
    assert!(
        stderr.contains("error: "),
        "`host {command}` gave no error line: {stderr}"
    );
    for fragment in fragments {
        assert!(
            stderr.contains(fragment),
            "`host {command}` should mention `{fragment}`: {stderr}"
        );
    }
    assert_no_panic(output, command);
}

pub fn assert_no_panic(output: &Output, command: &str) {
    let stderr = text(&output.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("stack backtrace"),
        "`host {command}` panicked: {stderr}"
    );
}

/// The idempotency keys the counting plugin was called with, in order, for executions `ids`.
/// The plugin writes a key and its newline separately, so lines of concurrent calls can
/// interleave (`a/fan#0/0/1a/fan#0/1/1\n\n`); keys are recovered from where each id begins.
pub fn call_keys(sandbox: &Sandbox, ids: &[&str]) -> Vec<String> {
    let log = std::fs::read_to_string(sandbox.work().join("calls.log")).unwrap_or_default();
    let joined: String = log.split('\n').collect();
    let mut starts: Vec<usize> = ids
        .iter()
        .flat_map(|id| {
            let prefix = format!("{id}/");
            joined
                .match_indices(&prefix)
                .map(|(at, _)| at)
                .collect::<Vec<_>>()
        })
        .collect();
    starts.sort_unstable();
    starts
        .iter()
        .zip(starts.iter().skip(1).chain([&joined.len()]))
        .map(|(&start, &end)| joined[start..end].to_string())
        .collect()
}

/// Starts `host run` of the counting workflow with one slow item and waits until the slow
/// call has begun.
pub fn spawn_slow_run(sandbox: &Sandbox, id: &str, sleep_ms: u64) -> Child {
    let workflow = sandbox.workflow("counting");
    let items = format!(r#"items=["sleep-ms={sleep_ms}"]"#);
    let child = sandbox
        .command()
        .args([
            "run",
            workflow.to_str().unwrap(),
            "--id",
            id,
            "--input",
            &items,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !sandbox.calls().iter().any(|key| key.contains("/fan#")) {
        assert!(Instant::now() < deadline, "the slow activity never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}
