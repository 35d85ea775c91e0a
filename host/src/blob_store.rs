//! A content-addressed store for large results (audio, images) on disk. A blob is named by the
//! SHA-256 of its bytes, written to a temporary file, synced, renamed into place and its
//! directory synced, so that once `put` returns the blob survives a crash, and an event that
//! references it can be committed. Reads verify the digest, so a damaged blob is reported
//! instead of being used. When hosts share a database, each blob is also stored there before
//! `put` returns, and the directory becomes this host's cache of it: a blob another host
//! wrote is downloaded on first read, then verified like any other.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

pub use pipeline_core::BlobRef;
use pipeline_core::store::SharedBlobs;

/// Why a blob could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob store at {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("blob {digest} is missing from {path}")]
    Missing { digest: String, path: PathBuf },
    #[error("blob {digest} is corrupt: its content hashes to {actual}")]
    Corrupt { digest: String, actual: String },
    #[error("blob {digest} has {actual} bytes, but {expected} were recorded")]
    WrongSize {
        digest: String,
        expected: u64,
        actual: u64,
    },
    #[error("`{0}` is not a blob digest (expected sha256:<64 hex digits>)")]
    InvalidDigest(String),
    #[error("blob {digest} in the shared database: {message}")]
    Shared { digest: String, message: String },
}

/// Blobs under one directory, fanned out by the first two hex digits of the digest so no
/// directory grows huge.
#[derive(Clone)]
pub struct BlobStore {
    root: PathBuf,
    shared: Option<Arc<dyn SharedBlobs>>,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("BlobStore")
            .field("root", &self.root)
            .field("shared", &self.shared.is_some())
            .finish()
    }
}

impl BlobStore {
    pub fn new(root: PathBuf) -> BlobStore {
        BlobStore { root, shared: None }
    }

    /// The same directory as a cache of `shared`, which every blob is also written to.
    pub fn shared_with(self, shared: Arc<dyn SharedBlobs>) -> BlobStore {
        BlobStore {
            shared: Some(shared),
            ..self
        }
    }

    /// Stores `bytes` durably and returns its reference. Storing the same bytes twice is cheap
    /// and yields the same reference.
    pub fn put(&self, bytes: &[u8], media_type: &str) -> Result<BlobRef, BlobError> {
        let blob = BlobRef {
            digest: format!("sha256:{}", hex::encode(Sha256::digest(bytes))),
            size_bytes: bytes.len() as u64,
            media_type: media_type.to_string(),
        };
        // An intact copy is kept; a missing or damaged one is replaced.
        if self.verify_local(&blob).is_err() {
            self.write_durably(&self.path_of(&blob.digest)?, bytes)?;
        }
        self.share(&blob.digest, || Ok(bytes.to_vec()))?;
        Ok(blob)
    }

    /// Moves a file that was written elsewhere (for example a mixed episode streamed to disk)
    /// into the store, hashing it on the way; the source must be on the same file system.
    pub fn put_file(&self, source: &Path, media_type: &str) -> Result<BlobRef, BlobError> {
        let io = |error| BlobError::Io {
            path: source.to_path_buf(),
            source: error,
        };
        let (digest, size_bytes) = hash_file(source).map_err(io)?;
        let path = self.path_of(&digest)?;
        File::open(source)
            .and_then(|file| file.sync_all())
            .map_err(io)?;
        let parent = self.ensure_parent(&path)?;
        std::fs::rename(source, &path).map_err(io)?;
        sync_directory(&parent)?;
        self.share(&digest, || {
            std::fs::read(&path).map_err(|source| BlobError::Io {
                path: path.clone(),
                source,
            })
        })?;
        Ok(BlobRef {
            digest,
            size_bytes,
            media_type: media_type.to_string(),
        })
    }

    /// A fresh file path inside the store's file system, for a result streamed to disk before
    /// `put_file` moves it into place. Left-overs of crashed calls stay in `tmp/` and can be
    /// deleted at any time.
    pub fn scratch_path(&self) -> Result<PathBuf, BlobError> {
        let directory = self.root.join("tmp");
        let io = |source| BlobError::Io {
            path: directory.clone(),
            source,
        };
        std::fs::create_dir_all(&directory).map_err(io)?;
        let file = tempfile::Builder::new()
            .suffix(".part")
            .tempfile_in(&directory)
            .map_err(io)?;
        file.into_temp_path()
            .keep()
            .map_err(|error| io(error.error))
    }

    /// Reads a blob, checking its size and digest.
    pub fn get(&self, blob: &BlobRef) -> Result<Vec<u8>, BlobError> {
        let path = self.verify(blob)?;
        std::fs::read(&path).map_err(|source| BlobError::Io { path, source })
    }

    /// Checks that a blob is present and intact, and returns its path; a blob only the shared
    /// database has (or whose copy here is damaged) is downloaded first.
    pub fn verify(&self, blob: &BlobRef) -> Result<PathBuf, BlobError> {
        match self.verify_local(blob) {
            Err(
                BlobError::Missing { .. } | BlobError::Corrupt { .. } | BlobError::WrongSize { .. },
            ) if self.shared.is_some() => {
                self.fetch_shared(&blob.digest)?;
                self.verify_local(blob)
            }
            outcome => outcome,
        }
    }

    /// Stores a blob in the shared database, if there is one and it lacks it.
    fn share(
        &self,
        digest: &str,
        bytes: impl FnOnce() -> Result<Vec<u8>, BlobError>,
    ) -> Result<(), BlobError> {
        let Some(shared) = &self.shared else {
            return Ok(());
        };
        let failed = |error: pipeline_core::store::HistoryError| BlobError::Shared {
            digest: digest.to_string(),
            message: error.to_string(),
        };
        if !shared.contains(digest).map_err(failed)? {
            shared.upload(digest, bytes()?).map_err(failed)?;
        }
        Ok(())
    }

