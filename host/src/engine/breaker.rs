//! Per-provider circuit breakers: after repeated failures the engine stops calling a plugin
//! for a while and fails attempts at once with a message saying so. Breaker state is per
//! process and deliberately not durable: it protects the provider, not the history.

use std::collections::HashMap;
use std::sync::Mutex;

/// Consecutive failures that open a breaker.
const FAILURES_TO_OPEN: u32 = 5;
/// How long an open breaker refuses calls.
const OPEN_FOR_MS: i64 = 30_000;

#[derive(Default)]
pub(super) struct CircuitBreakers {
    /// A std mutex: held for a map update, never across an await.
    plugins: Mutex<HashMap<String, BreakerState>>,
}

#[derive(Default, Clone, Copy)]
struct BreakerState {
    consecutive_failures: u32,
    open_until_ms: i64,
}

impl CircuitBreakers {
    /// Why `plugin` must not be called now, if its breaker is open.
    pub(super) fn refusal(&self, plugin: &str, now_ms: i64) -> Option<(String, u64)> {
        let plugins = self
            .plugins
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let state = plugins.get(plugin)?;
        (state.open_until_ms > now_ms).then(|| {
            let remaining = (state.open_until_ms - now_ms) as u64;
            (
                format!(
                    "circuit breaker open: plugin `{plugin}` failed {} times in a row, so it is not called for another {}s",
                    state.consecutive_failures,
                    remaining.div_ceil(1_000)
                ),
                remaining,
            )
        })
    }

    /// Records the outcome of a call that reached the provider.
    pub(super) fn record(&self, plugin: &str, succeeded: bool, now_ms: i64) {
        let mut plugins = self
            .plugins
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let state = plugins.entry(plugin.to_string()).or_default();
        if succeeded {
            *state = BreakerState::default();
            return;
        }
        state.consecutive_failures += 1;
        if state.consecutive_failures >= FAILURES_TO_OPEN {
            state.open_until_ms = now_ms + OPEN_FOR_MS;
            tracing::warn!(
                plugin,
                failures = state.consecutive_failures,
                "circuit breaker opened"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_repeated_failures_and_closes_on_success() {
        let breakers = CircuitBreakers::default();
        for _ in 0..FAILURES_TO_OPEN {
            assert!(breakers.refusal("p", 0).is_none());
            breakers.record("p", false, 0);
        }
        let (message, remaining) = breakers.refusal("p", 1_000).expect("open");
        assert!(message.contains("`p`"), "{message}");
        assert_eq!(remaining, (OPEN_FOR_MS - 1_000) as u64);
        assert!(breakers.refusal("p", OPEN_FOR_MS + 1).is_none());
        breakers.record("p", true, OPEN_FOR_MS + 1);
        breakers.record("p", false, OPEN_FOR_MS + 2);
        assert!(breakers.refusal("p", OPEN_FOR_MS + 3).is_none());
    }
}
