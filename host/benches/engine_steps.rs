//! Engine step overhead and throughput: one execution of 1,000 sequential no-op activity steps
//! (steps/s, p50 and p99 per step) and 500 executions of 10 steps driven concurrently by one
//! engine, each with `synchronous` FULL and NORMAL, against a bare rusqlite loop committing one
//! row per transaction with the same setting. Prints a Markdown table; run with
//! `cargo bench -p host --bench engine_steps`.

mod support;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use host::engine::{DriveOptions, Engine, Observer, StartRequest};
use host::history::Durability;
use pipeline_core::{Definition, Event, ExecutionState};
use serde_json::json;
use support::{Scratch, assert_completed, bare_commit_loop, format_duration, percentile, runtime};

const SEQUENTIAL_STEPS: usize = 1_000;
const EXECUTIONS: usize = 500;
const STEPS_PER_EXECUTION: usize = 10;

/// Notes the instant each activity completion is committed.
#[derive(Default)]
struct CompletionTimes(Mutex<Vec<Instant>>);

impl Observer for CompletionTimes {
    fn recorded(&self, _: &Definition, _: &ExecutionState, event: &Event) {
        if matches!(event, Event::ActivityCompleted { .. }) {
            self.0.lock().unwrap().push(Instant::now());
        }
    }
}

fn main() {
    let runtime = runtime();
    println!(
        "| measurement | durability | steps | seconds | steps/s | p50 per step | p99 per step | vs bare commit loop |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (label, durability, pragma) in [
        ("FULL", Durability::Full, "FULL"),
        ("NORMAL", Durability::Normal, "NORMAL"),
    ] {
        let scratch = Scratch::new();
        let bare = bare_commit_loop(
            &scratch.directory.path().join("bare.db"),
            pragma,
            SEQUENTIAL_STEPS as u64,
        );
        let bare_rate = SEQUENTIAL_STEPS as f64 / bare.as_secs_f64();
        println!(
            "| bare rusqlite, one commit per step | {label} | {SEQUENTIAL_STEPS} | {:.2} | {bare_rate:.0} | {} | | 1.00 |",
            bare.as_secs_f64(),
            format_duration(bare / SEQUENTIAL_STEPS as u32),
        );

        let engine = scratch.engine(durability);
        let workflow = scratch.sequential_workflow(SEQUENTIAL_STEPS, "noop", "Say ok.");
        let (elapsed, mut per_step) = runtime.block_on(sequential(&engine, &workflow));
        let rate = SEQUENTIAL_STEPS as f64 / elapsed.as_secs_f64();
        println!(
            "| engine, 1 execution x {SEQUENTIAL_STEPS} sequential steps | {label} | {SEQUENTIAL_STEPS} | {:.2} | {rate:.0} | {} | {} | {:.2} |",
            elapsed.as_secs_f64(),
            format_duration(percentile(&mut per_step, 0.5)),
            format_duration(percentile(&mut per_step, 0.99)),
            rate / bare_rate,
        );

        let workflow = scratch.sequential_workflow(STEPS_PER_EXECUTION, "noop", "Say ok.");
        let elapsed = runtime.block_on(concurrent(&engine, &workflow));
        let steps = EXECUTIONS * STEPS_PER_EXECUTION;
        let rate = steps as f64 / elapsed.as_secs_f64();
        println!(
            "| engine, {EXECUTIONS} executions x {STEPS_PER_EXECUTION} steps, concurrent ({:.0} executions/s) | {label} | {steps} | {:.2} | {rate:.0} | | | {:.2} |",
            EXECUTIONS as f64 / elapsed.as_secs_f64(),
            elapsed.as_secs_f64(),
            rate / bare_rate,
        );
    }
}

fn request(workflow: &std::path::Path, id: String) -> StartRequest {
    StartRequest {
        workflow: workflow.to_path_buf(),
        inputs: BTreeMap::from([("topic".to_string(), json!("benchmark"))]),
        execution_id: Some(id),
        providers: BTreeMap::new(),
        max_cost_micros: None,
        reuse_identical: false,
    }
}

/// Starts and drives one execution; returns the time from the start of the drive to its end and
/// the time each step took (from one completion to the next).
async fn sequential(engine: &Engine, workflow: &std::path::Path) -> (Duration, Vec<Duration>) {
    let prepared = engine
        .prepare(&request(workflow, "sequential".into()))
        .expect("prepare");
    engine.start(prepared).await.expect("start");
    let times = CompletionTimes::default();
    let started = Instant::now();
    let outcome = engine
        .drive("sequential", &times, DriveOptions::default())
        .await
        .expect("drive");
    let elapsed = started.elapsed();
    assert_completed(&outcome);
    let completions = times.0.into_inner().unwrap();
    assert_eq!(completions.len(), SEQUENTIAL_STEPS);
    let mut previous = started;
    let per_step = completions
        .into_iter()
        .map(|completed| {
            let step = completed - previous;
            previous = completed;
            step
        })
        .collect();
    (elapsed, per_step)
}

/// Starts `EXECUTIONS` executions, then drives them all at once; returns the time from the
/// first drive to the last completion.
async fn concurrent(engine: &Engine, workflow: &std::path::Path) -> Duration {
    for execution in 0..EXECUTIONS {
        let prepared = engine
            .prepare(&request(workflow, format!("concurrent-{execution}")))
            .expect("prepare");
        engine.start(prepared).await.expect("start");
    }
    let started = Instant::now();
    let drives: Vec<_> = (0..EXECUTIONS)
        .map(|execution| {
            let engine = engine.clone();
            tokio::spawn(async move {
                let outcome = engine
                    .drive(
                        &format!("concurrent-{execution}"),
                        &host::engine::NoObserver,
                        DriveOptions::default(),
                    )
                    .await
                    .expect("drive");
                assert_completed(&outcome);
            })
        })
        .collect();
    for drive in drives {
        drive.await.expect("drive task");
    }
    started.elapsed()
}
