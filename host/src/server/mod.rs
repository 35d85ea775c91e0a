//! `host serve`: one long-running process that is both the worker (it drives every runnable
//! execution, as `host worker --follow` does) and an HTTP server with the JSON API, live event
//! streams, webhooks, Prometheus metrics and the web dashboard, whose assets are compiled into
//! the binary.
//!
//! Everything goes through the same engine calls as the command line. What the server records
//! itself (a start, a signal) wakes its worker at once; what other processes record is noticed
//! by the feed's short poll of the store.

mod api;
mod artifacts;
mod auth;
mod error;
mod events;
mod feed;
mod metrics;
mod pages;
mod webhooks;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use serde::Deserialize;
use tokio::sync::watch;

use crate::engine::{Engine, Observer, Worker, WorkerWaker};
pub use auth::signing_key;
pub use metrics::{Metrics, TimedStore};
pub use webhooks::{WebhookConfig, signature as webhook_signature};

/// The largest request body the API reads (an edited outline is a few kilobytes).
const BODY_LIMIT_BYTES: usize = 1 << 20;

/// The `[server]` section of `config.toml`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// The address people reach the server at, for links in notifications
    /// [default: `http://<listen address>`].
    pub public_url: Option<String>,
    /// The environment variable holding the API token [default: `HOST_API_TOKEN`].
    pub api_token_env: Option<String>,
}

/// How to run the server.
pub struct ServeOptions {
    pub listen: SocketAddr,
    /// Where `POST /api/executions` finds workflows by name.
    pub workflows_dir: PathBuf,
    /// Required unless `listen` is a loopback address.
    pub api_token: Option<String>,
    pub public_url: Option<String>,
    pub webhooks: Vec<WebhookConfig>,
    /// Signs sessions and approval links ([`signing_key`]).
    pub signing_key: [u8; 32],
    /// How many executions the worker drives at once.
    pub concurrency: usize,
    /// Told about every event the worker's drives record (the command line's log lines).
    pub observer: Arc<dyn Observer>,
    pub metrics: Arc<Metrics>,
    /// The schedules whose due runs the embedded worker starts.
    pub schedules: Option<Arc<dyn pipeline_core::store::ScheduleStore>>,
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "{address} is not a loopback address: set an API token (HOST_API_TOKEN) so that only people with it can use the server"
    )]
    TokenRequired { address: SocketAddr },
    #[error("invalid webhook in config.toml: {0}")]
    Webhook(String),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
}

/// What every handler reaches.
#[derive(Clone)]
struct Shared(Arc<Inner>);

struct Inner {
    engine: Engine,
    waker: WorkerWaker,
    feed: feed::Feed,
    workflows_dir: PathBuf,
    auth: Arc<auth::Auth>,
    metrics: Arc<Metrics>,
}

impl std::ops::Deref for Shared {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Shared {
    /// Something was recorded here: the worker drives it and the feed passes it on, now.
    fn changed(&self) {
        self.waker.wake();
        self.feed.ring();
    }

