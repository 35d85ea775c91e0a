//! Blobs in PostgreSQL, so that any host can read what another wrote: each blob in chunks of
//! at most 1 MiB, with its `blobs` row written last in the same transaction.

use deadpool_postgres::GenericClient as _;
use pipeline_core::store::{HistoryError, SharedBlobs};

use crate::PostgresStore;
use crate::retry::Failure;
use crate::writer::lock_key;

/// Bytes per stored chunk: well under PostgreSQL's 1 GB field limit, small enough to stream.
const CHUNK_BYTES: usize = 1 << 20;

impl SharedBlobs for PostgresStore {
    fn contains(&self, digest: &str) -> Result<bool, HistoryError> {
        let digest = digest.to_string();
        self.query(move |client, _| {
            let digest = digest.clone();
            async move {
                Ok(client
                    .query_opt("SELECT 1 FROM blobs WHERE digest = $1", &[&digest])
                    .await?
                    .is_some())
            }
        })
    }

    fn upload(&self, digest: &str, bytes: Vec<u8>) -> Result<(), HistoryError> {
        let digest = digest.to_string();
        let bytes = std::sync::Arc::new(bytes);
        self.query(move |mut client, _| {
            let (digest, bytes) = (digest.clone(), bytes.clone());
            async move {
                let transaction = client.transaction().await?;
                transaction
                    .execute("SELECT pg_advisory_xact_lock($1)", &[&lock_key(&digest)])
                    .await?;
                let present = transaction
                    .query_opt("SELECT 1 FROM blobs WHERE digest = $1", &[&digest])
                    .await?
                    .is_some();
                if !present {
                    // Chunks of an upload that died before its commit were rolled back with it.
                    let insert = transaction
                        .prepare_cached(
                            "INSERT INTO blob_chunks (digest, chunk, data) VALUES ($1, $2, $3)",
                        )
                        .await?;
                    let mut chunks = 0i32;
                    for chunk in bytes.chunks(CHUNK_BYTES) {
                        transaction
                            .execute(&insert, &[&digest, &chunks, &chunk])
                            .await?;
                        chunks += 1;
                    }
                    transaction
                        .execute(
                            "INSERT INTO blobs (digest, size_bytes, chunks) VALUES ($1, $2, $3)",
                            &[&digest, &(bytes.len() as i64), &chunks],
                        )
                        .await?;
                }
                transaction.commit().await?;
                Ok(())
            }
        })
    }

    fn download(&self, digest: &str) -> Result<Option<Vec<u8>>, HistoryError> {
        let digest = digest.to_string();
        self.query(move |client, _| {
            let digest = digest.clone();
            async move {
                let Some(head) = client
                    .query_opt(
                        "SELECT size_bytes, chunks FROM blobs WHERE digest = $1",
                        &[&digest],
                    )
                    .await?
                else {
                    return Ok(None);
                };
                let (size, chunks): (i64, i32) = (head.get(0), head.get(1));
                let rows = client
                    .query(
                        "SELECT data FROM blob_chunks WHERE digest = $1 ORDER BY chunk",
                        &[&digest],
                    )
                    .await?;
                let mut bytes = Vec::with_capacity(size.max(0) as usize);
                for row in &rows {
                    bytes.extend_from_slice(row.get::<_, &[u8]>(0));
                }
                if rows.len() != chunks as usize || bytes.len() as i64 != size {
                    return Err(Failure::Permanent(format!(
                        "blob {digest} is incomplete in the database: {} of {chunks} chunks, {} of {size} bytes",
                        rows.len(),
                        bytes.len()
                    )));
                }
                Ok(Some(bytes))
            }
        })
    }
}
