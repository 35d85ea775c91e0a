//! `GET /metrics` in Prometheus' text format, for operators: executions by status, approvals
//! waiting, the worker's queue, activity latency and failures per plugin (from every event the
//! feed passes on, whichever process recorded it), and the latency of this process's commits
//! (timed around the store's appends).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use pipeline_core::Event;
use pipeline_core::event::ReusedFrom;
use pipeline_core::store::{
    AppendFuture, ExecutionRow, ExecutionSummary, HistoryError, HistoryStore, LeaseFuture,
    LeaseHolder, LeaseOwner, NewEvent, ReleaseFuture, StoredEvent,
};

use super::Shared;
use super::error::ApiError;
use super::feed::FeedListener;
use crate::engine::StatusReport;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0, 120.0,
];

/// A latency histogram.
#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum_seconds: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bucket, bound) in self.counts.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        self.count += 1;
        self.sum_seconds += seconds;
    }

    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let separator = if labels.is_empty() { "" } else { "," };
        for (count, bound) in self.counts.iter().zip(BUCKETS) {
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{separator}le=\"{bound}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{separator}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum_seconds);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

/// What the metrics count between scrapes.
#[derive(Debug, Default)]
pub struct Metrics {
    activities: Mutex<BTreeMap<String, Histogram>>,
    failures: Mutex<BTreeMap<(String, String), u64>>,
    commits: Mutex<Histogram>,
}

impl FeedListener for Metrics {
    fn event(&self, _: &str, event: &Event, _: i64, _: &StatusReport) {
        match event {
            // A reused result took no call, so it says nothing about the plugin's latency.
            Event::ActivityCompleted {
                plugin: Some(plugin),
                duration_ms,
                reused_from: None,
                ..
            } => {
                let mut activities = self.activities.lock().unwrap_or_else(|e| e.into_inner());
                activities
                    .entry(plugin.name.clone())
                    .or_default()
                    .observe(*duration_ms as f64 / 1000.0);
            }
            Event::ActivityFailed { plugin, error, .. } => {
                let plugin = plugin.as_ref().map_or("host", |pin| pin.name.as_str());
                let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
                *failures
                    .entry((plugin.to_string(), error.kind.to_string()))
                    .or_default() += 1;
            }
            _ => {}
        }
    }
}

/// `GET /metrics`.
pub async fn scrape(State(shared): State<Shared>) -> Result<Response, ApiError> {
    let engine = &shared.engine;
    let rows = engine
        .store
        .executions()
        .map_err(crate::engine::EngineError::from)?;
    let runnable = engine
        .store
        .runnable(engine.clock.now_ms())
        .map_err(crate::engine::EngineError::from)?;
    let mut by_status: BTreeMap<&str, u64> = BTreeMap::new();
    for row in &rows {
        *by_status.entry(row.summary.status.as_str()).or_default() += 1;
    }
    let mut out = String::new();
    out.push_str("# HELP host_executions Executions in the database by status.\n# TYPE host_executions gauge\n");
    for status in [
        "running",
        "waiting_for_approval",
        "paused",
        "completed",
        "failed",
        "rejected",
        "cancelled",
    ] {
        let count = by_status.get(status).copied().unwrap_or(0);
        let _ = writeln!(out, "host_executions{{status=\"{status}\"}} {count}");
    }
    let waiting = by_status.get("waiting_for_approval").copied().unwrap_or(0);
    let _ = writeln!(
        out,
        "# HELP host_approvals_waiting Executions waiting for a person.\n# TYPE host_approvals_waiting gauge\nhost_approvals_waiting {waiting}"
    );
    let _ = writeln!(
        out,
        "# HELP host_queue_depth Executions that can make progress now.\n# TYPE host_queue_depth gauge\nhost_queue_depth {}",
        runnable.len()
    );
    let metrics = &shared.metrics;
    out.push_str("# HELP host_activity_duration_seconds Completed activity attempts by plugin.\n# TYPE host_activity_duration_seconds histogram\n");
    for (plugin, histogram) in metrics
        .activities
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
    {
        histogram.write(
            &mut out,
            "host_activity_duration_seconds",
            &format!("plugin=\"{}\"", label(plugin)),
        );
    }
    out.push_str("# HELP host_activity_failures_total Failed activity attempts by plugin and error kind.\n# TYPE host_activity_failures_total counter\n");
    for ((plugin, kind), count) in metrics
        .failures
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
    {
        let _ = writeln!(
            out,
            "host_activity_failures_total{{plugin=\"{}\",kind=\"{}\"}} {count}",
            label(plugin),
            label(kind)
        );
    }
    out.push_str("# HELP host_commit_duration_seconds History appends of this process, until committed.\n# TYPE host_commit_duration_seconds histogram\n");
    metrics
        .commits
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .write(&mut out, "host_commit_duration_seconds", "");
    let _ = writeln!(
        out,
        "# HELP host_commits_total Transactions this process committed.\n# TYPE host_commits_total counter\nhost_commits_total {}",
        engine.store.commit_count()
    );
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
}

/// A label value with `\`, `"` and line breaks escaped, as the format requires.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The store with its appends timed into the metrics; every other call passes through.
pub struct TimedStore {
    pub inner: Arc<dyn HistoryStore>,
    pub metrics: Arc<Metrics>,
}

impl HistoryStore for TimedStore {
    fn append_with<'a>(
        &'a self,
        execution_id: &'a str,
        first_sequence: u64,
        events: Vec<NewEvent>,
        summary: Option<ExecutionSummary>,
        owner: Option<String>,
    ) -> AppendFuture<'a> {
        let append = self
            .inner
            .append_with(execution_id, first_sequence, events, summary, owner);
        Box::pin(async move {
            let started = Instant::now();
            let result = append.await;
            if result.is_ok() {
                let mut commits = self
                    .metrics
                    .commits
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                commits.observe(started.elapsed().as_secs_f64());
            }
            result
        })
    }

    fn read(&self, execution_id: &str) -> Result<Vec<StoredEvent>, HistoryError> {
        self.inner.read(execution_id)
    }

    fn last_sequence(&self, execution_id: &str) -> Result<u64, HistoryError> {
        self.inner.last_sequence(execution_id)
    }

    fn start_owned<'a>(
        &'a self,
        execution_id: &'a str,
        events: Vec<NewEvent>,
        summary: ExecutionSummary,
        owner: &'a LeaseOwner,
        now_ms: i64,
        ttl_ms: i64,
    ) -> AppendFuture<'a> {
        self.inner
            .start_owned(execution_id, events, summary, owner, now_ms, ttl_ms)
    }

    fn acquire_lease<'a>(
        &'a self,
        execution_id: &'a str,
        owner: &'a LeaseOwner,
        now_ms: i64,
        ttl_ms: i64,
    ) -> LeaseFuture<'a> {
        self.inner
            .acquire_lease(execution_id, owner, now_ms, ttl_ms)
    }

    fn release_lease<'a>(
        &'a self,
        execution_id: &'a str,
        owner: &'a LeaseOwner,
    ) -> ReleaseFuture<'a> {
        self.inner.release_lease(execution_id, owner)
    }

    fn lease_holder(
        &self,
        execution_id: &str,
        now_ms: i64,
    ) -> Result<Option<LeaseHolder>, HistoryError> {
        self.inner.lease_holder(execution_id, now_ms)
    }

    fn execution(&self, execution_id: &str) -> Result<Option<ExecutionRow>, HistoryError> {
        self.inner.execution(execution_id)
    }

    fn executions(&self) -> Result<Vec<ExecutionRow>, HistoryError> {
        self.inner.executions()
    }

    fn runnable(&self, now_ms: i64) -> Result<Vec<ExecutionRow>, HistoryError> {
        self.inner.runnable(now_ms)
    }

    fn due(&self, now_ms: i64) -> Result<Vec<ExecutionRow>, HistoryError> {
        self.inner.due(now_ms)
    }

    fn executions_of_show(&self, show: &str) -> Result<Vec<ExecutionRow>, HistoryError> {
        self.inner.executions_of_show(show)
    }

    fn change_token(&self) -> Result<u64, HistoryError> {
        self.inner.change_token()
    }

    fn reusable_result(&self, reuse_key: &str) -> Result<Option<ReusedFrom>, HistoryError> {
        self.inner.reusable_result(reuse_key)
    }

    fn commit_count(&self) -> u64 {
        self.inner.commit_count()
    }
}
