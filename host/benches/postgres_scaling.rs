//! Scale-out on PostgreSQL: the W2 shape (500 executions of 10 no-op steps) started up front
//! and then driven by 1, 2 and 4 `host worker` processes (one data directory each) sharing one
//! PostgreSQL database, against the same workload driven by one `host worker` on SQLite
//! (FULL), measured in the same run. PostgreSQL runs with fsync on, as in production. With
//! the wall time go the CPU seconds the workers and the PostgreSQL server spent, which say
//! what bounds the curve on this machine. Prints a Markdown table; run with
//! `cargo bench -p host --bench postgres_scaling`.

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
    println!(
        "| store | hosts | wall | steps/s | vs SQLite, 1 host | workers' CPU | PostgreSQL's CPU |"
    );
    println!("|---|---|---|---|---|---|---|");
    let rate = |wall: Duration| (EXECUTIONS * STEPS) as f64 / wall.as_secs_f64();
    let workers_before = children_cpu();
    let sqlite = drive(None, 1);
    println!(
        "| SQLite (FULL) | 1 | {:.2} s | {:.0} | 1.00 | {:.2} s | - |",
        sqlite.as_secs_f64(),
        rate(sqlite),
        (children_cpu() - workers_before).as_secs_f64()
    );
    for hosts in [1, 2, 4] {
        let database = server.new_database();
        let (workers_before, server_before) = (children_cpu(), server_cpu(&server));
        let wall = drive(Some(database), hosts);
        // The server's backends for the workers' connections end just after the workers.
        std::thread::sleep(Duration::from_millis(300));
        println!(
            "| PostgreSQL (fsync on) | {hosts} | {:.2} s | {:.0} | {:.2} | {:.2} s | {:.2} s |",
            wall.as_secs_f64(),
            rate(wall),
            sqlite.as_secs_f64() / wall.as_secs_f64(),
            (children_cpu() - workers_before).as_secs_f64(),
            (server_cpu(&server) - server_before).as_secs_f64()
        );
    }
}

/// CPU time (user and system) of this process's children that have ended.
fn children_cpu() -> Duration {
    // SAFETY: getrusage fills the zeroed struct it is given and has no other effect.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let seconds = |time: libc::timeval| {
        Duration::from_secs(time.tv_sec as u64) + Duration::from_micros(time.tv_usec as u64)
    };
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// CPU time of the PostgreSQL server: its postmaster and every backend that has ended (their
/// time is added to the postmaster's children's time when they exit).
fn server_cpu(server: &Postgres) -> Duration {
    let pid = server.postmaster_pid();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("postmaster stat");
    // Fields after the command name (which is in parentheses): utime is the 14th field.
    let fields: Vec<u64> = stat[stat.rfind(')').expect("stat format") + 2..]
        .split(' ')
        .map(|field| field.parse().unwrap_or(0))
        .collect();
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    let total: u64 = fields[11..15].iter().sum();
    Duration::from_millis(total * 1000 / ticks)
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
