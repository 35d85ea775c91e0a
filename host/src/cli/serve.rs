//! `host serve`: the worker with the HTTP API, live events, webhooks, metrics and the web
//! dashboard, until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use host::engine::{DEFAULT_CONCURRENCY, rfc3339};
use host::plugin::HostConfig;
use host::server::{Metrics, ServeOptions, TimedStore, serve, signing_key};

use super::execution::{at_least_one, ctrl_c_watch};
use super::progress::Progress;
use super::{Context, Failure, runtime};

/// The environment variable holding the API token unless `config.toml` names another.
const TOKEN_VARIABLE: &str = "HOST_API_TOKEN";

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  host serve\n  host serve --listen 127.0.0.1:8080 --workflows ./workflows\n  host serve --listen 0.0.0.0:7878   (with HOST_API_TOKEN set, e.g. from `openssl rand -hex 24`)\n\nOpen the printed address in a browser for the dashboard; the API is described at\n/api/openapi.json and Prometheus metrics are at /metrics. Webhooks and the public URL used\nin their links are set in <data-dir>/config.toml ([server], [[webhooks]])."
)]
pub struct ServeArguments {
    /// Address to listen on. Anything but loopback needs an API token in $HOST_API_TOKEN.
    #[arg(long, default_value = "127.0.0.1:7878")]
    pub listen: SocketAddr,
    /// The folder of workflows the API and the dashboard start by name.
    #[arg(long, default_value = "workflows")]
    pub workflows: PathBuf,
    /// How many executions to drive at once (at least 1).
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY, value_parser = at_least_one())]
    pub concurrency: usize,
}

pub fn run(context: &Context, arguments: ServeArguments) -> Result<(), Failure> {
    let config =
        HostConfig::load(&context.data_dir.config_file()).map_err(Failure::invalid_input)?;
    let token_variable = config
        .server
        .api_token_env
        .clone()
        .unwrap_or_else(|| TOKEN_VARIABLE.to_string());
    let api_token = std::env::var(&token_variable)
        .ok()
        .filter(|token| !token.trim().is_empty());
    if api_token
        .as_ref()
        .is_some_and(|token| token.trim().len() < 16)
    {
        return Err(Failure::invalid_input(format!(
            "${token_variable} is too short to guard a server: use at least 16 characters (e.g. `openssl rand -hex 24`)"
        )));
    }
    if !arguments.workflows.is_dir() {
        return Err(Failure::invalid_input(format!(
            "no workflows folder at {}: give it with --workflows",
            arguments.workflows.display()
        )));
    }
    let metrics = Arc::new(Metrics::default());
    let database = context.database()?;
    let schedules = database.schedules.clone();
    let store = Arc::new(TimedStore {
        inner: database.history,
        metrics: metrics.clone(),
    });
    let engine = context.engine_over(store, database.shared)?;
    let key = signing_key(&context.data_dir.server_key_file()).map_err(|error| {
        Failure::internal(format!(
            "cannot keep the server key in {}: {error}",
            context.data_dir.server_key_file().display()
        ))
    })?;
    let progress = Arc::new(
        Progress::new(&context.data_dir.logs_dir(), context.verbose == 0).announcing_drives(),
    );
    let options = ServeOptions {
        listen: arguments.listen,
        workflows_dir: arguments.workflows,
        api_token,
        public_url: config.server.public_url.clone(),
        webhooks: config.webhooks.clone(),
        signing_key: key,
        concurrency: arguments.concurrency,
        observer: progress,
        metrics,
        schedules: Some(schedules),
    };
    let owner = engine.owner().clone();
    let now = rfc3339(engine.clock.now_ms());
    let guarded = options.api_token.is_some();
    runtime()?.block_on(async {
        serve(engine, options, ctrl_c_watch(), |address| {
            println!(
                "{now} serving on http://{address}/ (process {} on {}, {} at a time{})",
                owner.pid,
                owner.hostname,
                arguments.concurrency,
                if guarded { ", API token required" } else { "" }
            );
        })
        .await
        .map_err(|error| match error {
            host::server::ServeError::Engine(error) => Failure::from(error),
            host::server::ServeError::Serve(_) => Failure::internal(error),
            other => Failure::invalid_input(other),
        })
    })
}
