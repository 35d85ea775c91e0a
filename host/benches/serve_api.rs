//! Approvals through `host serve`'s API against the command line, in the same run, on the same
//! workflow (a step on the counting test plugin, an approval gate, another step):
//!
//! - signal → next activity started: the time between the `SignalReceived` event and the next
//!   `ActivityStarted` in the history, for approvals sent one at a time;
//! - 200 executions waiting at the gate, approved 8 at a time: first approval → all complete.
//!
//! The command-line side records each approval with `host signal approve --no-wait` (one
//! process each) while a `host worker --follow` drives, as a script would without a server.

mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Scratch, percentile};

const HOST: &str = env!("CARGO_BIN_EXE_host");
const WAITING: usize = 200;
const SENDERS: usize = 8;
const ONE_AT_A_TIME: usize = 20;

fn workflow(scratch: &Scratch) -> PathBuf {
    let folder = scratch.directory.path().join("served");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("step.md"), "ok").unwrap();
    std::fs::write(folder.join("draft.json"), r#"{"type": "string"}"#).unwrap();
    std::fs::write(
        folder.join("gate.toml"),
        "name = \"gate\"\n\n[inputs.topic]\ntype = \"string\"\n\n[providers]\nllm = \"counter\"\n\n\
         [[stages]]\nid = \"draft\"\ncall = \"llm.generate\"\nprompt = \"step.md\"\nschema = \"draft.json\"\n\n\
         [[stages]]\nid = \"approval\"\napproval = { subject = \"draft\" }\n\n\
         [[stages]]\nid = \"after\"\ncall = \"llm.generate\"\nprompt = \"step.md\"\n",
    )
    .unwrap();
    folder
}

fn host(scratch: &Scratch) -> Command {
    let mut command = Command::new(HOST);
    command
        .env("HOST_DATA_DIR", scratch.data_dir().root())
        .env_remove("HOST_API_TOKEN")
        .stderr(Stdio::null());
    command
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn completed_count(scratch: &Scratch) -> usize {
    let connection = rusqlite::Connection::open(scratch.data_dir().history_file()).unwrap();
    connection
        .query_row(
            "SELECT count(*) FROM executions WHERE status = 'completed'",
            [],
            |row| row.get::<_, i64>(0),
        )
        .unwrap() as usize
}

fn wait_until(mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(300), "timed out");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Milliseconds from each execution's approval to the next activity's start, from its history.
fn signal_to_activity(scratch: &Scratch, ids: &[String]) -> Vec<Duration> {
    let engine = scratch.engine(host::history::Durability::Full);
    ids.iter()
        .map(|id| {
            let (events, _) = engine.load_history(id).unwrap();
            let signal = events
                .iter()
                .position(|(event, _)| event.type_name() == "SignalReceived")
                .unwrap();
            let started = events[signal..]
                .iter()
                .find(|(event, _)| event.type_name() == "ActivityStarted")
                .unwrap();
            Duration::from_millis((started.1 - events[signal].1).max(0) as u64)
        })
        .collect()
}

fn api_side() -> (Vec<Duration>, Duration) {
    let scratch = Scratch::new();
    let folder = workflow(&scratch);
    let mut server = host(&scratch)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--concurrency",
            "64",
            "--workflows",
        ])
        .arg(&folder)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    // The server logs a line per drive: keep reading, or it would write into a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let _server = Killed(server);
    let base = first
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let post = |path: &str, body: Value| {
        let response = agent
            .post(format!("{base}{path}"))
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .unwrap();
        let status = response.status();
        let text = response.into_body().read_to_string().unwrap_or_default();
        assert!(status.is_success(), "{path}: {status} {text}");
    };
    let start = |id: &str| {
        post(
            "/api/executions",
            json!({ "workflow": "gate", "inputs": { "topic": id }, "id": id }),
        )
    };
    let waiting = || {
        let mut response = agent
            .get(format!(
                "{base}/api/executions?status=waiting_for_approval&limit=1"
            ))
            .call()
            .unwrap();
        response.body_mut().read_json::<Value>().unwrap()["total"]
            .as_u64()
            .unwrap() as usize
    };

    let single: Vec<String> = (0..ONE_AT_A_TIME).map(|n| format!("one-{n}")).collect();
    for id in &single {
        start(id);
        wait_until(|| waiting() == 1);
        post(&format!("/api/executions/{id}/approve"), json!({}));
        let done = completed_count(&scratch) + 1;
        wait_until(|| completed_count(&scratch) >= done);
    }
    let latencies = signal_to_activity(&scratch, &single);

    let many: Vec<String> = (0..WAITING).map(|n| format!("many-{n}")).collect();
    for id in &many {
        start(id);
    }
    wait_until(|| waiting() == WAITING);
    let before = completed_count(&scratch);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for chunk in many.chunks(WAITING / SENDERS) {
            let post = &post;
            scope.spawn(move || {
                for id in chunk {
                    post(&format!("/api/executions/{id}/approve"), json!({}));
                }
            });
        }
    });
    wait_until(|| completed_count(&scratch) >= before + WAITING);
    (latencies, started.elapsed())
}

