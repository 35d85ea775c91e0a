//! Cold start: `host run` of the podcast workflow on the built-in mocks until it waits for
//! approval, end to end as a user types it, on a first run (an empty data directory, so the
//! plugins compile) against warm runs (compiled code cached). The baseline from the same run is
//! the bare process start (`host --version`). Prints a Markdown table; run with
//! `cargo bench -p host --bench cold_start`.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{format_duration, percentile};

const HOST: &str = env!("CARGO_BIN_EXE_host");
const ROUNDS: usize = 5;

fn main() {
    let workflow = Path::new(env!("CARGO_MANIFEST_DIR")).join("../workflows/podcast.toml");
    let mut process_start = Vec::new();
    let mut first = Vec::new();
    let mut warm = Vec::new();
    for round in 0..ROUNDS {
        process_start.push(timed(Command::new(HOST).arg("--version")));
        let data = tempfile::tempdir().expect("data directory");
        first.push(run_to_approval(data.path(), &workflow, "first"));
        warm.push(run_to_approval(
            data.path(),
            &workflow,
            &format!("warm-{round}"),
        ));
    }
    println!("| measurement | median | max | rounds |");
    println!("|---|---|---|---|");
    for (label, samples) in [
        (
            "process start (`host --version`), baseline",
            &mut process_start,
        ),
        (
            "podcast to the approval gate, first run (compiles plugins)",
            &mut first,
        ),
        (
            "podcast to the approval gate, warm (compiled code cached)",
            &mut warm,
        ),
    ] {
        println!(
            "| {label} | {} | {} | {ROUNDS} |",
            format_duration(percentile(samples, 0.5)),
            format_duration(percentile(samples, 1.0)),
        );
    }
}

fn run_to_approval(data: &Path, workflow: &Path, id: &str) -> Duration {
    let mut command = Command::new(HOST);
    command
        .arg("--data-dir")
        .arg(data)
        .arg("run")
        .arg(workflow)
        .args(["--input", "topic=the history of tea", "--id", id, "--json"]);
    timed(&mut command)
}

fn timed(command: &mut Command) -> Duration {
    let started = Instant::now();
    let status = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run host");
    let elapsed = started.elapsed();
    assert!(status.success(), "{command:?} failed");
    elapsed
}
