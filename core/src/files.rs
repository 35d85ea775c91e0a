//! Reading the files a user hands the host (workflows, prompts, schemas, shows, outlines,
//! inputs, batch lists): only regular files, only up to a size cap, and, for the files a
//! workflow names, only inside the workflow's own folder. `/dev/zero`, a FIFO or a workflow
//! naming `/etc/shadow` is refused with one line instead of hanging, filling memory or leaking
//! the file into a history.

use std::io::Read as _;
use std::path::{Path, PathBuf};

/// Size caps, generous for what each file holds and small enough that a wrong path cannot
/// exhaust memory.
pub mod limits {
    /// A workflow file, a prompt, a schema or a show blueprint.
    pub const WORKFLOW_FILE_BYTES: u64 = 1024 * 1024;
    /// An edited outline given to `signal approve --outline`, or an `--inputs` JSON file.
    pub const DOCUMENT_BYTES: u64 = 4 * 1024 * 1024;
    /// A `--batch` list of topics.
    pub const BATCH_FILE_BYTES: u64 = 16 * 1024 * 1024;
}

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{path}: {source}")]
    Unreadable {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is {kind}, not a regular file")]
    NotRegular { path: String, kind: &'static str },
    #[error("{path} is larger than the {limit} limit for this file")]
    TooLarge { path: String, limit: String },
    #[error("{path} is not UTF-8 text")]
    NotText { path: String },
    #[error(
        "{path} is outside the workflow's folder {folder} (files a workflow names must be inside it)"
    )]
    OutsideFolder { path: String, folder: String },
}

/// Reads the regular file at `path` as UTF-8 text of at most `limit` bytes.
pub fn read_text(path: &Path, limit: u64) -> Result<String, FileError> {
    let shown = || path.display().to_string();
    let unreadable = |source| FileError::Unreadable {
        path: shown(),
        source,
    };
    // Checked before opening: opening a FIFO for reading blocks until a writer appears.
    let metadata = std::fs::metadata(path).map_err(unreadable)?;
    refuse_special(&metadata, path)?;
    let file = std::fs::File::open(path).map_err(unreadable)?;
    // Checked again on the opened file, which is what is read.
    refuse_special(&file.metadata().map_err(unreadable)?, path)?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge {
            path: shown(),
            limit: format_size(limit),
        });
    }
    String::from_utf8(bytes).map_err(|_| FileError::NotText { path: shown() })
}

/// `relative` resolved against `folder`, provided it stays inside `folder` once every symlink
/// is resolved; an absolute path or one climbing out with `..` is refused.
pub fn inside_folder(folder: &Path, relative: &str) -> Result<PathBuf, FileError> {
    let joined = folder.join(relative);
    let outside = || FileError::OutsideFolder {
        path: relative.to_string(),
        folder: folder.display().to_string(),
    };
    // Refused as written, before the file is looked for: an absolute path, or `..` climbing
    // above the folder.
    let mut depth: i32 = 0;
    for component in Path::new(relative).components() {
        depth += match component {
            std::path::Component::Normal(_) => 1,
            std::path::Component::ParentDir => -1,
            std::path::Component::CurDir => 0,
            std::path::Component::RootDir | std::path::Component::Prefix(_) => -1_000,
        };
        if depth < 0 {
            return Err(outside());
        }
    }
    let unreadable = |source| FileError::Unreadable {
        path: joined.display().to_string(),
        source,
    };
    let root = folder.canonicalize().map_err(unreadable)?;
    let resolved = joined.canonicalize().map_err(unreadable)?;
    if !resolved.starts_with(&root) {
        return Err(outside());
    }
    Ok(resolved)
}

/// A byte count as people read it: `1 MiB`, `512 KiB`, `300 bytes`.
pub fn format_size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    match bytes {
        size if size >= MIB && size % MIB == 0 => format!("{} MiB", size / MIB),
        size if size >= MIB => format!("{:.1} MiB", size as f64 / MIB as f64),
        size if size >= KIB => format!("{} KiB", size / KIB),
        size => format!("{size} bytes"),
    }
}

fn refuse_special(metadata: &std::fs::Metadata, path: &Path) -> Result<(), FileError> {
    use std::os::unix::fs::FileTypeExt as _;
    let file_type = metadata.file_type();
    let kind = if file_type.is_file() {
        return Ok(());
    } else if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_char_device() || file_type.is_block_device() {
        "a device"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "a special file"
    };
    Err(FileError::NotRegular {
        path: path.display().to_string(),
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_fifos_are_refused_without_reading() {
        let error = read_text(Path::new("/dev/zero"), 10).unwrap_err();
        assert_eq!(
            error.to_string(),
            "/dev/zero is a device, not a regular file"
        );
        let directory = tempfile::tempdir().unwrap();
        let fifo = directory.path().join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let error = read_text(&fifo, 10).unwrap_err();
        assert!(error.to_string().ends_with("is a FIFO, not a regular file"));
        let error = read_text(directory.path(), 10).unwrap_err();
        assert!(
            error
                .to_string()
                .ends_with("is a directory, not a regular file")
        );
    }

    #[test]
    fn a_file_over_its_cap_is_refused_and_one_at_it_is_read() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("big.txt");
        std::fs::write(&path, "x".repeat(2048)).unwrap();
        assert_eq!(read_text(&path, 2048).unwrap().len(), 2048);
        let error = read_text(&path, 1024).unwrap_err();
        assert!(
            error
                .to_string()
                .ends_with("is larger than the 1 KiB limit for this file"),
            "{error}"
        );
    }

    #[test]
    fn paths_must_stay_inside_the_folder_after_resolving_symlinks() {
        let directory = tempfile::tempdir().unwrap();
        let folder = directory.path().join("workflow");
        std::fs::create_dir_all(folder.join("prompts")).unwrap();
        std::fs::write(folder.join("prompts/a.txt"), "a").unwrap();
        std::fs::write(directory.path().join("secret.txt"), "s").unwrap();
        std::os::unix::fs::symlink(directory.path().join("secret.txt"), folder.join("link.txt"))
            .unwrap();
        assert!(inside_folder(&folder, "prompts/a.txt").is_ok());
        assert!(inside_folder(&folder, "prompts/../prompts/a.txt").is_ok());
        for escaping in ["../secret.txt", "link.txt", "/etc/passwd"] {
            let error = inside_folder(&folder, escaping).unwrap_err();
            assert!(
                matches!(error, FileError::OutsideFolder { .. }),
                "{escaping}: {error}"
            );
        }
    }
}
