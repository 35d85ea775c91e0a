//! Fan-out: one stage calling a provider once per item, 40 items, with each call taking 200 ms
//! inside the plugin (the counting test plugin sleeps through WASI, as a plugin waiting on a
//! network answer does), at concurrency 1, 4 and 16. The baseline is the ideal: rounds of
//! calls times 200 ms, with zero engine overhead. Prints a Markdown table; run with
//! `cargo bench -p host --bench fan_out`.

mod support;

use std::collections::BTreeMap;
use std::time::Instant;

use host::engine::{DriveOptions, NoObserver, StartRequest};
use host::history::Durability;
use serde_json::json;
use support::{Scratch, assert_completed, runtime};

const ITEMS: usize = 40;
const CALL_MS: u64 = 200;

fn main() {
    let runtime = runtime();
    println!("| concurrency | items | ideal | measured | measured / ideal |");
    println!("|---|---|---|---|---|");
    for concurrency in [1usize, 4, 16] {
        let scratch = Scratch::new();
        let engine = scratch.engine(Durability::Full);
        let workflow = scratch.fan_out_workflow(
            "counter",
            &format!("Line {{{{ item }}}}: sleep-ms={CALL_MS}"),
            concurrency,
            1,
        );
        let items: Vec<_> = (0..ITEMS).map(|item| json!(item)).collect();
        let request = StartRequest {
            workflow,
            inputs: BTreeMap::from([("items".to_string(), json!(items))]),
            execution_id: Some(format!("fan-out-{concurrency}")),
            providers: BTreeMap::new(),
            max_cost_micros: None,
            reuse_identical: false,
        };
        let elapsed = runtime.block_on(async {
            let prepared = engine.prepare(&request).expect("prepare");
            engine.start(prepared).await.expect("start");
            let started = Instant::now();
            let outcome = engine
                .drive(
                    &request.execution_id.clone().unwrap(),
                    &NoObserver,
                    DriveOptions::default(),
                )
                .await
                .expect("drive");
            assert_completed(&outcome);
            started.elapsed()
        });
        let rounds = ITEMS.div_ceil(concurrency) as u64;
        let ideal = std::time::Duration::from_millis(rounds * CALL_MS);
        println!(
            "| {concurrency} | {ITEMS} | {:.2} s | {:.2} s | {:.2}x |",
            ideal.as_secs_f64(),
            elapsed.as_secs_f64(),
            elapsed.as_secs_f64() / ideal.as_secs_f64(),
        );
    }
}
