//! A workflow's retry tables (`[defaults.retry]` and each stage's `retry`): each field checked
//! and laid over the policy it refines.

use super::build::Builder;
use super::raw::RawRetry;
use crate::retry::{OnExhausted, RetryPolicy};

impl Builder<'_> {
    pub(super) fn retry(&mut self, raw: Option<&RawRetry>, base: &RetryPolicy) -> RetryPolicy {
        let Some(raw) = raw else { return base.clone() };
        let mut policy = base.clone();
        if let Some(attempts) = &raw.max_attempts {
            if *attempts.get_ref() == 0 {
                self.error(
                    attempts.span(),
                    "max_attempts must be at least 1 (it counts the first attempt)",
                );
            }
            policy.max_attempts = (*attempts.get_ref()).max(1);
        }
        if let Some(interval) = &raw.initial_interval {
            policy.initial_interval_ms =
                self.duration_or(Some(interval), policy.initial_interval_ms);
        }
        if let Some(interval) = &raw.maximum_interval {
            policy.maximum_interval_ms =
                self.duration_or(Some(interval), policy.maximum_interval_ms);
        }
        if let Some(coefficient) = &raw.backoff_coefficient {
            if coefficient.get_ref().is_nan() || *coefficient.get_ref() < 1.0 {
                self.error(
                    coefficient.span(),
                    "backoff_coefficient must be at least 1 (intervals never shrink)",
                );
            }
            policy.backoff_coefficient = coefficient.get_ref().max(1.0);
        }
        if let Some(kinds) = &raw.non_retryable {
            policy.non_retryable = kinds.clone();
        }
        if let Some(mode) = &raw.on_exhausted {
            match mode.get_ref().as_str() {
                "fail" => policy.on_exhausted = OnExhausted::Fail,
                "pause" => policy.on_exhausted = OnExhausted::Pause,
                other => self.error(
                    mode.span(),
                    format!("on_exhausted must be \"fail\" or \"pause\", not \"{other}\""),
                ),
            }
        }
        policy
    }
}
