//! Group commit on PostgreSQL: appends and lease changes queue up, and a few writer tasks each
//! take everything queued into one transaction, so that many executions share a commit (and
//! its WAL flush). Each transaction first takes the advisory locks of the executions it
//! touches, in one order, so that writers of several hosts serialize per execution and never
//! deadlock; then each request is checked (sequence, lease) before it writes anything, so a
//! refused one cannot sink the others in its batch.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use deadpool_postgres::{GenericClient, Pool};
use futures::future::try_join_all;
use pipeline_core::lineage::reuse_keys;
use pipeline_core::store::chain::{GENESIS_HASH, chain};
use pipeline_core::store::queue::{AppendRequest, LeaseChange, Outcome, WriteRequest};
use pipeline_core::store::{HistoryError, StoredEvent};
use sha2::{Digest as _, Sha256};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_postgres::types::ToSql;

use crate::retry::{Failure, RETRY_FOR, with_retries};
use crate::rows;

/// Most requests folded into one transaction; bounds the latency of the first of them.
const MAX_BATCH: usize = 512;

/// Transactions in flight at once: while they commit, new requests gather into the next.
const WRITERS: usize = 4;

/// The channel other hosts are told of commits on (see `PostgresStore::change_token`).
pub(crate) const CHANGES_CHANNEL: &str = "host_changes";

/// What the writers share.
pub(crate) struct Writers {
    pub pool: Pool,
    pub database: String,
    pub commits: Arc<AtomicU64>,
    pub changes: Arc<AtomicU64>,
}

/// Takes batches off `requests` until it closes, then waits for the transactions in flight.
pub(crate) async fn run(
    writers: Arc<Writers>,
    mut requests: mpsc::UnboundedReceiver<WriteRequest>,
) {
    let slots = Arc::new(Semaphore::new(WRITERS));
    let mut in_flight = JoinSet::new();
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        let Some(first) = requests.recv().await else {
            break;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match requests.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        let writers = writers.clone();
        in_flight.spawn(async move {
            commit_and_answer(&writers, batch).await;
            drop(slot);
        });
        while in_flight.try_join_next().is_some() {}
    }
    while in_flight.join_next().await.is_some() {}
}

async fn commit_and_answer(writers: &Writers, batch: Vec<WriteRequest>) {
    let outcome = with_retries(
        &writers.pool,
        &writers.database,
        RETRY_FOR,
        |mut client, tries| {
            let batch = &batch;
            async move { commit_batch(&mut client, batch, tries > 0).await }
        },
    )
    .await;
    match outcome {
        Ok(outcomes) => {
            writers.commits.fetch_add(1, Ordering::Relaxed);
            writers.changes.fetch_add(1, Ordering::Relaxed);
            for (request, outcome) in batch.into_iter().zip(outcomes) {
                request.answer(Ok(outcome));
            }
        }
        Err(error) => {
            // Nothing of the batch is committed; every caller learns why.
            let message = error.to_string();
            for request in batch {
                request.answer(Err(HistoryError::Database {
                    database: writers.database.clone(),
                    message: message.clone(),
                }));
            }
        }
    }
}

/// The advisory lock key of an execution: the first 8 bytes of the SHA-256 of its id.
pub(crate) fn lock_key(text: &str) -> i64 {
    let digest = Sha256::digest(text.as_bytes());
    i64::from_le_bytes(digest[..8].try_into().expect("a SHA-256 has 32 bytes"))
}

/// Applies a batch in one transaction. `repeated` says an earlier try may have committed
/// without the acknowledgement arriving.
async fn commit_batch(
    client: &mut deadpool_postgres::Object,
    batch: &[WriteRequest],
    repeated: bool,
) -> Result<Vec<Outcome>, Failure> {
    let transaction = client.transaction().await?;
    let mut keys: Vec<i64> = batch
        .iter()
        .map(|request| lock_key(request.execution_id()))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let lock = transaction
        .prepare_cached("SELECT pg_advisory_xact_lock($1)")
        .await?;
    // Statements sent together are pipelined on the connection and run by the server in the
    // order sent, so the locks are still taken in key order, in one round trip.
    let parameters: Vec<[&(dyn ToSql + Sync); 1]> = keys.iter().map(|key| [key as _]).collect();
    try_join_all(
        parameters
            .iter()
            .map(|parameters| transaction.execute(&lock, parameters)),
    )
    .await?;
    // Requests of different executions are independent (each holds its own lock): they run
    // pipelined too, while each execution's requests keep their order.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut group_of: HashMap<&str, usize> = HashMap::new();
    for (index, request) in batch.iter().enumerate() {
        let group = *group_of.entry(request.execution_id()).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[group].push(index);
    }
    let shared = &transaction;
    let applied = try_join_all(groups.iter().map(|indices| async move {
        let mut outcomes = Vec::with_capacity(indices.len());
        for &index in indices {
            outcomes.push((index, apply_one(shared, &batch[index], repeated).await?));
        }
        Ok::<_, Failure>(outcomes)
    }))
    .await?;
    let mut outcomes: Vec<Option<Outcome>> = (0..batch.len()).map(|_| None).collect();
    for (index, outcome) in applied.into_iter().flatten() {
        outcomes[index] = Some(outcome);
    }
    // Delivered to every listening host once the transaction commits.
    transaction
        .execute("SELECT pg_notify($1, '')", &[&CHANGES_CHANNEL])
        .await?;
    transaction.commit().await?;
    Ok(outcomes.into_iter().flatten().collect())
}

