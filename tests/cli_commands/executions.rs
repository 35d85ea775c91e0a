//! The commands about executions, through the real binary: `watch` and `history` (text and
//! JSON), `run --batch`, `list` filters, `worker --follow` stopped by Ctrl-C,
//! and errors that fit on one line.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::support::{Sandbox, assert_success, text};
use super::{
    QUICK, assert_one_line_error, command_in, exit_within, host_in, json_of, log_lines,
    run_to_approval,
};

/// The `type` of every event of `history --json`, in order.
fn history_types(sandbox: &Sandbox, id: &str) -> Vec<String> {
    json_of(sandbox, &["history", id, "--json"])
        .as_array()
        .expect("history --json is an array")
        .iter()
        .map(|event| {
            event["type"]
                .as_str()
                .expect("every event has a type")
                .to_string()
        })
        .collect()
}

/// Checks `watch <id>` and `watch <id> --json` against the history as it stands: one line per
/// event (no header), numbered from 1, and one JSON object per line with `type` and `sequence`.
fn assert_watch_shows_history(sandbox: &Sandbox, id: &str) -> Vec<String> {
    let types = history_types(sandbox, id);
    let watch = host_in(sandbox, &["watch", id]);
    assert_success(&watch);
    let stdout = text(&watch.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), types.len(), "one line per event:\n{stdout}");
    for (index, (line, kind)) in lines.iter().zip(&types).enumerate() {
        let mut words = line.split_whitespace();
        assert_eq!(
            words.next(),
            Some((index + 1).to_string().as_str()),
            "{line}"
        );
        assert_eq!(words.nth(1), Some(kind.as_str()), "{line}");
    }

    let watch = host_in(sandbox, &["watch", id, "--json"]);
    assert_success(&watch);
    let stdout = text(&watch.stdout);
    let events: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect();
    assert_eq!(events.len(), types.len(), "{stdout}");
    for (index, (event, kind)) in events.iter().zip(&types).enumerate() {
        assert_eq!(event["sequence"], index + 1, "{event}");
        assert_eq!(event["type"], kind.as_str(), "{event}");
    }
    types
}

#[test]
fn watch_prints_every_event_and_stops_at_the_gate_and_at_the_end() {
    let sandbox = Sandbox::new();
    sandbox.repository_workflows("workflows");
    run_to_approval(&sandbox, "watched");

    let types = assert_watch_shows_history(&sandbox, "watched");
    assert_eq!(
        types[types.len() - 2..],
        ["ApprovalRequested", "TimerStarted"],
        "watch stops at the gate"
    );
    assert_success(&host_in(&sandbox, &["signal", "approve", "watched"]));
    let types = assert_watch_shows_history(&sandbox, "watched");
    assert_eq!(types.last().map(String::as_str), Some("ExecutionCompleted"));

    let unknown = host_in(&sandbox, &["watch", "not-an-execution"]);
    assert_one_line_error(&unknown, 2, "`not-an-execution`", "watch of an unknown id");
}

#[test]
fn watch_follows_a_running_execution_until_it_ends() {
    let sandbox = Sandbox::new().with_counter();
    let workflow = sandbox.workflow("counting");
    let mut run = sandbox
        .command()
        .args(["run", workflow.to_str().unwrap(), "--id", "live"])
        .args(["--input", r#"items=["sleep-ms=1500"]"#])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !sandbox.calls().iter().any(|key| key.contains("/fan#")) {
        assert!(Instant::now() < deadline, "the slow call never started");
        std::thread::sleep(Duration::from_millis(20));
    }

    let watch = sandbox.host(&["watch", "live", "--json"]);
    assert_success(&watch);
    assert!(exit_within(&mut run, Duration::from_secs(30), "the run").success());
    let stdout = text(&watch.stdout);
    let events: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(events.len(), sandbox.history("live").len(), "{stdout}");
    assert_eq!(
        events.last().unwrap()["type"],
        "ExecutionCompleted",
        "watch followed the execution to its end:\n{stdout}"
    );
}

#[test]
fn history_is_a_table_and_a_json_array_without_the_pinned_definition() {
    let sandbox = Sandbox::new();
    sandbox.repository_workflows("workflows");
    run_to_approval(&sandbox, "told");
    let events = sandbox.history("told");

    let table = host_in(&sandbox, &["history", "told"]);
    assert_success(&table);
    let stdout = text(&table.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(header, ["seq", "time", "type", "summary"]);
    assert_eq!(
        lines.len(),
        1 + events.len(),
        "a header and one row per event:\n{stdout}"
    );
    for (index, ((event, _), line)) in events.iter().zip(&lines[1..]).enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words[0], (index + 1).to_string(), "{line}");
        assert!(words[1].starts_with('+'), "time since the start: {line}");
        assert_eq!(words[2], event.type_name(), "{line}");
    }

    let json = json_of(&sandbox, &["history", "told", "--json"]);
    let array = json.as_array().expect("an array");
    assert_eq!(array.len(), events.len());
    for (index, ((event, at), value)) in events.iter().zip(array).enumerate() {
        assert_eq!(value["sequence"], index + 1, "{value}");
        assert_eq!(value["type"], event.type_name(), "{value}");
        assert_eq!(value["recorded_at_ms"], *at, "{value}");
    }
    assert_eq!(array[0]["type"], "ExecutionStarted");
    assert!(
        array[0].get("definition").is_none(),
        "the pinned definition is left out"
    );
    assert!(array[0]["definition_hash"].is_string(), "{}", array[0]);
    assert_eq!(array[0]["inputs"]["topic"], "the history of tea");
}

