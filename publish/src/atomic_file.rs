//! Writes one file of the episode directory atomically and describes it as an [`Artifact`].
//!
//! A reader (or a crash) sees either the previous file or the complete new one, never a prefix:
//! the contents go to a temporary file in the same directory, which is synced, renamed over the
//! final name, and the directory is synced so that the rename itself survives a power loss.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::{Artifact, PublishError};

/// Writes `contents` as `dir/name`.
pub(crate) fn write_bytes(
    dir: &Path,
    name: &str,
    media_type: &str,
    contents: &[u8],
) -> Result<Artifact, PublishError> {
    write_streamed(dir, name, media_type, |writer, path| {
        writer
            .write_all(contents)
            .map_err(|source| PublishError::Write {
                path: path.to_owned(),
                source,
            })
    })
}

/// Writes `dir/name` with the bytes that `write_contents` produces. The closure receives the
/// final path so that its errors can name the file being published, not the temporary one.
pub(crate) fn write_streamed(
    dir: &Path,
    name: &str,
    media_type: &str,
    write_contents: impl FnOnce(&mut dyn Write, &Path) -> Result<(), PublishError>,
) -> Result<Artifact, PublishError> {
    let path = dir.join(name);
    // A fixed temporary name (rather than a random one) means a crash leaves at most one stale
    // temporary per file, which the next publish truncates and reuses.
    let temporary_path = dir.join(format!(".{name}.tmp"));
    let result = write_then_rename(&temporary_path, &path, write_contents);
    if result.is_err() {
        // The temporary file is garbage once writing failed; if removing it fails too, the next
        // publish truncates it anyway, so that error adds nothing to the one being reported.
        let _ = fs::remove_file(&temporary_path);
    }
    let (digest, size_bytes) = result?;
    sync_directory(dir)?;
    Ok(Artifact {
        name: name.to_owned(),
        media_type: media_type.to_owned(),
        digest: format!("sha256:{}", hex::encode(digest)),
        size_bytes,
    })
}

/// Publishes `source` as `dir/name` by a hard link to it, atomically (linked under a temporary
/// name, then renamed). `None` when the filesystem cannot link it there (another device, no
/// hard links), for the caller to copy instead.
pub(crate) fn link(
    dir: &Path,
    name: &str,
    media_type: &str,
    source: &Path,
) -> Option<Result<Artifact, PublishError>> {
    let path = dir.join(name);
    let temporary_path = dir.join(format!(".{name}.tmp"));
    let _ = fs::remove_file(&temporary_path);
    fs::hard_link(source, &temporary_path).ok()?;
    let described = (|| {
        let read_error = |source_error| PublishError::Read {
            path: source.to_owned(),
            source: source_error,
        };
        let mut file = File::open(source).map_err(read_error)?;
        let mut hasher = Sha256::new();
        let size_bytes = io::copy(&mut file, &mut hasher).map_err(read_error)?;
        fs::rename(&temporary_path, &path).map_err(|error| PublishError::Write {
            path: path.clone(),
            source: error,
        })?;
        // Renaming a link over another link to the same file does nothing (POSIX), which
        // leaves the temporary name behind when the episode was published before.
        let _ = fs::remove_file(&temporary_path);
        sync_directory(dir)?;
        Ok(Artifact {
            name: name.to_owned(),
            media_type: media_type.to_owned(),
            digest: format!("sha256:{}", hex::encode(hasher.finalize())),
            size_bytes,
        })
    })();
    if described.is_err() {
        let _ = fs::remove_file(&temporary_path);
    }
    Some(described)
}

/// Flushes a directory's entries (new names, renames) to disk.
pub(crate) fn sync_directory(dir: &Path) -> Result<(), PublishError> {
    // Only Unix can open a directory as a file to sync it; elsewhere the rename is as durable as
    // the platform makes it.
    if cfg!(unix) {
        File::open(dir)
            .and_then(|directory| directory.sync_all())
            .map_err(|source| PublishError::Write {
                path: dir.to_owned(),
                source,
            })?;
    }
    Ok(())
}

fn write_then_rename(
    temporary_path: &Path,
    path: &Path,
    write_contents: impl FnOnce(&mut dyn Write, &Path) -> Result<(), PublishError>,
) -> Result<([u8; 32], u64), PublishError> {
    let write_error = |source| PublishError::Write {
        path: path.to_owned(),
        source,
    };
    let file = File::create(temporary_path).map_err(write_error)?;
    let mut writer = HashingWriter {
        inner: BufWriter::new(file),
        hasher: Sha256::new(),
        size_bytes: 0,
    };
    write_contents(&mut writer, path)?;
    let HashingWriter {
        inner,
        hasher,
        size_bytes,
    } = writer;
    let file = inner
        .into_inner()
        .map_err(|error| write_error(error.into_error()))?;
    file.sync_all().map_err(write_error)?;
    drop(file);
    fs::rename(temporary_path, path).map_err(write_error)?;
    Ok((hasher.finalize().into(), size_bytes))
}

/// Hashes what is written as it goes, so no file is read back to compute its digest.
struct HashingWriter {
    inner: BufWriter<File>,
    hasher: Sha256,
    size_bytes: u64,
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.size_bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_describes_the_bytes_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let artifact = write_bytes(dir.path(), "a.txt", "text/plain", b"hello").unwrap();
        assert_eq!(fs::read(dir.path().join("a.txt")).unwrap(), b"hello");
        assert_eq!(artifact.size_bytes, 5);
        assert_eq!(
            artifact.digest,
            format!("sha256:{}", hex::encode(Sha256::digest(b"hello")))
        );
        assert!(!dir.path().join(".a.txt.tmp").exists());
    }

    #[test]
    fn failed_write_keeps_the_previous_file_and_removes_the_temporary() {
        let dir = tempfile::tempdir().unwrap();
        write_bytes(dir.path(), "a.txt", "text/plain", b"old").unwrap();
        let error = write_streamed(dir.path(), "a.txt", "text/plain", |writer, path| {
            writer.write_all(b"partial").unwrap();
            Err(PublishError::Write {
                path: path.to_owned(),
                source: io::Error::other("simulated failure"),
            })
        })
        .unwrap_err();
        assert!(error.to_string().contains("a.txt"), "{error}");
        assert_eq!(fs::read(dir.path().join("a.txt")).unwrap(), b"old");
        assert!(!dir.path().join(".a.txt.tmp").exists());
    }
}
