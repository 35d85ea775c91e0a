//! Outgoing HTTP from plugins, through the real host, a real component using wasi-http (the
//! fetcher, built on `wstd` like the provider plugins) and real sockets to scripted servers:
//! a granted origin is reachable; any other scheme, host or port is refused, the plugin sees
//! the denial (not a broken connection, even while it streams a body) and the call fails
//! permanently naming the origin; a plugin granted no host cannot run; a slow server cannot
//! hold a call past its deadline; and a granted secret never reaches the history, the logs or
//! the status output, even when the server echoes it back.

mod support;

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::time::{Duration, Instant};

use host::plugin::{
    CallError, HostConfig, InstanceAllocation, LoadError, Origin, PluginGrants, PluginHost,
    PluginHostSettings, Service, llm, types::ErrorKind,
};
use pipeline_core::workflow::GrantSpec;
use support::fake_http::{FakeHttp, Response};
use support::{Sandbox, text};

const FETCHER_WASM: &str = env!("TEST_COMPONENT_FETCHER_WASM");

/// A host with the fetcher installed as `fetcher.wasm`, granted `grants`.
fn host_with(directory: &Path, grants: PluginGrants) -> PluginHost {
    let plugins_dir = directory.join("plugins");
    std::fs::create_dir_all(&plugins_dir).unwrap();
    std::fs::copy(FETCHER_WASM, plugins_dir.join("fetcher.wasm")).unwrap();
    let config = HostConfig {
        plugins: BTreeMap::from([("fetcher".to_string(), grants)]),
        ..HostConfig::default()
    };
    PluginHost::new(PluginHostSettings {
        plugins_dir,
        compile_cache_dir: Some(directory.join("cache")),
        allocation: InstanceAllocation::OnDemand,
        config,
    })
    .unwrap()
}

fn granted(origins: &[&str]) -> PluginGrants {
    PluginGrants {
        call_timeout_secs: 10.0,
        allowed_hosts: origins
            .iter()
            .map(|origin| Origin::parse(origin).unwrap())
            .collect(),
        ..PluginGrants::default()
    }
}

async fn fetch(host: &PluginHost, prompt: &str) -> Result<String, CallError> {
    let plugin = host.load_for("fetcher", Service::Llm).unwrap();
    fetch_with(host, &plugin, prompt).await
}

async fn fetch_with(
    host: &PluginHost,
    plugin: &host::plugin::LoadedPlugin,
    prompt: &str,
) -> Result<String, CallError> {
    let request = llm::GenerateRequest {
        idempotency_key: "network-test".into(),
        model: None,
        messages: vec![llm::Message {
            role: llm::Role::User,
            content: prompt.into(),
        }],
        json_schema: None,
        temperature: None,
        max_tokens: None,
    };
    host.generate_text(plugin, &request)
        .await
        .map(|response| response.text)
}

/// Asserts the call was refused by the host for `origin`, permanently, and that the plugin saw
/// the denial itself rather than a failed connection.
fn assert_refused(result: Result<String, CallError>, origin: &str) {
    let error = result.expect_err("the request must be refused");
    let message = error.to_string();
    let CallError::Provider {
        plugin,
        error: provider,
    } = &error
    else {
        panic!("a refusal is a provider error: {message}")
    };
    assert_eq!(plugin, "fetcher");
    assert_eq!(provider.kind, ErrorKind::InvalidRequest, "{message}");
    assert!(!error.is_retryable(), "a refusal is permanent: {message}");
    assert!(
        message.contains(&format!("refused its HTTP request to {origin},")),
        "{message}"
    );
    assert!(message.contains("allowed_hosts"), "{message}");
    assert!(message.contains("[plugins.fetcher]"), "{message}");
    assert!(
        message.contains("the plugin reported: request denied by the host"),
        "the plugin must see HttpRequestDenied: {message}"
    );
}

