//! The one error type of publishing: every variant names the file or input that is wrong, since
//! the host reports it to a person who has to find that file.

use std::io;
use std::path::PathBuf;

/// Why an episode could not be published. Nothing is retried here: an I/O error may be transient
/// (a full disk), but the caller decides whether to publish again, which rewrites every file.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("cannot create episode directory {}", path.display())]
    CreateDirectory {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("invalid wav file {}: {reason}", path.display())]
    InvalidWav { path: PathBuf, reason: String },
    #[error("cover image {} is not a png file", path.display())]
    InvalidCover { path: PathBuf },
    /// LAME's errors are reduced to text so that its types stay out of this crate's API.
    #[error("cannot encode {} as mp3: {reason}", path.display())]
    Mp3Encoding { path: PathBuf, reason: String },
    #[error("cannot write the id3 tag of {}", path.display())]
    Id3 {
        path: PathBuf,
        #[source]
        source: id3::Error,
    },
    #[error("manifest extra is invalid: {reason}")]
    InvalidManifestExtra { reason: &'static str },
}
