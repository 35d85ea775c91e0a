//! Several hosts on one PostgreSQL database, as real processes: three hosts share two hundred
//! executions with every plugin call made once; a host killed with SIGKILL mid-activity is
//! taken over by another; a host frozen (SIGSTOP) past its lease and then let go appends
//! nothing; PostgreSQL stopped and started again in the middle of the work loses nothing; a
//! plugin's rate limit holds across the hosts, not only within each.
//! Each host has its own data directory (plugins, caches, blobs) and they share the database
//! and the counting plugin's call log.

mod engine_helpers;
#[path = "real_providers/fixtures.rs"]
#[allow(dead_code)] // The fixtures serve the podcast tests too; this uses a few of them.
mod fixtures;
mod support;

use std::collections::HashMap;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use engine_helpers::spawn_slow_run;
use fixtures::{CHAT, chat_answer, provider_environment};
use pipeline_core::Event;
use support::fake_http::FakeHttp;
use support::postgres::{Postgres, fresh_database, shared};
use support::{Sandbox, assert_success, text};

/// `count` hosts on one fresh database, with the counting plugin writing one call log (the
/// first host's); `None` where PostgreSQL is not installed (a failure under CI).
fn team(count: usize, database: Option<String>) -> Option<Vec<Sandbox>> {
    let database = match database {
        Some(url) => url,
        None => {
            shared()?;
            fresh_database()
        }
    };
    let mut first = Sandbox::new();
    first.database = Some(database);
    let work = first.work();
    let mut hosts = vec![first.with_counter_writing_to(&work)];
    for _ in 1..count {
        let host = hosts[0].another_host().with_counter_writing_to(&work);
        hosts.push(host);
    }
    Some(hosts)
}

