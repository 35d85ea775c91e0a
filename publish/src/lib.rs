//! Writes the files of a finished episode into one directory: the audio (`episode.wav`,
//! `episode.mp3` with ID3 chapters and cover), `cover.png`, `transcript.md`, subtitles
//! (`episode.srt`, `episode.vtt`), Podcasting 2.0 `chapters.json`, and last `manifest.json`,
//! which lists every other file with its SHA-256 digest.
//!
//! API boundary: this crate knows nothing of the engine, its storage or its plugins. The host
//! hands over an [`Episode`] with timings already computed and a JSON object for the manifest.
//!
//! Modules, in the order [`publish`] uses them:
//! - `wav`: opens and checks the mixed WAV;
//! - `timing`: clamps timings the host got wrong;
//! - `atomic_file`: writes each file atomically and describes it as an [`Artifact`];
//! - `id3_tag` and `mp3`: the tagged MP3;
//! - `transcript`, `subtitles`, `chapters`: the text files;
//! - `manifest`: the manifest.

mod atomic_file;
mod chapters;
mod error;
mod id3_tag;
mod manifest;
mod mp3;
mod subtitles;
mod timing;
mod transcript;
mod wav;

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::error::PublishError;
use crate::timing::Timeline;

/// Everything the host knows about a finished episode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Episode {
    pub title: String,
    /// The show's name, used as the MP3's artist and album.
    pub show: Option<String>,
    pub description: Option<String>,
    /// The spoken lines in order.
    pub lines: Vec<Line>,
    /// The chapters in order.
    pub chapters: Vec<Chapter>,
    /// The mixed episode as 16-bit PCM, mono or stereo; `None` when mixing was skipped, in
    /// which case no audio files are written.
    pub master_wav: Option<PathBuf>,
    /// The cover image (PNG), if one was generated.
    pub cover_png: Option<PathBuf>,
}

/// One spoken line, placed on the episode's timeline by the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub speaker: String,
    /// The TTS voice that spoke the line; the published files name only the speaker.
    pub voice: Option<String>,
    pub text: String,
    pub start_ms: u64,
    pub end_ms: u64,
}

/// A chapter of the episode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chapter {
    pub title: String,
    pub start_ms: u64,
    pub end_ms: u64,
}

/// One published file, as listed in `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// The file name inside the episode directory.
    pub name: String,
    pub media_type: String,
    /// `sha256:` followed by the lowercase hex digest of the file.
    pub digest: String,
    pub size_bytes: u64,
}

/// Writes the episode's files into `dir`, creating it if needed, and returns what was written:
/// the artifacts listed in the manifest, in a fixed order, then `manifest.json` itself.
///
/// `manifest_extra` must be a JSON object without an `"artifacts"` key; the manifest is that
/// object plus `"artifacts"`. Each file is replaced atomically, and the manifest is written
/// last, so its presence means the episode is complete. Timings are clamped as described in
/// the `timing` module: end before start becomes an empty span, and when there is audio,
/// nothing extends past its end. Publishing the same episode twice gives identical files.
///
/// Publishing again into the same directory replaces the files but does not delete ones the new
/// episode lacks (say, an MP3 from an earlier publish with audio); the manifest lists only the
/// current ones.
pub fn publish(
    dir: &Path,
    episode: &Episode,
    manifest_extra: &serde_json::Value,
) -> Result<Vec<Artifact>, PublishError> {
    // Everything that can be checked is checked before the first file is written.
    let manifest_extra = manifest::validate_extra(manifest_extra)?;
    let audio_duration_ms = match &episode.master_wav {
        Some(wav_path) => Some(wav::open(wav_path)?.1.duration_ms()),
        None => None,
    };
    let cover_png = episode.cover_png.as_deref().map(read_png).transpose()?;
    let timeline = Timeline::clamped(&episode.lines, &episode.chapters, audio_duration_ms);
    create_directory(dir)?;

    let mut artifacts = Vec::new();
    if let Some(wav_path) = &episode.master_wav {
        // The master is the host's stored blob, which never changes: a hard link shares its
        // bytes instead of storing an hour of audio twice, where the filesystem allows.
        artifacts.push(
            match atomic_file::link(dir, "episode.wav", "audio/wav", wav_path) {
                Some(artifact) => artifact?,
                None => {
                    atomic_file::write_streamed(dir, "episode.wav", "audio/wav", |output, path| {
                        copy_file(wav_path, output, path)
                    })?
                }
            },
        );
        let tag = id3_tag::episode_tag(episode, &timeline.chapters, cover_png.as_deref());
        artifacts.push(atomic_file::write_streamed(
            dir,
            "episode.mp3",
            "audio/mpeg",
            |output, path| mp3::write_mp3(output, path, wav_path, &tag),
        )?);
    }
    if let Some(png) = &cover_png {
        artifacts.push(atomic_file::write_bytes(
            dir,
            "cover.png",
            "image/png",
            png,
        )?);
    }
    let transcript = transcript::transcript(episode, &timeline.lines, &timeline.chapters);
    artifacts.push(atomic_file::write_bytes(
        dir,
        "transcript.md",
        "text/markdown; charset=utf-8",
        transcript.as_bytes(),
    )?);
    let cues = subtitles::cues(&timeline.lines);
    artifacts.push(atomic_file::write_bytes(
        dir,
        "episode.srt",
        "application/x-subrip",
        subtitles::srt(&cues).as_bytes(),
    )?);
    artifacts.push(atomic_file::write_bytes(
        dir,
        "episode.vtt",
        "text/vtt",
        subtitles::vtt(&cues).as_bytes(),
    )?);
    artifacts.push(atomic_file::write_bytes(
        dir,
        "chapters.json",
        // The media type the Podcasting 2.0 namespace gives JSON chapters.
        "application/json+chapters",
        chapters::chapters_json(episode, &timeline.chapters).as_bytes(),
    )?);
    let manifest = manifest::manifest_json(manifest_extra, &artifacts);
    artifacts.push(atomic_file::write_bytes(
        dir,
        "manifest.json",
        "application/json",
        manifest.as_bytes(),
    )?);
    Ok(artifacts)
}

/// Creates `dir` and syncs its parent, so that the directory entry is as durable as the files.
fn create_directory(dir: &Path) -> Result<(), PublishError> {
    fs::create_dir_all(dir).map_err(|source| PublishError::CreateDirectory {
        path: dir.to_owned(),
        source,
    })?;
    match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => atomic_file::sync_directory(parent),
        _ => Ok(()),
    }
}

/// Reads the cover whole: it is embedded in the MP3 tag as well as copied, and covers are small.
fn read_png(path: &Path) -> Result<Vec<u8>, PublishError> {
    const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    let bytes = fs::read(path).map_err(|source| PublishError::Read {
        path: path.to_owned(),
        source,
    })?;
    if !bytes.starts_with(PNG_SIGNATURE) {
        return Err(PublishError::InvalidCover {
            path: path.to_owned(),
        });
    }
    Ok(bytes)
}

/// Copies with an explicit loop rather than `io::copy`, so that an error names the side that
/// failed: the host's WAV or the file being published.
fn copy_file(
    source_path: &Path,
    output: &mut dyn io::Write,
    output_path: &Path,
) -> Result<(), PublishError> {
    let read_error = |source| PublishError::Read {
        path: source_path.to_owned(),
        source,
    };
    let mut source = fs::File::open(source_path).map_err(read_error)?;
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let read = match source.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(read_error(error)),
        };
        output
            .write_all(&buffer[..read])
            .map_err(|source| PublishError::Write {
                path: output_path.to_owned(),
                source,
            })?;
    }
}