#[test]
fn the_fake_server_reads_chunked_and_sized_bodies() {
    let server = FakeHttp::start();
    server.route(
        "POST",
        "/echo",
        [Response::text(201, "first")],
        Response::json(200, "{}"),
    );
    let exchange = |request: &str| {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    };
    let first = exchange(
        "POST /echo?x=1 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n",
    );
    assert!(first.starts_with("HTTP/1.1 201 Created\r\n"), "{first}");
    assert!(first.ends_with("\r\n\r\nfirst"), "{first}");
    let second = exchange("POST /echo HTTP/1.1\r\nContent-Length: 4\r\n\r\nwxyz");
    assert!(second.ends_with("{}"), "{second}");
    let missing = exchange("GET /nowhere HTTP/1.1\r\n\r\n");
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    let requests = server.requests_to("POST", "/echo");
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body_text(), "abcde");
    assert!(requests[0].chunked);
    assert_eq!(requests[0].query.as_deref(), Some("x=1"));
    assert_eq!(requests[1].body_text(), "wxyz");
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_granted_origin_is_reachable() {
    let server = FakeHttp::start();
    server.route("POST", "/v1/echo", [], Response::text(200, "pong"));
    let directory = tempfile::tempdir().unwrap();
    let host = host_with(directory.path(), granted(&[&server.url()]));
    let answer = fetch(&host, &format!("POST {}/v1/echo\nping body", server.url()))
        .await
        .unwrap();
    assert_eq!(answer, "pong");
    let requests = server.requests_to("POST", "/v1/echo");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].body_text(), "ping body");
    assert!(requests[0].chunked, "wstd streams the body chunked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_outside_the_grant_are_refused_by_origin() {
    let server = FakeHttp::start();
    let other = FakeHttp::start();
    server.route("POST", "/", [], Response::text(200, "reached"));
    other.route("POST", "/", [], Response::text(200, "reached"));
    let directory = tempfile::tempdir().unwrap();
    let host = host_with(directory.path(), granted(&[&server.url()]));
    let port = server.port();
    // Another port (where a server does listen), another scheme, another name for the host.
    let other_port = format!("http://127.0.0.1:{}", other.port());
    let other_scheme = format!("https://127.0.0.1:{port}");
    let other_host = format!("http://localhost:{port}");
    for origin in [&other_port, &other_scheme, &other_host] {
        // A body of several chunks: the host must read it to the end before refusing.
        let body = "x".repeat(200_000);
        let result = fetch(&host, &format!("POST {origin}/\n{body}")).await;
        assert_refused(result, origin);
    }
    assert!(server.requests().is_empty(), "nothing may reach the server");
    assert!(
        other.requests().is_empty(),
        "nothing may reach the other server"
    );
    // The same host still serves a granted request afterwards.
    assert_eq!(
        fetch(&host, &format!("POST {}/\nok", server.url()))
            .await
            .unwrap(),
        "reached"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_granted_no_host_reaches_nothing() {
    let server = FakeHttp::start();
    server.route("GET", "/", [], Response::text(200, "reached"));
    let directory = tempfile::tempdir().unwrap();
    let host = host_with(directory.path(), PluginGrants::default());
    let error = fetch(&host, &format!("GET {}/", server.url()))
        .await
        .unwrap_err();
    // Importing wasi:http is not intent: the plugin loads and runs, and its request is
    // refused by the gate like any request to an origin it is not granted.
    assert_refused(Err(error), &server.url());
    assert!(server.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_can_grant_hosts_the_configuration_does_not() {
    let server = FakeHttp::start();
    server.route("GET", "/", [], Response::text(200, "reached"));
    let directory = tempfile::tempdir().unwrap();
    let host = host_with(directory.path(), PluginGrants::default());
    let plugin = host.load_for("fetcher", Service::Llm).unwrap();
    let grants = GrantSpec {
        allowed_hosts: vec![server.url()],
        secrets: Vec::new(),
        memory_limit_mib: None,
    };
    let granted = PluginHost::with_workflow_grants(&plugin, &grants).unwrap();
    let prompt = format!("GET {}/", server.url());
    let answer = fetch_with(&host, &granted, &prompt).await;
    assert_eq!(answer.unwrap(), "reached");
    let broken = GrantSpec {
        allowed_hosts: vec!["http://127.0.0.1:http".into()],
        ..grants
    };
    let error = PluginHost::with_workflow_grants(&plugin, &broken)
        .err()
        .expect("a malformed entry is refused");
    assert!(
        matches!(&error, LoadError::InvalidAllowedHost { plugin, .. } if plugin == "fetcher"),
        "{error}"
    );
    assert!(error.to_string().contains("port"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_server_cannot_hold_a_call_past_its_deadline() {
    let server = FakeHttp::start();
    server.route(
        "POST",
        "/slow",
        [],
        Response::text(200, "too late").delay(Duration::from_secs(20)),
    );
    let directory = tempfile::tempdir().unwrap();
    let grants = PluginGrants {
        call_timeout_secs: 1.0,
        ..granted(&[&server.url()])
    };
    let host = host_with(directory.path(), grants);
    let started = Instant::now();
    let error = fetch(&host, &format!("POST {}/slow\nbody", server.url()))
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        error.is_retryable(),
        "a slow answer may come in time next time: {error}"
    );
    // The HTTP timeouts are capped at the deadline, so the plugin hears of it then; the bound
    // leaves room for a loaded machine, far below the 600 s wasmtime would wait by default.
    assert!(
        elapsed < Duration::from_secs(5),
        "took {elapsed:?}: {error}"
    );
    assert!(
        elapsed >= Duration::from_millis(900),
        "took {elapsed:?}: {error}"
    );
    assert_eq!(server.requests_to("POST", "/slow").len(), 1);
}

/// Writes a one-stage workflow that has the fetcher POST to `url`, granting it the origin and
/// the secret `FETCHER_TOKEN`; returns the workflow file.
fn fetching_workflow(sandbox: &Sandbox, origin: &str, url: &str) -> std::path::PathBuf {
    let directory = sandbox.directory.path().join("workflows/fetching");
    std::fs::create_dir_all(&directory).unwrap();
    std::fs::write(directory.join("request.md"), format!("POST {url}\nhello")).unwrap();
    let workflow = format!(
        "name = \"fetching\"\n\n[providers]\nllm = \"fetcher\"\n\n[plugins.fetcher]\n\
         allowed_hosts = [\"{origin}\"]\nsecrets = [\"FETCHER_TOKEN\"]\n\n[[stages]]\n\
         id = \"fetch\"\ncall = \"llm.generate\"\nprompt = \"request.md\"\n\
         retry = {{ max_attempts = 1 }}\n"
    );
    let path = directory.join("workflow.toml");
    std::fs::write(&path, workflow).unwrap();
    path
}

#[test]
fn a_secret_echoed_by_the_server_never_reaches_history_logs_or_status() {
    const SECRET: &str = "sk-live-4f9a8b7c6d5e";
    let server = FakeHttp::start();
    server.route(
        "POST",
        "/v1/chat",
        [],
        Response::json(
            401,
            format!("{{\"error\": \"invalid token Bearer {SECRET}\"}}"),
        ),
    );
    let sandbox = Sandbox::new();
    let plugins = sandbox.data().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(FETCHER_WASM, plugins.join("fetcher.wasm")).unwrap();
    let workflow = fetching_workflow(
        &sandbox,
        &server.url(),
        &format!("{}/v1/chat", server.url()),
    );
    let run = sandbox
        .command()
        .args(["run", workflow.to_str().unwrap(), "--id", "leaky"])
        .env("FETCHER_TOKEN", SECRET)
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    let requests = server.requests_to("POST", "/v1/chat");
    assert_eq!(
        requests.len(),
        1,
        "the granted origin from the workflow is reachable"
    );
    assert_eq!(
        requests[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str()),
        "the secret reaches its plugin"
    );

    let history = format!("{:?}", sandbox.history("leaky"));
    assert!(
        history.contains("invalid token Bearer [redacted FETCHER_TOKEN]"),
        "the provider's message is kept, redacted: {history}"
    );
    let status = sandbox.host(&["status", "leaky"]);
    let status_json = sandbox.host(&["status", "leaky", "--json"]);
    let history_command = sandbox.host(&["history", "leaky"]);
    let mut logs = String::new();
    for entry in walk(&sandbox.data()) {
        if entry
            .extension()
            .is_some_and(|extension| extension == "log")
        {
            logs.push_str(&std::fs::read_to_string(entry).unwrap());
        }
    }
    for (what, recorded) in [
        ("history", history),
        ("run output", text(&run.stdout) + &text(&run.stderr)),
        ("status", text(&status.stdout) + &text(&status.stderr)),
        ("status --json", text(&status_json.stdout)),
        ("history command", text(&history_command.stdout)),
        ("log files", logs),
    ] {
        assert!(
            !recorded.contains(SECRET),
            "the secret shows in the {what}: {recorded}"
        );
    }
    assert!(
        text(&status.stdout).contains("[redacted FETCHER_TOKEN]"),
        "{}",
        text(&status.stdout)
    );
}

fn walk(directory: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(directory) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        // The shared compiled-plugin cache is a link to other tests' files.
        if path.is_symlink() {
            continue;
        }
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}
