//! `host schedule` through the real binary: a schedule due every two seconds (cron with a
//! seconds field) run by real `host worker --follow` processes on the counting plugin, crashed
//! right after starting a run and before moving the schedule on, killed with SIGKILL, and
//! restarted. Each due time starts one run at most, every run completes once, and a downtime's
//! missed due times start only the latest of them. Each test runs on SQLite and on
//! PostgreSQL, where the schedules are kept in the shared database.

mod support;

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use support::{Sandbox, assert_exit, assert_success, completed_keys, exit_within, text};

const SCHEDULE: &str = "every2";

support::postgres::on_both_stores!(
    a_schedule_fires_once_per_due_time_across_crashes_and_a_kill_9_of_the_worker,
    bad_schedules_are_refused_with_the_problem_named_and_nothing_recorded,
);

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn worker(sandbox: &Sandbox, crash_after_events: Option<u32>) -> Child {
    let mut command: Command = sandbox.command();
    command
        .args(["worker", "--follow"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(events) = crash_after_events {
        command.env("HOST_CRASH_AFTER_EVENTS", events.to_string());
    }
    command.spawn().expect("worker starts")
}

/// Every execution as `host list --json` gives it: (id, status).
fn executions(sandbox: &Sandbox) -> Vec<(String, String)> {
    let listed = sandbox.host(&["list", "--json"]);
    assert_success(&listed);
    let rows: Value = serde_json::from_slice(&listed.stdout).unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["id"].as_str().unwrap().to_string(),
                row["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The schedule as `host schedule list --json` gives it.
fn schedule(sandbox: &Sandbox) -> Value {
    let listed = sandbox.host(&["schedule", "list", "--json"]);
    assert_success(&listed);
    let rows: Value = serde_json::from_slice(&listed.stdout).unwrap();
    rows.as_array().unwrap()[0].clone()
}

/// The due time (ms since the epoch) a run's id names: `every2-20261203T191536`.
fn due_ms(execution_id: &str) -> i64 {
    let stamp = execution_id
        .strip_prefix("every2-")
        .expect("a scheduled run");
    let (date, time) = stamp.split_once('T').unwrap();
    let number = |text: &str| text.parse::<i64>().unwrap();
    let (year, month, day) = (number(&date[..4]), number(&date[4..6]), number(&date[6..]));
    // Days from the civil date (Howard Hinnant's algorithm), as the host computes them.
    let shifted = if month <= 2 { year - 1 } else { year };
    let era = shifted.div_euclid(400);
    let year_of_era = shifted - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let days = era * 146_097 + year_of_era * 365 + year_of_era / 4 - year_of_era / 100
        + day_of_year
        - 719_468;
    let seconds = number(&time[..2]) * 3600 + number(&time[2..4]) * 60 + number(&time[4..]);
    (days * 86_400 + seconds) * 1000
}

/// Waits until `enough` holds for the executions, for at most a minute.
fn wait_for(sandbox: &Sandbox, what: &str, enough: impl Fn(&[(String, String)]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !enough(&executions(sandbox)) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn a_schedule_fires_once_per_due_time_across_crashes_and_a_kill_9_of_the_worker() {
    let sandbox = Sandbox::new().with_counter();
    let workflow = sandbox.workflow("counting");
    let added = sandbox.host(&[
        "schedule",
        "add",
        SCHEDULE,
        "--cron",
        "*/2 * * * * *",
        workflow.to_str().unwrap(),
    ]);
    assert_success(&added);

    // A worker that dies right after recording its first event: the start of the first due
    // run, before the schedule is moved on.
    let mut crashing = worker(&sandbox, Some(1));
    let status = exit_within(&mut crashing, Duration::from_secs(60), "crashing worker");
    assert!(!status.success(), "the worker aborted as told");
    let started = executions(&sandbox);
    assert_eq!(started.len(), 1, "{started:?}");
    let first = started[0].0.clone();
    assert_eq!(
        schedule(&sandbox)["last_execution"],
        Value::Null,
        "the crash came before the schedule moved on"
    );
    assert_eq!(schedule(&sandbox)["next_due_ms"], due_ms(&first));

    // The next worker finds the first due run started, does not start it again, drives it,
    // and goes on with the later due times; then it is killed with SIGKILL.
    let mut following = worker(&sandbox, None);
    wait_for(&sandbox, "three completed runs", |rows| {
        rows.iter()
            .filter(|(_, status)| status == "completed")
            .count()
            >= 3
    });
    following.kill().unwrap();
    following.wait().unwrap();
    let killed_at = now_ms();

    // Down for more than two due times; the restarted worker starts only the latest missed.
    std::thread::sleep(Duration::from_millis(4_500));
    let restarted_at = now_ms();
    let before_restart = executions(&sandbox).len();
    let mut following = worker(&sandbox, None);
    wait_for(&sandbox, "two runs after the restart", |rows| {
        rows.len() >= before_restart + 2
    });
    following.kill().unwrap();
    following.wait().unwrap();

    // No schedule any more; one pass drives what the last kill cut short.
    assert_success(&sandbox.host(&["schedule", "remove", SCHEDULE]));
    assert_success(&sandbox.host(&["worker"]));

    let runs = executions(&sandbox);
    let due_times: BTreeSet<i64> = runs.iter().map(|(id, _)| due_ms(id)).collect();
    assert_eq!(
        due_times.len(),
        runs.len(),
        "one run per due time: {runs:?}"
    );
    assert!(
        due_times.iter().all(|due| due % 2_000 == 0),
        "{due_times:?}"
    );
    assert!(runs.iter().any(|(id, _)| *id == first));
    assert!(
        runs.iter().all(|(_, status)| status == "completed"),
        "{runs:?}"
    );
    let missed: Vec<&i64> = due_times
        .iter()
        .filter(|due| (killed_at..restarted_at).contains(due))
        .collect();
    assert!(
        missed.len() <= 1,
        "the downtime's due times ran at most once, the latest: {missed:?}"
    );
    // Every completed call was made once: no run, and no step of one, went twice.
    let mut keys = Vec::new();
    for (id, _) in &runs {
        keys.extend(completed_keys(&sandbox.history(id)));
    }
    let distinct: BTreeSet<&String> = keys.iter().collect();
    assert_eq!(distinct.len(), keys.len(), "a completed step ran twice");
}

fn bad_schedules_are_refused_with_the_problem_named_and_nothing_recorded() {
    let sandbox = Sandbox::new().with_counter();
    let workflow = sandbox.workflow("counting");
    let workflow = workflow.to_str().unwrap();
    // `host schedule add NAME --cron CRON WORKFLOW [MORE...]`.
    let add = |name: &'static str, cron: &'static str, workflow: &str, more: &[&'static str]| {
        let mut arguments = vec!["schedule".to_string(), "add".into(), name.into()];
        arguments.extend(["--cron".to_string(), cron.into(), workflow.into()]);
        arguments.extend(more.iter().map(|argument| argument.to_string()));
        arguments
    };
    for (arguments, expected) in [
        (
            add("weekly", "every monday", workflow, &[]),
            "`every monday` is not a cron expression",
        ),
        (
            add("weekly", "0 6 * * FUNDAY", workflow, &[]),
            "is not a cron expression",
        ),
        (
            add("weekly/tea", "0 6 * * MON", workflow, &[]),
            "cannot be a schedule name",
        ),
        (
            add("weekly", "0 6 * * MON", "missing.toml", &[]),
            "missing.toml",
        ),
        (
            add(
                "weekly",
                "0 6 * * MON",
                workflow,
                &["--input", "colour=red"],
            ),
            "colour",
        ),
        (
            vec!["schedule".into(), "remove".into(), "weekly".into()],
            "no schedule is named `weekly`",
        ),
    ] {
        let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();
        let output = sandbox.host(&arguments);
        assert_exit(&output, 2, &arguments.join(" "));
        assert!(
            text(&output.stderr).contains(expected),
            "{arguments:?}: {}",
            text(&output.stderr)
        );
    }
    let listed = sandbox.host(&["schedule", "list", "--json"]);
    assert_eq!(text(&listed.stdout).trim(), "[]");
    let weekly = add("weekly", "0 6 * * MON", workflow, &[]);
    let weekly: Vec<&str> = weekly.iter().map(String::as_str).collect();
    assert_success(&sandbox.host(&weekly));
    let again = add("weekly", "0 7 * * *", workflow, &[]);
    let again = sandbox.host(&again.iter().map(String::as_str).collect::<Vec<_>>());
    assert_exit(&again, 2, "a second schedule of the same name");
    assert!(text(&again.stderr).contains("already exists"));
    let listed: Value =
        serde_json::from_slice(&sandbox.host(&["schedule", "list", "--json"]).stdout).unwrap();
    assert_eq!(listed[0]["cron"], "0 6 * * MON");
    assert!(
        listed[0]["next_due"]
            .as_str()
            .unwrap()
            .ends_with("T06:00:00.000Z")
    );
    assert!(
        executions(&sandbox).is_empty(),
        "adding a schedule starts nothing"
    );
}
