//! The product as users drive it: the real `host` binary, as processes, on the workloads of
//! issue 17, each beside a baseline measured in the same run. W1: one execution of 1,000
//! sequential no-op steps (`host run`), against the bare rusqlite commit loop. W2: 500
//! executions of 10 steps (`host run --batch --concurrency 500`, FULL), against the same
//! batch run in-process by the library. W3: 200 executions at an approval gate approved by
//! `host signal approve --no-wait`, 8 processes at a time, while a `host worker --follow`
//! runs, and the wake-up latency of single approvals, against the in-process drive of an
//! approved execution. W4: `kill -9` of a `host run` at step 100 of 200, then `host resume`,
//! against the uncrashed per-step time. Prints Markdown tables; run with
//! `cargo bench -p host --bench cli_workloads`.

mod support;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use host::engine::{BatchOptions, DriveOptions, NoObserver, StartRequest};
use host::history::{Durability, HistoryStore, SqliteStore};
use pipeline_core::{ExecutionStatus, Signal};
use serde_json::{Value, json};
use support::{Scratch, bare_commit_loop, format_duration, percentile, runtime};

const HOST: &str = env!("CARGO_BIN_EXE_host");
const SEQUENTIAL_STEPS: usize = 1_000;
const BATCH_EXECUTIONS: usize = 500;
const BATCH_STEPS: usize = 10;
const GATED: usize = 200;
const SIGNALLERS: usize = 8;
const WAKE_UPS: usize = 20;
const RECOVERY_STEPS: usize = 200;
const CRASH_AT_STEP: usize = 100;

fn main() {
    println!("| workload | measurement | result | baseline (same run) | ratio |");
    println!("|---|---|---|---|---|");
    sequential();
    batch();
    gate();
    recovery();
}

