//! What a plugin author runs, through the real binary: `host plugins check` on every built-in
//! (the real providers against fake servers on 127.0.0.1) and on broken components (one of them
//! a generated mixer edited to mix in a format other than asked), and
//! `host plugins new` for every service in each language, whose project
//! builds with its own `build.sh` and passes `check`.

#[path = "real_providers/fixtures.rs"]
#[allow(dead_code)]
mod fixtures;
mod support;

use std::process::Output;

use fixtures::{API_KEY, chat_answer, image_answer, speech_pcm};
use serde_json::{Value, json};
use support::fake_http::{FakeHttp, Response};
use support::toolchains::build_project;
use support::{Sandbox, assert_exit, assert_success, text};

/// A fake server for every built-in real provider: OpenAI-compatible chat, speech and images,
/// ElevenLabs speech for the sample voice (aria, spoken by Rachel) and Piper.
fn fake_providers() -> FakeHttp {
    let server = FakeHttp::start();
    server.route(
        "POST",
        "/v1/chat/completions",
        [],
        chat_answer(&json!({"greeting": "hello"})),
    );
    let pcm = || Response::bytes(200, "audio/pcm", speech_pcm());
    server.route("POST", "/v1/audio/speech", [], pcm());
    server.route("POST", "/v1/images/generations", [], image_answer(64, 64));
    server.route("POST", "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM", [], pcm());
    let mut wav = Vec::new();
    {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 22_050,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut writer = hound::WavWriter::new(std::io::Cursor::new(&mut wav), spec).unwrap();
        for frame in 0..22_050 {
            writer.write_sample(((frame % 100) * 100) as i16).unwrap();
        }
        writer.finalize().unwrap();
    }
    server.route(
        "POST",
        "/synthesize",
        [],
        Response::bytes(200, "audio/wav", wav),
    );
    server
}

fn check(sandbox: &Sandbox, arguments: &[&str], server: Option<&FakeHttp>) -> Output {
    let mut command = sandbox.command();
    command.args(["plugins", "check"]).args(arguments);
    for (name, _) in std::env::vars() {
        if ["OPENAI_", "ELEVENLABS_", "PIPER_", "LLM_"]
            .iter()
            .any(|prefix| name.starts_with(prefix))
        {
            command.env_remove(name);
        }
    }
    if let Some(server) = server {
        command
            .env("OPENAI_API_KEY", API_KEY)
            .env("OPENAI_BASE_URL", format!("{}/v1", server.url()))
            .env("ELEVENLABS_API_KEY", API_KEY)
            .env("ELEVENLABS_BASE_URL", server.url())
            .env("PIPER_BASE_URL", server.url())
            .env("LLM_BASE_URL", format!("{}/v1", server.url()));
    }
    command.output().expect("host runs")
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("not JSON ({error}):\n{}", text(&output.stdout)))
}

#[test]
fn every_built_in_passes_its_check() {
    let sandbox = Sandbox::new();
    let server = fake_providers();
    let listed = json_of(&sandbox.host(&["plugins", "list", "--json"]));
    let built_ins: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|plugin| plugin["origin"]["kind"] == "builtin")
        .map(|plugin| plugin["name"].as_str().unwrap())
        .collect();
    assert!(built_ins.len() >= 9, "{built_ins:?}");
    for name in built_ins {
        let output = check(&sandbox, &[name, "--json"], Some(&server));
        assert_success(&output);
        let report = json_of(&output);
        assert_eq!(report["passed"], true, "{name}: {report}");
        let call = &report["calls"][0];
        assert!(
            !call["checks"].as_array().unwrap().is_empty(),
            "{name}: {report}"
        );
        assert!(
            call["usage"]["input"]["amount"].is_u64(),
            "{name}: {report}"
        );
        assert!(
            report["load_ms"].is_f64() && call["call_ms"].is_f64(),
            "{report}"
        );
    }
    // The text form says the same for one of them, with its world, checks, usage and cost.
    let output = check(&sandbox, &["openai-tts"], Some(&server));
    assert_success(&output);
    let shown = text(&output.stdout);
    for expected in [
        "world:    pipeline:services/tts-provider@0.1.0",
        "✓ answered in",
        "checked: a 16-bit PCM WAV",
        "usage:  25 characters in, 400 audio-milliseconds out",
        "cost:   0.000375 USD",
    ] {
        assert!(shown.contains(expected), "{expected:?} missing:\n{shown}");
    }
}

