//! Producer control through the real binary (issue 18): the script review gate, forking an
//! execution from a stage, reusing identical completed calls, and upgrading parked executions
//! to an edited workflow.

#[path = "producer_control/fork.rs"]
mod fork;
#[path = "producer_control/reuse.rs"]
mod reuse;
#[path = "producer_control/review.rs"]
mod review;
mod support;
#[path = "producer_control/upgrade.rs"]
mod upgrade;

use std::path::Path;
use std::process::Output;

use serde_json::Value;
use support::{Sandbox, assert_success};

fn path_str(path: &Path) -> &str {
    path.to_str().expect("sandbox paths are UTF-8")
}

/// `host run <workflows>/podcast.toml --id <id> --input topic=... [--input extra...]`.
fn run_podcast(sandbox: &Sandbox, workflows: &Path, id: &str, extra_inputs: &[&str]) -> Output {
    let workflow = workflows.join("podcast.toml");
    let mut arguments = vec![
        "run",
        path_str(&workflow),
        "--id",
        id,
        "--input",
        "topic=the history of tea",
    ];
    for input in extra_inputs {
        arguments.extend(["--input", input]);
    }
    sandbox.host(&arguments)
}

fn status_json(sandbox: &Sandbox, id: &str) -> Value {
    let output = sandbox.host(&["status", id, "--json"]);
    assert_success(&output);
    serde_json::from_slice(&output.stdout).expect("status --json prints JSON")
}
