//! `host serve` through its HTTP API, as a client sees it: a real server process on 127.0.0.1,
//! a real HTTP client, real plugins. Every endpoint, the refusals (recording nothing), the
//! event streams and their resumption, auth on and off, webhooks, and a kill -9 of the server.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::Sandbox;
use support::server::{Server, agent, answer, served_workflows};

const LIMIT: Duration = Duration::from_secs(120);

fn start_gated(server: &Server, id: &str) -> Value {
    let (status, report) = server.post(
        "/api/executions",
        &json!({ "workflow": "gated", "inputs": { "topic": id }, "id": id }),
    );
    assert_eq!(status, 201, "start: {report}");
    report
}

fn waiting(report: &Value) -> bool {
    report["status"] == "waiting_for_approval"
}

fn completed(report: &Value) -> bool {
    report["status"] == "completed"
}

fn the_api_starts_lists_approves_and_reports() {
    let sandbox = Sandbox::new().with_counter();
    let server = Server::start(&sandbox, &served_workflows(&sandbox));

    let (status, workflows) = server.get("/api/workflows");
    assert_eq!(status, 200);
    let gated = workflows
        .as_array()
        .unwrap()
        .iter()
        .find(|workflow| workflow["name"] == "gated")
        .expect("the gated workflow is listed");
    let topic = gated["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|input| input["name"] == "topic")
        .expect("the topic input is listed");
    assert_eq!(topic["required"], true);
    assert_eq!(topic["type"], "string");

    for id in ["first", "second", "third"] {
        start_gated(&server, id);
    }
    for id in ["first", "second", "third"] {
        server.wait_for(id, LIMIT, waiting);
    }
    let (status, page) = server.get("/api/executions?status=waiting_for_approval&limit=2");
    assert_eq!(status, 200);
    assert_eq!(page["total"], 3);
    let ids: Vec<&str> = page["executions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["third", "second"], "newest first, one page");
    assert_eq!(page["next_offset"], 2);
    let (_, rest) = server.get("/api/executions?status=waiting_for_approval&limit=2&offset=2");
    assert_eq!(rest["executions"][0]["id"], "first");
    assert_eq!(rest["next_offset"], Value::Null);
    let (_, none) = server.get("/api/executions?workflow=podcast");
    assert_eq!(none["total"], 0);

    let (status, report) = server.get("/api/executions/first");
    assert_eq!(status, 200);
    assert_eq!(report["approval"]["stage"], "approval");
    assert_eq!(report["stages"].as_array().unwrap().len(), 3);
    assert_eq!(report["stages"][0]["status"], "completed");
    assert_eq!(report["stages"][1]["status"], "waiting_for_approval");

    // Approve with an edited subject, reject one, cancel one.
    assert!(report["approval"]["subject"].is_string());
    let edited = json!("Edited in the API");
    let (status, after) = server.post(
        "/api/executions/first/approve",
        &json!({ "outline": edited, "feedback": "good" }),
    );
    assert_eq!(status, 200, "{after}");
    let (status, _) = server.post(
        "/api/executions/second/reject",
        &json!({ "feedback": "no" }),
    );
    assert_eq!(status, 200);
    let (status, _) = server.post("/api/executions/third/cancel", &json!({}));
    assert_eq!(status, 200);
    let first = server.wait_for("first", LIMIT, completed);
    assert_eq!(first["feedback"], json!(["good"]));
    server.wait_for("second", LIMIT, |report| report["status"] == "rejected");
    server.wait_for("third", LIMIT, |report| report["status"] == "cancelled");
    assert_eq!(
        first["cost"]["total_micros"]["USD"], 40,
        "draft and three fan-out calls"
    );

    // The history, as `host history --json` gives it, with the edit recorded.
    let (status, history) = server.get("/api/executions/first/history");
    assert_eq!(status, 200);
    let events = history.as_array().unwrap();
    assert_eq!(events[0]["type"], "ExecutionStarted");
    assert_eq!(events.last().unwrap()["type"], "ExecutionCompleted");
    let signal = events
        .iter()
        .find(|event| event["type"] == "SignalReceived")
        .unwrap();
    assert_eq!(signal["replacement"], "Edited in the API");

    // A reset runs the fan-out again; the worker picks it up.
    let (status, _) = server.post("/api/executions/first/reset", &json!({ "stage": "fan" }));
    assert_eq!(status, 200);
    server.wait_for("first", LIMIT, |report| {
        completed(report) && report["events"].as_u64() > first["events"].as_u64()
    });
    drop(server);
    // Every call ran once: four for the approved one, a draft each for the others, and the
    // three the reset ran again.
    assert_eq!(sandbox.calls().len(), 4 + 1 + 1 + 3);
}

/// The status a POST declaring a 2 MiB body gets once a little more than the 1 MiB limit has
/// been sent. Over a raw connection: the server answers as soon as the limit is passed and
/// closes, and an HTTP client still writing the rest would see a broken pipe instead.
fn status_of_an_oversized_post(server: &Server, path: &str) -> u16 {
    use std::io::{Read as _, Write as _};
    let url = server.url(path);
    let address = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .expect("the server's address");
    let mut connection = std::net::TcpStream::connect(address).expect("the server accepts");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        2 << 20
    );
    connection.write_all(head.as_bytes()).unwrap();
    connection
        .write_all(&vec![b' '; (1 << 20) + (64 << 10)])
        .unwrap();
    connection
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut answer = [0u8; 64];
    let read = connection.read(&mut answer).expect("the server answers");
    let status_line = String::from_utf8_lossy(&answer[..read]).into_owned();
    status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {status_line}"))
}

#[test]
fn refused_requests_name_the_problem_and_record_nothing() {
    let sandbox = Sandbox::new().with_counter();
    let server = Server::start(&sandbox, &served_workflows(&sandbox));
    start_gated(&server, "gate");
    let report = server.wait_for("gate", LIMIT, waiting);
    let events = report["events"].clone();

    let refusals: Vec<(&str, Value, u16, &str)> = vec![
        (
            "/api/executions/gate/approve",
            json!({ "outline": { "title": 5 } }),
            409,
            "signal_refused",
        ),
        (
            "/api/executions/gate/approve",
            json!({ "budget": "lots" }),
            400,
            "invalid_input",
        ),
        (
            "/api/executions/gate/resume",
            json!({}),
            409,
            "signal_refused",
        ),
        (
            "/api/executions/gate/reset",
            json!({ "stage": "nowhere" }),
            400,
            "invalid_input",
        ),
        (
            "/api/executions/missing/approve",
            json!({}),
            404,
            "not_found",
        ),
        (
            "/api/executions",
            json!({ "workflow": "../gated" }),
            400,
            "invalid_input",
        ),
        (
            "/api/executions",
            json!({ "workflow": "absent" }),
            404,
            "not_found",
        ),
        (
            "/api/executions",
            json!({ "workflow": "gated" }),
            400,
            "invalid_input",
        ),
        (
            "/api/executions",
            json!({ "workflow": "gated", "inputs": { "topic": "x" }, "id": "gate" }),
            400,
            "invalid_input",
        ),
    ];
    for (path, body, expected, kind) in refusals {
        let (status, refusal) = server.post(path, &body);
        assert_eq!(status, expected, "{path} {body}: {refusal}");
        assert_eq!(refusal["error"]["kind"], kind, "{path} {body}: {refusal}");
        assert!(!refusal["error"]["message"].as_str().unwrap().is_empty());
    }
    let (status, body) = server.post("/api/executions/gate/approve", &json!({ "unknown": 1 }));
    assert!(
        (400..500).contains(&status),
        "an unknown field: {status} {body}"
    );
    let (status, _) = server.get("/api/executions/missing");
    assert_eq!(status, 404);
    let (status, _) = server.get("/api/executions/gate/artifacts/..%2Fhistory.db");
    assert_eq!(status, 404, "only listed files are served");

    // Too large a body, a cross-site form, a rebinding host name.
    assert_eq!(
        status_of_an_oversized_post(&server, "/api/executions/gate/approve"),
        413
    );
    let cross = agent()
        .post(server.url("/api/executions/gate/approve"))
        .header("Content-Type", "application/json")
        .header("Origin", "http://attacker.example")
        .send("{}");
    assert_eq!(answer(cross).0, 403);
    let rebound = agent()
        .get(server.url("/api/executions"))
        .header("Host", "attacker.example")
        .call();
    assert_eq!(answer(rebound).0, 403);

    let report = server.get("/api/executions/gate").1;
    assert_eq!(report["events"], events, "no refusal recorded anything");
    assert!(report["approval"]["decision"].is_null());
}

fn event_streams_resume_after_a_disconnect_without_missing_an_event() {
    let sandbox = Sandbox::new().with_counter();
    let server = Server::start(&sandbox, &served_workflows(&sandbox));
    start_gated(&server, "streamed");
    let mut stream = server.events("/api/executions/streamed/events", None);
    let before = stream.events_until(|event| event["type"] == "ApprovalRequested");
    let sequences: Vec<u64> = before
        .iter()
        .map(|message| message.id.as_ref().unwrap().parse().unwrap())
        .collect();
    assert_eq!(sequences, (1..=sequences.len() as u64).collect::<Vec<_>>());
    let last_seen = before.last().unwrap().id.clone().unwrap();
    drop(stream);

    // Events commit while nobody listens; the reconnect gets them from the store.
    let (status, _) = server.post("/api/executions/streamed/approve", &json!({}));
    assert_eq!(status, 200);
    server.wait_for("streamed", LIMIT, completed);
    let mut resumed = server.events("/api/executions/streamed/events", Some(&last_seen));
    let after = resumed.events_until(|event| event["type"] == "ExecutionCompleted");
    let first_after: u64 = after[0].id.as_ref().unwrap().parse().unwrap();
    assert_eq!(first_after, last_seen.parse::<u64>().unwrap() + 1);
    assert!(
        after
            .iter()
            .any(|message| message.data["type"] == "SignalReceived")
    );
    let all = server.get("/api/executions/streamed/history").1;
    assert_eq!(
        before.len() + after.len(),
        all.as_array().unwrap().len(),
        "every event exactly once across the disconnect"
    );

    // The stream of all executions: a row per change, resumable from a cursor.
    let cursor = server.get("/api/executions").1["cursor"].as_i64().unwrap();
    let mut everything = server.events(&format!("/api/events?after={cursor}"), None);
    start_gated(&server, "another");
    loop {
        let message = everything.next_message();
        if message.event == "listing"
            && message.data["id"] == "another"
            && message.data["status"] == "waiting_for_approval"
        {
            break;
        }
    }
}

fn a_signal_recorded_by_another_process_is_acted_on() {
    let sandbox = Sandbox::new().with_counter();
    let server = Server::start(&sandbox, &served_workflows(&sandbox));
    start_gated(&server, "elsewhere");
    server.wait_for("elsewhere", LIMIT, waiting);
    let output = sandbox.host(&["signal", "approve", "elsewhere", "--no-wait"]);
    support::assert_success(&output);
    server.wait_for("elsewhere", LIMIT, completed);
}

#[test]
fn metrics_and_the_api_description_are_served() {
    let sandbox = Sandbox::new().with_counter();
    let server = Server::start(&sandbox, &served_workflows(&sandbox));
    start_gated(&server, "measured");
    server.wait_for("measured", LIMIT, waiting);
    // The feed counts what it passed on; wait until it has.
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = server
            .get("/metrics")
            .1
            .as_str()
            .unwrap_or_default()
            .to_string();
        if metrics.contains("host_approvals_waiting 1") && metrics.contains("plugin=\"counter\"") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for expected in [
        "host_executions{status=\"waiting_for_approval\"} 1",
        "host_approvals_waiting 1",
        "host_queue_depth 0",
        "host_activity_duration_seconds_count{plugin=\"counter\"} 1",
        "host_commit_duration_seconds_count",
        "host_commits_total",
    ] {
        assert!(
            metrics.contains(expected),
            "{expected} missing from:\n{metrics}"
        );
    }
    let (status, openapi) = server.get("/api/openapi.json");
    assert_eq!(status, 200);
    assert!(openapi["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/executions",
        "/api/executions/{id}",
        "/api/executions/{id}/approve",
        "/api/executions/{id}/fork",
        "/api/executions/{id}/resume",
        "/api/executions/{id}/events",
        "/api/events",
        "/api/executions/{id}/artifacts/{name}",
        "/metrics",
    ] {
        assert!(
            openapi["paths"][path].is_object(),
            "{path} is not documented"
        );
    }
}

#[test]
fn a_token_guards_a_server_on_another_address() {
    let sandbox = Sandbox::new().with_counter();
    let workflows = served_workflows(&sandbox);
    let refused = sandbox
        .command()
        .env_remove("HOST_API_TOKEN")
        .args(["serve", "--listen", "0.0.0.0:0", "--workflows"])
        .arg(&workflows)
        .output()
        .unwrap();
    support::assert_exit(&refused, 2, "serve on 0.0.0.0 without a token");
    assert!(support::text(&refused.stderr).contains("HOST_API_TOKEN"));

    let token = "a-long-enough-test-token";
    let mut command = sandbox.command();
    command.env("HOST_API_TOKEN", token);
    let server = Server::start_with(&sandbox, &workflows, command, &[]);
    assert_eq!(server.get("/api/executions").0, 401);
    assert_eq!(server.get("/metrics").0, 401);
    let page = agent().get(server.url("/")).call();
    let page = page.unwrap();
    assert_eq!(page.status().as_u16(), 303);
    assert_eq!(page.headers()["location"], "/login");
    let wrong = agent()
        .get(server.url("/api/executions"))
        .header("Authorization", "Bearer wrong-token-wrong-token")
        .call();
    assert_eq!(answer(wrong).0, 401);

    // A login sets a strict, HttpOnly cookie that opens the API.
    let login = agent()
        .post(server.url("/login"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(format!("token={token}"))
        .unwrap();
    assert_eq!(login.status().as_u16(), 303);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_string();
    let listed = agent()
        .get(server.url("/api/executions"))
        .header("Cookie", &session)
        .call();
    assert_eq!(answer(listed).0, 200);

    let server = server.with_token(token);
    start_gated(&server, "guarded");
    server.wait_for("guarded", LIMIT, waiting);
}

support::postgres::on_both_stores!(
    the_api_starts_lists_approves_and_reports,
    event_streams_resume_after_a_disconnect_without_missing_an_event,
    a_signal_recorded_by_another_process_is_acted_on,
);
