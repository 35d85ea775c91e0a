//! The real provider plugins (`openai-llm`, `openai-tts`, `elevenlabs-tts`, `openai-image`) as
//! compiled components, through the real binary and the host's wasi-http, against scripted
//! fake servers on 127.0.0.1: the podcast end to end with only `--provider` changed, rate
//! limits, outages and the circuit breaker, slow answers, malformed JSON, schema violations,
//! usage and cost from the response, and the API key kept out of every record. A last test
//! talks to the real APIs when credentials are in the environment and says why it is skipped
//! otherwise.

#[path = "real_providers/fixtures.rs"]
mod fixtures;
mod support;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use fixtures::{
    API_KEY, CHAT, CHAT_COST_MICROS, COMPLETION_TOKENS, IMAGES, PROMPT_TOKENS, SCRIPT_LINES,
    SPEECH, SPEECH_MS, chat_answer, fake_openai, provider_environment, speech_pcm,
};
use pipeline_core::{ActivityError, Event};
use serde_json::{Value, json};
use support::fake_http::{FakeHttp, Response};
use support::{Sandbox, assert_exit, assert_success, text};

/// The podcast through the real binary, outline approved automatically, with the given
/// `--provider` choices, pointed at `server`.
fn run_podcast(sandbox: &Sandbox, server: &FakeHttp, id: &str, providers: &[&str]) -> Output {
    let workflows = sandbox.repository_workflows("workflows");
    let workflow = workflows.join("podcast.toml");
    let mut command = sandbox.command();
    command.args([
        "run",
        path_str(&workflow),
        "--id",
        id,
        "--input",
        "topic=the history of tea",
        "--auto-approve",
    ]);
    for provider in providers {
        command.args(["--provider", provider]);
    }
    provider_environment(&mut command, server);
    command.output().expect("host runs")
}

/// The one-stage LLM workflow of `tests/workflows/provider_llm` with `scenario` over `items`.
fn run_llm(
    sandbox: &Sandbox,
    server: &FakeHttp,
    id: &str,
    scenario: &str,
    items: &[&str],
) -> Output {
    let workflow = sandbox.workflow("provider_llm");
    let mut command = sandbox.command();
    command.args([
        "run",
        path_str(&workflow),
        "--id",
        id,
        "--input",
        &format!("scenario={scenario}"),
        "--input",
        &format!("items={}", json!(items)),
    ]);
    provider_environment(&mut command, server);
    command.output().expect("host runs")
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("sandbox paths are UTF-8")
}

/// Every failed attempt's error, in order.
fn failures(sandbox: &Sandbox, id: &str) -> Vec<ActivityError> {
    sandbox
        .history(id)
        .into_iter()
        .filter_map(|(event, _)| match event {
            Event::ActivityFailed { error, .. } => Some(error),
            _ => None,
        })
        .collect()
}

/// Every completed activity's (activity id, usage, cost in micro-dollars).
fn completions(sandbox: &Sandbox, id: &str) -> Vec<(String, Option<Value>, u64)> {
    sandbox
        .history(id)
        .into_iter()
        .filter_map(|(event, _)| match event {
            Event::ActivityCompleted {
                activity,
                usage,
                cost,
                ..
            } => Some((
                activity.0,
                usage,
                cost.map(|cost| cost.amount_micros).unwrap_or(0),
            )),
            _ => None,
        })
        .collect()
}

/// Fails the test if the API key appears in the history, the status output or the log files.
fn assert_secret_kept(sandbox: &Sandbox, id: &str, outputs: &[&Output]) {
    let history = format!("{:?}", sandbox.history(id));
    assert!(!history.contains(API_KEY), "the API key is in the history");
    let status = sandbox.host(&["status", id, "--json"]);
    assert!(
        !text(&status.stdout).contains(API_KEY),
        "the API key is in the status"
    );
    for output in outputs {
        assert!(!text(&output.stdout).contains(API_KEY) && !text(&output.stderr).contains(API_KEY));
    }
}

