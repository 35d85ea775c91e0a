//! Notifications: the webhooks of `config.toml`, POSTed when an approval is requested or
//! overdue and when an execution completes or fails. Each body is Slack-compatible (a `text`
//! line) with the details beside it, signed with HMAC-SHA256 when the webhook has a secret,
//! and retried with backoff. Deliveries run on their own tasks: a receiver that is down or slow
//! never holds up an execution, and one that keeps failing is given up on with a log line.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use pipeline_core::Event;
use pipeline_core::text::printable;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::Semaphore;

use super::auth::{APPROVAL_LINK_TTL_MS, Auth};
use super::feed::FeedListener;
use crate::engine::{StatusReport, rfc3339};

/// Attempts per delivery, the first included; waits double from one second between them.
const ATTEMPTS: u32 = 6;

/// How long one attempt may take, connection to answer.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Deliveries in flight at once; more wait for a slot (in memory, never blocking a drive).
const IN_FLIGHT: usize = 32;

/// One `[[webhooks]]` entry of `config.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where to POST, `http://` or `https://`.
    pub url: String,
    /// Which events: `approval_requested`, `reminder`, `completed`, `failed` (all four when
    /// left out).
    #[serde(default = "all_kinds")]
    pub events: Vec<String>,
    /// The environment variable holding the signing secret; without one, bodies are unsigned.
    pub secret_env: Option<String>,
}

/// The event kinds a webhook can ask for.
pub const KINDS: [&str; 4] = ["approval_requested", "reminder", "completed", "failed"];

fn all_kinds() -> Vec<String> {
    KINDS.iter().map(|kind| kind.to_string()).collect()
}

impl WebhookConfig {
    /// Problems a server refuses to start with: a bad URL, an unknown event, a missing secret.
    pub fn check(&self) -> Result<(), String> {
        let uri: http::Uri = self
            .url
            .parse()
            .map_err(|error| format!("webhook url `{}` is not a URL: {error}", self.url))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(format!(
                "webhook url `{}` must be an http:// or https:// URL with a host",
                self.url
            ));
        }
        if let Some(unknown) = self
            .events
            .iter()
            .find(|kind| !KINDS.contains(&kind.as_str()))
        {
            return Err(format!(
                "webhook event `{unknown}` is not one of {}",
                KINDS.join(", ")
            ));
        }
        if let Some(variable) = &self.secret_env
            && std::env::var(variable).is_err()
        {
            return Err(format!(
                "webhook {} is signed with ${variable}, which is not set",
                self.url
            ));
        }
        Ok(())
    }
}

/// Sends the configured webhooks for the feed's events.
pub struct Webhooks {
    targets: Vec<WebhookConfig>,
    auth: Arc<Auth>,
    public_url: String,
    slots: Arc<Semaphore>,
    runtime: tokio::runtime::Handle,
}

