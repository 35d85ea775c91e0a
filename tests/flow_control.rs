//! Flow control per plugin and pausing instead of failing, through the real binary: the real
//! `openai-llm` plugin against a fake server on 127.0.0.1, several executions driven by one
//! process (`host run --batch`). The limits are measured where they matter, in the times and
//! overlaps of the requests the fake server received; a paused execution waits out an outage
//! across processes and finishes once the provider is back and it is resumed.

#[path = "real_providers/fixtures.rs"]
#[allow(dead_code)] // The fixtures serve the podcast tests too; these use a few of them.
mod fixtures;
mod support;

use std::process::Output;
use std::time::{Duration, Instant};

use fixtures::{CHAT, chat_answer, provider_environment};
use pipeline_core::Event;
use serde_json::{Value, json};
use support::fake_http::{FakeHttp, Response};
use support::{Sandbox, assert_exit, assert_success, text};

/// Writes `config.toml` into the sandbox's data directory.
fn configure(sandbox: &Sandbox, config: &str) {
    std::fs::write(sandbox.data().join("config.toml"), config).unwrap();
}

/// A command running `host <arguments>` against `server`.
fn host_against(sandbox: &Sandbox, server: &FakeHttp, arguments: &[&str]) -> std::process::Command {
    let mut command = sandbox.command();
    command.args(arguments);
    provider_environment(&mut command, server);
    command
}

