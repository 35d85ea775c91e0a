//! Flow control per plugin: how many calls of a plugin may run at once, how many may start per
//! second or minute, and how many LLM tokens it may use per minute, shared by every execution
//! this process drives (`[limits.<plugin>]` in `config.toml`). A call that must wait says so
//! first (the driver records it, so status output shows why nothing moves), then waits here:
//! for a free slot, then for its turn in the request pacing, then for the token budget.
//!
//! Requests are paced evenly (a limit of 4 per second starts one call every 250 ms), never in
//! bursts, so a provider's own per-second window is never exceeded at its edges. When hosts
//! share a database, the pacing is kept there ([`SharedPacing`]), so one limit holds across
//! all of them; concurrency and tokens stay per process. Tokens are
//! known only once a call has answered: the budget refills continuously, each answer takes
//! its usage from it, and a call starts only while the budget is not overdrawn.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pipeline_core::store::SharedPacing;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The limits of one plugin, as `config.toml` gives them; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowLimits {
    /// Calls running at once.
    pub concurrency: Option<u32>,
    /// Calls started per second (fractions allowed: 0.5 is one every two seconds).
    pub requests_per_second: Option<f64>,
    /// Calls started per minute.
    pub requests_per_minute: Option<f64>,
    /// LLM tokens (prompt and answer) per minute.
    pub tokens_per_minute: Option<u64>,
}

impl FlowLimits {
    /// The limits checked for sense; the error names the field and what is wrong.
    pub fn check(&self) -> Result<(), String> {
        if self.concurrency == Some(0) {
            return Err("concurrency must be at least 1".into());
        }
        for (field, rate) in [
            ("requests_per_second", self.requests_per_second),
            ("requests_per_minute", self.requests_per_minute),
        ] {
            if let Some(rate) = rate
                && !(rate.is_finite() && rate > 0.0)
            {
                return Err(format!("{field} must be a number above 0, not {rate}"));
            }
        }
        if self.requests_per_second.is_some() && self.requests_per_minute.is_some() {
            return Err("give requests_per_second or requests_per_minute, not both".into());
        }
        if self.tokens_per_minute == Some(0) {
            return Err("tokens_per_minute must be at least 1".into());
        }
        Ok(())
    }

    /// The time between two call starts, when the calls are paced.
    fn spacing(&self) -> Option<Duration> {
        let per_second = self
            .requests_per_second
            .or(self.requests_per_minute.map(|per_minute| per_minute / 60.0))?;
        Some(Duration::from_secs_f64(1.0 / per_second))
    }

    /// Says which limits hold calls back, for status output.
    fn describe_rate(&self) -> String {
        match (self.requests_per_second, self.requests_per_minute) {
            (Some(rate), _) => format!("rate limit of {rate} calls per second"),
            (_, Some(rate)) => format!("rate limit of {rate} calls per minute"),
            _ => "rate limit".into(),
        }
    }
}

/// The flow control of every limited plugin of this process.
#[derive(Default)]
pub struct FlowControl {
    plugins: HashMap<String, Arc<PluginFlow>>,
    /// Where the request pacing is kept when hosts share a database.
    shared_pacing: Option<Arc<dyn SharedPacing>>,
}

/// The shared state of one limited plugin.
#[derive(Debug)]
struct PluginFlow {
    limits: FlowLimits,
    slots: Option<Arc<Semaphore>>,
    /// A std mutex: it is held for a few arithmetic operations, never across an await.
    pacing: Mutex<Pacing>,
}

#[derive(Debug)]
struct Pacing {
    /// When the next call may start, under the request pacing.
    next_start: Instant,
    /// Tokens that may still be used (negative when overdrawn), as of `tokens_at`.
    tokens: f64,
    tokens_at: Instant,
}

/// A call's right to run: holds its concurrency slot until dropped, and takes the tokens the
/// call used from the budget.
#[derive(Debug)]
pub struct FlowPermit {
    flow: Arc<PluginFlow>,
    _slot: Option<OwnedSemaphorePermit>,
}

