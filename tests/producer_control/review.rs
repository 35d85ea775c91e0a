//! The podcast's script review gate: off by default, and when asked for, an edited script
//! (lines and speakers) is checked against the script schema and the show's hosts, then
//! reaches the transcript and the subtitles.

use serde_json::json;

use crate::support::{Sandbox, assert_exit, assert_success, text};
use crate::support::{path_str, run_podcast, status_json};

#[test]
fn without_the_input_the_script_is_not_reviewed() {
    let sandbox = Sandbox::new();
    let workflows = sandbox.repository_workflows("workflows");
    let fast = ["skip_mixing=true", "skip_cover=true"];
    assert_success(&run_podcast(&sandbox, &workflows, "plain", &fast));
    assert_success(&sandbox.host(&["signal", "approve", "plain"]));
    let status = status_json(&sandbox, "plain");
    assert_eq!(status["status"], "completed", "{status:#}");
    let review = status["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|stage| stage["id"] == "script_review")
        .expect("the review stage is in the timeline");
    assert_eq!(review["status"], "skipped", "{review:#}");
}

#[test]
fn an_edited_script_is_checked_then_spoken_transcribed_and_subtitled() {
    let sandbox = Sandbox::new();
    let workflows = sandbox.repository_workflows("workflows");
    let id = "reviewed";
    let inputs = ["skip_cover=true", "review_script=true"];
    assert_success(&run_podcast(&sandbox, &workflows, id, &inputs));
    let at_script = sandbox.host(&["signal", "approve", id]);
    assert_success(&at_script);
    let status = status_json(&sandbox, id);
    assert_eq!(status["status"], "waiting_for_approval", "{status:#}");
    assert_eq!(status["approval"]["stage"], "script_review", "{status:#}");
    // The dashboard's speaker picker offers the show's hosts, from the script's schema.
    assert_eq!(
        status["approval"]["speakers"],
        serde_json::json!(["Maya", "Theo"]),
        "{status:#}"
    );
    assert!(
        !sandbox
            .history(id)
            .iter()
            .any(|(event, _)| matches!(event, pipeline_core::Event::ActivityScheduled { call, .. } if call == "tts.synthesize")),
        "speech was made before the script was reviewed"
    );
    let stdout = text(&at_script.stdout);
    let line = stdout
        .lines()
        .find(|line| line.contains("--outline "))
        .unwrap_or_else(|| panic!("no edit command printed:\n{stdout}"));
    let saved = std::path::PathBuf::from(line.rsplit("--outline ").next().unwrap().trim());
    let script: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(script, status["approval"]["subject"]);

    // A speaker who is not one of the show's hosts is refused, naming the place, and nothing
    // is recorded.
    let events_before = sandbox.history(id).len();
    let mut stranger = script.clone();
    stranger["segments"][0]["lines"][0]["speaker"] = json!("Zed");
    let stranger_file = sandbox.directory.path().join("stranger.json");
    std::fs::write(&stranger_file, stranger.to_string()).unwrap();
    let refused = sandbox.host(&[
        "signal",
        "approve",
        id,
        "--outline",
        path_str(&stranger_file),
    ]);
    assert_exit(&refused, 3, "a stranger speaking");
    assert!(
        text(&refused.stderr).contains("/segments/0/lines/0/speaker"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(sandbox.history(id).len(), events_before);

    // The first line rewritten and given to the other host.
    let mut edited = script.clone();
    let first_speaker = edited["segments"][0]["lines"][0]["speaker"]
        .as_str()
        .unwrap()
        .to_string();
    let other = if first_speaker == "Maya" {
        "Theo"
    } else {
        "Maya"
    };
    edited["segments"][0]["lines"][0]["speaker"] = json!(other);
    edited["segments"][0]["lines"][0]["text"] = json!("Periwinkle teapots hum at midnight.");
    std::fs::write(&saved, serde_json::to_string_pretty(&edited).unwrap()).unwrap();
    assert_success(&sandbox.host(&["signal", "approve", id, "--outline", path_str(&saved)]));
    assert_eq!(status_json(&sandbox, id)["status"], "completed");

    let directory = sandbox.data().join("episodes").join(id);
    let transcript = std::fs::read_to_string(directory.join("transcript.md")).unwrap();
    assert!(
        transcript.contains("Periwinkle teapots hum at midnight."),
        "{transcript}"
    );
    let subtitles = std::fs::read_to_string(directory.join("episode.vtt")).unwrap();
    assert!(
        subtitles.contains(&format!("<v {other}>Periwinkle teapots hum at midnight.")),
        "{subtitles}"
    );
    let srt = std::fs::read_to_string(directory.join("episode.srt")).unwrap();
    assert!(srt.contains("Periwinkle teapots hum at midnight."), "{srt}");
}
