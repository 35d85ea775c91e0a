//! Plugins written in Python and JavaScript: the templates under `plugins/templates/` are built
//! from the repository's own files with their own `build.sh` (componentize-py, componentize-js
//! as `tools/plugin-toolchains.sh` installs them), dropped into a data directory and driven
//! through the real binary under the same grants, network gate and result checks as the Rust
//! plugins: the LLM templates against a fake OpenAI-compatible server on 127.0.0.1, the TTS,
//! mixer and image templates together through one workflow.

#[path = "real_providers/fixtures.rs"]
#[allow(dead_code)]
mod fixtures;
mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Mutex, OnceLock};

use fixtures::{API_KEY, COMPLETION_TOKENS, PROMPT_TOKENS, chat_answer};
use pipeline_core::Event;
use serde_json::json;
use support::fake_http::FakeHttp;
use support::toolchains::build_project;
use support::{Sandbox, assert_exit, assert_success, text};

const CHAT: &str = "/v1/chat/completions";

/// The LLM templates, each with the language of its toolchain.
const LLM_TEMPLATES: [(&str, &str); 2] = [("python-llm", "python"), ("js-llm", "js")];

/// Builds the template in `plugins/templates/<folder>` once per test run; `None` when its
/// toolchain is missing outside CI.
fn built(folder: &str, language: &str) -> Option<PathBuf> {
    static BUILT: OnceLock<Mutex<HashMap<String, Option<PathBuf>>>> = OnceLock::new();
    let mut built = BUILT.get_or_init(Mutex::default).lock().unwrap();
    built
        .entry(folder.to_string())
        .or_insert_with(|| {
            let source = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../plugins/templates")
                .join(folder);
            let work = Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join("plugin-languages")
                .join(folder);
            let _ = std::fs::remove_dir_all(&work);
            build_project(&source, &work, language, &format!("{folder}.wasm"))
        })
        .clone()
}

/// Drops `wasm` in as `name`, granted the plugin's settings and, when given, `server`'s origin.
fn install(sandbox: &Sandbox, wasm: &Path, name: &str, server: Option<&FakeHttp>) {
    let plugins = sandbox.data().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(wasm, plugins.join(format!("{name}.wasm"))).unwrap();
    let hosts = server
        .map(|server| format!("allowed_hosts = [\"{}\"]\n", server.url()))
        .unwrap_or_default();
    let config = format!(
        "[plugins.{name}]\nenv = [\"LLM_API_KEY\"]\nsettings = [\"LLM_BASE_URL\", \"LLM_INPUT_USD_PER_MILLION\", \"LLM_OUTPUT_USD_PER_MILLION\"]\n{hosts}"
    );
    std::fs::write(sandbox.data().join("config.toml"), config).unwrap();
}

/// The one-stage LLM workflow of `tests/workflows/provider_llm` over `items`, served by `name`.
fn run_workflow(
    sandbox: &Sandbox,
    server: &FakeHttp,
    name: &str,
    id: &str,
    items: &[&str],
) -> Output {
    let workflow = sandbox.workflow("provider_llm");
    let mut command = sandbox.command();
    command
        .args(["run", workflow.to_str().unwrap(), "--id", id])
        .args(["--input", "scenario=strict"])
        .args(["--input", &format!("items={}", json!(items))])
        .args(["--provider", &format!("llm={name}")])
        .env("LLM_BASE_URL", format!("{}/v1", server.url()))
        .env("LLM_API_KEY", API_KEY)
        .env("LLM_INPUT_USD_PER_MILLION", "0.15")
        .env("LLM_OUTPUT_USD_PER_MILLION", "0.60");
    command.output().expect("host runs")
}