impl FlowControl {
    /// Flow control over `limits` by plugin name (already checked).
    pub fn new(limits: &BTreeMap<String, FlowLimits>) -> FlowControl {
        let now = Instant::now();
        let plugins = limits
            .iter()
            .map(|(name, limits)| {
                let flow = PluginFlow {
                    slots: limits
                        .concurrency
                        .map(|slots| Arc::new(Semaphore::new(slots as usize))),
                    pacing: Mutex::new(Pacing {
                        next_start: now,
                        tokens: limits.tokens_per_minute.unwrap_or(0) as f64,
                        tokens_at: now,
                    }),
                    limits: limits.clone(),
                };
                (name.clone(), Arc::new(flow))
            })
            .collect();
        FlowControl {
            plugins,
            shared_pacing: None,
        }
    }

    /// The same limits with the request pacing kept in `pacing`, shared by every host.
    pub fn pacing_shared_by_hosts(self, pacing: Arc<dyn SharedPacing>) -> FlowControl {
        FlowControl {
            shared_pacing: Some(pacing),
            ..self
        }
    }

    /// Waits until a call of `plugin` may start. `on_wait` is called once, with the limit that
    /// holds the call back, before any wait; a plugin without limits never waits (and gets
    /// no permit).
    pub async fn acquire(
        &self,
        plugin: &str,
        mut on_wait: impl FnMut(String),
    ) -> Option<FlowPermit> {
        let flow = self.plugins.get(plugin)?.clone();
        let mut waited = false;
        let slot = match &flow.slots {
            None => None,
            Some(slots) => match slots.clone().try_acquire_owned() {
                Ok(slot) => Some(slot),
                Err(_) => {
                    on_wait(format!(
                        "concurrency limit of {} calls at once",
                        flow.limits.concurrency.unwrap_or(0)
                    ));
                    waited = true;
                    // The semaphore is never closed, so this only ends with a slot.
                    slots.clone().acquire_owned().await.ok()
                }
            },
        };
        let shared = self.shared_pacing.clone().zip(flow.limits.spacing());
        let (mut start_at, mut reason) = flow.reserve(Instant::now(), shared.is_none());
        if let Some((pacing, spacing)) = shared {
            let name = plugin.to_string();
            let reserved =
                tokio::task::spawn_blocking(move || pacing.reserve_start(&name, spacing));
            let shared_start = match reserved.await {
                Ok(Ok(wait)) => Instant::now() + wait,
                // The database would have retried for a minute: pace within this process.
                failed => {
                    tracing::warn!(
                        plugin,
                        ?failed,
                        "the shared request pacing is unreachable; pacing this process's calls alone"
                    );
                    flow.reserve(Instant::now(), true).0
                }
            };
            if shared_start > start_at {
                start_at = shared_start;
                reason = flow.limits.describe_rate();
            }
        }
        if start_at > Instant::now() {
            if !waited {
                on_wait(reason);
            }
            tokio::time::sleep_until(start_at).await;
        }
        Some(FlowPermit { flow, _slot: slot })
    }
}

impl PluginFlow {
    /// Reserves the next start under the token budget and, with `pace_here`, the request
    /// pacing of this process: when this call may start, and which limit decided it.
    fn reserve(&self, now: Instant, pace_here: bool) -> (Instant, String) {
        let mut pacing = self
            .pacing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut start_at = now;
        let mut reason = String::new();
        if let Some(per_minute) = self.limits.tokens_per_minute {
            let per_second = per_minute as f64 / 60.0;
            pacing.refill(now, per_minute as f64, per_second);
            if pacing.tokens < 0.0 {
                start_at = now + Duration::from_secs_f64(-pacing.tokens / per_second);
                reason = format!("token limit of {per_minute} per minute");
            }
        }
        if let Some(spacing) = self.limits.spacing().filter(|_| pace_here) {
            if pacing.next_start > start_at {
                start_at = pacing.next_start;
                reason = self.limits.describe_rate();
            }
            pacing.next_start = start_at + spacing;
        }
        (start_at, reason)
    }
}

