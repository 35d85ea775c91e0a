//! Rebuilding an execution's state from its history: 10,000 and 100,000 events, produced by
//! really running a fan-out over the no-op plugin. Measures what a resuming driver does (read
//! the rows, verify the hash chain, decode, fold) and the full replay check (deciding again at
//! every recorded decision), against a bare rusqlite read of the same rows. Prints a Markdown
//! table; run with `cargo bench -p host --bench replay`.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use host::engine::{DriveOptions, NoObserver, StartRequest};
use host::history::Durability;
use serde_json::json;
use support::{Scratch, assert_completed, format_duration, percentile, runtime};

const ROUNDS: usize = 5;
const ITEMS_PER_STAGE: usize = 1_000;

fn main() {
    let runtime = runtime();
    println!(
        "| events | bare rusqlite read | read + verify + decode + fold | full replay check | fold / bare read |"
    );
    println!("|---|---|---|---|---|");
    for target_events in [10_000usize, 100_000] {
        let scratch = Scratch::new();
        let engine = scratch.engine(Durability::Normal);
        // A fan-out item records three events (scheduled, attempt started, completed); stages
        // of 1,000 items keep each decision's scan of its stage short.
        let items: Vec<_> = (0..ITEMS_PER_STAGE).map(|item| json!(item)).collect();
        let stages = target_events.div_ceil(3 * ITEMS_PER_STAGE);
        let workflow = scratch.fan_out_workflow("noop", "Say ok.", 64, stages);
        let request = StartRequest {
            workflow,
            inputs: BTreeMap::from([("items".to_string(), json!(items))]),
            execution_id: Some("long".into()),
            providers: BTreeMap::new(),
            max_cost_micros: None,
            reuse_identical: false,
        };
        runtime.block_on(async {
            let prepared = engine.prepare(&request).expect("prepare");
            engine.start(prepared).await.expect("start");
            let outcome = engine
                .drive("long", &NoObserver, DriveOptions::default())
                .await
                .expect("drive");
            assert_completed(&outcome);
        });
        let events = engine.store.last_sequence("long").expect("count") as usize;

        let database = scratch.data_dir().history_file();
        let mut bare = timed(|| bare_read(&database, "long"));
        let mut fold = timed(|| {
            engine.load_state("long").expect("load state");
        });
        let mut replay = timed(|| {
            engine.replay("long", None).expect("replay");
        });
        let bare_median = percentile(&mut bare, 0.5);
        let fold_median = percentile(&mut fold, 0.5);
        println!(
            "| {events} | {} | {} | {} | {:.1}x |",
            format_duration(bare_median),
            format_duration(fold_median),
            format_duration(percentile(&mut replay, 0.5)),
            fold_median.as_secs_f64() / bare_median.as_secs_f64(),
        );
    }
}

fn timed(mut work: impl FnMut()) -> Vec<Duration> {
    (0..ROUNDS)
        .map(|_| {
            let started = Instant::now();
            work();
            started.elapsed()
        })
        .collect()
}

/// Every row of the execution, read and dropped: the floor for loading a history.
fn bare_read(database: &std::path::Path, execution_id: &str) {
    let connection = rusqlite::Connection::open(database).expect("open");
    let mut statement = connection
        .prepare(
            "SELECT sequence, event_type, payload, recorded_at_ms, hash FROM events
             WHERE execution_id = ?1 ORDER BY sequence",
        )
        .expect("prepare");
    let rows = statement
        .query_map([execution_id], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, Vec<u8>>(4)?,
            ))
        })
        .expect("query");
    let mut count = 0usize;
    for row in rows {
        row.expect("row");
        count += 1;
    }
    assert!(count > 0);
}