/// Runs a batch of `topics` executions of the flow workflow in one process, three at once.
fn run_batch(sandbox: &Sandbox, server: &FakeHttp, topics: &[&str]) -> std::process::Child {
    let workflow = sandbox.workflow("flow_llm");
    let batch = sandbox.directory.path().join("topics.txt");
    std::fs::write(&batch, topics.join("\n")).unwrap();
    host_against(
        sandbox,
        server,
        &[
            "run",
            workflow.to_str().unwrap(),
            "--batch",
            batch.to_str().unwrap(),
            "--concurrency",
            "3",
        ],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("host starts")
}

/// The ids of every execution, as `host list --json` gives them.
fn execution_ids(sandbox: &Sandbox, status: Option<&str>) -> Vec<String> {
    let mut arguments = vec!["list", "--json"];
    if let Some(status) = status {
        arguments.extend(["--status", status]);
    }
    let listed = sandbox.host(&arguments);
    assert_success(&listed);
    let rows: Value = serde_json::from_slice(&listed.stdout).unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .map(|row| row["id"].as_str().unwrap().to_string())
        .collect()
}

/// The reasons of every `ActivityWaiting` the execution recorded.
fn slot_waits(sandbox: &Sandbox, id: &str) -> Vec<String> {
    sandbox
        .history(id)
        .into_iter()
        .filter_map(|(event, _)| match event {
            Event::ActivityWaiting { reason, .. } => Some(reason),
            _ => None,
        })
        .collect()
}

fn answered() -> Response {
    chat_answer(&json!({ "answer": "tea came by ship" }))
}

/// Two executions of one batch whose provider is down throughout: both end paused.
fn paused_by_an_outage() -> (Sandbox, FakeHttp, Vec<String>) {
    let sandbox = Sandbox::new();
    let server = FakeHttp::start();
    server.route(
        "POST",
        CHAT,
        [],
        Response::json(503, r#"{"error": {"message": "overloaded"}}"#),
    );
    let batch = finish(run_batch(&sandbox, &server, &["tea", "silk"]));
    assert_success(&batch);
    let paused = execution_ids(&sandbox, Some("paused"));
    assert_eq!(paused.len(), 2, "{}", text(&batch.stdout));
    (sandbox, server, paused)
}

fn finish(child: std::process::Child) -> Output {
    child.wait_with_output().expect("host finishes")
}

#[test]
fn a_rate_limit_holds_across_executions_driven_by_one_process() {
    let sandbox = Sandbox::new();
    let server = FakeHttp::start();
    server.route("POST", CHAT, [], answered());
    configure(&sandbox, "[limits.openai-llm]\nrequests_per_second = 4\n");
    let batch = finish(run_batch(&sandbox, &server, &["tea", "silk", "salt"]));
    assert_success(&batch);
    let received = server.arrival_times("POST", CHAT);
    assert_eq!(received.len(), 9, "three executions of three calls each");
    server.assert_paced("POST", CHAT, 4);
    let spread = received[8] - received[0];
    assert!(
        spread >= Duration::from_millis(1_750),
        "nine requests within {spread:?}"
    );
    let ids = execution_ids(&sandbox, Some("completed"));
    assert_eq!(ids.len(), 3);
    let waits: Vec<String> = ids.iter().flat_map(|id| slot_waits(&sandbox, id)).collect();
    assert!(
        waits
            .iter()
            .any(|reason| reason == "rate limit of 4 calls per second"),
        "the waits were recorded with their reason: {waits:?}"
    );
}

#[test]
fn a_concurrency_limit_holds_and_waiting_for_a_slot_shows_in_status() {
    let sandbox = Sandbox::new();
    let server = FakeHttp::start();
    server.route(
        "POST",
        CHAT,
        [],
        answered().delay(Duration::from_millis(600)),
    );
    configure(&sandbox, "[limits.openai-llm]\nconcurrency = 2\n");
    let mut batch = run_batch(&sandbox, &server, &["tea", "silk", "salt"]);
    // While the batch runs, some execution's status says it waits for a slot, and why.
    let mut seen = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.is_none() && Instant::now() < deadline && batch.try_wait().unwrap().is_none() {
        for id in execution_ids(&sandbox, Some("running")) {
            let status = sandbox.host(&["status", &id, "--json"]);
            let report: Value = serde_json::from_slice(&status.stdout).unwrap_or_default();
            if let Some(wait) = report["waiting_for_slot"]
                .as_array()
                .and_then(|waits| waits.first())
            {
                let shown = text(&sandbox.host(&["status", &id]).stdout);
                seen = Some((wait.clone(), shown));
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = finish(batch);
    assert_success(&output);
    let (wait, shown) = seen.expect("status showed an attempt waiting for a slot");
    assert_eq!(wait["plugin"], "openai-llm");
    assert_eq!(wait["reason"], "concurrency limit of 2 calls at once");
    assert!(
        shown.contains("for a slot of openai-llm (concurrency limit of 2 calls at once)"),
        "{shown}"
    );
    assert_eq!(server.requests_to("POST", CHAT).len(), 9);
    assert_eq!(
        server.most_in_flight(),
        2,
        "two calls at once, never more, across the three executions"
    );
    assert_eq!(execution_ids(&sandbox, Some("completed")).len(), 3);
}

#[test]
fn bad_limits_are_refused_with_the_problem_named_and_nothing_recorded() {
    let sandbox = Sandbox::new();
    let workflow = sandbox.workflow("flow_llm");
    let workflow = workflow.to_str().unwrap();
    for (config, expected) in [
        (
            "[limits.openai-llm]\nconcurrency = 0\n",
            "[limits.openai-llm]: concurrency must be at least 1",
        ),
        (
            "[limits.openai-llm]\nrequests_per_second = 2\nrequests_per_minute = 60\n",
            "not both",
        ),
        (
            "[limits.openai-llm]\nrequests_per_hour = 2\n",
            "requests_per_hour",
        ),
        (
            "[limits.opnai-llm]\nconcurrency = 2\n",
            "no plugin is named `opnai-llm`",
        ),
    ] {
        configure(&sandbox, config);
        let output = sandbox.host(&["run", workflow, "--input", "topic=tea"]);
        assert_exit(&output, 2, config);
        assert!(
            text(&output.stderr).contains(expected),
            "{}",
            text(&output.stderr)
        );
    }
    std::fs::remove_file(sandbox.data().join("config.toml")).unwrap();
    assert!(
        execution_ids(&sandbox, None).is_empty(),
        "nothing was recorded"
    );
}

#[test]
fn paused_executions_wait_out_an_outage_and_finish_once_resumed() {
    let (sandbox, server, paused) = paused_by_an_outage();
    let status = text(&sandbox.host(&["status", &paused[0]]).stdout);
    assert!(status.contains("Status:   paused"), "{status}");
    assert!(
        status.contains("Paused:") && status.contains("host resume"),
        "{status}"
    );
    let report: Value =
        serde_json::from_slice(&sandbox.host(&["status", &paused[0], "--json"]).stdout).unwrap();
    assert_eq!(report["pause"]["stage"], "answers");
    // Six failures in a row open the plugin's circuit breaker: the last attempts may have
    // been refused by it rather than by the provider. Either is worth another attempt.
    let kind = report["pause"]["error"]["kind"].as_str().unwrap();
    assert!(["unavailable", "circuit-open"].contains(&kind), "{kind}");

    // A worker leaves paused executions alone: nothing reaches the provider.
    let requests_before = server.requests().len();
    assert_success(
        &host_against(&sandbox, &server, &["worker"])
            .output()
            .unwrap(),
    );
    assert_eq!(server.requests().len(), requests_before);
    assert_eq!(execution_ids(&sandbox, Some("paused")).len(), 2);

    // The provider recovers; one command resumes both.
    server.route("POST", CHAT, [], answered());
    let resumed = host_against(&sandbox, &server, &["resume", "--all-paused"])
        .output()
        .unwrap();
    assert_success(&resumed);
    for id in &paused {
        assert!(
            text(&resumed.stdout).contains(&format!("{id}: completed")),
            "{}",
            text(&resumed.stdout)
        );
        let history = sandbox.history(id);
        assert!(
            history
                .iter()
                .any(|(event, _)| matches!(event, Event::ExecutionPaused { .. }))
        );
        assert!(
            history
                .iter()
                .any(|(event, _)| matches!(event, Event::ExecutionResumed { .. }))
        );
    }
    assert!(execution_ids(&sandbox, Some("paused")).is_empty());
    let nothing_left = sandbox.host(&["resume", "--all-paused", "--json"]);
    assert_success(&nothing_left);
    assert_eq!(text(&nothing_left.stdout), "", "nothing left to resume");
}

#[test]
fn a_paused_execution_can_be_cancelled_or_reset_like_any_other() {
    let (sandbox, server, paused) = paused_by_an_outage();
    assert_success(&sandbox.host(&["cancel", &paused[0]]));
    server.route("POST", CHAT, [], answered());
    // A reset runs the stage again from scratch, so the pause is over.
    let reset = host_against(&sandbox, &server, &["reset", &paused[1], "--to", "answers"])
        .output()
        .unwrap();
    assert_success(&reset);
    let status = |id: &str| {
        let report: Value =
            serde_json::from_slice(&sandbox.host(&["status", id, "--json"]).stdout).unwrap();
        report["status"].as_str().unwrap().to_string()
    };
    assert_eq!(status(&paused[0]), "cancelled");
    assert_eq!(status(&paused[1]), "completed");
}