#[test]
fn python_and_javascript_templates_serve_a_workflow() {
    for (name, language) in LLM_TEMPLATES {
        let Some(wasm) = built(name, language) else {
            continue;
        };
        let server = FakeHttp::start();
        server.route(
            "POST",
            CHAT,
            [],
            chat_answer(&json!({"answer": "Tea came from China."})),
        );
        let sandbox = Sandbox::new();
        install(&sandbox, &wasm, name, Some(&server));
        let id = format!("{name}-run");
        let output = run_workflow(&sandbox, &server, name, &id, &["tea", "coffee"]);
        assert_success(&output);

        let requests = server.requests_to("POST", CHAT);
        assert_eq!(requests.len(), 2, "{name}: one request per item");
        for request in &requests {
            assert_eq!(
                request.header("authorization"),
                Some(format!("Bearer {API_KEY}").as_str()),
                "{name}: the granted key is sent"
            );
            assert!(request.header("idempotency-key").is_some(), "{name}");
            let body = request.body_json();
            assert_eq!(body["response_format"]["type"], "json_schema", "{name}");
            assert_eq!(body["messages"].as_array().map(Vec::len), Some(1), "{name}");
        }
        let outputs = sandbox.stage_outputs(&id);
        assert_eq!(
            outputs["strict"][0]["answer"], "Tea came from China.",
            "{name}: {outputs}"
        );
        let completed: Vec<_> = sandbox
            .history(&id)
            .into_iter()
            .filter_map(|(event, _)| match event {
                Event::ActivityCompleted { usage, cost, .. } => Some((usage, cost)),
                _ => None,
            })
            .collect();
        assert_eq!(completed.len(), 2, "{name}");
        for (usage, cost) in completed {
            let usage = usage.expect("usage recorded");
            assert_eq!(usage["input"]["amount"], PROMPT_TOKENS, "{name}: {usage}");
            assert_eq!(
                usage["output"]["amount"], COMPLETION_TOKENS,
                "{name}: {usage}"
            );
            // 1234 tokens at $0.15 and 567 at $0.60 per million.
            assert_eq!(cost.map(|cost| cost.amount_micros), Some(525), "{name}");
        }
        let history = format!("{:?}", sandbox.history(&id));
        assert!(
            !history.contains(API_KEY),
            "{name}: the key is in the history"
        );
    }
}

#[test]
fn an_origin_not_granted_is_refused_and_answers_are_checked() {
    for (name, language) in LLM_TEMPLATES {
        let Some(wasm) = built(name, language) else {
            continue;
        };
        let server = FakeHttp::start();
        server.route(
            "POST",
            CHAT,
            [],
            chat_answer(&json!("not the schema's object")),
        );

        // Granted no host: the plugin loads and runs, and its request is refused by the gate.
        let sandbox = Sandbox::new();
        install(&sandbox, &wasm, name, None);
        let output = run_workflow(&sandbox, &server, name, &format!("{name}-denied"), &["tea"]);
        assert_exit(&output, 1, "a refused request fails the execution");
        assert!(
            server.requests().is_empty(),
            "{name}: nothing reached the server"
        );
        let status = sandbox.host(&["status", &format!("{name}-denied")]);
        assert!(
            text(&status.stdout).contains(&server.url()),
            "{name}: the refusal names the origin:\n{}",
            text(&status.stdout)
        );

        // Granted: the answer reaches the host, which holds it to the stage's schema.
        let sandbox = Sandbox::new();
        install(&sandbox, &wasm, name, Some(&server));
        let id = format!("{name}-checked");
        let output = run_workflow(&sandbox, &server, name, &id, &["tea"]);
        assert_exit(&output, 1, "an answer outside the schema fails the stage");
        let failures: Vec<String> = sandbox
            .history(&id)
            .into_iter()
            .filter_map(|(event, _)| match event {
                Event::ActivityFailed { error, .. } => Some(error.message),
                _ => None,
            })
            .collect();
        assert!(!failures.is_empty(), "{name}: attempts failed");
        assert!(
            failures.iter().all(|message| message.contains("answer")),
            "{name}: {failures:?}"
        );
    }
}

