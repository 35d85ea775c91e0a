//! Errors of the plugin host, split by what the caller must do: a [`LoadError`] means the plugin
//! cannot be used at all (fix the plugin or the configuration); a [`CallError`] fails one call
//! and says whether trying the same call again can help.

use std::path::PathBuf;
use std::time::Duration;

use pipeline_core::ErrorKind as FailureKind;

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
    #[error("plugin `{plugin}` reported {kind} error: {message}", kind = provider_kind(error.kind), message = error.message)]
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
    /// The plugin returned something that breaks its WIT contract: a bug in the plugin.
    #[error("plugin `{plugin}` returned a malformed result: {problem}")]
    MalformedResult { plugin: String, problem: String },
    /// An LLM answered with text that is not JSON although JSON was asked for: the model's
    /// mistake, not the plugin's.
    #[error("plugin `{plugin}` gave an answer that is not JSON: {problem}")]
    MalformedAnswer { plugin: String, problem: String },
    /// The host could not prepare or feed the call (for example an unreadable input clip, or
    /// the mix it could not write): the host's failure, which may pass.
    #[error("plugin `{plugin}` could not be called: {reason}")]
    Host { plugin: String, reason: String },
    /// The host could not write what the plugin produced (the mixer's episode) to its own
    /// disk: a fault of the host's storage, not of the plugin or the provider.
    #[error("the host could not write the output of plugin `{plugin}`: {reason}")]
    OutputNotWritten { plugin: String, reason: String },
    /// The plugin cannot be called as configured (it uses the network but is granted no host,
    /// or lacks the service's world): no retry helps until the configuration changes.
    #[error("plugin `{plugin}` could not be called: {reason}")]
    Unusable { plugin: String, reason: String },
}

impl CallError {
    /// The kind recorded in the history: the one mapping from call failures to kinds.
    pub fn kind(&self) -> FailureKind {
        match self {
            CallError::Provider { error, .. } => provider_kind(error.kind),
            CallError::DeadlineExceeded { .. } => FailureKind::DeadlineExceeded,
            CallError::MemoryLimitExceeded { .. } => FailureKind::MemoryLimit,
            CallError::Trapped { .. } => FailureKind::Trapped,
            CallError::MalformedResult { .. } => FailureKind::MalformedResult,
            CallError::MalformedAnswer { .. } => FailureKind::MalformedAnswer,
            CallError::Host { .. } | CallError::OutputNotWritten { .. } => FailureKind::Host,
            CallError::Unusable { .. } => FailureKind::PluginUnavailable,
        }
    }

    /// Whether calling again can succeed: the provider's own flag for its errors, otherwise
    /// what [`FailureKind::is_retryable`] says of the kind.
    pub fn is_retryable(&self) -> bool {
        match self {
            CallError::Provider { error, .. } => error.retryable,
            other => other.kind().is_retryable(),
        }
    }
}

/// The engine's kind for a provider's WIT error kind.
fn provider_kind(kind: ErrorKind) -> FailureKind {
    match kind {
        ErrorKind::InvalidRequest => FailureKind::InvalidRequest,
        ErrorKind::Unauthorized => FailureKind::Unauthorized,
        ErrorKind::RateLimited => FailureKind::RateLimited,
        ErrorKind::Unavailable => FailureKind::Unavailable,
        ErrorKind::Timeout => FailureKind::Timeout,
        ErrorKind::ContentRefused => FailureKind::ContentRefused,
        ErrorKind::MalformedResponse => FailureKind::MalformedResponse,
        ErrorKind::Internal => FailureKind::Internal,
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