fn cli_side() -> (Vec<Duration>, Duration) {
    let scratch = Scratch::new();
    let folder = workflow(&scratch);
    let gate = folder.join("gate.toml");
    let _worker = Killed(
        host(&scratch)
            .args(["worker", "--follow", "--concurrency", "64"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let run = |ids: &[String]| {
        let topics = scratch.directory.path().join("topics.txt");
        std::fs::write(&topics, ids.join("\n")).unwrap();
        let status = host(&scratch)
            .arg("run")
            .arg(&gate)
            .arg("--batch")
            .arg(&topics)
            .args(["--concurrency", "64", "--json"])
            .stdout(Stdio::piped())
            .output()
            .unwrap();
        let started: Value = serde_json::from_slice(&status.stdout).unwrap();
        started
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let approve = |id: &str| {
        let status = host(&scratch)
            .args(["signal", "approve", id, "--no-wait"])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    };

    let mut single = Vec::new();
    for n in 0..ONE_AT_A_TIME {
        let id = run(&[format!("one-{n}")]).remove(0);
        approve(&id);
        let done = completed_count(&scratch) + 1;
        wait_until(|| completed_count(&scratch) >= done);
        single.push(id);
    }
    let latencies = signal_to_activity(&scratch, &single);

    let topics: Vec<String> = (0..WAITING).map(|n| format!("many-{n}")).collect();
    let many = run(&topics);
    let before = completed_count(&scratch);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for chunk in many.chunks(WAITING / SENDERS) {
            let approve = &approve;
            scope.spawn(move || chunk.iter().for_each(|id| approve(id)));
        }
    });
    wait_until(|| completed_count(&scratch) >= before + WAITING);
    (latencies, started.elapsed())
}

fn main() {
    let (mut api_latency, api_all) = api_side();
    let (mut cli_latency, cli_all) = cli_side();
    println!("| measurement | `host serve` API | CLI (`signal --no-wait` + `worker --follow`) |");
    println!("|---|---|---|");
    println!(
        "| approval → next activity started, median of {ONE_AT_A_TIME} | {} ms | {} ms |",
        percentile(&mut api_latency, 0.5).as_millis(),
        percentile(&mut cli_latency, 0.5).as_millis()
    );
    println!(
        "| approval → next activity started, max of {ONE_AT_A_TIME} | {} ms | {} ms |",
        api_latency.iter().max().unwrap().as_millis(),
        cli_latency.iter().max().unwrap().as_millis()
    );
    println!(
        "| {WAITING} waiting, approved {SENDERS} at a time: first approval → all complete | {:.2} s | {:.2} s |",
        api_all.as_secs_f64(),
        cli_all.as_secs_f64()
    );
}
