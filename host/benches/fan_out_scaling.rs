//! Large fan-outs and long histories through the `host` binary: the cost of one completion in
//! a `for_each` stage of 100,000 items (concurrency 64) against stages of 10 items, a
//! `concurrency` too large to run refused by `host validate`, and `host replay` of a history
//! of about 100,000 events against a bare rusqlite read of the same rows. Per-step costs come
//! from the history's own recording times, so process start-up is not counted in them. Prints
//! a Markdown table; run with `cargo bench -p host --bench fan_out_scaling`.

mod support;

use std::time::{Duration, Instant};

use host::history::{Durability, HistoryStore, SqliteStore};
use serde_json::json;
use support::{Scratch, format_duration};

const HOST: &str = env!("CARGO_BIN_EXE_host");
const CONCURRENCY: usize = 64;
const SMALL_ITEMS: usize = 10;
const SMALL_STAGES: usize = 100;
const LARGE_ITEMS: usize = 100_000;
/// Completions before this one are left out of the large stage's figure ("after a few
/// hundred"), as the first wave starts together.
const SETTLED_AFTER: usize = 500;
/// Three events an item (scheduled, started, completed): about 100,000 events.
const REPLAY_ITEMS: usize = 33_334;

fn main() {
    println!("| measurement | result | baseline (same run) | ratio |");
    println!("|---|---|---|---|");
    let scratch = Scratch::new();
    let small = run_fan_out(&scratch, "small", SMALL_ITEMS, SMALL_STAGES);
    let small_per_step = per_step(&completions(&scratch, "small"), 0);
    let large = run_fan_out(&scratch, "large", LARGE_ITEMS, 1);
    let large_times = completions(&scratch, "large");
    let large_per_step = per_step(&large_times, SETTLED_AFTER);
    println!(
        "| one completion in a stage of {LARGE_ITEMS} items, concurrency {CONCURRENCY} (after {SETTLED_AFTER}; whole run {:.1} s) | {} | stages of {SMALL_ITEMS} items: {} (whole run of {} steps {:.1} s) | {:.2} |",
        large.as_secs_f64(),
        format_duration(large_per_step),
        format_duration(small_per_step),
        SMALL_ITEMS * SMALL_STAGES,
        small.as_secs_f64(),
        large_per_step.as_secs_f64() / small_per_step.as_secs_f64(),
    );
    println!(
        "| most attempts recorded as started at once in the {LARGE_ITEMS}-item stage | {} | its concurrency: {CONCURRENCY} | |",
        most_started_at_once(&scratch, "large"),
    );
    absurd_concurrency(&scratch);
    replay(&scratch);
}

fn host(scratch: &Scratch, arguments: &[&str]) -> (Duration, std::process::Output) {
    let started = Instant::now();
    let output = std::process::Command::new(HOST)
        .arg("--data-dir")
        .arg(scratch.data_dir().root())
        .args(["--durability", "normal"])
        .args(arguments)
        .output()
        .expect("run host");
    (started.elapsed(), output)
}

/// Runs a workflow of `stages` fan-out stages over `items` items as execution `id`.
fn run_fan_out(scratch: &Scratch, id: &str, items: usize, stages: usize) -> Duration {
    let workflow = scratch.fan_out_workflow("noop", "Say ok.", CONCURRENCY, stages);
    let inputs = scratch.directory.path().join(format!("{id}.json"));
    let list: Vec<usize> = (0..items).collect();
    std::fs::write(&inputs, json!({ "items": list }).to_string()).expect("inputs file");
    let arguments = [
        "run",
        workflow.to_str().expect("path"),
        "--inputs",
        inputs.to_str().expect("path"),
        "--id",
        id,
        "--json",
    ];
    let (elapsed, output) = host(scratch, &arguments);
    assert!(
        output.status.success(),
        "{id}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    elapsed
}

fn store(scratch: &Scratch) -> SqliteStore {
    SqliteStore::open(&scratch.data_dir().history_file(), Durability::Normal).expect("store")
}

fn completions(scratch: &Scratch, id: &str) -> Vec<i64> {
    store(scratch)
        .read(id)
        .expect("history")
        .into_iter()
        .filter(|event| event.event_type == "ActivityCompleted")
        .map(|event| event.recorded_at_ms)
        .collect()
}

/// Time per completion from the `skip`-th completion to the last.
fn per_step(times: &[i64], skip: usize) -> Duration {
    let span = (times[times.len() - 1] - times[skip]) as u64;
    Duration::from_millis(span) / (times.len() - 1 - skip) as u32
}

/// The most attempts that were running at once, by the history: started minus settled.
fn most_started_at_once(scratch: &Scratch, id: &str) -> usize {
    let mut running = 0usize;
    let mut most = 0;
    for event in store(scratch).read(id).expect("history") {
        match event.event_type.as_str() {
            "ActivityStarted" => {
                running += 1;
                most = most.max(running);
            }
            "ActivityCompleted" | "ActivityFailed" => running = running.saturating_sub(1),
            _ => {}
        }
    }
    most
}

fn absurd_concurrency(scratch: &Scratch) {
    let workflow = scratch.fan_out_workflow("noop", "Say ok.", 1_000_000_000, 1);
    let (_, output) = host(scratch, &["validate", workflow.to_str().expect("path")]);
    let message = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    let line = message
        .lines()
        .find(|line| line.contains("concurrency"))
        .unwrap_or("(no message)");
    println!(
        "| `host validate` of `concurrency = 1000000000` | exit code {}: `{}` | | |",
        output.status.code().unwrap_or(-1),
        line.trim()
    );
}

fn replay(scratch: &Scratch) {
    run_fan_out(scratch, "replayed", REPLAY_ITEMS, 1);
    let events = store(scratch).last_sequence("replayed").expect("events");
    let mut replays = Vec::new();
    let mut processor = Vec::new();
    for _ in 0..3 {
        let before = children_cpu();
        let (elapsed, output) = host(scratch, &["replay", "replayed"]);
        assert!(output.status.success(), "replay failed");
        replays.push(elapsed);
        processor.push(children_cpu() - before);
    }
    replays.sort();
    processor.sort();
    let started = Instant::now();
    let connection =
        rusqlite::Connection::open(scratch.data_dir().history_file()).expect("open the database");
    let mut statement = connection
        .prepare(
            "SELECT sequence, event_type, payload, recorded_at_ms, hash FROM events
             WHERE execution_id = ?1 ORDER BY sequence",
        )
        .expect("prepare");
    let rows = statement
        .query_map(["replayed"], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, Vec<u8>>(4)?,
            ))
        })
        .expect("query")
        .count();
    let bare = started.elapsed();
    assert_eq!(rows as u64, events);
    println!(
        "| `host replay` of {events} events (median of 3, whole process; CPU time {:.3} s) | {:.3} s | bare rusqlite read of the rows: {} | {:.1}x |",
        processor[1].as_secs_f64(),
        replays[1].as_secs_f64(),
        format_duration(bare),
        replays[1].as_secs_f64() / bare.as_secs_f64(),
    );
}

/// User and system time of every child process that has ended so far: on a shared machine
/// the wall time of a process also holds the time it waited for a processor.
fn children_cpu() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let time = |value: libc::timeval| {
        Duration::from_secs(value.tv_sec as u64) + Duration::from_micros(value.tv_usec as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}
