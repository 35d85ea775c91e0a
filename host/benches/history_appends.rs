//! History store throughput: appends per second for one execution appending one event at a
//! time, and for 500 executions appending concurrently (where group commit matters), each with
//! `synchronous` FULL and NORMAL, against a bare rusqlite loop committing one row per
//! transaction (the physical limit of a durable step on this disk). Prints a Markdown table; run
//! with `cargo bench -p host --bench history_appends`.

use std::sync::Arc;
use std::time::Instant;

use host::history::{Durability, HistoryStore, NewEvent, SqliteStore};

const SEQUENTIAL_EVENTS: u64 = 1_000;
const EXECUTIONS: u64 = 500;
const EVENTS_PER_EXECUTION: u64 = 10;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!("| measurement | durability | events | seconds | events/s | commits |");
    println!("|---|---|---|---|---|---|");
    for (label, durability, pragma) in [
        ("FULL", Durability::Full, "FULL"),
        ("NORMAL", Durability::Normal, "NORMAL"),
    ] {
        let directory = tempfile::tempdir().expect("temporary directory");

        let started = Instant::now();
        bare_commit_loop(&directory.path().join("bare.db"), pragma);
        row(
            "bare rusqlite, one commit per row",
            label,
            SEQUENTIAL_EVENTS,
            started,
            SEQUENTIAL_EVENTS,
        );

        let store = SqliteStore::open(&directory.path().join("sequential.db"), durability)
            .expect("open store");
        let started = Instant::now();
        runtime.block_on(async {
            for sequence in 1..=SEQUENTIAL_EVENTS {
                store
                    .append("sequential", sequence, vec![step(sequence)])
                    .await
                    .expect("append");
            }
        });
        row(
            "history store, 1 execution, sequential",
            label,
            SEQUENTIAL_EVENTS,
            started,
            store.commit_count(),
        );

        let store = Arc::new(
            SqliteStore::open(&directory.path().join("concurrent.db"), durability)
                .expect("open store"),
        );
        let started = Instant::now();
        runtime.block_on(async {
            let tasks: Vec<_> = (0..EXECUTIONS)
                .map(|execution| {
                    let store = store.clone();
                    tokio::spawn(async move {
                        let execution_id = format!("execution-{execution}");
                        for sequence in 1..=EVENTS_PER_EXECUTION {
                            store
                                .append(&execution_id, sequence, vec![step(sequence)])
                                .await
                                .expect("append");
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.expect("task");
            }
        });
        row(
            "history store, 500 executions, concurrent",
            label,
            EXECUTIONS * EVENTS_PER_EXECUTION,
            started,
            store.commit_count(),
        );
    }
}

fn step(sequence: u64) -> NewEvent {
    NewEvent {
        event_type: "ActivityCompleted".into(),
        payload: format!(r#"{{"step":{sequence},"result":"ok"}}"#),
        recorded_at_ms: 0,
    }
}

fn bare_commit_loop(path: &std::path::Path, synchronous: &str) {
    let connection = rusqlite::Connection::open(path).expect("open");
    connection
        .execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous};
             CREATE TABLE steps (id INTEGER PRIMARY KEY, payload TEXT NOT NULL) STRICT;"
        ))
        .expect("schema");
    for sequence in 0..SEQUENTIAL_EVENTS {
        connection
            .execute(
                "INSERT INTO steps (id, payload) VALUES (?1, ?2)",
                rusqlite::params![sequence as i64, format!(r#"{{"step":{sequence}}}"#)],
            )
            .expect("insert");
    }
}

fn row(label: &str, durability: &str, events: u64, started: Instant, commits: u64) {
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "| {label} | {durability} | {events} | {seconds:.2} | {:.0} | {commits} |",
        events as f64 / seconds
    );
}
