//! The `host` binary itself: plugin listing and inspection, JSON output and exit codes.

use std::process::{Command, Output};

use sha2::Digest as _;

const HOST: &str = env!("CARGO_BIN_EXE_host");

fn host(data_dir: &std::path::Path, arguments: &[&str]) -> Output {
    Command::new(HOST)
        .arg("--data-dir")
        .arg(data_dir)
        .args(arguments)
        .env_remove("HOST_PLUGINS_DIR")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn plugins_list_shows_the_built_in_mocks_and_providers_and_their_worlds() {
    let data_dir = tempfile::tempdir().unwrap();
    let output = host(data_dir.path(), &["plugins", "list"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    for (name, world) in [
        ("mock-llm", "llm-provider"),
        ("mock-tts", "tts-provider"),
        ("mock-mixer", "mixer-provider"),
        ("mock-image", "image-provider"),
        ("openai-llm", "llm-provider"),
        ("openai-tts", "tts-provider"),
        ("elevenlabs-tts", "tts-provider"),
        ("openai-image", "image-provider"),
        ("piper-tts", "tts-provider"),
    ] {
        let line = text
            .lines()
            .find(|line| line.starts_with(name))
            .unwrap_or_else(|| panic!("{name} missing from:\n{text}"));
        assert!(line.contains(world), "{line}");
        assert!(line.contains("sha256:"), "{line}");
        assert!(line.contains("built-in"), "{line}");
    }
}

#[test]
fn plugins_list_json_has_stable_fields() {
    let data_dir = tempfile::tempdir().unwrap();
    let output = host(data_dir.path(), &["plugins", "list", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let plugins: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let plugins = plugins.as_array().unwrap();
    assert_eq!(plugins.len(), 9, "four mocks and five real providers");
    for plugin in plugins {
        for field in ["name", "origin", "digest", "services", "worlds", "grants"] {
            assert!(plugin.get(field).is_some(), "{field} missing in {plugin}");
        }
        assert_eq!(plugin["services"].as_array().unwrap().len(), 1, "{plugin}");
        assert_eq!(plugin["grants"]["env"], serde_json::json!([]));
    }
}

#[test]
fn a_dropped_in_plugin_is_listed_and_inspectable() {
    let data_dir = tempfile::tempdir().unwrap();
    let plugins_dir = data_dir.path().join("plugins");
    std::fs::create_dir_all(&plugins_dir).unwrap();
    std::fs::copy(
        test_artifacts::HOSTILE_WASM,
        plugins_dir.join("my-llm.wasm"),
    )
    .unwrap();
    std::fs::write(plugins_dir.join("broken.wasm"), b"not a component").unwrap();
    std::fs::write(
        data_dir.path().join("config.toml"),
        "[plugins.my-llm]\nmemory_limit_mib = 32\nenv = [\"MY_API_KEY\"]\n",
    )
    .unwrap();

    let output = host(data_dir.path(), &["plugins", "list"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let my_llm = text
        .lines()
        .find(|line| line.starts_with("my-llm"))
        .unwrap();
    assert!(
        my_llm.contains("llm-provider") && my_llm.contains("memory 32 MiB"),
        "{my_llm}"
    );
    assert!(my_llm.contains("env MY_API_KEY"), "{my_llm}");
    let broken = text
        .lines()
        .find(|line| line.starts_with("broken"))
        .unwrap();
    assert!(broken.contains("unusable"), "{broken}");

    let output = host(data_dir.path(), &["plugins", "inspect", "my-llm", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["services"], serde_json::json!(["llm"]));
    assert_eq!(report["grants"]["memory_limit_mib"], 32);
    assert_eq!(report["origin"]["kind"], "file");
    // The digest pins the exact bytes that will run; it is what executions record.
    let bytes = std::fs::read(plugins_dir.join("my-llm.wasm")).unwrap();
    let expected = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&bytes)));
    assert_eq!(report["digest"], expected);
}

#[test]
fn inspecting_an_unknown_plugin_fails_with_one_clear_line() {
    let data_dir = tempfile::tempdir().unwrap();
    let output = host(data_dir.path(), &["plugins", "inspect", "no-such-plugin"]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert_eq!(message.trim().lines().count(), 1, "{message}");
    assert!(message.contains("no-such-plugin"), "{message}");
    assert!(!message.contains("panicked"), "{message}");
}

#[test]
fn an_invalid_configuration_file_is_named() {
    let data_dir = tempfile::tempdir().unwrap();
    std::fs::write(
        data_dir.path().join("config.toml"),
        "[plugins.x]\nnetwork = true\n",
    )
    .unwrap();
    let output = host(data_dir.path(), &["plugins", "list"]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("config.toml") && message.contains("network"),
        "{message}"
    );
}

#[test]
fn every_command_has_an_example_in_its_help() {
    for command in [
        vec!["--help"],
        vec!["plugins", "list", "--help"],
        vec!["plugins", "inspect", "--help"],
    ] {
        let output = Command::new(HOST).args(&command).output().unwrap();
        assert!(output.status.success());
        assert!(stdout(&output).contains("Examples:"), "{command:?}");
    }
}
