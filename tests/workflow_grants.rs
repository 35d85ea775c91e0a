//! Grants a workflow declares for its plugins: a secret reaches the plugin it is granted to
//! and no other variable does; a granted secret missing from the environment stops the run
//! before anything is recorded.

mod support;

use pipeline_core::{ExecutionState, StageId, StageStatus};
use support::{Sandbox, assert_success, text};

const HOSTILE_WASM: &str = test_artifacts::HOSTILE_WASM;

fn sandbox_with_hostile() -> Sandbox {
    let sandbox = Sandbox::new();
    let plugins = sandbox.data().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(HOSTILE_WASM, plugins.join("hostile.wasm")).unwrap();
    sandbox
}

#[test]
fn a_granted_secret_reaches_its_plugin_and_nothing_else_does() {
    let sandbox = sandbox_with_hostile();
    let workflow = sandbox.workflow("secrets");
    let output = sandbox
        .command()
        .args(["run", workflow.to_str().unwrap(), "--id", "granted"])
        .env("GRANTED_SECRET", "granted-value")
        .env("OTHER_SECRET", "other-value")
        .output()
        .unwrap();
    assert_success(&output);
    let history = sandbox.history("granted");
    let state = ExecutionState::fold(history.iter().map(|(event, at)| (event, *at))).unwrap();
    // The plugin read the value and answered with it; the host redacts a granted value from
    // whatever it records, so the history shows the variable's name instead.
    assert_eq!(
        state.stage(&StageId("granted".into())).output,
        Some(serde_json::json!("[redacted GRANTED_SECRET]"))
    );
    let refused = state.stage(&StageId("not_granted".into()));
    let StageStatus::Failed { error, .. } = &refused.status else {
        panic!(
            "reading an ungranted variable must fail: {:?}",
            refused.status
        )
    };
    assert!(error.message.contains("OTHER_SECRET"), "{}", error.message);
    assert!(!format!("{history:?}").contains("other-value"));
    assert!(!format!("{history:?}").contains("granted-value"));
}

#[test]
fn a_granted_secret_that_is_not_set_stops_the_run_before_it_starts() {
    let sandbox = sandbox_with_hostile();
    let workflow = sandbox.workflow("secrets");
    let output = sandbox
        .command()
        .args(["run", workflow.to_str().unwrap(), "--id", "missing"])
        .env_remove("GRANTED_SECRET")
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(2),
        "stderr: {}",
        text(&output.stderr)
    );
    assert!(
        text(&output.stderr).contains("GRANTED_SECRET"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(sandbox.host(&["list", "--json"]).stdout, b"[]\n");
}