    /// Copies a blob from the shared database into this directory, when it is there.
    fn fetch_shared(&self, digest: &str) -> Result<(), BlobError> {
        let Some(shared) = &self.shared else {
            return Ok(());
        };
        let downloaded = shared.download(digest).map_err(|error| BlobError::Shared {
            digest: digest.to_string(),
            message: error.to_string(),
        })?;
        match downloaded {
            Some(bytes) => self.write_durably(&self.path_of(digest)?, &bytes),
            None => Ok(()),
        }
    }

    /// Checks the copy in this directory only.
    fn verify_local(&self, blob: &BlobRef) -> Result<PathBuf, BlobError> {
        let path = self.path_of(&blob.digest)?;
        let (actual, size) = match hash_file(&path) {
            Ok(found) => found,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(BlobError::Missing {
                    digest: blob.digest.clone(),
                    path,
                });
            }
            Err(source) => return Err(BlobError::Io { path, source }),
        };
        if size != blob.size_bytes {
            return Err(BlobError::WrongSize {
                digest: blob.digest.clone(),
                expected: blob.size_bytes,
                actual: size,
            });
        }
        if actual != blob.digest {
            return Err(BlobError::Corrupt {
                digest: blob.digest.clone(),
                actual,
            });
        }
        Ok(path)
    }

    /// The directory the blobs are kept under.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a blob with this digest lives.
    pub fn path_of(&self, digest: &str) -> Result<PathBuf, BlobError> {
        let hex_digits = digest
            .strip_prefix("sha256:")
            .filter(|hex_digits| {
                hex_digits.len() == 64 && hex_digits.bytes().all(|byte| byte.is_ascii_hexdigit())
            })
            .ok_or_else(|| BlobError::InvalidDigest(digest.to_string()))?;
        Ok(self.root.join(&hex_digits[..2]).join(hex_digits))
    }

    fn ensure_parent(&self, path: &Path) -> Result<PathBuf, BlobError> {
        let parent = path.parent().unwrap_or(&self.root).to_path_buf();
        std::fs::create_dir_all(&parent).map_err(|source| BlobError::Io {
            path: parent.clone(),
            source,
        })?;
        Ok(parent)
    }

    fn write_durably(&self, path: &Path, bytes: &[u8]) -> Result<(), BlobError> {
        let parent = self.ensure_parent(path)?;
        let io = |source| BlobError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut temporary = tempfile::NamedTempFile::new_in(&parent).map_err(io)?;
        temporary.write_all(bytes).map_err(io)?;
        temporary.as_file().sync_all().map_err(io)?;
        temporary.persist(path).map_err(|error| io(error.error))?;
        sync_directory(&parent)
    }
}

/// Syncs a directory so a rename into it survives a crash.
fn sync_directory(directory: &Path) -> Result<(), BlobError> {
    File::open(directory)
        .and_then(|handle| handle.sync_all())
        .map_err(|source| BlobError::Io {
            path: directory.to_path_buf(),
            source,
        })
}

fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 256 * 1024];
    let mut size = 0u64;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        size += read as u64;
    }
    Ok((format!("sha256:{}", hex::encode(hasher.finalize())), size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, BlobStore) {
        let directory = tempfile::tempdir().unwrap();
        let store = BlobStore::new(directory.path().join("blobs"));
        (directory, store)
    }

    #[test]
    fn stored_bytes_come_back_and_are_named_by_content() {
        let (_directory, store) = store();
        let blob = store.put(b"some audio", "audio/wav").unwrap();
        assert_eq!(store.get(&blob).unwrap(), b"some audio");
        assert_eq!(store.put(b"some audio", "audio/wav").unwrap(), blob);
        assert_ne!(
            store.put(b"other audio", "audio/wav").unwrap().digest,
            blob.digest
        );
    }

    #[test]
    fn a_file_written_elsewhere_is_moved_in() {
        let (directory, store) = store();
        let source = directory.path().join("episode.wav");
        std::fs::write(&source, b"mixed episode").unwrap();
        let blob = store.put_file(&source, "audio/wav").unwrap();
        assert!(!source.exists());
        assert_eq!(blob.size_bytes, 13);
        assert_eq!(store.get(&blob).unwrap(), b"mixed episode");
    }

    #[test]
    fn damage_is_reported_never_returned() {
        let (_directory, store) = store();
        let blob = store.put(b"0123456789", "image/png").unwrap();
        let path = store.path_of(&blob.digest).unwrap();

        let mut bytes = std::fs::read(&path).unwrap();
        bytes[3] ^= 0x01;
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(store.get(&blob), Err(BlobError::Corrupt { .. })));
        // Storing the same bytes again repairs the damaged copy.
        store.put(b"0123456789", "image/png").unwrap();
        assert_eq!(store.get(&blob).unwrap(), b"0123456789");
        std::fs::write(&path, &bytes).unwrap();

        std::fs::write(&path, b"01234").unwrap();
        assert!(matches!(store.get(&blob), Err(BlobError::WrongSize { .. })));

        std::fs::remove_file(&path).unwrap();
        let error = store.get(&blob).unwrap_err();
        assert!(matches!(error, BlobError::Missing { .. }));
        assert!(error.to_string().contains(&blob.digest), "{error}");
    }

    #[test]
    fn malformed_digests_are_refused() {
        let (_directory, store) = store();
        for digest in ["", "sha256:", "md5:abcd", "sha256:../../etc/passwd"] {
            assert!(matches!(
                store.path_of(digest),
                Err(BlobError::InvalidDigest(_))
            ));
        }
    }
}