impl Webhooks {
    pub fn new(targets: Vec<WebhookConfig>, auth: Arc<Auth>, public_url: String) -> Webhooks {
        Webhooks {
            targets,
            auth,
            public_url,
            slots: Arc::new(Semaphore::new(IN_FLIGHT)),
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// The body for `event`, or none when it is not one producers are told about.
    fn body(
        &self,
        execution_id: &str,
        event: &Event,
        recorded_at_ms: i64,
        report: &StatusReport,
    ) -> Option<(&'static str, Value)> {
        let topic = report
            .inputs
            .get("topic")
            .and_then(Value::as_str)
            .map(|topic| format!(" (“{}”)", printable(topic)))
            .unwrap_or_default();
        let page = format!("{}/executions/{execution_id}", self.public_url);
        let approval_link = || {
            let expires = recorded_at_ms + APPROVAL_LINK_TTL_MS;
            let grant = self.auth.approval_grant(execution_id, expires);
            format!("{}/approve/{execution_id}?grant={grant}", self.public_url)
        };
        let (kind, text, link) = match event {
            Event::ApprovalRequested { stage, .. } => {
                let link = approval_link();
                let text = format!(
                    "{execution_id}{topic} is waiting for approval at {stage}: <{link}|review it>"
                );
                ("approval_requested", text, link)
            }
            Event::ApprovalReminder { stage, .. } => {
                let link = approval_link();
                let text = format!(
                    "Reminder: {execution_id}{topic} still waits for approval at {stage}: <{link}|review it>"
                );
                ("reminder", text, link)
            }
            Event::ExecutionCompleted { .. } => {
                let text = format!("{execution_id}{topic} is complete: <{page}|listen>");
                ("completed", text, page)
            }
            Event::ExecutionFailed { error, .. } => {
                let text = format!(
                    "{execution_id}{topic} failed: {}: <{page}|details>",
                    printable(&error.message)
                );
                ("failed", text, page)
            }
            _ => return None,
        };
        let body = json!({
            "text": text,
            "event": kind,
            "execution_id": execution_id,
            "workflow": report.workflow,
            "status": report.status.as_str(),
            "stage": report.stage,
            "inputs": report.inputs,
            "link": link,
            "occurred_at": rfc3339(recorded_at_ms),
            "sequence": report.events,
        });
        Some((kind, body))
    }
}

impl FeedListener for Webhooks {
    fn event(&self, execution_id: &str, event: &Event, recorded_at_ms: i64, report: &StatusReport) {
        let Some((kind, body)) = self.body(execution_id, event, recorded_at_ms, report) else {
            return;
        };
        let body = Bytes::from(body.to_string());
        for target in self
            .targets
            .iter()
            .filter(|target| target.events.iter().any(|k| k == kind))
        {
            let secret = target
                .secret_env
                .as_ref()
                .and_then(|variable| std::env::var(variable).ok());
            let delivery = Delivery {
                url: target.url.clone(),
                kind,
                id: format!("{execution_id}:{recorded_at_ms}:{kind}"),
                body: body.clone(),
                secret,
            };
            let slots = self.slots.clone();
            self.runtime.spawn(async move {
                let Ok(_slot) = slots.acquire_owned().await else {
                    return;
                };
                delivery.send_with_retries().await;
            });
        }
    }
}

/// One notification to one receiver.
struct Delivery {
    url: String,
    kind: &'static str,
    /// The same on every attempt, so a receiver can drop repeats.
    id: String,
    body: Bytes,
    secret: Option<String>,
}

impl Delivery {
    async fn send_with_retries(self) {
        let mut wait = Duration::from_secs(1);
        for attempt in 1..=ATTEMPTS {
            match tokio::time::timeout(ATTEMPT_TIMEOUT, self.send()).await {
                Ok(Ok(())) => return,
                Ok(Err(problem)) => {
                    tracing::warn!(url = self.url, attempt, problem, "webhook not delivered")
                }
                Err(_) => tracing::warn!(url = self.url, attempt, "webhook timed out"),
            }
            if attempt < ATTEMPTS {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        }
        tracing::error!(
            url = self.url,
            delivery = self.id,
            "webhook given up after {ATTEMPTS} attempts"
        );
    }

    async fn send(&self) -> Result<(), String> {
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        let mut request = http::Request::post(&self.url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(
                http::header::USER_AGENT,
                concat!("host/", env!("CARGO_PKG_VERSION")),
            )
            .header("x-host-event", self.kind)
            .header("x-host-delivery", &self.id)
            .header("x-host-timestamp", timestamp.to_string());
        if let Some(secret) = &self.secret {
            request = request.header("x-host-signature", signature(secret, timestamp, &self.body));
        }
        let request = request
            .body(Full::new(self.body.clone()).map_err(|never| match never {}))
            .map_err(|error| error.to_string())?;
        let (response, connection) = wasmtime_wasi_http::default_send_request(request, None)
            .await
            .map_err(|error| error.to_string())?;
        tokio::spawn(connection);
        let status = response.status();
        // Read the answer so the connection ends cleanly; its content does not matter.
        let _ = response.into_body().collect().await;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the receiver answered {status}"))
        }
    }
}

/// `sha256=<hex>` of HMAC-SHA256 over `<timestamp>.<body>`: binding the time lets a receiver
/// refuse a replayed delivery.
pub fn signature(secret: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}
