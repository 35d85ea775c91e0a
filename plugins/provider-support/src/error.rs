//! Provider errors built the same way by every plugin: an HTTP status and body become a
//! classified error carrying the provider's own message, so the engine's retry policy can tell
//! a rate limit (wait and retry) from a bad request (give up).
//!
//! A 200 whose body cannot be understood is `malformed-response` and **retryable**: a proxy
//! that cut the body short or a provider hiccup produces it, the next attempt usually
//! succeeds, and the stage's retry policy bounds how often it is tried.

use crate::types::{ErrorKind, ProviderError};

/// Longest provider message kept in an error; a provider that answers with a whole HTML page
/// should not fill the history.
const MESSAGE_LIMIT: usize = 500;

/// An error that calling again cannot fix.
pub fn permanent(kind: ErrorKind, message: impl Into<String>) -> ProviderError {
    ProviderError {
        kind,
        retryable: false,
        message: message.into(),
        retry_after_ms: None,
    }
}

/// An error a later attempt may not meet.
pub fn retryable(kind: ErrorKind, message: impl Into<String>) -> ProviderError {
    ProviderError {
        kind,
        retryable: true,
        message: message.into(),
        retry_after_ms: None,
    }
}

/// A successful answer whose body is not what the API documents.
pub fn malformed(provider: &str, what: impl std::fmt::Display) -> ProviderError {
    retryable(
        ErrorKind::MalformedResponse,
        format!("{provider} answered with a malformed response: {what}"),
    )
}

/// Classifies a non-success HTTP answer: 429 and 5xx are retryable (with the wait the provider
/// asked for), 401/403 are `unauthorized`, other 4xx `invalid-request`; the message carries the
/// provider's own explanation.
pub fn from_status(
    provider: &str,
    status: u16,
    retry_after_ms: Option<u64>,
    body: &[u8],
) -> ProviderError {
    let explanation = provider_message(body);
    let message = format!("{provider} answered HTTP {status}: {explanation}");
    let (kind, is_retryable) = match status {
        429 => (ErrorKind::RateLimited, true),
        408 => (ErrorKind::Timeout, true),
        500..=599 => (ErrorKind::Unavailable, true),
        401 | 403 => (ErrorKind::Unauthorized, false),
        _ => (ErrorKind::InvalidRequest, false),
    };
    ProviderError {
        kind,
        retryable: is_retryable,
        message,
        retry_after_ms: if is_retryable { retry_after_ms } else { None },
    }
}

/// The provider's explanation in an error body: OpenAI's `{"error": {"message": ...}}`,
/// Ollama's `{"error": "..."}`, ElevenLabs' `{"detail": "..."}` or
/// `{"detail": {"message": ...}}`, FastAPI's `{"detail": [{"msg": ...}]}`; otherwise the body
/// as text.
pub fn provider_message(body: &[u8]) -> String {
    let from_json = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|value| {
            let candidates = [
                value.pointer("/error/message"),
                value.get("error"),
                value.pointer("/detail/message"),
                value.get("detail"),
                value.pointer("/detail/0/msg"),
                value.get("message"),
            ];
            candidates
                .into_iter()
                .flatten()
                .find_map(|candidate| candidate.as_str().map(str::to_string))
        });
    let text = from_json.unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string());
    if text.is_empty() {
        return "(no message)".into();
    }
    truncate(&text, MESSAGE_LIMIT)
}

/// `Retry-After` as seconds (OpenAI and most proxies send seconds), or OpenAI's
/// `retry-after-ms`; an HTTP date would need the wall clock and is ignored.
pub fn retry_after_ms(retry_after: Option<&str>, retry_after_ms: Option<&str>) -> Option<u64> {
    if let Some(milliseconds) = retry_after_ms.and_then(|value| value.trim().parse::<f64>().ok()) {
        return Some(milliseconds.max(0.0).round() as u64);
    }
    let seconds = retry_after?.trim().parse::<f64>().ok()?;
    Some((seconds.max(0.0) * 1000.0).round() as u64)
}

fn truncate(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_by_what_retrying_can_do() {
        let limited = from_status(
            "OpenAI",
            429,
            Some(1500),
            br#"{"error":{"message":"slow down"}}"#,
        );
        assert!(limited.retryable);
        assert_eq!(limited.kind, ErrorKind::RateLimited);
        assert_eq!(limited.retry_after_ms, Some(1500));
        assert_eq!(limited.message, "OpenAI answered HTTP 429: slow down");

        let down = from_status("OpenAI", 503, None, b"upstream connect error");
        assert!(down.retryable);
        assert_eq!(down.kind, ErrorKind::Unavailable);
        assert!(down.message.contains("upstream connect error"));

        let refused = from_status(
            "OpenAI",
            401,
            Some(10),
            br#"{"error":{"message":"bad key"}}"#,
        );
        assert!(!refused.retryable);
        assert_eq!(refused.kind, ErrorKind::Unauthorized);
        assert_eq!(refused.retry_after_ms, None);

        let invalid = from_status(
            "ElevenLabs",
            422,
            None,
            br#"{"detail":{"status":"x","message":"voice not found"}}"#,
        );
        assert!(!invalid.retryable);
        assert_eq!(invalid.kind, ErrorKind::InvalidRequest);
        assert!(
            invalid.message.ends_with("voice not found"),
            "{}",
            invalid.message
        );
    }

    #[test]
    fn provider_messages_are_found_in_each_dialect() {
        assert_eq!(
            provider_message(br#"{"detail":"quota exceeded"}"#),
            "quota exceeded"
        );
        assert_eq!(
            provider_message(br#"{"error":"model not found"}"#),
            "model not found"
        );
        assert_eq!(
            provider_message(br#"{"detail":[{"msg":"field required"}]}"#),
            "field required"
        );
        assert_eq!(provider_message(b""), "(no message)");
        assert_eq!(
            provider_message(&[b'x'; 2000]).chars().count(),
            MESSAGE_LIMIT + 1
        );
    }

    #[test]
    fn retry_after_is_read_in_seconds_or_milliseconds() {
        assert_eq!(retry_after_ms(Some("2"), None), Some(2000));
        assert_eq!(retry_after_ms(Some("0.5"), None), Some(500));
        assert_eq!(retry_after_ms(Some("2"), Some("120")), Some(120));
        assert_eq!(
            retry_after_ms(Some("Wed, 21 Oct 2026 07:28:00 GMT"), None),
            None
        );
        assert_eq!(retry_after_ms(None, None), None);
    }
}
