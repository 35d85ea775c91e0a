//! A real `host serve` process for tests, on a free port of 127.0.0.1, with a real HTTP
//! client (ureq) and a reader of its Server-Sent Events. The process is killed when the value
//! is dropped.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Sandbox;

/// The repository's workflows with the gated counting workflow beside them as `gated.toml`,
/// copied into the sandbox: the folder a test server starts workflows from.
pub fn served_workflows(sandbox: &Sandbox) -> std::path::PathBuf {
    let folder = sandbox.repository_workflows("served");
    let gated = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/workflows/gated_counting");
    for file in ["draft.json", "draft.md", "fan.md"] {
        std::fs::copy(gated.join(file), folder.join(file)).unwrap();
    }
    std::fs::copy(gated.join("workflow.toml"), folder.join("gated.toml")).unwrap();
    folder
}

/// A running `host serve`.
pub struct Server {
    pub child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    agent: ureq::Agent,
    token: Option<String>,
}

impl Server {
    /// Starts `host serve` on a free loopback port with the repository's workflows copied into
    /// the sandbox, and waits until it listens.
    pub fn start(sandbox: &Sandbox, workflows: &Path) -> Server {
        Server::start_with(sandbox, workflows, sandbox.command(), &[])
    }

    /// As [`Server::start`], from a prepared command (environment) and with extra arguments.
    pub fn start_with(
        _sandbox: &Sandbox,
        workflows: &Path,
        mut command: Command,
        arguments: &[&str],
    ) -> Server {
        let listen = arguments
            .windows(2)
            .find(|pair| pair[0] == "--listen")
            .map(|pair| pair[1]);
        command
            .arg("serve")
            .arg("--workflows")
            .arg(workflows)
            .args(if listen.is_none() {
                vec!["--listen", "127.0.0.1:0"]
            } else {
                vec![]
            })
            .args(arguments)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().expect("host serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let first = lines
            .next()
            .expect("host serve prints where it listens")
            .expect("readable");
        // Keeps reading, so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let base = first
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in `{first}`"))
            .trim_end_matches('/')
            .to_string();
        Server {
            child,
            base,
            agent: agent(),
            token: None,
        }
    }

    /// Sends `Authorization: Bearer <token>` from now on.
    pub fn with_token(mut self, token: &str) -> Server {
        self.token = Some(token.to_string());
        self
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET path`: the status and the body as JSON (or as a JSON string when it is not JSON).
    pub fn get(&self, path: &str) -> (u16, Value) {
        let mut request = self.agent.get(self.url(path));
        if let Some(token) = &self.token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        answer(request.call())
    }

    /// `POST path` with a JSON body.
    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let mut request = self
            .agent
            .post(self.url(path))
            .header("Content-Type", "application/json");
        if let Some(token) = &self.token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        answer(request.send(body.to_string()))
    }

    /// Polls the execution's report until `done` says so; panics after `limit`.
    pub fn wait_for(&self, id: &str, limit: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let (status, report) = self.get(&format!("/api/executions/{id}"));
            if status == 200 && done(&report) {
                return report;
            }
            assert!(
                started.elapsed() < limit,
                "execution {id} did not get there within {limit:?}; last report: {report}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Opens an event stream, resuming after `last_event_id` when given.
    pub fn events(&self, path: &str, last_event_id: Option<&str>) -> EventStream {
        let mut request = self
            .agent
            .get(self.url(path))
            .header("Accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        if let Some(token) = &self.token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let response = request.call().expect("the event stream opens");
        assert_eq!(response.status().as_u16(), 200, "event stream status");
        EventStream {
            lines: BufReader::new(response.into_body().into_reader()).lines(),
        }
    }

    /// Kills the server as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A client that reports every status instead of failing on 4xx and 5xx, and does not follow
/// redirects (tests look at them).
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

pub fn answer(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> (u16, Value) {
    let mut response = result.expect("the server answers");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// One Server-Sent Event.
#[derive(Debug, Clone, Default)]
pub struct Message {
    pub id: Option<String>,
    pub event: String,
    pub data: Value,
}

/// Reads messages off an open event stream.
pub struct EventStream {
    lines: std::io::Lines<BufReader<ureq::BodyReader<'static>>>,
}

impl EventStream {
    /// The next message (comments and keep-alives skipped).
    pub fn next_message(&mut self) -> Message {
        let mut message = Message::default();
        let mut data = String::new();
        loop {
            let line = self
                .lines
                .next()
                .expect("the stream stays open")
                .expect("the stream is readable");
            if line.is_empty() {
                if !data.is_empty() {
                    message.data = serde_json::from_str(&data).unwrap_or(Value::String(data));
                    return message;
                }
                continue;
            }
            if let Some(value) = line.strip_prefix("id:") {
                message.id = Some(value.trim().to_string());
            } else if let Some(value) = line.strip_prefix("event:") {
                message.event = value.trim().to_string();
            } else if let Some(value) = line.strip_prefix("data:") {
                data.push_str(value.strip_prefix(' ').unwrap_or(value));
            }
        }
    }

    /// Messages named `event` until one satisfies `last`, which is included.
    pub fn events_until(&mut self, last: impl Fn(&Value) -> bool) -> Vec<Message> {
        let mut events = Vec::new();
        loop {
            let message = self.next_message();
            if message.event != "event" {
                continue;
            }
            let done = last(&message.data);
            events.push(message);
            if done {
                return events;
            }
        }
    }
}
