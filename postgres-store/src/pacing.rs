//! A plugin's request pacing kept in the database, so that every host sharing it keeps one
//! rate limit: one statement reserves the next start atomically (the row's lock orders hosts
//! asking at once) against the database's clock.

use std::time::Duration;

use deadpool_postgres::GenericClient as _;
use pipeline_core::store::{HistoryError, SharedPacing};

use crate::PostgresStore;

impl SharedPacing for PostgresStore {
    fn reserve_start(&self, plugin: &str, spacing: Duration) -> Result<Duration, HistoryError> {
        let plugin = plugin.to_string();
        let spacing_us = spacing.as_micros() as i64;
        let wait_us = self.query(move |client, _| {
            let plugin = plugin.clone();
            async move {
                let row = client
                    .query_one(
                        "WITH now AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT AS us)
                         INSERT INTO flow_pacing AS pacing (plugin, next_start_us)
                         SELECT $1, now.us + $2 FROM now
                         ON CONFLICT (plugin) DO UPDATE
                             SET next_start_us = GREATEST(pacing.next_start_us, EXCLUDED.next_start_us - $2) + $2
                         RETURNING pacing.next_start_us - $2 - (SELECT us FROM now)",
                        &[&plugin, &spacing_us],
                    )
                    .await?;
                Ok(row.get::<_, i64>(0))
            }
        })?;
        Ok(Duration::from_micros(wait_us.max(0) as u64))
    }
}
