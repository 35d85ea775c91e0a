//! Retry policies in the style of Temporal. The wait between attempts is computed here and
//! recorded as a durable timer by the engine, never slept in memory.

use serde::{Deserialize, Serialize};

use crate::event::ActivityError;

/// When and how often a failed activity is tried again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Attempts in total, the first included; 1 means never retry.
    pub max_attempts: u32,
    /// Wait before the second attempt.
    pub initial_interval_ms: u64,
    /// Each further wait is the previous one times this.
    pub backoff_coefficient: f64,
    /// No wait is longer than this.
    pub maximum_interval_ms: u64,
    /// Error kinds (for example `invalid-request`) that are never retried, whatever the
    /// provider says.
    pub non_retryable: Vec<String>,
    /// What happens when the attempts run out on an error worth retrying.
    #[serde(default)]
    pub on_exhausted: OnExhausted,
}

/// What an activity whose attempts ran out on a retryable error does to its execution.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnExhausted {
    /// The stage fails (and with it the execution, unless the stage continues on errors).
    #[default]
    Fail,
    /// The execution pauses until a person resumes it (`host resume`), for example after a
    /// provider's outage; the failed activities then get a fresh round of attempts.
    Pause,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            initial_interval_ms: 1_000,
            backoff_coefficient: 2.0,
            maximum_interval_ms: 60_000,
            non_retryable: Vec::new(),
            on_exhausted: OnExhausted::Fail,
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (1-based), or `None` when no attempt is left or
    /// the error must not be retried: its recorded `retryable` flag is false or the policy
    /// lists its kind. A provider's `retry_after_ms` hint is honoured when longer than the
    /// policy's wait, within the maximum interval.
    pub fn next_delay_ms(&self, attempt: u32, error: &ActivityError) -> Option<u64> {
        if !error.retryable
            || attempt >= self.max_attempts
            || self
                .non_retryable
                .iter()
                .any(|kind| error.kind == kind.as_str())
        {
            return None;
        }
        let exponent = attempt.saturating_sub(1).min(62) as i32;
        let computed = self.initial_interval_ms as f64 * self.backoff_coefficient.powi(exponent);
        let capped = computed.min(self.maximum_interval_ms as f64).max(0.0) as u64;
        let hinted = error
            .retry_after_ms
            .unwrap_or(0)
            .min(self.maximum_interval_ms);
        Some(capped.max(hinted))
    }

    /// Whether `error`, having used up the attempts, pauses the execution instead of failing
    /// the stage: only errors that another attempt could cure do.
    pub fn pauses_on(&self, error: &ActivityError) -> bool {
        self.on_exhausted == OnExhausted::Pause
            && error.retryable
            && !self
                .non_retryable
                .iter()
                .any(|kind| error.kind == kind.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error_kind::ErrorKind;

    fn failure(kind: &str, retryable: bool, retry_after_ms: Option<u64>) -> ActivityError {
        ActivityError {
            kind: ErrorKind::parse(kind),
            message: "failed".into(),
            retryable,
            retry_after_ms,
        }
    }

    #[test]
    fn waits_grow_then_cap_then_stop() {
        let policy = RetryPolicy {
            max_attempts: 5,
            maximum_interval_ms: 3_000,
            ..RetryPolicy::default()
        };
        let waits: Vec<_> = (1..=5)
            .map(|attempt| policy.next_delay_ms(attempt, &failure("unavailable", true, None)))
            .collect();
        assert_eq!(
            waits,
            [Some(1_000), Some(2_000), Some(3_000), Some(3_000), None]
        );
    }

    #[test]
    fn only_errors_worth_retrying_pause_and_only_when_asked() {
        let pausing = RetryPolicy {
            non_retryable: vec!["quota".into()],
            on_exhausted: OnExhausted::Pause,
            ..RetryPolicy::default()
        };
        assert!(pausing.pauses_on(&failure("unavailable", true, None)));
        assert!(!pausing.pauses_on(&failure("invalid-request", false, None)));
        assert!(!pausing.pauses_on(&failure("quota", true, None)));
        assert!(!RetryPolicy::default().pauses_on(&failure("unavailable", true, None)));
    }

    #[test]
    fn permanent_errors_and_listed_kinds_are_not_retried() {
        let policy = RetryPolicy {
            non_retryable: vec!["quota".into()],
            ..RetryPolicy::default()
        };
        assert_eq!(
            policy.next_delay_ms(1, &failure("invalid-request", false, None)),
            None
        );
        assert_eq!(policy.next_delay_ms(1, &failure("quota", true, None)), None);
        assert_eq!(
            policy.next_delay_ms(1, &failure("rate-limited", true, Some(5_000))),
            Some(5_000)
        );
    }
}