impl Pacing {
    /// Adds the tokens that came back since the last look, up to a minute's worth.
    fn refill(&mut self, now: Instant, capacity: f64, per_second: f64) {
        let elapsed = now.saturating_duration_since(self.tokens_at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * per_second).min(capacity);
        self.tokens_at = now;
    }
}

impl FlowPermit {
    /// Takes the tokens a finished call used from its plugin's budget.
    pub fn used_tokens(&self, tokens: u64) {
        let Some(per_minute) = self.flow.limits.tokens_per_minute else {
            return;
        };
        let mut pacing = self
            .flow
            .pacing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        pacing.refill(Instant::now(), per_minute as f64, per_minute as f64 / 60.0);
        pacing.tokens -= tokens as f64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limited(limits: FlowLimits) -> FlowControl {
        FlowControl::new(&BTreeMap::from([("llm".to_string(), limits)]))
    }

    #[test]
    fn nonsense_limits_are_named() {
        let zero = FlowLimits {
            concurrency: Some(0),
            ..FlowLimits::default()
        };
        assert!(zero.check().unwrap_err().contains("concurrency"));
        let negative = FlowLimits {
            requests_per_second: Some(-1.0),
            ..FlowLimits::default()
        };
        assert!(
            negative
                .check()
                .unwrap_err()
                .contains("requests_per_second")
        );
        let both = FlowLimits {
            requests_per_second: Some(1.0),
            requests_per_minute: Some(60.0),
            ..FlowLimits::default()
        };
        assert!(both.check().unwrap_err().contains("not both"));
    }

    // Real time, lower bounds only: the limits must hold the calls back at least this long.
    #[tokio::test]
    async fn calls_are_paced_evenly_and_say_why_they_wait() {
        let flow = limited(FlowLimits {
            requests_per_second: Some(20.0),
            ..FlowLimits::default()
        });
        let start = Instant::now();
        let mut reasons = Vec::new();
        let mut starts = Vec::new();
        for _ in 0..3 {
            let _permit = flow.acquire("llm", |reason| reasons.push(reason)).await;
            starts.push(start.elapsed());
        }
        assert!(starts[1] >= Duration::from_millis(50), "{starts:?}");
        assert!(starts[2] >= Duration::from_millis(100), "{starts:?}");
        assert_eq!(reasons.len(), 2, "the first call did not wait");
        assert!(reasons[0].contains("20 calls per second"), "{reasons:?}");
        assert!(flow.acquire("other", |_| {}).await.is_none());
    }

    #[tokio::test]
    async fn a_slot_frees_when_its_permit_drops_and_tokens_refill() {
        let flow = limited(FlowLimits {
            concurrency: Some(1),
            tokens_per_minute: Some(600),
            ..FlowLimits::default()
        });
        let first = flow.acquire("llm", |_| {}).await.unwrap();
        let mut reasons = Vec::new();
        let second = tokio::time::timeout(
            Duration::from_millis(50),
            flow.acquire("llm", |reason| reasons.push(reason)),
        )
        .await;
        assert!(second.is_err(), "the only slot is taken");
        assert!(reasons[0].contains("concurrency limit of 1"), "{reasons:?}");
        // 605 tokens against 600 a minute (10 a second): 5 overdrawn take half a second.
        first.used_tokens(605);
        drop(first);
        let start = Instant::now();
        let mut reasons = Vec::new();
        flow.acquire("llm", |reason| reasons.push(reason))
            .await
            .unwrap();
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(400), "waited {waited:?}");
        assert!(reasons[0].contains("token limit"), "{reasons:?}");
    }
}