/// The TTS, mixer and image templates of each language serve one workflow together: speech in
/// the granted price, a stereo mix of it laid out as the request says, and a PNG cover of the
/// size asked for.
#[test]
fn python_and_javascript_media_templates_speak_mix_and_paint() {
    let lines = ["tea leaves", "hot water poured slowly"];
    'languages: for language in ["python", "js"] {
        let sandbox = Sandbox::new();
        let plugins = sandbox.data().join("plugins");
        std::fs::create_dir_all(&plugins).unwrap();
        let mut providers = Vec::new();
        for service in ["tts", "mixer", "image"] {
            let name = format!("{language}-{service}");
            let Some(wasm) = built(&name, language) else {
                continue 'languages;
            };
            std::fs::copy(wasm, plugins.join(format!("{name}.wasm"))).unwrap();
            providers.push(format!("{service}={name}"));
        }
        std::fs::write(
            sandbox.data().join("config.toml"),
            format!(
                "[plugins.{language}-tts]\nsettings = [\"TTS_USD_PER_MILLION_CHARACTERS\"]\n\
                 [plugins.{language}-image]\nsettings = [\"IMAGE_USD_PER_IMAGE\"]\n"
            ),
        )
        .unwrap();
        let id = format!("{language}-media");
        let workflow = sandbox.workflow("media_templates");
        let mut command = sandbox.command();
        command
            .args(["run", workflow.to_str().unwrap(), "--id", &id])
            .args(["--input", &format!("lines={}", json!(lines))])
            .env("TTS_USD_PER_MILLION_CHARACTERS", "15")
            .env("IMAGE_USD_PER_IMAGE", "0.04");
        for provider in &providers {
            command.args(["--provider", provider]);
        }
        let output = command.output().expect("host runs");
        assert_success(&output);

        let outputs = sandbox.stage_outputs(&id);
        let clips: Vec<u64> = outputs["speech"]
            .as_array()
            .unwrap()
            .iter()
            .map(|clip| clip["duration_ms"].as_u64().unwrap())
            .collect();
        assert_eq!(clips.len(), 2, "{language}: {outputs}");
        // 500 ms of padding, the first clip, a 250 ms gap, the second clip, 500 ms of padding.
        let mix = &outputs["mix"];
        let placements = json!([
            {"clip": 0, "start_ms": 500, "end_ms": 500 + clips[0]},
            {"clip": 1, "start_ms": 750 + clips[0], "end_ms": 750 + clips[0] + clips[1]},
        ]);
        assert_eq!(mix["placements"], placements, "{language}: {mix}");
        let episode_ms = 1250 + clips[0] + clips[1];
        assert_eq!(mix["duration_ms"], episode_ms, "{language}: {mix}");
        let wav = blob(&sandbox, &mix["audio"]);
        let reader = hound::WavReader::new(std::io::Cursor::new(&wav)).expect("a WAV");
        let spec = reader.spec();
        let format = (spec.channels, spec.sample_rate, spec.bits_per_sample);
        assert_eq!(format, (2, 44_100, 16), "{language}");
        // Every duration here is a multiple of 10 ms, a whole number of frames at 44.1 kHz;
        // the file is the canonical header and the samples, nothing after them.
        let frames = episode_ms * 441 / 10;
        assert_eq!(u64::from(reader.duration()), frames, "{language}");
        assert_eq!(wav.len() as u64, 44 + frames * 2 * 2, "{language}");
        // The first word, "tea", is 180 ms of aria's 262 Hz tone from 500 ms on: converted from
        // 24 kHz without changing its pitch, and the same in both channels.
        let samples: Vec<i16> = reader.into_samples().map(Result::unwrap).collect();
        let tone: Vec<i16> = samples
            .chunks_exact(2)
            .skip(22_050)
            .take(6_615)
            .map(|frame| {
                assert_eq!(frame[0], frame[1], "{language}: left and right differ");
                frame[0]
            })
            .collect();
        let crossings = tone
            .windows(2)
            .filter(|pair| (pair[0] < 0) != (pair[1] < 0))
            .count();
        // 150 ms of 262 Hz crosses zero about 79 times.
        assert!(
            (76..=82).contains(&crossings),
            "{language}: {crossings} zero crossings"
        );
        assert!(
            tone.iter().any(|value| value.abs() > 7000),
            "{language}: tone too quiet"
        );

        let cover = &outputs["cover"];
        let png = blob(&sandbox, &cover["image"]);
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{language}");
        assert_eq!(&png[12..16], b"IHDR", "{language}");
        assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 96);
        assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 64);

        // The prices granted as settings reach the plugins: 10 and 23 characters at $15 per
        // million, and one image at $0.04. Usage is recorded in the WIT's units.
        let mut costs: Vec<(String, u64)> = Vec::new();
        for (event, _) in sandbox.history(&id) {
            if let Event::ActivityCompleted {
                activity,
                usage,
                cost,
                ..
            } = event
            {
                let usage = usage.expect("usage recorded");
                let units = (&usage["input"]["unit"], &usage["output"]["unit"]);
                let expected = match activity.0.split('#').next() {
                    Some("speech") => ("characters", "audio-milliseconds"),
                    Some("mix") => ("audio-milliseconds", "audio-milliseconds"),
                    _ => ("characters", "images"),
                };
                assert_eq!(units.0, expected.0, "{language} {activity:?}: {usage}");
                assert_eq!(units.1, expected.1, "{language} {activity:?}: {usage}");
                costs.push((activity.0, cost.map_or(0, |cost| cost.amount_micros)));
            }
        }
        let cost_of = |prefix: &str| -> u64 {
            costs
                .iter()
                .filter(|(activity, _)| activity.starts_with(prefix))
                .map(|(_, micros)| micros)
                .sum()
        };
        assert_eq!(cost_of("speech"), 150 + 345, "{language}: {costs:?}");
        assert_eq!(cost_of("cover"), 40_000, "{language}: {costs:?}");
    }
}

/// The bytes of a stored file that a stage output refers to by digest.
fn blob(sandbox: &Sandbox, reference: &serde_json::Value) -> Vec<u8> {
    let digest = reference["digest"].as_str().expect("a file reference");
    let hex = digest.strip_prefix("sha256:").unwrap();
    std::fs::read(sandbox.data().join("blobs").join(&hex[..2]).join(hex)).expect("stored file")
}
