//! Request pacing shared by the hosts of one database: a plugin's rate limit holds across
//! every host, not only within each process, when the database keeps the next start.

use std::time::Duration;

use super::HistoryError;

/// The next allowed start of each rate-limited plugin, kept where every host sees it.
pub trait SharedPacing: Send + Sync {
    /// Reserves the next start of a call of `plugin`, whose calls (from any host) start at
    /// least `spacing` apart, and says how long to wait for it. The database's clock decides,
    /// so the hosts' clocks need not agree.
    fn reserve_start(&self, plugin: &str, spacing: Duration) -> Result<Duration, HistoryError>;
}