#[test]
fn check_names_what_a_broken_plugin_lacks_or_gets_wrong() {
    let sandbox = Sandbox::new();
    let work = sandbox.directory.path();

    std::fs::write(work.join("garbage.wasm"), b"not a component").unwrap();
    let garbage = work.join("garbage.wasm");
    let output = check(&sandbox, &[garbage.to_str().unwrap(), "--json"], None);
    assert_exit(&output, 2, "garbage cannot be loaded");
    let report = json_of(&output);
    assert_eq!(report["passed"], false);
    assert!(
        report["load_error"]
            .as_str()
            .unwrap()
            .contains("not a valid WebAssembly component")
    );

    let output = check(&sandbox, &["mock-tts", "--service", "llm"], None);
    assert_exit(&output, 2, "a TTS plugin checked as an LLM");
    assert!(
        text(&output.stdout).contains("must export `pipeline:services/llm@0.1.0`"),
        "{}",
        text(&output.stdout)
    );

    // A real provider with nothing granted loads, and its sample call fails permanently.
    let output = check(&sandbox, &["openai-llm"], None);
    assert_exit(&output, 1, "a call that fails");
    let shown = text(&output.stdout);
    assert!(
        shown.contains("✗ failed") && shown.contains("OPENAI_API_KEY"),
        "{shown}"
    );
    assert!(shown.contains("permanent"), "{shown}");
}

/// A mixer that writes its episode in a format other than the one asked for (mono when the
/// check asks for stereo), however truthfully it states it, fails its check: a workflow would
/// otherwise publish an episode in a format nobody chose.
#[test]
fn check_refuses_a_mix_in_another_format_than_asked() {
    let sandbox = Sandbox::new();
    let project = sandbox.directory.path().join("project");
    let output = sandbox.host(&[
        "plugins",
        "new",
        "mono-mixer",
        "--service",
        "mixer",
        "--lang",
        "rust",
        "--directory",
        project.to_str().unwrap(),
    ]);
    assert_success(&output);
    let source = project.join("src/lib.rs");
    let asked = "let settings = &request.settings;";
    let code = std::fs::read_to_string(&source).unwrap();
    assert!(
        code.contains(asked),
        "the template changed: {asked} is gone"
    );
    let mono = "let mut mono = request.settings.clone(); mono.channels = 1; let settings = &mono;";
    std::fs::write(&source, code.replace(asked, mono)).unwrap();
    let built = project.with_file_name("built");
    let wasm = build_project(&project, &built, "rust", "mono-mixer.wasm")
        .expect("the Rust toolchain is always there");

    let output = check(&sandbox, &[wasm.to_str().unwrap()], None);
    assert_exit(&output, 1, "a mix in the wrong format");
    let shown = text(&output.stdout);
    assert!(
        shown.contains("asked for 44100 Hz with 2 channel(s) but the mix is 44100 Hz with 1"),
        "{shown}"
    );
}

#[test]
fn generated_rust_plugins_build_and_pass_check() {
    generated_plugins_build_and_pass_check("rust");
}

#[test]
fn generated_python_plugins_build_and_pass_check() {
    generated_plugins_build_and_pass_check("python");
}

#[test]
fn generated_javascript_plugins_build_and_pass_check() {
    generated_plugins_build_and_pass_check("js");
}

/// `plugins new` for every service in `language`, built with the project's own `build.sh`,
/// then `plugins check` on the component.
fn generated_plugins_build_and_pass_check(language: &str) {
    let server = fake_providers();
    for service in ["llm", "tts", "mixer", "image"] {
        let sandbox = Sandbox::new();
        let name = format!("my-{service}-{language}");
        let project = sandbox.directory.path().join("project");
        let output = sandbox.host(&[
            "plugins",
            "new",
            &name,
            "--service",
            service,
            "--lang",
            language,
            "--directory",
            project.to_str().unwrap(),
        ]);
        assert_success(&output);
        assert!(project.join("README.md").is_file());
        let built = project.with_file_name("built");
        let Some(wasm) = build_project(&project, &built, language, &format!("{name}.wasm")) else {
            continue;
        };
        let config = format!(
            "[plugins.{name}]\nenv = [\"LLM_API_KEY\"]\nsettings = [\"LLM_BASE_URL\"]\nallowed_hosts = [\"{}\"]\n",
            server.url()
        );
        if service == "llm" {
            std::fs::write(sandbox.data().join("config.toml"), config).unwrap();
        }
        let mut command = sandbox.command();
        command
            .args(["plugins", "check", wasm.to_str().unwrap(), "--json"])
            .env("LLM_BASE_URL", format!("{}/v1", server.url()))
            .env("LLM_API_KEY", API_KEY);
        let output = command.output().expect("host runs");
        assert_success(&output);
        let report = json_of(&output);
        assert_eq!(report["passed"], true, "{name}: {report}");
        assert_eq!(
            report["worlds"][0],
            format!("pipeline:services/{service}-provider@0.1.0"),
            "{name}"
        );
    }
}
