//! The reuse index: the first completion recorded under each reuse key, written in the
//! transaction that appends it, so a run that reuses identical calls finds one with a single
//! primary-key lookup instead of reading every history.

use pipeline_core::ExecutionId;
use pipeline_core::event::ReusedFrom;
use pipeline_core::lineage::reuse_keys;
use rusqlite::{Connection, OptionalExtension as _, params};

use super::StoredEvent;

/// Indexes the completions among `stored` that carry a reuse key; an earlier one under the
/// same key stays (it is the one recorded first).
pub(super) fn index(connection: &Connection, stored: &[StoredEvent]) -> rusqlite::Result<()> {
    for (key, event) in reuse_keys(stored) {
        connection
            .prepare_cached(
                "INSERT OR IGNORE INTO reusable_results (reuse_key, execution_id, sequence)
                 VALUES (?1, ?2, ?3)",
            )?
            .execute(params![key, event.execution_id, event.sequence as i64])?;
    }
    Ok(())
}

/// Where the completion recorded under `reuse_key` is, if any.
pub(super) fn lookup(
    connection: &Connection,
    reuse_key: &str,
) -> rusqlite::Result<Option<ReusedFrom>> {
    connection
        .prepare_cached("SELECT execution_id, sequence FROM reusable_results WHERE reuse_key = ?1")?
        .query_row([reuse_key], |row| {
            Ok(ReusedFrom {
                execution_id: ExecutionId(row.get(0)?),
                sequence: row.get::<_, i64>(1)? as u64,
            })
        })
        .optional()
}
