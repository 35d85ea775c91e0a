//! Scale-out on PostgreSQL: the W2 shape (500 executions of 10 no-op steps) started up front
//! and then driven by 1, 2 and 4 `host worker` processes (one data directory each) sharing one
//! PostgreSQL database, against the same workload driven by one `host worker` on SQLite
//! (FULL), measured in the same run. PostgreSQL runs with fsync on, as in production. Prints a
//! Markdown table; run with `cargo bench -p host --bench postgres_scaling`.

mod support;
#[allow(dead_code, unused_macros, unused_imports)]
#[path = "../../tests/support/postgres.rs"]
mod test_postgres;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use host::engine::{Engine, StartRequest};
use pipeline_core::store::HistoryStore;
use postgres_store::PostgresStore;
use serde_json::json;
use support::{Scratch, runtime};
use test_postgres::Postgres;

const HOST: &str = env!("CARGO_BIN_EXE_host");
const EXECUTIONS: usize = 500;
const STEPS: usize = 10;

fn main() {
    let Some(server) = Postgres::start_durable() else {
        eprintln!("PostgreSQL is not installed: install the `postgresql` package");
        std::process::exit(1);
    };
    println!("| store | hosts | wall | steps/s | vs SQLite, 1 host |");
    println!("|---|---|---|---|---|");
    let sqlite = drive(None, 1);
    let rate = |wall: Duration| (EXECUTIONS * STEPS) as f64 / wall.as_secs_f64();
    println!(
        "| SQLite (FULL) | 1 | {:.2} s | {:.0} | 1.00 |",
        sqlite.as_secs_f64(),
        rate(sqlite)
    );
    for hosts in [1, 2, 4] {
        let wall = drive(Some(server.new_database()), hosts);
        println!(
            "| PostgreSQL (fsync on) | {hosts} | {:.2} s | {:.0} | {:.2} |",
            wall.as_secs_f64(),
            rate(wall),
            sqlite.as_secs_f64() / wall.as_secs_f64()
        );
    }
}

/// Starts the workload on the database (`None`: a scratch SQLite file), then runs `hosts`
/// workers over it at once; the wall time from their start until the last one is done.
fn drive(database: Option<String>, hosts: usize) -> Duration {
    let scratches: Vec<Scratch> = (0..hosts).map(|_| Scratch::new()).collect();
    let workflow = scratches[0].sequential_workflow(STEPS, "noop", "Say ok.");
    let engine = match &database {
        Some(url) => {
            let store: Arc<dyn HistoryStore> =
                Arc::new(PostgresStore::connect(url).expect("PostgreSQL store"));
            let data = scratches[0].data_dir();
            Engine::open(&data, store, Scratch::plugin_host_at(data.root())).expect("engine")
        }
        None => scratches[0].engine(host::history::Durability::Full),
    };
    let request = StartRequest {
        workflow,
        ..StartRequest::default()
    };
    let inputs = (0..EXECUTIONS)
        .map(|index| BTreeMap::from([("topic".to_string(), json!(format!("topic {index}")))]))
        .collect();
    let prepared = engine.prepare_each(&request, inputs).expect("prepare");
    runtime().block_on(async {
        for start in prepared {
            engine.start(start).await.expect("start");
        }
    });
    drop(engine);
    let started = Instant::now();
    let workers: Vec<Child> = scratches
        .iter()
        .map(|scratch| {
            let mut command = Command::new(HOST);
            command
                .arg("--data-dir")
                .arg(scratch.data_dir().root())
                .args(["worker", "--concurrency", "500"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            match &database {
                Some(url) => command.env("HOST_DATABASE_URL", url),
                None => command.env_remove("HOST_DATABASE_URL"),
            };
            command.spawn().expect("worker starts")
        })
        .collect();
    for worker in workers {
        let output = worker.wait_with_output().expect("worker ends");
        assert!(
            output.status.success(),
            "a worker failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let wall = started.elapsed();
    let list = Command::new(HOST)
        .arg("--data-dir")
        .arg(scratches[0].data_dir().root())
        .args(["list", "--status", "completed", "--json"])
        .envs(
            database
                .iter()
                .map(|url| ("HOST_DATABASE_URL", url.as_str())),
        )
        .output()
        .expect("list");
    let completed: serde_json::Value = serde_json::from_slice(&list.stdout).expect("list JSON");
    assert_eq!(
        completed.as_array().map(Vec::len),
        Some(EXECUTIONS),
        "every execution completes"
    );
    wall
}
