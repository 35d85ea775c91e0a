//! `host serve` as a team leaves it running: webhooks with valid signatures and approval links
//! that open one execution without a login, a receiver that is down slowing nothing, and a
//! kill -9 of the server mid-episode after which a restart finishes the episode and a
//! reconnecting event stream shows the rest.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::json;
use sha2::{Digest, Sha256};
use support::Sandbox;
use support::fake_http::{FakeHttp, Response};
use support::server::{Server, agent, answer, served_workflows};

const LIMIT: Duration = Duration::from_secs(120);
const SECRET: &str = "webhook-secret-for-tests";

/// HMAC-SHA256 written out from its definition (RFC 2104), to check the server's independently.
fn hmac_sha256(key: &[u8], message: &[u8]) -> String {
    let mut block = [0u8; 64];
    block[..key.len()].copy_from_slice(key);
    let inner: Vec<u8> = block.iter().map(|byte| byte ^ 0x36).collect();
    let outer: Vec<u8> = block.iter().map(|byte| byte ^ 0x5c).collect();
    let inner_hash = Sha256::new()
        .chain_update(&inner)
        .chain_update(message)
        .finalize();
    hex::encode(
        Sha256::new()
            .chain_update(&outer)
            .chain_update(inner_hash)
            .finalize(),
    )
}

fn deliveries(receiver: &FakeHttp, kind: &str) -> Vec<support::fake_http::Request> {
    receiver
        .requests_to("POST", "/hook")
        .into_iter()
        .filter(|request| request.header("x-host-event") == Some(kind))
        .collect()
}