#[test]
fn the_podcast_completes_on_the_openai_plugins_with_only_the_providers_changed() {
    let sandbox = Sandbox::new();
    let server = fake_openai();
    let run = run_podcast(
        &sandbox,
        &server,
        "openai",
        &["llm=openai-llm", "tts=openai-tts", "image=openai-image"],
    );
    assert_success(&run);
    sandbox.stage_outputs("openai");

    let chats = server.requests_to("POST", CHAT);
    assert_eq!(chats.len(), 6, "ideation, outline, three segments, script");
    for chat in &chats {
        assert_eq!(
            chat.header("Authorization"),
            Some(format!("Bearer {API_KEY}").as_str())
        );
        assert!(
            chat.header("Idempotency-Key")
                .is_some_and(|key| key.starts_with("openai"))
        );
        let body = chat.body_json();
        assert_eq!(body["response_format"]["type"], "json_schema", "{body}");
        assert!(
            body["response_format"]["json_schema"]["schema"].is_object(),
            "{body}"
        );
        assert_eq!(body["model"], "gpt-4o-mini");
    }
    let speeches = server.requests_to("POST", SPEECH);
    assert_eq!(speeches.len(), SCRIPT_LINES);
    // The show's mock voices (aria, basil) speak as OpenAI voices.
    let voices: Vec<String> = speeches
        .iter()
        .map(|speech| speech.body_json()["voice"].as_str().unwrap().to_string())
        .collect();
    assert!(
        voices
            .iter()
            .all(|voice| voice == "nova" || voice == "onyx"),
        "{voices:?}"
    );
    assert_eq!(server.requests_to("POST", IMAGES).len(), 1);

    // Usage and cost as the responses reported them, priced from the built-in table.
    let completed = completions(&sandbox, "openai");
    let llm: Vec<_> = completed
        .iter()
        .filter(|(activity, _, _)| {
            !activity.starts_with("audio")
                && !activity.starts_with("cover")
                && !activity.starts_with("complete")
        })
        .collect();
    assert_eq!(llm.len(), 6, "{completed:?}");
    for (activity, usage, cost) in &llm {
        let usage = usage
            .as_ref()
            .unwrap_or_else(|| panic!("{activity} has no usage"));
        assert_eq!(usage["input"]["amount"], PROMPT_TOKENS, "{usage}");
        assert_eq!(usage["output"]["amount"], COMPLETION_TOKENS, "{usage}");
        assert_eq!(*cost, CHAT_COST_MICROS, "{activity}");
    }
    let speech: Vec<_> = completed
        .iter()
        .filter(|(activity, _, _)| activity.starts_with("audio_synthesis"))
        .collect();
    assert_eq!(speech.len(), SCRIPT_LINES);
    for (_, usage, cost) in speech {
        let usage = usage.as_ref().unwrap();
        let characters = usage["input"]["amount"].as_u64().unwrap();
        assert_eq!(usage["output"]["amount"], SPEECH_MS, "{usage}");
        // tts-1 at $15 per million characters.
        assert_eq!(*cost, characters * 15);
    }
    let cover = completed
        .iter()
        .find(|(activity, _, _)| activity.starts_with("cover_image"))
        .unwrap_or_else(|| {
            panic!(
                "no cover: {completed:?}\n{:?}",
                failures(&sandbox, "openai")
            )
        });
    assert_eq!(cover.2, 40_000, "one dall-e-3 image");
    assert_secret_kept(&sandbox, "openai", &[&run]);
}

