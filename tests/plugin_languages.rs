//! Plugins written in Python and JavaScript: the templates under `plugins/templates/` are built
//! from the repository's own files with their own `build.sh` (componentize-py, componentize-js
//! as `tools/plugin-toolchains.sh` installs them), dropped into a data directory and driven
//! through the real binary against a fake OpenAI-compatible server on 127.0.0.1, under the same
//! grants, network gate and result checks as the Rust plugins.

#[path = "real_providers/fixtures.rs"]
#[allow(dead_code)]
mod fixtures;
mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use fixtures::{API_KEY, COMPLETION_TOKENS, PROMPT_TOKENS, chat_answer};
use pipeline_core::Event;
use serde_json::json;
use support::fake_http::FakeHttp;
use support::toolchains::build_project;
use support::{Sandbox, assert_exit, assert_success, text};

const CHAT: &str = "/v1/chat/completions";

/// One template: its folder under `plugins/templates/` and the language of its toolchain.
struct Template {
    folder: &'static str,
    language: &'static str,
}

const TEMPLATES: [Template; 2] = [
    Template {
        folder: "python-llm",
        language: "python",
    },
    Template {
        folder: "js-llm",
        language: "js",
    },
];

/// Builds a template once per test run; `None` when its toolchain is missing outside CI.
fn built(template: &Template) -> Option<PathBuf> {
    static PYTHON: OnceLock<Option<PathBuf>> = OnceLock::new();
    static JS: OnceLock<Option<PathBuf>> = OnceLock::new();
    let cell = if template.language == "python" {
        &PYTHON
    } else {
        &JS
    };
    cell.get_or_init(|| {
        let source = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../plugins/templates")
            .join(template.folder);
        let work = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("plugin-languages")
            .join(template.folder);
        let _ = std::fs::remove_dir_all(&work);
        build_project(
            &source,
            &work,
            template.language,
            &format!("{}.wasm", template.folder),
        )
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
    for template in &TEMPLATES {
        let Some(wasm) = built(template) else {
            continue;
        };
        let name = template.folder;
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
    for template in &TEMPLATES {
        let Some(wasm) = built(template) else {
            continue;
        };
        let name = template.folder;
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