/// Applies one request inside the batch's transaction.
async fn apply_one(
    transaction: &deadpool_postgres::Transaction<'_>,
    request: &WriteRequest,
    repeated: bool,
) -> Result<Outcome, Failure> {
    Ok(match request {
        WriteRequest::Append(append) => {
            Outcome::Append(append_one(transaction, append, repeated).await?)
        }
        WriteRequest::Lease(lease) => Outcome::Lease(match &lease.change {
            LeaseChange::Acquire {
                owner,
                now_ms,
                ttl_ms,
            } => {
                rows::acquire_lease(transaction, &lease.execution_id, owner, *now_ms, *ttl_ms)
                    .await?
            }
            LeaseChange::Release { owner_id } => {
                rows::release_lease(transaction, &lease.execution_id, owner_id).await?;
                Ok(())
            }
        }),
    })
}

/// Appends one request's events, or refuses it (a sequence conflict, a lost lease) having
/// written nothing.
async fn append_one(
    client: &impl GenericClient,
    request: &AppendRequest,
    repeated: bool,
) -> Result<Result<Vec<StoredEvent>, HistoryError>, Failure> {
    let last = client
        .query_opt(
            &client
                .prepare_cached(
                    "SELECT sequence, hash FROM events WHERE execution_id = $1
                     ORDER BY sequence DESC LIMIT 1",
                )
                .await?,
            &[&request.execution_id],
        )
        .await?;
    let (last_sequence, previous) = match last {
        Some(row) => (
            row.get::<_, i64>(0) as u64,
            row.get::<_, Vec<u8>>(1).try_into().unwrap_or(GENESIS_HASH),
        ),
        None => (0, GENESIS_HASH),
    };
    if let Some(owner) = &request.owner
        && let Some(holder) = rows::read_lease(client, &request.execution_id)
            .await?
            .filter(|holder| &holder.owner != owner)
    {
        return Ok(Err(HistoryError::LeaseLost {
            execution_id: request.execution_id.clone(),
            holder: holder.to_string(),
        }));
    }
    if request.first_sequence != last_sequence + 1 {
        if repeated && let Some(stored) = already_appended(client, request).await? {
            return Ok(Ok(stored));
        }
        return Ok(Err(HistoryError::Conflict {
            execution_id: request.execution_id.clone(),
            expected: request.first_sequence,
            actual: last_sequence,
        }));
    }
    // Last of the checks: taking the lease writes, and a refused append writes nothing.
    if let Some(lease) = &request.take_lease
        && let Err(holder) = rows::acquire_lease(
            client,
            &request.execution_id,
            &lease.owner,
            lease.now_ms,
            lease.ttl_ms,
        )
        .await?
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
    let insert = client
        .prepare_cached(
            "INSERT INTO events (execution_id, sequence, event_type, payload, recorded_at_ms, hash)
             SELECT $1, * FROM unnest($2::BIGINT[], $3::TEXT[], $4::TEXT[], $5::BIGINT[], $6::BYTEA[])",
        )
        .await?;
    let sequences: Vec<i64> = stored.iter().map(|event| event.sequence as i64).collect();
    let types: Vec<&str> = stored
        .iter()
        .map(|event| event.event_type.as_str())
        .collect();
    let payloads: Vec<&str> = stored.iter().map(|event| event.payload.as_str()).collect();
    let times: Vec<i64> = stored.iter().map(|event| event.recorded_at_ms).collect();
    let hashes: Vec<&[u8]> = stored.iter().map(|event| event.hash.as_slice()).collect();
    client
        .execute(
            &insert,
            &[
                &request.execution_id,
                &sequences,
                &types,
                &payloads,
                &times,
                &hashes,
            ],
        )
        .await?;
    if let Some(summary) = &request.summary {
        let last = (request.first_sequence + request.events.len() as u64).saturating_sub(1);
        rows::upsert_execution(client, &request.execution_id, summary, last).await?;
    }
    for (key, event) in reuse_keys(&stored) {
        client
            .execute(
                "INSERT INTO reusable_results (reuse_key, execution_id, sequence) VALUES ($1, $2, $3)
                 ON CONFLICT (reuse_key) DO NOTHING",
                &[&key, &event.execution_id, &(event.sequence as i64)],
            )
            .await?;
    }
    Ok(Ok(stored))
}

/// The stored events, when an earlier try of this same append committed although its
/// acknowledgement was lost with the connection: the events at its sequences are exactly
/// its events.
async fn already_appended(
    client: &impl GenericClient,
    request: &AppendRequest,
) -> Result<Option<Vec<StoredEvent>>, Failure> {
    if request.events.is_empty() {
        return Ok(None);
    }
    let mut stored =
        rows::events_from(client, &request.execution_id, request.first_sequence).await?;
    stored.truncate(request.events.len());
    let same = stored.len() == request.events.len()
        && stored.iter().zip(&request.events).all(|(stored, event)| {
            stored.event_type == event.event_type
                && stored.payload == event.payload
                && stored.recorded_at_ms == event.recorded_at_ms
        });
    Ok(same.then_some(stored))
}