#[test]
fn the_podcast_speaks_with_elevenlabs_in_place_of_openai_tts() {
    let sandbox = Sandbox::new();
    let server = fake_openai();
    // The deep-dive show's hosts speak as aria and basil, whose ElevenLabs stand-ins are
    // Rachel and Adam.
    for voice in ["21m00Tcm4TlvDq8ikWAM", "pNInz6obpgDQGcFmaJgB"] {
        server.route(
            "POST",
            &format!("/v1/text-to-speech/{voice}"),
            [],
            Response::bytes(200, "audio/pcm", speech_pcm()).header("x-character-count", "20"),
        );
    }
    let run = run_podcast(
        &sandbox,
        &server,
        "elevenlabs",
        &["llm=openai-llm", "tts=elevenlabs-tts", "image=openai-image"],
    );
    assert_success(&run);
    sandbox.stage_outputs("elevenlabs");
    let spoken: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|request| request.path.starts_with("/v1/text-to-speech/"))
        .collect();
    assert_eq!(spoken.len(), SCRIPT_LINES);
    for request in &spoken {
        assert_eq!(request.query.as_deref(), Some("output_format=pcm_24000"));
        assert_eq!(request.header("xi-api-key"), Some(API_KEY));
    }
    assert!(
        server.requests_to("POST", SPEECH).is_empty(),
        "OpenAI speech was not used"
    );
    let speech_costs: Vec<u64> = completions(&sandbox, "elevenlabs")
        .into_iter()
        .filter(|(activity, _, _)| activity.starts_with("audio_synthesis"))
        .map(|(_, _, cost)| cost)
        .collect();
    // 20 reported characters at the built-in $300 per million.
    assert_eq!(speech_costs, vec![6_000; SCRIPT_LINES]);
    assert_secret_kept(&sandbox, "elevenlabs", &[&run]);
}

#[test]
fn a_rate_limit_is_retried_after_the_wait_asked_for_and_one_completion_is_recorded() {
    let sandbox = Sandbox::new();
    let server = FakeHttp::start();
    server.route(
        "POST",
        CHAT,
        [Response::json(
            429,
            r#"{"error":{"message":"Rate limit reached for gpt-4o-mini","type":"requests"}}"#,
        )
        .header("Retry-After", "1")],
        chat_answer(&json!({"answer": "Tea came from China."})),
    );
    let run = run_llm(
        &sandbox,
        &server,
        "limited",
        "strict",
        &["where tea came from"],
    );
    assert_success(&run);
    let failed = failures(&sandbox, "limited");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].kind, "rate-limited");
    assert!(failed[0].retryable);
    assert_eq!(failed[0].retry_after_ms, Some(1000));
    assert!(
        failed[0]
            .message
            .contains("Rate limit reached for gpt-4o-mini"),
        "{}",
        failed[0].message
    );
    let completed = completions(&sandbox, "limited");
    assert_eq!(completed.len(), 1, "exactly one completion: {completed:?}");
    assert_eq!(completed[0].2, CHAT_COST_MICROS);
    let chats = server.requests_to("POST", CHAT);
    assert_eq!(chats.len(), 2);
    // Each attempt sends the key the history recorded for it (one per attempt, so the engine
    // can tell a retry from a resumed attempt).
    let keys: Vec<_> = chats
        .iter()
        .map(|chat| chat.header("Idempotency-Key").map(str::to_string))
        .collect();
    assert_eq!(
        keys,
        [
            Some("limited/strict#0/0/1".to_string()),
            Some("limited/strict#0/0/2".to_string())
        ]
    );
}

