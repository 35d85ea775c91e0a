//! Blobs every host can read: a store on a shared database keeps a copy of each blob there, so
//! that a result written on one machine (a speech file, a mixed episode) can be read, verified
//! and published on another. Local blob directories stay the working copy and the cache.

use super::HistoryError;

/// A content-addressed blob store that several hosts share. Blobs are named by their digest
/// (`sha256:<hex>`); the caller verifies what it downloads against that name.
pub trait SharedBlobs: Send + Sync {
    /// Whether the blob is stored completely.
    fn contains(&self, digest: &str) -> Result<bool, HistoryError>;

    /// Stores the blob, in one transaction: it is visible whole or not at all. Storing a blob
    /// already there changes nothing.
    fn upload(&self, digest: &str, bytes: Vec<u8>) -> Result<(), HistoryError>;

    /// The blob's bytes, or `None` when no host stored it.
    fn download(&self, digest: &str) -> Result<Option<Vec<u8>>, HistoryError>;
}
