//! The single writer: takes every write queued since its last commit (appends and lease
//! changes), applies them in one transaction, commits once, then acknowledges each caller. An
//! append that conflicts, or a lease another process holds, is refused before it writes
//! anything, so it cannot sink the others in its batch. Leases go through here too so that
//! a batch of drives taking and giving up their leases shares commits with the appends
//! instead of paying a commit (and, with FULL, an fsync) each on the caller's thread.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::{Connection, OptionalExtension as _, params};

use pipeline_core::store::chain::{GENESIS_HASH, chain};

use pipeline_core::store::queue::{AppendRequest, LeaseChange, Outcome, WriteRequest};

use super::{HistoryError, StoredEvent};
use super::{executions, reuse};

/// Most appends folded into one transaction; bounds the latency of the first of them.
const MAX_BATCH: usize = 1024;

pub(super) fn start(
    connection: Connection,
    path: PathBuf,
    requests: mpsc::Receiver<WriteRequest>,
    commits: Arc<AtomicU64>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("history-writer".into())
        .spawn(move || run(connection, path, requests, commits))
}

fn run(
    mut connection: Connection,
    path: PathBuf,
    requests: mpsc::Receiver<WriteRequest>,
    commits: Arc<AtomicU64>,
) {
    while let Ok(first) = requests.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match requests.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        match commit_batch(&mut connection, &batch) {
            Ok(outcomes) => {
                commits.fetch_add(1, Ordering::Relaxed);
                for (request, outcome) in batch.into_iter().zip(outcomes) {
                    request.answer(Ok(outcome));
                }
            }
            Err(error) => {
                // Nothing of the batch is committed; every caller learns why.
                for request in batch {
                    request.answer(Err(HistoryError::Database {
                        database: path.display().to_string(),
                        message: error.to_string(),
                    }));
                }
            }
        }
    }
}

/// Applies a batch in one transaction. The outer error means the transaction failed as a whole;
/// the inner results are per request.
fn commit_batch(
    connection: &mut Connection,
    batch: &[WriteRequest],
) -> rusqlite::Result<Vec<Outcome>> {
    let transaction =
        connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for request in batch {
        outcomes.push(match request {
            WriteRequest::Append(append) => Outcome::Append(append_one(&transaction, append)?),
            WriteRequest::Lease(lease) => Outcome::Lease(match &lease.change {
                LeaseChange::Acquire {
                    owner,
                    now_ms,
                    ttl_ms,
                } => executions::acquire_lease(
                    &transaction,
                    &lease.execution_id,
                    owner,
                    *now_ms,
                    *ttl_ms,
                )?,
                LeaseChange::Release { owner_id } => {
                    executions::release_lease(&transaction, &lease.execution_id, owner_id)?;
                    Ok(())
                }
            }),
        });
    }
    transaction.commit()?;
    Ok(outcomes)
}

/// Appends one request's events, or refuses it (a sequence conflict, a lost lease) having
/// written nothing.
fn append_one(
    connection: &Connection,
    request: &AppendRequest,
) -> rusqlite::Result<Result<Vec<StoredEvent>, HistoryError>> {
    let last: Option<(i64, Vec<u8>)> = connection
        .prepare_cached(
            "SELECT sequence, hash FROM events WHERE execution_id = ?1
             ORDER BY sequence DESC LIMIT 1",
        )?
        .query_row([&request.execution_id], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    let (last_sequence, previous) = match last {
        Some((sequence, hash)) => (sequence as u64, hash.try_into().unwrap_or(GENESIS_HASH)),
        None => (0, GENESIS_HASH),
    };
    if let Some(owner) = &request.owner
        && let Some(holder) =
            executions::lease_holder_other_than(connection, &request.execution_id, owner)?
    {
        return Ok(Err(HistoryError::LeaseLost {
            execution_id: request.execution_id.clone(),
            holder,
        }));
    }
    if request.first_sequence != last_sequence + 1 {
        return Ok(Err(HistoryError::Conflict {
            execution_id: request.execution_id.clone(),
            expected: request.first_sequence,
            actual: last_sequence,
        }));
    }
    // Last of the checks: taking the lease writes, and a refused append writes nothing.
    if let Some(lease) = &request.take_lease
        && let Err(holder) = executions::acquire_lease(
            connection,
            &request.execution_id,
            &lease.owner,
            lease.now_ms,
            lease.ttl_ms,
        )?
    {
        return Ok(Err(HistoryError::LeaseLost {
            execution_id: request.execution_id.clone(),
            holder: holder.to_string(),
        }));
    }
    let stored = chain(
        previous,
        &request.execution_id,
        request.first_sequence,
        &request.events,
    );
    let mut insert = connection.prepare_cached(
        "INSERT INTO events (execution_id, sequence, event_type, payload, recorded_at_ms, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for event in &stored {
        insert.execute(params![
            event.execution_id,
            event.sequence as i64,
            event.event_type,
            event.payload,
            event.recorded_at_ms,
            event.hash.as_slice(),
        ])?;
    }
    reuse::index(connection, &stored)?;
    if let Some(summary) = &request.summary {
        let last = (request.first_sequence + request.events.len() as u64).saturating_sub(1);
        executions::upsert(connection, &request.execution_id, summary, last)?;
    }
    Ok(Ok(stored))
}