#[test]
fn repeated_outages_exhaust_the_retries_then_open_the_circuit_breaker() {
    let sandbox = Sandbox::new();
    let server = FakeHttp::start();
    server.route(
        "POST",
        CHAT,
        [],
        Response::json(503, r#"{"error":{"message":"The server is overloaded"}}"#),
    );
    let run = run_llm(
        &sandbox,
        &server,
        "outage",
        "lenient",
        &["one", "two", "three"],
    );
    assert_success(&run);
    let failed = failures(&sandbox, "outage");
    let kinds: Vec<&str> = failed.iter().map(|error| error.kind.as_str()).collect();
    assert_eq!(&kinds[..5], ["unavailable"; 5], "{kinds:?}");
    assert!(
        failed[0].message.contains("HTTP 503")
            && failed[0].message.contains("The server is overloaded"),
        "{}",
        failed[0].message
    );
    let opened = kinds
        .iter()
        .position(|kind| *kind == "circuit-open")
        .expect("the breaker opens");
    assert_eq!(opened, 5, "{kinds:?}");
    assert!(
        failed[opened]
            .message
            .contains("plugin `openai-llm` failed 5 times in a row")
    );
    assert_eq!(
        server.requests_to("POST", CHAT).len(),
        5,
        "nothing is sent while the breaker is open"
    );
}

#[test]
fn an_answer_slower_than_the_deadline_is_cut_off_and_retried() {
    let sandbox = Sandbox::new();
    let server = FakeHttp::start();
    let answer = chat_answer(&json!({"answer": "Slowly."}));
    server.route(
        "POST",
        CHAT,
        [answer.clone().delay(Duration::from_secs(4))],
        answer,
    );
    let run = run_llm(&sandbox, &server, "slow", "strict", &["take your time"]);
    assert_success(&run);
    let failed = failures(&sandbox, "slow");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        ["deadline-exceeded", "timeout"].contains(&failed[0].kind.as_str()),
        "{failed:?}"
    );
    assert!(failed[0].retryable);
    assert_eq!(completions(&sandbox, "slow").len(), 1);
}

#[test]
fn malformed_json_in_a_success_is_a_retryable_malformed_response() {
    let sandbox = Sandbox::new();
    let server = FakeHttp::start();
    server.route(
        "POST",
        CHAT,
        [Response::json(
            200,
            r#"{"id": "chatcmpl-1", "choices": [{"message": "#,
        )],
        chat_answer(&json!({"answer": "Better now."})),
    );
    let run = run_llm(&sandbox, &server, "garbled", "strict", &["say something"]);
    assert_success(&run);
    let failed = failures(&sandbox, "garbled");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].kind, "malformed-response");
    assert!(failed[0].retryable);
    assert!(
        failed[0].message.contains("not JSON"),
        "{}",
        failed[0].message
    );
    assert_eq!(completions(&sandbox, "garbled").len(), 1);
}

#[test]
fn an_answer_violating_the_schema_is_retried_then_fails_with_the_validation_message() {
    let sandbox = Sandbox::new();
    let server = FakeHttp::start();
    server.route(
        "POST",
        CHAT,
        [],
        chat_answer(&json!({"reply": "wrong field"})),
    );
    let run = run_llm(&sandbox, &server, "invalid", "strict", &["answer properly"]);
    assert_exit(&run, 1, "a stage whose answers never fit its schema");
    let failed = failures(&sandbox, "invalid");
    assert_eq!(
        failed.len(),
        3,
        "every attempt of the retry policy: {failed:?}"
    );
    for error in &failed {
        assert_eq!(error.kind, "schema-violation");
        assert!(error.message.contains("answer"), "{}", error.message);
    }
    assert_eq!(server.requests_to("POST", CHAT).len(), 3);
    let stderr = text(&run.stderr);
    assert!(
        stderr.contains("schema"),
        "the failure names the schema:\n{stderr}"
    );
}

#[test]
fn a_refused_key_fails_at_once_with_the_providers_message_and_no_secret() {
    let sandbox = Sandbox::new();
    let server = FakeHttp::start();
    server.route(
        "POST",
        CHAT,
        [],
        Response::json(
            401,
            r#"{"error":{"message":"Incorrect API key provided: sk-test-****4242."}}"#,
        ),
    );
    let run = run_llm(&sandbox, &server, "refused", "strict", &["anything"]);
    assert_exit(&run, 1, "an unauthorized provider");
    let failed = failures(&sandbox, "refused");
    assert_eq!(
        failed.len(),
        1,
        "a permanent error is not retried: {failed:?}"
    );
    assert_eq!(failed[0].kind, "unauthorized");
    assert!(!failed[0].retryable);
    assert!(failed[0].message.contains("Incorrect API key provided"));
    assert_secret_kept(&sandbox, "refused", &[&run]);
}

