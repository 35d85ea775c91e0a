//! Settling a call: turning what came back from a plugin (a value, a provider error, a trap,
//! a deadline, a refused memory growth, a refused HTTP request) into the result or a
//! classified [`CallError`], with granted secrets redacted from every text taken from the
//! plugin.

use pipeline_core::text::{printable, printable_lines};
use wasmtime::{Store, Trap};

use super::bindings::types::{ErrorKind, ProviderError};
use super::error::CallError;
use super::runtime::LoadedPlugin;
use super::sandbox::{DeadlineReached, StoreState};
use super::service::Service;

pub(crate) type CallOutcome<T> =
    Result<wasmtime::Result<Result<T, ProviderError>>, tokio::time::error::Elapsed>;

/// Turns the outcome of a call into its result or a classified [`CallError`].
pub(crate) fn settle<T>(
    plugin: &LoadedPlugin,
    store: &Store<StoreState>,
    outcome: CallOutcome<T>,
) -> Result<T, CallError> {
    let redactor = &store.data().redactor;
    let stderr = redactor.redact(&String::from_utf8_lossy(&store.data().stderr.contents()));
    if !stderr.trim().is_empty() {
        tracing::debug!(plugin = %plugin.name, stderr = %printable_lines(stderr.trim_end()), "plugin wrote to stderr");
    }
    if let Some(reason) = store
        .data()
        .mixer_io
        .as_ref()
        .and_then(|io| io.write_error.clone())
    {
        return Err(CallError::OutputNotWritten {
            plugin: plugin.name.clone(),
            reason,
        });
    }
    // A request outside the grant is a configuration problem that no retry can fix, whatever
    // the plugin made of the denial (wstd reports it as an ordinary transport error, which a
    // plugin would rightly call retryable), so it decides the outcome.
    if let Some(origin) = store.data().network.refused.first() {
        // What the plugin made of the denial helps tell a plugin bug from a missing grant.
        let reported = match &outcome {
            Ok(Ok(Err(error))) => {
                format!(" (the plugin reported: {})", redactor.clean(&error.message))
            }
            _ => String::new(),
        };
        return Err(CallError::Provider {
            plugin: plugin.name.clone(),
            error: ProviderError {
                kind: ErrorKind::InvalidRequest,
                retryable: false,
                message: format!(
                    "the host refused its HTTP request to {origin}, which it is not granted; to \
                     allow it, add \"{origin}\" to `allowed_hosts` under [plugins.{}] in \
                     <data-dir>/config.toml or in the workflow file{reported}",
                    plugin.name
                ),
                retry_after_ms: None,
            },
        });
    }
    let deadline_exceeded = || CallError::DeadlineExceeded {
        plugin: plugin.name.clone(),
        limit: plugin.grants.call_timeout(),
    };
    let error = match outcome {
        Err(_elapsed) => return Err(deadline_exceeded()),
        Ok(Ok(Ok(value))) => return Ok(value),
        Ok(Ok(Err(mut error))) => {
            error.message = redactor.clean(&error.message);
            return Err(CallError::Provider {
                plugin: plugin.name.clone(),
                error,
            });
        }
        Ok(Err(error)) => error,
    };
    if error.downcast_ref::<DeadlineReached>().is_some() {
        return Err(deadline_exceeded());
    }
    if let Some(requested) = store.data().limiter.refused_request_bytes {
        return Err(CallError::MemoryLimitExceeded {
            plugin: plugin.name.clone(),
            limit_mib: plugin.grants.memory_limit_mib,
            requested_mib: (requested as u64).div_ceil(1024 * 1024),
        });
    }
    if let Some(trap) = error.downcast_ref::<Trap>() {
        let reason = match last_lines(&stderr) {
            Some(tail) => format!("{trap}; its last output: {tail}"),
            None => trap.to_string(),
        };
        return Err(CallError::Trapped {
            plugin: plugin.name.clone(),
            reason,
        });
    }
    // What is left are failures to lift the plugin's answer into host values (invalid UTF-8,
    // out-of-bounds pointers, unknown enum cases): the plugin broke the calling convention.
    Err(malformed(plugin, redactor.clean(&format!("{error:#}"))))
}

pub(crate) fn require<'a, P>(
    plugin: &LoadedPlugin,
    service: Service,
    prepared: Option<&'a P>,
) -> Result<&'a P, CallError> {
    prepared.ok_or_else(|| CallError::Unusable {
        plugin: plugin.name.clone(),
        reason: format!("it does not implement the {} world", service.world()),
    })
}

pub(crate) fn malformed(plugin: &LoadedPlugin, problem: String) -> CallError {
    CallError::MalformedResult {
        plugin: plugin.name.clone(),
        problem,
    }
}

/// The end of a plugin's stderr, on one line: where a panic message is.
fn last_lines(stderr: &str) -> Option<String> {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("note:"))
        .collect();
    if lines.is_empty() {
        return None;
    }
    let tail = lines[lines.len().saturating_sub(3)..].join(" / ");
    Some(printable(&tail).chars().take(600).collect())
}
