//! Why an attempt failed, as one closed list of kinds stored in the history as kebab-case
//! strings (`rate-limited`, `schema-violation`, ...), and the one table that says which kinds
//! are worth another attempt.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The kind of an activity's (or a stage's) failure.
///
/// The first eight are the providers' own (the WIT `error-kind`); the others are assigned by
/// the host and the engine. A kind this build does not know (written by another build) loads
/// as [`ErrorKind::Other`], so an old history always folds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The provider refused the request as wrong (bad parameters, unknown voice).
    InvalidRequest,
    /// The provider refused the credentials.
    Unauthorized,
    /// The provider asked us to slow down.
    RateLimited,
    /// The provider is down or overloaded.
    Unavailable,
    /// The provider did not answer in time.
    Timeout,
    /// The provider refused the content.
    ContentRefused,
    /// The provider answered with something the plugin could not understand.
    MalformedResponse,
    /// A failure inside the plugin, as the plugin reports it.
    Internal,
    /// The attempt ran past the stage's `timeout`.
    DeadlineExceeded,
    /// The plugin tried to grow its memory past its cap.
    MemoryLimit,
    /// The plugin crashed.
    Trapped,
    /// The plugin returned something that breaks its WIT contract (text that is not UTF-8,
    /// audio whose header lies): a bug in the plugin, which repeats.
    MalformedResult,
    /// An LLM answer that is not JSON although the stage asked for JSON: the model's mistake,
    /// which another attempt told what was wrong can fix.
    MalformedAnswer,
    /// An LLM answer that does not fit the stage's schema.
    SchemaViolation,
    /// An answer that fits the schema but fails one of the stage's `checks`.
    CheckFailed,
    /// The plugin's circuit breaker is open after repeated failures.
    CircuitOpen,
    /// The plugin named by the execution cannot be loaded.
    PluginUnavailable,
    /// The plugin's file is no longer the build the execution pinned.
    PluginChanged,
    /// The activity's recorded input does not fit its function.
    InvalidInput,
    /// A blob the activity reads failed its size or digest check.
    BlobCorrupt,
    /// The host itself failed to prepare or feed a call. (A failure of the host's own storage
    /// is not recorded as a kind: the drive stops and the step runs again on resume.)
    Host,
    /// The episode could not be published from what the stages produced (a WAV or cover that
    /// does not read, an encoding failure).
    Publish,
    /// A stage's template or expression did not render.
    Template,
    /// A stage ran past its `stage_timeout`.
    StageTimeout,
    /// The execution ran past its `execution_timeout`.
    ExecutionTimeout,
    /// A kind this build does not know, kept as it was written.
    Other(String),
}

impl ErrorKind {
    /// Every kind this build assigns, for documentation and validation.
    pub const KNOWN: [ErrorKind; 25] = [
        ErrorKind::InvalidRequest,
        ErrorKind::Unauthorized,
        ErrorKind::RateLimited,
        ErrorKind::Unavailable,
        ErrorKind::Timeout,
        ErrorKind::ContentRefused,
        ErrorKind::MalformedResponse,
        ErrorKind::Internal,
        ErrorKind::DeadlineExceeded,
        ErrorKind::MemoryLimit,
        ErrorKind::Trapped,
        ErrorKind::MalformedResult,
        ErrorKind::MalformedAnswer,
        ErrorKind::SchemaViolation,
        ErrorKind::CheckFailed,
        ErrorKind::CircuitOpen,
        ErrorKind::PluginUnavailable,
        ErrorKind::PluginChanged,
        ErrorKind::InvalidInput,
        ErrorKind::BlobCorrupt,
        ErrorKind::Host,
        ErrorKind::Publish,
        ErrorKind::Template,
        ErrorKind::StageTimeout,
        ErrorKind::ExecutionTimeout,
    ];