/// A WAV of 24 kHz mono 16-bit `pcm` whose fmt chunk claims `fmt_size` bytes and whose data
/// chunk claims `data_size`.
fn wav_claiming(fmt_size: u32, data_size: u32, pcm: &[u8]) -> Vec<u8> {
    let mut wav = b"RIFF\xff\xff\xff\xffWAVEfmt ".to_vec();
    wav.extend_from_slice(&fmt_size.to_le_bytes());
    for field in [1u16, 1] {
        wav.extend_from_slice(&field.to_le_bytes());
    }
    wav.extend_from_slice(&24_000u32.to_le_bytes());
    wav.extend_from_slice(&48_000u32.to_le_bytes());
    for field in [2u16, 16] {
        wav.extend_from_slice(&field.to_le_bytes());
    }
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_size.to_le_bytes());
    wav.extend_from_slice(pcm);
    wav
}

#[test]
fn wav_headers_claiming_gigabytes_are_read_or_refused_without_crashing_the_plugin() {
    let sandbox = Sandbox::new();
    let server = FakeHttp::start();
    server.route(
        "POST",
        SPEECH,
        [
            // A chunk claiming 4 GiB more than was sent: malformed, so retried.
            Response::bytes(200, "audio/wav", wav_claiming(u32::MAX, 0, &speech_pcm())),
        ],
        // What streaming servers send: the data size left at 0xFFFFFFFF, running to the end.
        Response::bytes(200, "audio/wav", wav_claiming(16, u32::MAX, &speech_pcm())),
    );
    let workflow = sandbox.workflow("provider_tts");
    let mut command = sandbox.command();
    command.args([
        "run",
        path_str(&workflow),
        "--id",
        "huge-wav",
        "--input",
        "lines=[\"one\", \"two\"]",
    ]);
    provider_environment(&mut command, &server);
    command.env("OPENAI_TTS_FORMAT", "wav");
    let run = command.output().expect("host runs");
    assert_success(&run);
    let failed = failures(&sandbox, "huge-wav");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].kind, "malformed-response", "{:?}", failed[0]);
    assert!(failed[0].retryable);
    let spoken = completions(&sandbox, "huge-wav");
    assert_eq!(spoken.len(), 2, "{spoken:?}");
}

/// Runs only with real credentials; prints why it did nothing otherwise.
#[test]
fn the_real_apis_answer_when_credentials_are_given() {
    let openai = std::env::var("OPENAI_API_KEY")
        .ok()
        .filter(|key| !key.is_empty());
    let elevenlabs = std::env::var("ELEVENLABS_API_KEY")
        .ok()
        .filter(|key| !key.is_empty());
    if openai.is_none() {
        println!("skipped the real OpenAI test: OPENAI_API_KEY is not set");
    }
    if elevenlabs.is_none() {
        println!("skipped the real ElevenLabs test: ELEVENLABS_API_KEY is not set");
    }
    // Each provider whose key is set serves its services; the mocks serve the rest. The
    // developer's own OPENAI_* and ELEVENLABS_* settings apply: that is what this test is for.
    let mut providers = Vec::new();
    if openai.is_some() {
        providers.extend(["llm=openai-llm", "tts=openai-tts"]);
    }
    if elevenlabs.is_some() {
        providers.retain(|provider| !provider.starts_with("tts="));
        providers.push("tts=elevenlabs-tts");
    }
    if providers.is_empty() {
        return;
    }
    let sandbox = Sandbox::new();
    let workflows = sandbox.repository_workflows("workflows");
    let mut command = sandbox.command();
    command.args([
        "run",
        path_str(&workflows.join("podcast.toml")),
        "--id",
        "real",
        "--auto-approve",
        "--input",
        "topic=why the sky is blue",
        "--input",
        "skip_cover=true",
    ]);
    for provider in providers {
        command.args(["--provider", provider]);
    }
    let output = command.output().expect("host runs");
    assert_success(&output);
    sandbox.stage_outputs("real");
}