fn follow(host: &Sandbox) -> Child {
    host.command()
        .args(["worker", "--follow", "--concurrency", "8"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Stops a following worker with Ctrl-C and returns what it printed.
fn stop(worker: Child) -> String {
    // SAFETY: the pid is our own child's, still running (a follower runs until stopped).
    unsafe { libc::kill(worker.id() as i32, libc::SIGINT) };
    let output = worker.wait_with_output().unwrap();
    assert!(output.status.code().is_some(), "a worker died of a signal");
    text(&output.stdout)
}

fn listed(host: &Sandbox, arguments: &[&str]) -> Vec<serde_json::Value> {
    let output = host.host(&[&["list", "--json"], arguments].concat());
    assert_success(&output);
    serde_json::from_slice(&output.stdout).unwrap()
}

fn wait_until_all_completed(host: &Sandbox, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let rows = listed(host, &[]);
        if !rows.is_empty() && rows.iter().all(|row| row["status"] == "completed") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the hosts did not complete every execution in time: {:?}",
            rows.iter()
                .filter(|row| row["status"] != "completed")
                .take(5)
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Every call key in the log at most once.
fn assert_no_call_twice(calls: &[String]) {
    let mut seen: HashMap<&String, usize> = HashMap::new();
    for key in calls {
        *seen.entry(key).or_default() += 1;
    }
    let repeated: Vec<_> = seen.iter().filter(|(_, count)| **count > 1).collect();
    assert!(repeated.is_empty(), "calls made twice: {repeated:?}");
}

fn completions(host: &Sandbox, id: &str) -> usize {
    host.history(id)
        .iter()
        .filter(|(event, _)| matches!(event, Event::ExecutionCompleted { .. }))
        .count()
}

/// Starts `count` gated executions from the first host and approves them all without driving
/// them, so that the followers find them runnable together.
fn start_approved(host: &Sandbox, count: usize) -> Vec<String> {
    let workflow = host.workflow("gated_counting");
    let topics: String = (0..count).map(|index| format!("topic {index}\n")).collect();
    let batch = host.directory.path().join("topics.txt");
    std::fs::write(&batch, topics).unwrap();
    assert_success(&host.host(&[
        "run",
        workflow.to_str().unwrap(),
        "--batch",
        batch.to_str().unwrap(),
        "--concurrency",
        "16",
    ]));
    let ids: Vec<String> = listed(host, &["--status", "waiting_for_approval"])
        .iter()
        .map(|row| row["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), count);
    for id in &ids {
        assert_success(&host.host(&["signal", "approve", id, "--no-wait"]));
    }
    ids
}

#[test]
fn a_database_that_cannot_be_used_is_named_with_what_to_check() {
    let sandbox = Sandbox::new();
    let unreachable = sandbox
        .command()
        .args([
            "--database",
            "postgres://host:secret@127.0.0.1:1/podcasts",
            "list",
        ])
        .output()
        .unwrap();
    assert_eq!(
        unreachable.status.code(),
        Some(4),
        "{}",
        text(&unreachable.stderr)
    );
    let message = text(&unreachable.stderr);
    assert!(
        message.contains("postgres://host@127.0.0.1:1/podcasts")
            && message.contains("unreachable")
            && !message.contains("secret"),
        "the error should name the database without its password: {message}"
    );
    let not_postgres = sandbox.host(&["--database", "history.sqlite", "list"]);
    assert_eq!(
        not_postgres.status.code(),
        Some(2),
        "{}",
        text(&not_postgres.stderr)
    );
    assert!(text(&not_postgres.stderr).contains("is not a PostgreSQL URL"));
}

#[test]
fn three_hosts_share_two_hundred_executions_with_every_call_made_once() {
    let Some(hosts) = team(3, None) else { return };
    let ids = start_approved(&hosts[0], 200);
    let workers: Vec<Child> = hosts.iter().map(follow).collect();
    wait_until_all_completed(&hosts[0], Duration::from_secs(300));
    let reports: Vec<String> = workers.into_iter().map(stop).collect();

    let calls = hosts[0].calls();
    assert_eq!(
        calls.len(),
        200 * 4,
        "one draft and three fan-out calls each"
    );
    assert_no_call_twice(&calls);
    for id in &ids {
        assert_eq!(completions(&hosts[0], id), 1, "{id}");
    }
    for (index, report) in reports.iter().enumerate() {
        assert!(
            report.contains(": completed"),
            "host {index} should have driven some of the executions: {report}"
        );
    }
}

#[test]
fn a_host_killed_mid_activity_is_taken_over_by_another() {
    let Some(hosts) = team(2, None) else { return };
    let mut first = spawn_slow_run(&hosts[0], "slow", 4_000);
    first.kill().unwrap();
    first.wait().unwrap();

    assert_success(&hosts[1].host(&["resume", "slow"]));
    let calls = hosts[0].calls();
    let fan: Vec<&String> = calls.iter().filter(|key| key.contains("/fan#")).collect();
    assert_eq!(
        fan.len(),
        2,
        "the interrupted attempt runs again, once: {calls:?}"
    );
    assert_eq!(fan[0], fan[1], "with the same idempotency key");
    assert_eq!(
        calls.iter().filter(|key| key.contains("/first#")).count(),
        1,
        "the completed first stage never runs again"
    );
    assert_eq!(completions(&hosts[1], "slow"), 1);
}

#[test]
fn a_host_frozen_past_its_lease_appends_nothing_when_it_wakes() {
    let Some(hosts) = team(2, None) else { return };
    let frozen = spawn_slow_run(&hosts[0], "frozen", 1_500);
    // SAFETY: the pid is our own child's, still running.
    unsafe { libc::kill(frozen.id() as i32, libc::SIGSTOP) };
    // The frozen host's lease (15 s) runs out; until then the other host is refused.
    let refused = hosts[1].host(&["resume", "frozen"]);
    assert_eq!(refused.status.code(), Some(5), "{}", text(&refused.stderr));
    std::thread::sleep(Duration::from_secs(16));
    assert_success(&hosts[1].host(&["resume", "frozen"]));
    let events = hosts[1].history("frozen").len();
    assert_eq!(completions(&hosts[1], "frozen"), 1);

    // SAFETY: as above.
    unsafe { libc::kill(frozen.id() as i32, libc::SIGCONT) };
    let output = frozen.wait_with_output().unwrap();
    assert!(output.status.code().is_some(), "the woken host crashed");
    assert_eq!(
        hosts[1].history("frozen").len(),
        events,
        "the host that lost its lease appended after waking"
    );
    assert_success(&hosts[1].host(&["replay", "frozen"]));
}

#[test]
fn restarting_postgres_in_the_middle_of_the_work_loses_nothing() {
    let Some(server) = Postgres::start_if_installed() else {
        return;
    };
    let Some(hosts) = team(2, Some(server.new_database())) else {
        return;
    };
    let ids = start_approved(&hosts[0], 40);
    let workers: Vec<Child> = hosts.iter().map(follow).collect();
    // The drafts were made before the approvals; wait for some of the fan-out calls, so that
    // the database goes away with work in flight.
    let deadline = Instant::now() + Duration::from_secs(60);
    while hosts[0].calls().len() < 40 + 20 {
        assert!(Instant::now() < deadline, "the work never got going");
        std::thread::sleep(Duration::from_millis(5));
    }
    server.stop();
    let made_before_the_restart = hosts[0].calls().len();
    std::thread::sleep(Duration::from_secs(2));
    server.start();
    wait_until_all_completed(&hosts[0], Duration::from_secs(180));
    for worker in workers {
        stop(worker);
    }

    let calls = hosts[0].calls();
    assert!(
        made_before_the_restart < calls.len(),
        "the restart should have come in the middle of the work"
    );
    assert_eq!(
        calls.len(),
        40 * 4,
        "one draft and three fan-out calls each"
    );
    assert_no_call_twice(&calls);
    for id in &ids {
        assert_eq!(completions(&hosts[0], id), 1, "{id}");
    }
}

#[test]
fn a_rate_limit_holds_across_hosts_sharing_the_database() {
    let Some(hosts) = team(2, None) else { return };
    let server = FakeHttp::start();
    server.route(
        "POST",
        CHAT,
        [],
        chat_answer(&serde_json::json!({ "answer": "tea came by ship" })),
    );
    let batches: Vec<Child> = hosts
        .iter()
        .enumerate()
        .map(|(index, host)| {
            std::fs::write(
                host.data().join("config.toml"),
                "[limits.openai-llm]\nrequests_per_second = 4\n",
            )
            .unwrap();
            let workflow = host.workflow("flow_llm");
            let batch = host.directory.path().join("topics.txt");
            let topics: Vec<String> = (0..3)
                .map(|topic| format!("host {index} topic {topic}"))
                .collect();
            std::fs::write(&batch, topics.join("\n")).unwrap();
            let mut command = host.command();
            command.args([
                "run",
                workflow.to_str().unwrap(),
                "--batch",
                batch.to_str().unwrap(),
                "--concurrency",
                "3",
            ]);
            provider_environment(&mut command, &server);
            command
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for batch in batches {
        let output = batch.wait_with_output().unwrap();
        assert_success(&output);
    }
    let received = server.arrival_times("POST", CHAT);
    assert_eq!(
        received.len(),
        18,
        "two hosts, three executions of three calls each"
    );
    // Each host pacing itself alone would let eight a second through.
    server.assert_paced("POST", CHAT, 4);
}
