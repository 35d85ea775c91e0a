//! A podcast with no cloud: the real `openai-llm` and `piper-tts` plugins against real servers
//! on this machine (llama.cpp's server with SmolLM2-135M, Piper with the Joe voice, started by
//! `just local-servers`), end to end through the binary; the episode must be real speech as
//! long as its script. Skipped, saying why, when the servers are not running.

mod support;

use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use pipeline_core::Event;
use support::{Sandbox, assert_success};

const LLM: (&str, &str) = ("127.0.0.1:8081", "http://127.0.0.1:8081/v1");
const TTS: (&str, &str) = ("127.0.0.1:5000", "http://127.0.0.1:5000");

fn listening(address: &str) -> bool {
    let address = address.parse().expect("a socket address");
    TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_ok()
}

/// A `host` command pointed at the local servers, with none of the developer's own provider
/// settings.
fn command_for(sandbox: &Sandbox) -> Command {
    let mut command = sandbox.command();
    for (name, _) in std::env::vars() {
        if name.starts_with("OPENAI_") || name.starts_with("PIPER_") {
            command.env_remove(name);
        }
    }
    command
        .env("OPENAI_BASE_URL", LLM.1)
        .env("PIPER_BASE_URL", TTS.1);
    command
}

#[test]
fn a_podcast_is_made_on_local_servers_with_no_cloud() {
    for (address, what) in [(LLM.0, "the LLM server"), (TTS.0, "the Piper server")] {
        if !listening(address) {
            println!(
                "skipped: {what} is not listening on {address} (start both with `just local-servers`)"
            );
            return;
        }
    }
    let sandbox = Sandbox::new();
    let workflows = sandbox.repository_workflows("workflows");
    // A 135M model sometimes gives a line to a speaker who is not one of the show's hosts. The
    // script's schema names the hosts (llama.cpp's server turns it into a grammar) and its
    // checks catch what gets through, so stage retries, told what was wrong, are enough: no
    // reset.
    let output = command_for(&sandbox)
        .args(["run", workflows.join("podcast.toml").to_str().unwrap()])
        .args([
            "--id",
            "local",
            "--auto-approve",
            "--input",
            "topic=the history of tea",
        ])
        .args(["--input", "skip_cover=true"])
        .args([
            "--provider",
            "llm=openai-llm",
            "--provider",
            "tts=piper-tts",
        ])
        .output()
        .expect("host runs");
    assert_success(&output);
    let outputs = sandbox.stage_outputs("local");

    // Every line of the script was spoken, at a human rate: Piper says about 15 characters a
    // second, so a clip far shorter or longer than its text is not speech of that text.
    let lines: Vec<String> = outputs["script_generation"]["segments"]
        .as_array()
        .expect("script segments")
        .iter()
        .flat_map(|segment| segment["lines"].as_array().cloned().unwrap_or_default())
        .map(|line| line["text"].as_str().unwrap_or_default().to_string())
        .collect();
    let clips = outputs["audio_synthesis"].as_array().expect("speech clips");
    assert_eq!(clips.len(), lines.len());
    let mut speech_ms = 0;
    for (clip, text) in clips.iter().zip(&lines) {
        let duration_ms = clip["duration_ms"].as_u64().expect("clip duration");
        let characters = text.chars().count() as u64;
        assert!(
            duration_ms >= characters * 20 && duration_ms <= characters * 250 + 2_000,
            "{duration_ms} ms of speech for {characters} characters: {text}"
        );
        speech_ms += duration_ms;
    }
    let episode_ms = outputs["audio_mixing"]["duration_ms"]
        .as_u64()
        .expect("episode duration");
    assert!(
        episode_ms >= speech_ms,
        "the episode ({episode_ms} ms) holds all {speech_ms} ms of speech"
    );
    let completed_llm_calls = sandbox
        .history("local")
        .into_iter()
        .filter(|(event, _)| matches!(event, Event::ActivityCompleted { usage: Some(usage), .. } if usage["input"]["unit"] == "tokens"))
        .count();
    assert!(
        completed_llm_calls >= 4,
        "the LLM stages ran on the local server"
    );
}