    /// The stored spelling.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorKind::InvalidRequest => "invalid-request",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::RateLimited => "rate-limited",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Timeout => "timeout",
            ErrorKind::ContentRefused => "content-refused",
            ErrorKind::MalformedResponse => "malformed-response",
            ErrorKind::Internal => "internal",
            ErrorKind::DeadlineExceeded => "deadline-exceeded",
            ErrorKind::MemoryLimit => "memory-limit",
            ErrorKind::Trapped => "trapped",
            ErrorKind::MalformedResult => "malformed-result",
            ErrorKind::MalformedAnswer => "malformed-answer",
            ErrorKind::SchemaViolation => "schema-violation",
            ErrorKind::CheckFailed => "check-failed",
            ErrorKind::CircuitOpen => "circuit-open",
            ErrorKind::PluginUnavailable => "plugin-unavailable",
            ErrorKind::PluginChanged => "plugin-changed",
            ErrorKind::InvalidInput => "invalid-input",
            ErrorKind::BlobCorrupt => "blob-corrupt",
            ErrorKind::Host => "host",
            ErrorKind::Publish => "publish",
            ErrorKind::Template => "template",
            ErrorKind::StageTimeout => "stage-timeout",
            ErrorKind::ExecutionTimeout => "execution-timeout",
            ErrorKind::Other(kind) => kind,
        }
    }

    /// The kind a stored spelling names; an unknown spelling is kept as [`ErrorKind::Other`].
    pub fn parse(text: &str) -> ErrorKind {
        ErrorKind::KNOWN
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .unwrap_or_else(|| ErrorKind::Other(text.to_string()))
    }

    /// Whether an attempt that failed this way is worth repeating: the one place that decides.
    ///
    /// A provider's own report carries its `retryable` flag, which the WIT contract makes
    /// authoritative (a provider knows whether its `internal` error is passing); for those
    /// kinds this is only the usual answer. Rejected answers (`malformed-answer`,
    /// `schema-violation`, `check-failed`) are retried, because the next attempt is told what
    /// was wrong;
    /// plugin bugs (`trapped`, `malformed-result`) and configuration problems are not.
    pub fn is_retryable(&self) -> bool {
        match self {
            ErrorKind::RateLimited
            | ErrorKind::Unavailable
            | ErrorKind::Timeout
            | ErrorKind::MalformedResponse
            | ErrorKind::DeadlineExceeded
            | ErrorKind::MalformedAnswer
            | ErrorKind::SchemaViolation
            | ErrorKind::CheckFailed
            | ErrorKind::CircuitOpen
            | ErrorKind::Host
            | ErrorKind::Publish => true,
            ErrorKind::InvalidRequest
            | ErrorKind::Unauthorized
            | ErrorKind::ContentRefused
            | ErrorKind::Internal
            | ErrorKind::MemoryLimit
            | ErrorKind::Trapped
            | ErrorKind::MalformedResult
            | ErrorKind::PluginUnavailable
            | ErrorKind::PluginChanged
            | ErrorKind::InvalidInput
            | ErrorKind::BlobCorrupt
            | ErrorKind::Template
            | ErrorKind::StageTimeout
            | ErrorKind::ExecutionTimeout
            | ErrorKind::Other(_) => false,
        }
    }

    /// Whether this is an answer the stage did not accept (not JSON, not fitting the schema,
    /// failing a check): the model's mistake, which the next attempt's request describes.
    pub fn is_rejected_answer(&self) -> bool {
        matches!(
            self,
            ErrorKind::MalformedAnswer | ErrorKind::SchemaViolation | ErrorKind::CheckFailed
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl PartialEq<str> for ErrorKind {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ErrorKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for ErrorKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ErrorKind, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(ErrorKind::parse(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_kind_round_trips_through_its_stored_spelling() {
        for kind in ErrorKind::KNOWN {
            let stored = serde_json::to_string(&kind).unwrap();
            assert_eq!(stored, format!("\"{}\"", kind.as_str()));
            let loaded: ErrorKind = serde_json::from_str(&stored).unwrap();
            assert_eq!(loaded, kind);
        }
    }

    #[test]
    fn an_unknown_kind_from_another_build_loads_and_is_stored_unchanged() {
        let loaded: ErrorKind = serde_json::from_str("\"quota-exhausted\"").unwrap();
        assert_eq!(loaded, ErrorKind::Other("quota-exhausted".into()));
        assert_eq!(
            serde_json::to_string(&loaded).unwrap(),
            "\"quota-exhausted\""
        );
        assert!(!loaded.is_retryable());
    }

    #[test]
    fn model_mistakes_are_retried_and_plugin_bugs_are_not() {
        assert!(ErrorKind::MalformedAnswer.is_retryable());
        assert!(ErrorKind::SchemaViolation.is_retryable());
        assert!(!ErrorKind::MalformedResult.is_retryable());
        assert!(!ErrorKind::Trapped.is_retryable());
    }
}