    /// The file of a workflow of the workflows folder, named without `.toml`.
    fn workflow_file(&self, name: &str) -> Result<PathBuf, error::ApiError> {
        let plain = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !plain {
            return Err(error::ApiError::invalid_input(format!(
                "`{}` is not a workflow name: use the file name without .toml, as GET /api/workflows lists them",
                pipeline_core::text::printable(&pipeline_core::text::abbreviate(name, 40))
            )));
        }
        let file = self.workflows_dir.join(format!("{name}.toml"));
        if !file.is_file() {
            return Err(error::ApiError::not_found(format!(
                "no workflow `{name}` in {}",
                self.workflows_dir.display()
            )));
        }
        Ok(file)
    }
}

/// Serves until `stop` turns true; `on_listening` is told the bound address first (the port,
/// when 0 was asked for). Drives in flight stop as interrupted and stay resumable.
pub async fn serve(
    engine: Engine,
    options: ServeOptions,
    stop: watch::Receiver<bool>,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    if !options.listen.ip().is_loopback() && options.api_token.is_none() {
        return Err(ServeError::TokenRequired {
            address: options.listen,
        });
    }
    for webhook in &options.webhooks {
        webhook.check().map_err(ServeError::Webhook)?;
    }
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| ServeError::Bind {
            address: options.listen,
            source,
        })?;
    let address = listener.local_addr().map_err(ServeError::Serve)?;
    let public_url = options
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{address}"))
        .trim_end_matches('/')
        .to_string();
    let auth = Arc::new(auth::Auth::new(options.api_token, options.signing_key));
    let webhooks = Arc::new(webhooks::Webhooks::new(
        options.webhooks,
        auth.clone(),
        public_url,
    ));
    let mut worker = Worker::new(engine.clone())
        .with_concurrency(options.concurrency)
        .with_stop(stop.clone());
    if let Some(schedules) = options.schedules.clone() {
        worker = worker.with_schedules(schedules);
    }
    let waker = worker.waker();
    let feed = feed::Feed::start(
        engine.clone(),
        vec![webhooks, options.metrics.clone()],
        waker.clone(),
        stop.clone(),
    );
    let worker = worker.with_observer(Arc::new(Both(options.observer, feed.doorbell())));
    let shared = Shared(Arc::new(Inner {
        engine,
        waker,
        feed,
        workflows_dir: options.workflows_dir,
        auth,
        metrics: options.metrics,
    }));
    let app = router(shared);
    on_listening(address);
    let worker_task = tokio::spawn(async move {
        if let Err(error) = worker.follow(&mut |_| {}).await
            && !matches!(error, crate::engine::EngineError::Interrupted { .. })
        {
            tracing::error!(%error, "the worker stopped");
        }
    });
    let mut shutdown = stop;
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stopped| *stopped).await;
        })
        .await
        .map_err(ServeError::Serve)?;
    let _ = worker_task.await;
    Ok(())
}

fn router(shared: Shared) -> Router {
    let api = Router::new()
        .route("/api/workflows", get(api::workflows))
        .route("/api/executions", get(api::list).post(api::start))
        .route("/api/executions/{id}", get(api::status))
        .route("/api/executions/{id}/history", get(api::history))
        .route("/api/executions/{id}/events", get(events::execution))
        .route("/api/executions/{id}/approve", post(api::approve))
        .route("/api/executions/{id}/reject", post(api::reject))
        .route("/api/executions/{id}/revise", post(api::revise))
        .route("/api/executions/{id}/cancel", post(api::cancel))
        .route("/api/executions/{id}/resume", post(api::resume))
        .route("/api/executions/{id}/reset", post(api::reset))
        .route("/api/executions/{id}/fork", post(api::fork))
        .route(
            "/api/executions/{id}/artifacts/{name}",
            get(artifacts::download),
        )
        .route("/api/events", get(events::all))
        .route("/api/shows", get(api::shows))
        .route("/api/openapi.json", get(pages::openapi))
        .route("/metrics", get(metrics::scrape))
        .route("/login", get(auth::login_page).post(auth::login));
    pages::routes(api)
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            auth::guard,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .with_state(shared)
}

/// Two observers as one: the command line's log lines and the feed's doorbell.
struct Both(Arc<dyn Observer>, Arc<dyn Observer>);

impl Observer for Both {
    fn recorded(
        &self,
        definition: &pipeline_core::Definition,
        state: &pipeline_core::ExecutionState,
        event: &pipeline_core::Event,
    ) {
        self.0.recorded(definition, state, event);
        self.1.recorded(definition, state, event);
    }

    fn drive_started(
        &self,
        execution_id: &str,
        taken_over_from: Option<&pipeline_core::store::LeaseHolder>,
    ) {
        self.0.drive_started(execution_id, taken_over_from);
        self.1.drive_started(execution_id, taken_over_from);
    }
}
