//! The library's worker, batches and status report, driven in-process on a real data directory
//! (SQLite on disk, the built-in mock LLM): a pass drives every runnable execution; a following
//! worker acts on a wake-up without waiting for its poll and ends on its stop, and acts on an
//! approval another process records while it is still busy with a long drive; a batch starts
//! and drives its starts, approving gates, and reports a failed start as a result; the report
//! serializes exactly as `host status --json` prints it.

mod support;

use std::time::Duration;

use host::engine::{
    AUTO_APPROVAL_FEEDBACK, BatchOptions, DriveOptions, DriveOutcome, Driven, Engine, NoObserver,
    StartRequest, StatusReport, Worker,
};
use host::history::{Durability, SqliteStore};
use host::plugin::PluginHost;
use host::settings::DataDir;
use pipeline_core::{ExecutionStatus, Signal};
use support::{Sandbox, assert_success};
use tokio::sync::{mpsc, watch};

/// An engine over the sandbox's data directory, as the `host` binary opens one.
fn engine(sandbox: &Sandbox) -> Engine {
    let data = DataDir::new(sandbox.data(), None);
    let store = SqliteStore::open(&data.history_file(), Durability::Normal).expect("history");
    let plugins = PluginHost::new(data.plugin_host_settings().expect("plugin settings"))
        .expect("plugin host");
    Engine::open(&data, std::sync::Arc::new(store), plugins).expect("engine")
}

/// Records the start of an execution of the approval workflow without driving it, so it is
/// runnable (running, with no owner).
async fn start_approval(sandbox: &Sandbox, engine: &Engine, id: &str) {
    let prepared = engine
        .prepare(&approval_request(sandbox, id))
        .expect("prepares");
    engine.start(prepared).await.expect("starts");
}

fn approval_request(sandbox: &Sandbox, id: &str) -> StartRequest {
    StartRequest {
        workflow: sandbox.workflow("approval"),
        execution_id: Some(id.to_string()),
        ..StartRequest::default()
    }
}

fn status_of(driven: &Driven) -> ExecutionStatus {
    match &driven.outcome {
        Ok(outcome) => outcome.state().status,
        Err(error) => panic!("{} could not be driven: {error}", driven.execution_id),
    }
}