/// `host --data-dir <scratch> --durability <durability> <arguments>`, run to the end; the
/// wall time and stdout.
fn host(scratch: &Scratch, durability: &str, arguments: &[&str]) -> (Duration, String) {
    let started = Instant::now();
    let output = command(scratch, durability)
        .args(arguments)
        .output()
        .expect("run host");
    let elapsed = started.elapsed();
    assert!(
        output.status.success(),
        "host {arguments:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        elapsed,
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

fn command(scratch: &Scratch, durability: &str) -> Command {
    let mut command = Command::new(HOST);
    command
        .arg("--data-dir")
        .arg(scratch.data_dir().root())
        .args(["--durability", durability])
        .env_remove("HOST_CRASH_AFTER_EVENTS");
    command
}

fn store(scratch: &Scratch) -> SqliteStore {
    SqliteStore::open(&scratch.data_dir().history_file(), Durability::Normal).expect("store")
}

/// The recording times of an execution's `ActivityCompleted` events.
fn completion_times(store: &SqliteStore, execution_id: &str) -> Vec<i64> {
    store
        .read(execution_id)
        .expect("history")
        .into_iter()
        .filter(|event| event.event_type == "ActivityCompleted")
        .map(|event| event.recorded_at_ms)
        .collect()
}

/// A table row; `ratio` is the result over the baseline, where there is one.
fn row(workload: &str, measurement: &str, result: String, baseline: String, ratio: Option<f64>) {
    let ratio = ratio.map_or_else(String::new, |ratio| format!("{ratio:.2}"));
    println!("| {workload} | {measurement} | {result} | {baseline} | {ratio} |");
}

/// W1: per step of `host run` from the history's own times (first to last completion), and
/// the whole command's wall, for NORMAL and FULL, against the bare commit loop.
fn sequential() {
    for (label, durability, pragma) in [("NORMAL", "normal", "NORMAL"), ("FULL", "full", "FULL")] {
        let scratch = Scratch::new();
        let bare = bare_commit_loop(
            &scratch.directory.path().join("bare.db"),
            pragma,
            SEQUENTIAL_STEPS as u64,
        ) / SEQUENTIAL_STEPS as u32;
        let workflow = scratch.sequential_workflow(SEQUENTIAL_STEPS, "noop", "Say ok.");
        let workflow = workflow.to_str().expect("path");
        host(&scratch, durability, &["run", workflow, "--id", "warm"]);
        let (wall, _) = host(&scratch, durability, &["run", workflow, "--id", "w1"]);
        let times = completion_times(&store(&scratch), "w1");
        let span = Duration::from_millis((times[times.len() - 1] - times[0]) as u64);
        let per_step = span / (times.len() as u32 - 1);
        row(
            "W1 1 x 1,000 steps",
            &format!(
                "`host --durability {durability} run`: per step (wall {:.2} s, {:.0} steps/s)",
                wall.as_secs_f64(),
                SEQUENTIAL_STEPS as f64 / wall.as_secs_f64()
            ),
            format_duration(per_step),
            format!("bare {label} commit: {}", format_duration(bare)),
            Some(bare.as_secs_f64() / per_step.as_secs_f64()),
        );
    }
}

/// W2: the batch through the binary against the same batch through the library.
fn batch() {
    let scratch = Scratch::new();
    let workflow = scratch.sequential_workflow(BATCH_STEPS, "noop", "Say ok.");
    let topics = scratch.directory.path().join("topics.txt");
    write_topics(&topics, BATCH_EXECUTIONS, "cli");
    let path = workflow.to_str().expect("path");
    host(&scratch, "full", &["run", path, "--id", "warm"]);
    let concurrency = BATCH_EXECUTIONS.to_string();
    let arguments = [
        "run",
        path,
        "--batch",
        topics.to_str().expect("path"),
        "--concurrency",
        &concurrency,
        "--json",
    ];
    let before = cpu(libc::RUSAGE_CHILDREN);
    let (wall, stdout) = host(&scratch, "full", &arguments);
    let cli_cpu = cpu(libc::RUSAGE_CHILDREN) - before;
    let finished: Value = serde_json::from_str(&stdout).expect("batch JSON");
    assert_eq!(finished.as_array().map(Vec::len), Some(BATCH_EXECUTIONS));

    let engine = scratch.engine(Durability::Full);
    let request = StartRequest {
        workflow: workflow.clone(),
        ..StartRequest::default()
    };
    let inputs = (0..BATCH_EXECUTIONS)
        .map(|index| BTreeMap::from([("topic".to_string(), json!(format!("library {index}")))]))
        .collect();
    let (started, before) = (Instant::now(), cpu(libc::RUSAGE_SELF));
    let prepared = engine.prepare_each(&request, inputs).expect("prepare");
    let options = BatchOptions {
        concurrency: BATCH_EXECUTIONS,
        auto_approve: false,
        stop: None,
    };
    let results = runtime()
        .block_on(engine.run_batch(prepared, options, Arc::new(NoObserver), |_| {}))
        .expect("batch");
    let (in_process, library_cpu) = (started.elapsed(), cpu(libc::RUSAGE_SELF) - before);
    assert!(results.iter().all(|driven| driven.outcome.is_ok()));
    let steps = (BATCH_EXECUTIONS * BATCH_STEPS) as f64;
    row(
        "W2 500 x 10 steps, FULL",
        &format!(
            "`host run --batch --concurrency 500`: steps/s (wall {:.2} s, CPU {:.2} s)",
            wall.as_secs_f64(),
            cli_cpu.as_secs_f64()
        ),
        format!("{:.0}", steps / wall.as_secs_f64()),
        format!(
            "in-process `run_batch`: {:.0} steps/s ({:.2} s, CPU {:.2} s)",
            steps / in_process.as_secs_f64(),
            in_process.as_secs_f64(),
            library_cpu.as_secs_f64()
        ),
        Some(in_process.as_secs_f64() / wall.as_secs_f64()),
    );
}

fn write_topics(path: &Path, count: usize, prefix: &str) {
    let mut file = std::fs::File::create(path).expect("topics file");
    for index in 0..count {
        writeln!(file, "{prefix} {index}").expect("topic");
    }
}

fn approval_workflow() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/workflows/approval/workflow.toml")
}

/// Takes `count` executions of the approval workflow to their gate; returns their ids.
fn to_the_gate(scratch: &Scratch, count: usize) -> Vec<String> {
    let topics = scratch.directory.path().join("gated.txt");
    write_topics(&topics, count, "gated");
    let workflow = approval_workflow();
    host(
        scratch,
        "full",
        &[
            "run",
            workflow.to_str().expect("path"),
            "--batch",
            topics.to_str().expect("path"),
            "--concurrency",
            "64",
            "--json",
        ],
    );
    let ids: Vec<String> = store(scratch)
        .executions()
        .expect("executions")
        .into_iter()
        .filter(|row| row.summary.status == ExecutionStatus::WaitingForApproval)
        .map(|row| row.execution_id)
        .collect();
    assert_eq!(ids.len(), count);
    ids
}

/// W3: 200 approvals from 8 processes at a time with a worker following, then single
/// approvals one at a time (wake-up latency), against an in-process drive after approval.
fn gate() {
    let scratch = Scratch::new();
    let mut ids = to_the_gate(&scratch, GATED + WAKE_UPS);
    let singles = ids.split_off(GATED);
    let mut worker = command(&scratch, "full")
        .args(["worker", "--follow", "--concurrency", "64"])
        .stdout(Stdio::null())
        .spawn()
        .expect("start a worker");
    std::thread::sleep(Duration::from_secs(1));
    let worker_rss = rss_kib(&worker);
    let store = store(&scratch);

    let first_signal = Instant::now();
    let queue = Arc::new(std::sync::Mutex::new(ids.clone()));
    let mut signal_costs = Vec::new();
    let signallers: Vec<_> = (0..SIGNALLERS)
        .map(|_| {
            let (queue, scratch_root) = (queue.clone(), scratch.data_dir().root().to_path_buf());
            std::thread::spawn(move || {
                let mut costs = Vec::new();
                loop {
                    // Popped in a statement of its own, so the lock is not held while signalling.
                    let next = queue.lock().expect("queue").pop();
                    let Some(id) = next else { break };
                    let started = Instant::now();
                    let status = Command::new(HOST)
                        .arg("--data-dir")
                        .arg(&scratch_root)
                        .args(["signal", "approve", &id, "--no-wait"])
                        .stderr(Stdio::null())
                        .status()
                        .expect("signal");
                    assert!(status.success(), "signal approve {id} failed");
                    costs.push(started.elapsed());
                }
                costs
            })
        })
        .collect();
    for signaller in signallers {
        signal_costs.extend(signaller.join().expect("signaller"));
    }
    let last_recorded = first_signal.elapsed();
    wait_until_completed(&store, &ids);
    let all_complete = first_signal.elapsed();

    let mut wake_ups = Vec::new();
    for id in &singles {
        let (_, _) = host(&scratch, "full", &["signal", "approve", id, "--no-wait"]);
        let recorded = Instant::now();
        wait_until_completed(&store, std::slice::from_ref(id));
        wake_ups.push(recorded.elapsed());
    }
    worker.kill().expect("stop the worker");
    worker.wait().expect("reap the worker");

    let baseline = in_process_drive_after_approval();
    row(
        "W3 200 at a gate",
        &format!(
            "`signal approve --no-wait`, one process: median wall (p90 {}, max {})",
            format_duration(percentile(&mut signal_costs, 0.9)),
            format_duration(percentile(&mut signal_costs, 1.0))
        ),
        format_duration(percentile(&mut signal_costs, 0.5)),
        "".into(),
        None,
    );
    row(
        "W3 200 at a gate",
        &format!(
            "first approval → all complete (recording them: {:.2} s)",
            last_recorded.as_secs_f64()
        ),
        format!("{:.2} s", all_complete.as_secs_f64()),
        "".into(),
        None,
    );
    row(
        "W3 200 at a gate",
        "last approval recorded → all complete (target ≤ 0.25 s)",
        format!("{:.3} s", (all_complete - last_recorded).as_secs_f64()),
        "".into(),
        None,
    );
    let median = percentile(&mut wake_ups, 0.5);
    row(
        "W3 wake-up",
        &format!(
            "one approval recorded by another process → completed by the worker: median of {WAKE_UPS} (max {})",
            format_duration(percentile(&mut wake_ups, 1.0))
        ),
        format_duration(median),
        format!(
            "in-process drive after approval: {}",
            format_duration(baseline)
        ),
        Some(median.as_secs_f64() / baseline.as_secs_f64()),
    );
    row(
        "W3 memory",
        "`host worker --follow` RSS with 200 waiting",
        format!("{:.1} MiB", worker_rss as f64 / 1024.0),
        "".into(),
        None,
    );
}

/// Median time to drive an approved execution of the approval workflow to its end in-process:
/// the work the worker does after its wake-up.
fn in_process_drive_after_approval() -> Duration {
    let scratch = Scratch::new();
    let ids = to_the_gate(&scratch, 5);
    let engine = scratch.engine(Durability::Full);
    let mut times: Vec<Duration> = runtime().block_on(async {
        let mut times = Vec::new();
        for id in &ids {
            let approve = Signal::Approve {
                replacement: None,
                feedback: None,
                budget_micros: None,
            };
            engine.signal(id, approve).await.expect("approve");
            let started = Instant::now();
            engine
                .drive(id, &NoObserver, DriveOptions::default())
                .await
                .expect("drive");
            times.push(started.elapsed());
        }
        times
    });
    percentile(&mut times, 0.5)
}

fn wait_until_completed(store: &SqliteStore, ids: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let done = ids.iter().all(|id| {
            store
                .execution(id)
                .expect("row")
                .is_some_and(|row| row.summary.status == ExecutionStatus::Completed)
        });
        if done {
            return;
        }
        assert!(Instant::now() < deadline, "executions did not complete");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn rss_kib(child: &Child) -> u64 {
    std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// W4: a `host run` killed with SIGKILL once step 100 of 200 is recorded, then `host resume`;
/// the counting plugin's log says which calls ran again and under which key.
fn recovery() {
    let scratch = Scratch::new();
    let workflow = scratch.sequential_workflow(RECOVERY_STEPS, "counter", "Say ok.");
    let path = workflow.to_str().expect("path");
    host(&scratch, "full", &["run", path, "--id", "uncrashed"]);
    let store = store(&scratch);
    let uncrashed = completion_times(&store, "uncrashed");
    let per_step = Duration::from_millis((uncrashed[uncrashed.len() - 1] - uncrashed[0]) as u64)
        / (uncrashed.len() as u32 - 1);
    let calls_before = calls(&scratch).len();

    let mut run = command(&scratch, "full")
        .args(["run", path, "--id", "crashed"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the run");
    loop {
        if completion_times(&store, "crashed").len() >= CRASH_AT_STEP {
            run.kill().expect("kill -9");
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    run.wait().expect("reap");
    let done = completion_times(&store, "crashed").len();
    let (resume, _) = host(&scratch, "full", &["resume", "crashed", "--json"]);
    let remaining = RECOVERY_STEPS - done;
    let keys: Vec<String> = calls(&scratch)[calls_before..].to_vec();
    let mut seen = std::collections::BTreeSet::new();
    let repeated: Vec<&String> = keys.iter().filter(|key| !seen.insert(*key)).collect();
    assert!(
        repeated.len() <= 1,
        "more than the in-flight step ran again: {repeated:?}"
    );
    assert_eq!(completion_times(&store, "crashed").len(), RECOVERY_STEPS);
    let own_time = per_step * remaining as u32;
    row(
        "W4 kill -9 at step 100 of 200",
        &format!(
            "`host resume` wall, {remaining} steps left; calls run again: {} (same key)",
            repeated.len()
        ),
        format!("{:.3} s", resume.as_secs_f64()),
        format!(
            "remaining steps' own time {:.3} s (target ≤ 0.2 s more)",
            own_time.as_secs_f64()
        ),
        Some((resume.as_secs_f64() - own_time.as_secs_f64()).max(0.0) / 0.2),
    );
}

fn calls(scratch: &Scratch) -> Vec<String> {
    std::fs::read_to_string(scratch.directory.path().join("counter-work/calls.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// User and system time of this process (`RUSAGE_SELF`) or of its ended children
/// (`RUSAGE_CHILDREN`): on a shared machine wall times also hold waits for a processor.
fn cpu(who: libc::c_int) -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(who, &mut usage);
        usage
    };
    let time = |value: libc::timeval| {
        Duration::from_secs(value.tv_sec as u64) + Duration::from_micros(value.tv_usec as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}
