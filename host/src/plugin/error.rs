//! Errors of the plugin host, split by what the caller must do: a [`LoadError`] means the plugin
//! cannot be used at all (fix the plugin or the configuration); a [`CallError`] fails one call
//! and says whether trying the same call again can help.

use std::path::PathBuf;
use std::time::Duration;

use super::bindings::types::{ErrorKind, ProviderError};

/// Why a plugin could not be found, compiled or prepared for calls.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("plugin `{name}` not found: no {searched} and no built-in plugin of that name")]
    NotFound { name: String, searched: PathBuf },
    #[error("cannot read plugin file {path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("plugin `{plugin}` is not a valid WebAssembly component: {reason}")]
    NotAComponent { plugin: String, reason: String },
    #[error(
        "plugin `{plugin}` does not implement the {expected} world: it must export `{missing}`, \
         but it exports {}",
        list_or_nothing(found)
    )]
    WrongWorld {
        plugin: String,
        expected: &'static str,
        missing: &'static str,
        found: Vec<String>,
    },
    #[error(
        "plugin `{plugin}` exports none of the service interfaces (llm, tts, mixer, image); \
         it exports {}",
        list_or_nothing(found)
    )]
    NoServiceExported { plugin: String, found: Vec<String> },
    #[error("plugin `{plugin}` cannot be linked: {reason}")]
    Unlinkable { plugin: String, reason: String },
    #[error("plugin `{plugin}` is granted by the workflow an unusable host: {problem}")]
    InvalidAllowedHost {
        plugin: String,
        problem: super::grants::InvalidOrigin,
    },
    #[error("plugin `{plugin}` is granted environment variable `{variable}`, which is not set")]
    MissingGrantedVariable { plugin: String, variable: String },
    #[error("plugin `{plugin}` is granted directory {path}, which cannot be opened: {reason}")]
    UnusableGrantedDirectory {
        plugin: String,
        path: PathBuf,
        reason: String,
    },
    #[error("compiled-code cache at {path}: {source}")]
    Cache {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start the WebAssembly engine: {0}")]
    Engine(String),
}

/// Why one plugin call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The plugin ran and reported a provider failure.
    #[error("plugin `{plugin}` reported {kind} error: {message}", kind = kind_name(error.kind), message = error.message)]
    Provider {
        plugin: String,
        error: ProviderError,
    },
    /// The call ran past its deadline and was interrupted.
    #[error("plugin `{plugin}` did not finish within its {limit:?} deadline and was stopped")]
    DeadlineExceeded { plugin: String, limit: Duration },
    /// The plugin tried to grow its memory past the configured cap.
    #[error(
        "plugin `{plugin}` exceeded its memory limit of {limit_mib} MiB (it asked for {requested_mib} MiB)"
    )]
    MemoryLimitExceeded {
        plugin: String,
        limit_mib: u64,
        requested_mib: u64,
    },
    /// The plugin crashed (a WebAssembly trap, usually a panic in the plugin).
    #[error("plugin `{plugin}` crashed: {reason}")]
    Trapped { plugin: String, reason: String },
    /// The plugin returned something that breaks its contract.
    #[error("plugin `{plugin}` returned a malformed result: {problem}")]
    MalformedResult { plugin: String, problem: String },
    /// The host could not prepare or feed the call (for example an unreadable input clip).
    #[error("plugin `{plugin}` could not be called: {reason}")]
    Host { plugin: String, reason: String },
}

impl CallError {
    /// Whether calling again with the same request can succeed. Deadlines are retryable because
    /// a slow provider may answer next time; traps and malformed results are bugs that repeat.
    pub fn is_retryable(&self) -> bool {
        match self {
            CallError::Provider { error, .. } => error.retryable,
            CallError::DeadlineExceeded { .. } => true,
            CallError::MemoryLimitExceeded { .. }
            | CallError::Trapped { .. }
            | CallError::MalformedResult { .. }
            | CallError::Host { .. } => false,
        }
    }
}

/// The WIT spelling of a provider error kind, as users see it in configuration and logs.
pub fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidRequest => "invalid-request",
        ErrorKind::Unauthorized => "unauthorized",
        ErrorKind::RateLimited => "rate-limited",
        ErrorKind::Unavailable => "unavailable",
        ErrorKind::Timeout => "timeout",
        ErrorKind::ContentRefused => "content-refused",
        ErrorKind::MalformedResponse => "malformed-response",
        ErrorKind::Internal => "internal",
    }
}

fn list_or_nothing(items: &[String]) -> String {
    if items.is_empty() {
        "nothing".to_string()
    } else {
        items
            .iter()
            .map(|item| format!("`{item}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
