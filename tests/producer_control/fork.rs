//! `host fork`: a new execution takes the source's results up to a stage and runs the rest,
//! here with another speech plugin; the counting plugin proves the script is not asked for
//! again, and the podcast's fork from speech calls no model.

use pipeline_core::Event;
use serde_json::Value;

use crate::support::{Sandbox, assert_exit, assert_success, text};
use crate::support::{path_str, run_podcast, status_json};

/// Installs the built-in mock speech plugin again under another name, as a producer drops in
/// a second voice provider.
pub fn install_second_tts(sandbox: &Sandbox) {
    let catalog = host::plugin::Catalog::new(sandbox.data().join("plugins"));
    let mock = catalog.resolve("mock-tts").expect("the built-in mock TTS");
    std::fs::create_dir_all(sandbox.data().join("plugins")).unwrap();
    std::fs::write(sandbox.data().join("plugins/studio-tts.wasm"), &*mock.bytes).unwrap();
}

/// The calls scheduled in a history, in order.
pub fn scheduled_calls(history: &[(Event, i64)]) -> Vec<String> {
    history
        .iter()
        .filter_map(|(event, _)| match event {
            Event::ActivityScheduled { call, .. } => Some(call.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_fork_from_speech_with_another_voice_asks_for_no_script() {
    let sandbox = Sandbox::new().with_counter();
    install_second_tts(&sandbox);
    let workflow = sandbox.workflow("fork");
    assert_success(&sandbox.host(&["run", path_str(&workflow), "--id", "source"]));
    assert_eq!(sandbox.calls().len(), 1, "the script is written once");

    let fork = sandbox.host(&[
        "fork",
        "source",
        "--from",
        "speech",
        "--provider",
        "tts=studio-tts",
        "--id",
        "second-voice",
    ]);
    assert_success(&fork);
    assert!(text(&fork.stderr).contains("Forked second-voice from source at stage speech"));
    assert_eq!(sandbox.calls().len(), 1, "the fork asked the model again");
    let status = status_json(&sandbox, "second-voice");
    assert_eq!(status["status"], "completed", "{status:#}");

    let history = sandbox.history("second-voice");
    let forked: Vec<(String, String)> = history
        .iter()
        .filter_map(|(event, _)| match event {
            Event::StageForked {
                stage,
                source_execution,
                ..
            } => Some((stage.0.clone(), source_execution.0.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(forked, [("script".to_string(), "source".to_string())]);
    assert_eq!(
        scheduled_calls(&history),
        [
            "tts.synthesize",
            "tts.synthesize",
            "mixer.mix",
            "episode.publish"
        ]
    );
    let speakers: Vec<&str> = history
        .iter()
        .filter_map(|(event, _)| match event {
            Event::ActivityCompleted {
                plugin: Some(plugin),
                ..
            } if plugin.name.ends_with("tts") => Some(plugin.name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(speakers, ["studio-tts", "studio-tts"]);
    let source_script = &sandbox.stage_outputs("source")["script"];
    assert_eq!(
        &sandbox.stage_outputs("second-voice")["script"],
        source_script
    );
    let replay = sandbox.host(&["replay", "second-voice"]);
    assert_success(&replay);
    let listed = sandbox.host(&["history", "second-voice"]);
    assert!(
        text(&listed.stdout).contains("StageForked"),
        "{}",
        text(&listed.stdout)
    );
}

#[test]
fn a_fork_that_cannot_be_made_is_refused_and_records_nothing() {
    let sandbox = Sandbox::new().with_counter();
    let workflow = sandbox.workflow("fork");
    assert_success(&sandbox.host(&["run", path_str(&workflow), "--id", "source"]));
    for (arguments, problem) in [
        (
            vec!["fork", "source", "--from", "singing", "--id", "bad"],
            "no stage `singing`",
        ),
        (
            vec![
                "fork",
                "source",
                "--from",
                "speech",
                "--provider",
                "image=mock-image",
                "--id",
                "bad",
            ],
            "no `image` service",
        ),
        (
            vec!["fork", "nowhere", "--from", "speech", "--id", "bad"],
            "nowhere",
        ),
    ] {
        let refused = sandbox.host(&arguments);
        assert_exit(&refused, 2, problem);
        assert!(
            text(&refused.stderr).contains(problem),
            "{problem}: {}",
            text(&refused.stderr)
        );
        assert!(
            !sandbox.execution_exists("bad"),
            "{problem}: recorded an execution"
        );
    }
}

#[test]
fn a_podcast_forked_from_speech_with_another_voice_calls_no_model() {
    let sandbox = Sandbox::new();
    install_second_tts(&sandbox);
    let workflows = sandbox.repository_workflows("workflows");
    let fast = ["skip_cover=true", "skip_mixing=true"];
    assert_success(&run_podcast(&sandbox, &workflows, "tea", &fast));
    assert_success(&sandbox.host(&["signal", "approve", "tea"]));
    let fork = sandbox.host(&[
        "fork",
        "tea",
        "--from",
        "audio_synthesis",
        "--provider",
        "tts=studio-tts",
        "--id",
        "tea-new-voices",
        "--json",
    ]);
    assert_success(&fork);
    let status: Value = serde_json::from_slice(&fork.stdout).unwrap();
    assert_eq!(status["status"], "completed", "{status:#}");
    let history = sandbox.history("tea-new-voices");
    let calls = scheduled_calls(&history);
    assert!(
        !calls.iter().any(|call| call.starts_with("llm.")),
        "{calls:?}"
    );
    assert!(
        calls.iter().any(|call| call == "tts.synthesize"),
        "{calls:?}"
    );
    let transcript = |id: &str| {
        std::fs::read_to_string(
            sandbox
                .data()
                .join("episodes")
                .join(id)
                .join("transcript.md"),
        )
        .unwrap()
    };
    assert_eq!(transcript("tea-new-voices"), transcript("tea"));
}

#[test]
fn the_api_forks_and_its_worker_drives_the_new_execution() {
    use crate::support::server::{Server, served_workflows};
    let sandbox = Sandbox::new().with_counter();
    install_second_tts(&sandbox);
    let workflow = sandbox.workflow("fork");
    assert_success(&sandbox.host(&["run", path_str(&workflow), "--id", "source"]));
    let server = Server::start(&sandbox, &served_workflows(&sandbox));

    let body = serde_json::json!({
        "from": "speech",
        "providers": { "tts": "studio-tts" },
        "id": "api-fork",
    });
    let (status, report) = server.post("/api/executions/source/fork", &body);
    assert_eq!(status, 201, "{report:#}");
    assert_eq!(report["id"], "api-fork");
    let done = server.wait_for("api-fork", std::time::Duration::from_secs(60), |report| {
        report["status"] == "completed"
    });
    assert_eq!(done["status"], "completed", "{done:#}");
    assert_eq!(sandbox.calls().len(), 1, "the fork asked the model again");

    let (status, refused) = server.post(
        "/api/executions/source/fork",
        &serde_json::json!({ "from": "singing", "id": "api-bad" }),
    );
    assert_eq!(status, 400, "{refused:#}");
    assert_eq!(refused["error"]["kind"], "invalid_input");
    assert!(!sandbox.execution_exists("api-bad"));
    let (_, openapi) = server.get("/api/openapi.json");
    assert!(openapi["paths"]["/api/executions/{id}/fork"]["post"].is_object());
}

#[test]
fn a_fork_takes_only_finished_stages_and_may_stop_at_a_gate_again() {
    let sandbox = Sandbox::new();
    let workflow = sandbox.workflow("two_gates");
    assert_success(&sandbox.host(&["run", path_str(&workflow), "--id", "parked"]));
    let refused = sandbox.host(&["fork", "parked", "--from", "final", "--id", "too-far"]);
    assert_exit(&refused, 2, "a fork past an unfinished stage");
    assert!(
        text(&refused.stderr)
            .contains("stage `draft_approval` of execution parked has not finished"),
        "{}",
        text(&refused.stderr)
    );
    assert!(!sandbox.execution_exists("too-far"));

    // From the gate: the draft is taken, the gate asks again in the new execution.
    assert_success(&sandbox.host(&[
        "fork",
        "parked",
        "--from",
        "draft_approval",
        "--id",
        "again",
    ]));
    let status = status_json(&sandbox, "again");
    assert_eq!(status["status"], "waiting_for_approval", "{status:#}");
    assert_eq!(
        status["approval"]["subject"],
        status_json(&sandbox, "parked")["approval"]["subject"]
    );
    assert!(
        !scheduled_calls(&sandbox.history("again"))
            .iter()
            .any(|call| call == "llm.generate"),
        "the draft was written again"
    );
}