/// The report as it serializes must equal the same report put through a JSON map, whose keys
/// are sorted: the order `status --json` has always printed its fields in.
fn assert_fields_in_stable_order(report: &StatusReport) {
    let direct = serde_json::to_string_pretty(report).unwrap();
    let sorted = serde_json::to_string_pretty(&serde_json::to_value(report).unwrap()).unwrap();
    assert_eq!(direct, sorted, "fields out of their stable order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_drives_every_runnable_execution_once() {
    let sandbox = Sandbox::new();
    let engine = engine(&sandbox);
    for id in ["one", "two", "three"] {
        start_approval(&sandbox, &engine, id).await;
    }
    let mut driven = Vec::new();
    let summary = Worker::new(engine.clone())
        .with_concurrency(2)
        .drive_runnable(&mut |one| driven.push(one))
        .await
        .expect("the pass runs");
    assert_eq!((summary.drives, summary.errors), (3, 0));
    let mut ids: Vec<&str> = driven.iter().map(|one| one.execution_id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["one", "three", "two"]);
    for one in &driven {
        assert_eq!(status_of(one), ExecutionStatus::WaitingForApproval);
        let report = engine.status_report(&one.execution_id).unwrap();
        assert_eq!(report.status, ExecutionStatus::WaitingForApproval);
        let approval = report.approval.as_ref().expect("a pending approval");
        assert_eq!(approval.stage.as_str(), "approval");
        assert!(report.progress.is_some());
        assert_fields_in_stable_order(&report);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_following_worker_acts_on_a_wake_up_and_ends_on_its_stop() {
    let sandbox = Sandbox::new();
    let engine = engine(&sandbox);
    let gate = engine
        .prepare(&approval_request(&sandbox, "gated"))
        .unwrap();
    engine.start(gate).await.unwrap();
    let outcome = engine
        .drive("gated", &NoObserver, DriveOptions::default())
        .await
        .unwrap();
    assert!(matches!(outcome, DriveOutcome::WaitingForApproval(_)));
    start_approval(&sandbox, &engine, "fresh").await;

    // A poll interval no test outlives: only a wake-up can start a second pass.
    let (stop, stop_receiver) = watch::channel(false);
    let worker = Worker::new(engine.clone())
        .with_poll_interval(Duration::from_secs(3600))
        .with_stop(stop_receiver);
    let waker = worker.waker();
    let (sender, mut results) = mpsc::unbounded_channel();
    let following = tokio::spawn(async move {
        worker
            .follow(&mut |driven: Driven| {
                let _ = sender.send((driven.execution_id.clone(), status_of(&driven)));
            })
            .await
    });
    let next = async |results: &mut mpsc::UnboundedReceiver<(String, ExecutionStatus)>| {
        tokio::time::timeout(Duration::from_secs(60), results.recv())
            .await
            .expect("the worker drove nothing within 60 s")
            .expect("the worker is running")
    };
    // The first pass drives the fresh execution to its gate; then the worker waits.
    assert_eq!(
        next(&mut results).await,
        ("fresh".to_string(), ExecutionStatus::WaitingForApproval)
    );

    let approve = Signal::Approve {
        replacement: None,
        feedback: None,
        budget_micros: None,
    };
    engine.signal("gated", approve).await.unwrap();
    waker.wake();
    // The fresh one's reminder may come due meanwhile; it is driven too and is not the point.
    loop {
        let (id, status) = next(&mut results).await;
        if id == "gated" {
            assert_eq!(status, ExecutionStatus::Completed);
            break;
        }
    }

    stop.send(true).unwrap();
    let summary = tokio::time::timeout(Duration::from_secs(30), following)
        .await
        .expect("the stop ends the worker's wait")
        .unwrap()
        .expect("the worker ends cleanly");
    assert_eq!(summary.errors, 0);
    assert!(summary.drives >= 2, "{summary:?}");
    assert_eq!(
        engine.status_report("gated").unwrap().status,
        ExecutionStatus::Completed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_following_worker_acts_on_an_approval_another_process_records() {
    let sandbox = Sandbox::new().with_counter();
    let engine = engine(&sandbox);
    let gate = engine
        .prepare(&approval_request(&sandbox, "gated"))
        .unwrap();
    engine.start(gate).await.unwrap();
    let outcome = engine
        .drive("gated", &NoObserver, DriveOptions::default())
        .await
        .unwrap();
    assert!(matches!(outcome, DriveOutcome::WaitingForApproval(_)));
    // A call that takes 30 s: the worker is busy with it the whole time this test runs.
    let folder = sandbox.directory.path().join("slow");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("slow.md"), "sleep-ms=30000").unwrap();
    std::fs::write(
        folder.join("workflow.toml"),
        "name = \"slow\"\n\n[providers]\nllm = \"counter\"\n\n[[stages]]\nid = \"slow\"\ncall = \"llm.generate\"\nprompt = \"slow.md\"\n",
    )
    .unwrap();
    let slow = StartRequest {
        workflow: folder.join("workflow.toml"),
        execution_id: Some("slow".into()),
        ..StartRequest::default()
    };
    engine.start(engine.prepare(&slow).unwrap()).await.unwrap();

    // No wake-up and a poll interval no test outlives: only the store's change token can tell
    // the worker about the approval, and it must act while the slow drive goes on.
    let (stop, stop_receiver) = watch::channel(false);
    let worker = Worker::new(engine.clone())
        .with_poll_interval(Duration::from_secs(3600))
        .with_stop(stop_receiver);
    let (sender, mut results) = mpsc::unbounded_channel();
    let following = tokio::spawn(async move {
        worker
            .follow(&mut |driven: Driven| {
                let _ = sender.send((driven.execution_id.clone(), status_of(&driven)));
            })
            .await
    });
    let approve = sandbox.command();
    let approved = tokio::task::spawn_blocking(move || {
        let mut approve = approve;
        approve
            .args(["signal", "approve", "gated", "--no-wait"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_success(&approved);
    // The gate's one-second reminder may come due first and be driven too; the slow drive must
    // not end before the approved execution completes.
    loop {
        let (id, status) = tokio::time::timeout(Duration::from_secs(60), results.recv())
            .await
            .expect("the worker drove nothing within 60 s")
            .expect("the worker is running");
        assert_eq!(
            id, "gated",
            "the approved execution is driven while the slow one runs"
        );
        if status == ExecutionStatus::Completed {
            break;
        }
    }

    stop.send(true).unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(60), following)
        .await
        .expect("the stop ends the worker")
        .unwrap();
    assert!(
        matches!(&ended, Err(host::engine::EngineError::Interrupted { execution_id }) if execution_id == "slow"),
        "the slow drive is stopped and stays resumable: {ended:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_drives_its_starts_through_their_gates_and_reports_a_failed_start() {
    let sandbox = Sandbox::new();
    let engine = engine(&sandbox);
    // Two starts prepared with one id: both pass the check, and the second to start fails.
    let starts = ["first", "second", "twin", "twin"]
        .iter()
        .map(|id| engine.prepare(&approval_request(&sandbox, id)).unwrap())
        .collect();
    let options = BatchOptions {
        concurrency: 2,
        auto_approve: true,
        stop: None,
    };
    let mut reported = 0;
    let results = engine
        .run_batch(starts, options, std::sync::Arc::new(NoObserver), |_| {
            reported += 1
        })
        .await
        .expect("the batch runs");
    assert_eq!((results.len(), reported), (4, 4));
    let twins: Vec<&Driven> = results
        .iter()
        .filter(|driven| driven.execution_id == "twin")
        .collect();
    assert_eq!(
        twins
            .iter()
            .filter(|driven| driven.outcome.is_err())
            .count(),
        1,
        "{results:?}"
    );

    for id in ["first", "second", "twin"] {
        let report = engine.status_report(id).unwrap();
        assert_eq!(report.status, ExecutionStatus::Completed, "{id}");
        assert_eq!(report.feedback, [AUTO_APPROVAL_FEEDBACK]);
        assert!(report.approval.is_none() && report.progress.is_none());
        assert_fields_in_stable_order(&report);
        // Nothing in a finished report depends on the time, so the binary prints it exactly.
        let printed = sandbox.host(&["status", id, "--json"]);
        assert_success(&printed);
        assert_eq!(
            String::from_utf8(printed.stdout).unwrap(),
            format!("{}\n", serde_json::to_string_pretty(&report).unwrap())
        );
    }
}