#[test]
fn a_batch_runs_one_execution_per_topic_line() {
    let sandbox = Sandbox::new();
    sandbox.repository_workflows("workflows");
    let topics = sandbox.directory.path().join("topics.txt");
    std::fs::write(
        &topics,
        "tides\n\n# not a topic\nthe history of tea\n  volcanoes  \n",
    )
    .unwrap();
    let mut arguments = vec!["run", "workflows/podcast.toml", "--batch", "topics.txt"];
    arguments.extend(["--auto-approve", "--concurrency", "2"]);
    arguments.extend(QUICK);
    let batch = host_in(&sandbox, &arguments);
    assert_success(&batch);

    let listed = json_of(&sandbox, &["list", "--json"]);
    let rows = listed.as_array().unwrap();
    assert_eq!(rows.len(), 3, "{listed:#}");
    let ids: BTreeSet<String> = rows
        .iter()
        .map(|row| row["id"].as_str().unwrap().to_string())
        .collect();
    let stdout = text(&batch.stdout);
    let printed: BTreeSet<String> = stdout.lines().map(str::to_string).collect();
    assert_eq!(
        stdout.lines().count(),
        3,
        "one line per execution:\n{stdout}"
    );
    let expected: BTreeSet<String> = ids
        .iter()
        .map(|id| {
            let history = json_of(&sandbox, &["history", id, "--json"]);
            let topic = history[0]["inputs"]["topic"].as_str().unwrap().to_string();
            format!("{id} ({topic}): completed")
        })
        .collect();
    assert_eq!(printed, expected, "each line names its topic:\n{stdout}");
    let mut topics_run = BTreeSet::new();
    for id in &ids {
        assert_eq!(
            json_of(&sandbox, &["status", id, "--json"])["status"],
            "completed"
        );
        let history = json_of(&sandbox, &["history", id, "--json"]);
        topics_run.insert(history[0]["inputs"]["topic"].as_str().unwrap().to_string());
        // Each execution has its own log file, though the batch shows no progress.
        let log = log_lines(&sandbox.data(), id);
        // Fan-out progress says how long is left, at the rate so far.
        assert!(
            log.iter().any(
                |logged| logged.starts_with("  Audio synthesis: ") && logged.ends_with(" left")
            ),
            "{id}: no time left in {log:?}"
        );
        for line in [
            "▶ Ideation",
            "⏸ Awaiting approval: approving automatically",
            "✓ Awaiting approval",
            "✓ Completed",
        ] {
            assert!(
                log.iter().any(|logged| logged.starts_with(line)),
                "{id}: {line} not in {log:?}"
            );
        }
    }
    assert_eq!(
        topics_run,
        ["the history of tea", "tides", "volcanoes"]
            .map(String::from)
            .into()
    );
    // `list` has a header and says what each execution is about, how old it is, what it cost.
    let list = text(&host_in(&sandbox, &["list"]).stdout);
    let header: Vec<&str> = list.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "WORKFLOW", "STATUS", "STAGE", "AGE", "COST", "TOPIC"]
    );
    for topic in &topics_run {
        let line = list
            .lines()
            .find(|line| line.ends_with(topic.as_str()))
            .unwrap_or_else(|| panic!("no line for {topic}:\n{list}"));
        assert!(line.contains("completed") && line.contains("USD"), "{line}");
    }

    // Refused before anything starts: a batch with an id, a batch without topics.
    std::fs::write(
        sandbox.directory.path().join("empty.txt"),
        "\n# only a comment\n\n",
    )
    .unwrap();
    let refusals = [
        (vec!["--batch", "topics.txt", "--id", "one"], "--id"),
        (vec!["--batch", "empty.txt"], "empty.txt"),
    ];
    for (extra, fragment) in refusals {
        let mut arguments = vec!["run", "workflows/podcast.toml"];
        arguments.extend(extra);
        let output = host_in(&sandbox, &arguments);
        assert_one_line_error(&output, 2, fragment, &arguments.join(" "));
    }
    assert_eq!(
        json_of(&sandbox, &["list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn list_filters_by_status_and_workflow_and_hints_when_empty() {
    let sandbox = Sandbox::new().with_counter();
    sandbox.repository_workflows("workflows");
    let empty = host_in(&sandbox, &["list"]);
    assert_success(&empty);
    let hint = text(&empty.stdout);
    assert!(
        hint.starts_with("No executions yet") && hint.contains("host run "),
        "{hint}"
    );
    assert_eq!(
        json_of(&sandbox, &["list", "--json"]),
        serde_json::json!([])
    );

    run_to_approval(&sandbox, "waiting");
    let mut arguments = vec![
        "run",
        "workflows/podcast.toml",
        "--id",
        "done",
        "--auto-approve",
    ];
    arguments.extend(["--input", "topic=tides"]);
    arguments.extend(QUICK);
    assert_success(&host_in(&sandbox, &arguments));
    let counting = sandbox.workflow("counting");
    assert_success(&host_in(
        &sandbox,
        &["run", counting.to_str().unwrap(), "--id", "counted"],
    ));

    let ids = |arguments: &[&str]| -> BTreeSet<String> {
        let mut all = vec!["list", "--json"];
        all.extend(arguments);
        json_of(&sandbox, &all)
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["id"].as_str().unwrap().to_string())
            .collect()
    };
    let set = |names: &[&str]| -> BTreeSet<String> {
        names.iter().map(|name| name.to_string()).collect()
    };
    assert_eq!(ids(&[]), set(&["waiting", "done", "counted"]));
    assert_eq!(
        ids(&["--status", "completed", "--workflow", "podcast"]),
        set(&["done"])
    );
    assert_eq!(ids(&["--status", "completed"]), set(&["done", "counted"]));
    assert_eq!(ids(&["--workflow", "podcast"]), set(&["waiting", "done"]));
    assert_eq!(
        ids(&["--status", "waiting_for_approval"]),
        set(&["waiting"])
    );
    assert_eq!(ids(&["--status", "failed"]), set(&[]));

    let table = host_in(
        &sandbox,
        &["list", "--status", "completed", "--workflow", "podcast"],
    );
    assert_success(&table);
    let stdout = text(&table.stdout);
    assert_eq!(stdout.lines().count(), 2, "a header and one row:\n{stdout}");
    let row = stdout.lines().nth(1).unwrap();
    assert!(
        row.starts_with("done ") && row.contains("completed"),
        "{stdout}"
    );
}

#[test]
fn a_following_worker_completes_an_approved_execution_and_stops_on_ctrl_c() {
    let sandbox = Sandbox::new();
    sandbox.repository_workflows("workflows");
    run_to_approval(&sandbox, "followed");
    let mut worker = command_in(&sandbox)
        .args(["worker", "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Longer than a poll interval: a follower keeps going when there is nothing to do.
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        worker.try_wait().unwrap().is_none(),
        "worker --follow exited on its own"
    );

    assert_success(&host_in(
        &sandbox,
        &["signal", "approve", "followed", "--no-wait"],
    ));
    // Polled through `list`, which reads only the executions table: `status` would race the
    // worker's commits (see the test of reads during a drive below).
    let deadline = Instant::now() + Duration::from_secs(30);
    while json_of(&sandbox, &["list", "--status", "completed", "--json"]) == serde_json::json!([]) {
        assert!(
            Instant::now() < deadline,
            "the follower did not complete it within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        json_of(&sandbox, &["status", "followed", "--json"])["status"],
        "completed"
    );

    let pid = libc::pid_t::try_from(worker.id()).unwrap();
    // SAFETY: kill(2) with a pid this test spawned and has not reaped; it only sends a signal.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let exit = exit_within(
        &mut worker,
        Duration::from_secs(10),
        "the interrupted worker",
    );
    let output = worker.wait_with_output().unwrap();
    // Idle when interrupted, it stops between polls with nothing left half-done: success, not
    // 130, which is for a drive cut short.
    assert_eq!(exit.code(), Some(0), "stderr:\n{}", text(&output.stderr));
    // Timestamped lines: the worker's start, each execution picked up and how it ended.
    let stdout = text(&output.stdout);
    let lines: Vec<&str> = stdout
        .lines()
        .map(|line| {
            line.split_once(' ').map_or(line, |(time, rest)| {
                assert!(
                    time.ends_with('Z') && time.contains('T'),
                    "no timestamp on `{line}`"
                );
                rest
            })
        })
        .collect();
    assert!(lines[0].starts_with("worker started: process "), "{stdout}");
    assert!(lines[0].ends_with(", following until stopped"), "{stdout}");
    assert_eq!(
        lines[1..],
        ["followed: picked up", "followed: completed"],
        "{stdout}"
    );
    assert!(
        text(&output.stderr).contains("Stopping"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn reading_an_execution_while_another_process_drives_it_never_reports_corruption() {
    let sandbox = Sandbox::new();
    sandbox.repository_workflows("workflows");
    let mut arguments = vec![
        "run",
        "workflows/podcast.toml",
        "--id",
        "busy",
        "--auto-approve",
    ];
    arguments.extend(["--input", "topic=tides"]);
    arguments.extend(QUICK);
    let mut run = command_in(&sandbox)
        .args(&arguments)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Three readers at once, each loading the history again and again while it grows.
    let finished = std::sync::atomic::AtomicBool::new(false);
    let (reads, failures) = std::thread::scope(|scope| {
        let readers: Vec<_> = (0..3)
            .map(|_| {
                scope.spawn(|| {
                    let (mut reads, mut failures) = (0, Vec::new());
                    while !finished.load(std::sync::atomic::Ordering::Relaxed) {
                        let status = host_in(&sandbox, &["status", "busy", "--json"]);
                        reads += 1;
                        // Before the first commit the id is unknown (exit 2), which is fine.
                        if !matches!(status.status.code(), Some(0 | 2)) {
                            failures.push(text(&status.stderr));
                        }
                    }
                    (reads, failures)
                })
            })
            .collect();
        let exit = exit_within(&mut run, Duration::from_secs(30), "the run");
        finished.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(exit.success(), "the run failed");
        readers
            .into_iter()
            .map(|reader| reader.join().unwrap())
            .fold((0, Vec::new()), |(reads, mut failures), (more, found)| {
                failures.extend(found);
                (reads + more, failures)
            })
    });
    assert!(
        failures.is_empty(),
        "{} of {reads} reads during the drive failed:\n{}",
        failures.len(),
        failures.join("")
    );
    assert_eq!(
        json_of(&sandbox, &["status", "busy", "--json"])["status"],
        "completed"
    );
}

#[test]
fn an_unknown_id_is_one_error_line_naming_it() {
    let sandbox = Sandbox::new();
    sandbox.repository_workflows("workflows");
    // A database with one execution in it, so the lookups really search.
    run_to_approval(&sandbox, "known");
    let id = "no-such-execution";
    let commands: [&[&str]; 9] = [
        &["status", id],
        &["status", id, "--json"],
        &["history", id],
        &["history", id, "--json"],
        &["resume", id],
        &["cancel", id],
        &["reset", id, "--to", "ideation"],
        &["replay", id],
        &["watch", id],
    ];
    for arguments in commands {
        let output = command_in(&sandbox)
            .args(arguments)
            .env("RUST_BACKTRACE", "1")
            .output()
            .unwrap();
        assert_one_line_error(&output, 2, &format!("`{id}`"), &arguments.join(" "));
    }
}

#[test]
fn an_unreadable_workflow_path_is_one_error_line_naming_it() {
    let sandbox = Sandbox::new();
    sandbox.repository_workflows("workflows");
    let commands: [&[&str]; 4] = [
        &["run", "missing/podcast.toml", "--input", "topic=tides"],
        &["validate", "missing/podcast.toml"],
        // A directory where a file is expected.
        &["run", "workflows", "--input", "topic=tides"],
        &["validate", "workflows"],
    ];
    for arguments in commands {
        let output = command_in(&sandbox)
            .args(arguments)
            .env("RUST_BACKTRACE", "1")
            .output()
            .unwrap();
        assert_one_line_error(&output, 2, arguments[1], &arguments.join(" "));
    }
    assert_eq!(
        json_of(&sandbox, &["list", "--json"]),
        serde_json::json!([])
    );
}