/// The `attempt`-th request of a delivery of `kind`, once it has arrived.
fn wait_for_delivery(
    receiver: &FakeHttp,
    kind: &str,
    attempt: usize,
) -> support::fake_http::Request {
    let started = Instant::now();
    loop {
        if let Some(delivered) = deliveries(receiver, kind).into_iter().nth(attempt - 1) {
            return delivered;
        }
        assert!(
            started.elapsed() < LIMIT,
            "no {kind} webhook arrived; received: {:?}",
            receiver.requests()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn webhooks_are_signed_retried_and_link_to_the_approval() {
    let sandbox = Sandbox::new().with_counter();
    let receiver = FakeHttp::start();
    receiver.route(
        "POST",
        "/hook",
        [Response::status(500), Response::status(500)],
        Response::status(200),
    );
    let config = std::fs::read_to_string(sandbox.data().join("config.toml")).unwrap();
    // A second receiver is down for good: the execution must not wait for it.
    let config = format!(
        "{config}\n[[webhooks]]\nurl = \"{}/hook\"\nsecret_env = \"TEST_WEBHOOK_SECRET\"\n\n[[webhooks]]\nurl = \"http://127.0.0.1:9/down\"\nevents = [\"approval_requested\", \"completed\"]\n",
        receiver.url()
    );
    std::fs::write(sandbox.data().join("config.toml"), config).unwrap();
    let token = "a-long-enough-test-token";
    let mut command = sandbox.command();
    command
        .env("HOST_API_TOKEN", token)
        .env("TEST_WEBHOOK_SECRET", SECRET);
    let server =
        Server::start_with(&sandbox, &served_workflows(&sandbox), command, &[]).with_token(token);
    let (status, _) = server.post(
        "/api/executions",
        &json!({ "workflow": "gated", "inputs": { "topic": "hooks" }, "id": "hooked" }),
    );
    assert_eq!(status, 201);

    // The receiver answers 500 twice: the third attempt is the one it takes.
    let requested = wait_for_delivery(&receiver, "approval_requested", 3);
    let timestamp = requested.header("x-host-timestamp").expect("a timestamp");
    let mut signed = timestamp.as_bytes().to_vec();
    signed.push(b'.');
    signed.extend_from_slice(&requested.body);
    assert_eq!(
        requested.header("x-host-signature"),
        Some(format!("sha256={}", hmac_sha256(SECRET.as_bytes(), &signed)).as_str()),
        "the signature covers the timestamp and the body"
    );
    let first_attempt = &deliveries(&receiver, "approval_requested")[0];
    assert_eq!(
        first_attempt.header("x-host-delivery"),
        requested.header("x-host-delivery"),
        "a retry carries the same delivery id"
    );
    let body = requested.body_json();
    assert!(
        body["text"].as_str().unwrap().contains("hooked"),
        "Slack's `text`: {body}"
    );
    assert_eq!(body["event"], "approval_requested");
    assert_eq!(body["execution_id"], "hooked");

    // The link opens this execution's approval without the token, and nothing else.
    let link = body["link"].as_str().unwrap();
    let grant = link.split("grant=").nth(1).expect("a grant in the link");
    let path = link.trim_start_matches(&server.base);
    assert!(path.starts_with("/approve/hooked?"), "{link}");
    let page = agent().get(server.url(path)).call().unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let with_grant = |path: &str| {
        agent()
            .get(server.url(path))
            .header("X-Approval-Grant", grant)
            .call()
    };
    assert_eq!(answer(with_grant("/api/executions/hooked")).0, 200);
    assert_eq!(answer(with_grant("/api/executions")).0, 401);
    assert_eq!(answer(with_grant("/api/executions/other")).0, 401);
    assert_eq!(answer(with_grant("/metrics")).0, 401);
    let forged = agent()
        .get(server.url("/api/executions/hooked"))
        .header("X-Approval-Grant", format!("{}0", grant))
        .call();
    assert_eq!(answer(forged).0, 401);
    let approved = agent()
        .post(server.url("/api/executions/hooked/approve"))
        .header("Content-Type", "application/json")
        .header("X-Approval-Grant", grant)
        .send("{\"feedback\":\"from the link\"}");
    assert_eq!(answer(approved).0, 200);

    server.wait_for("hooked", LIMIT, |report| report["status"] == "completed");
    let completed = wait_for_delivery(&receiver, "completed", 1);
    assert_eq!(completed.body_json()["status"], "completed");
}

fn a_killed_server_restarts_and_finishes_the_episode() {
    let sandbox = Sandbox::new();
    let workflows = sandbox.repository_workflows("served");
    let mut server = Server::start(&sandbox, &workflows);
    let (status, _) = server.post(
        "/api/executions",
        &json!({ "workflow": "podcast", "inputs": { "topic": "lighthouses", "skip_cover": true }, "id": "survivor" }),
    );
    assert_eq!(status, 201);
    server.wait_for("survivor", LIMIT, |report| {
        report["status"] == "waiting_for_approval"
    });
    let mut stream = server.events("/api/executions/survivor/events", None);
    let (status, _) = server.post("/api/executions/survivor/approve", &json!({}));
    assert_eq!(status, 200);
    // Into speech synthesis, the longest stage, then kill -9.
    let seen = stream.events_until(|event| {
        event["type"] == "ActivityCompleted"
            && event["activity"]
                .as_str()
                .unwrap_or("")
                .starts_with("audio_synthesis")
    });
    server.kill();
    let last_seen = seen.last().unwrap().id.clone().unwrap();
    drop(stream);

    let server = Server::start(&sandbox, &workflows);
    let mut resumed = server.events("/api/executions/survivor/events", Some(&last_seen));
    let rest = resumed.events_until(|event| event["type"] == "ExecutionCompleted");
    let first: u64 = rest[0].id.as_ref().unwrap().parse().unwrap();
    assert_eq!(
        first,
        last_seen.parse::<u64>().unwrap() + 1,
        "the stream goes on where it was"
    );
    let report = server.wait_for("survivor", LIMIT, |report| report["status"] == "completed");
    assert!(
        report["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "episode.mp3")
    );

    // Nothing lost and nothing done twice: one completion per activity.
    let history = server.get("/api/executions/survivor/history").1;
    let mut completions = BTreeSet::new();
    for event in history.as_array().unwrap() {
        if event["type"] == "ActivityCompleted" {
            let activity = event["activity"].as_str().unwrap().to_string();
            assert!(
                completions.insert(activity.clone()),
                "{activity} completed twice"
            );
        }
    }
}

fn audio_downloads_answer_range_requests() {
    let sandbox = Sandbox::new();
    let workflows = sandbox.repository_workflows("served");
    let server = Server::start(&sandbox, &workflows);
    server.post(
        "/api/executions",
        &json!({ "workflow": "podcast", "inputs": { "topic": "bells", "skip_cover": true }, "id": "ranged" }),
    );
    server.wait_for("ranged", LIMIT, |report| {
        report["status"] == "waiting_for_approval"
    });
    server.post("/api/executions/ranged/approve", &json!({}));
    let report = server.wait_for("ranged", LIMIT, |report| report["status"] == "completed");
    let mp3 = report["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|artifact| artifact["name"] == "episode.mp3")
        .unwrap()
        .clone();
    let size = mp3["size_bytes"].as_u64().unwrap();
    let ranged = agent()
        .get(server.url("/api/executions/ranged/artifacts/episode.mp3"))
        .header("Range", "bytes=100-1123")
        .call()
        .unwrap();
    assert_eq!(ranged.status().as_u16(), 206);
    assert_eq!(ranged.headers()["content-type"], "audio/mpeg");
    assert_eq!(
        ranged.headers()["content-range"].to_str().unwrap(),
        format!("bytes 100-1123/{size}")
    );
    let bytes = ranged.into_body().read_to_vec().unwrap();
    assert_eq!(bytes.len(), 1024);
    let on_disk = std::fs::read(
        std::path::Path::new(report["episode_directory"].as_str().unwrap()).join("episode.mp3"),
    )
    .unwrap();
    assert_eq!(bytes, on_disk[100..1124]);
    let beyond = agent()
        .get(server.url("/api/executions/ranged/artifacts/episode.mp3"))
        .header("Range", format!("bytes={size}-"))
        .call()
        .unwrap();
    assert_eq!(beyond.status().as_u16(), 416);
    let transcript = agent()
        .get(server.url("/api/executions/ranged/artifacts/transcript.md"))
        .call()
        .unwrap();
    assert_eq!(transcript.status().as_u16(), 200);
    assert!(
        transcript.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/markdown")
    );
}

support::postgres::on_both_stores!(
    a_killed_server_restarts_and_finishes_the_episode,
    audio_downloads_answer_range_requests,
);
