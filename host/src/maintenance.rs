//! Looking after a data directory: a backup that is consistent while workers run (copying
//! `history.db` by hand can catch it between a commit and its WAL checkpoint), and a check of
//! every history and every blob it references.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pipeline_core::BlobRef;
use pipeline_core::store::HistoryError;
use serde::Serialize;
use serde_json::Value;

use crate::blob_store::BlobStore;
use crate::engine::Engine;
use crate::history;
use crate::settings::DataDir;

/// Why a backup could not be made.
#[derive(Debug, thiserror::Error)]
pub enum MaintenanceError {
    #[error("backup destination {0} already exists and is not empty; choose a new directory")]
    DestinationNotEmpty(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    History(#[from] HistoryError),
    #[error(
        "the data directory has {0} problem(s) (see `host check`); nothing is removed from one that does not verify, since what its histories reference is not known"
    )]
    Unsound(usize),
}

/// What a backup copied.
#[derive(Debug, Clone, Serialize)]
pub struct BackupReport {
    pub destination: PathBuf,
    pub executions: usize,
    pub blobs: usize,
    pub blob_bytes: u64,
    /// Dropped-in plugin files: executions pin them, so a restore needs them to resume.
    pub plugins: usize,
}

/// What `check` found; `problems` is empty when the data directory is sound.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckReport {
    pub executions: usize,
    pub events: u64,
    /// Blob references checked (each blob once).
    pub blobs: usize,
    /// Histories that do not verify and blobs that are missing or damaged, one line each.
    pub problems: Vec<String>,
    /// Blobs on disk that no history references (left by an attempt a crash cut short, or by
    /// a reset), by digest with their size.
    pub unreferenced: BTreeMap<String, u64>,
}

/// What `collect_garbage` removed (or, in a dry run, would remove).
#[derive(Debug, Clone, Default, Serialize)]
pub struct GcReport {
    pub dry_run: bool,
    /// Unreferenced blobs old enough to go, by digest with their size.
    pub removed: BTreeMap<String, u64>,
    pub removed_bytes: u64,
    /// Unreferenced blobs younger than the minimum age, kept: an attempt in flight writes its
    /// result before the event that references it.
    pub kept_recent: usize,
}

/// Removes the blobs no history references that are older than `min_age`, after a check that
/// every history verifies. Published episode files are separate (or hard links that outlive
/// the blob), so removing a blob never removes an episode.
pub fn collect_garbage(
    engine: &Engine,
    min_age: std::time::Duration,
    dry_run: bool,
) -> Result<GcReport, MaintenanceError> {
    let findings = check(engine)?;
    if !findings.problems.is_empty() {
        return Err(MaintenanceError::Unsound(findings.problems.len()));
    }
    let mut report = GcReport {
        dry_run,
        ..GcReport::default()
    };
    for (digest, size) in findings.unreferenced {
        let Ok(path) = engine.blobs.path_of(&digest) else {
            continue;
        };
        let io = |source| MaintenanceError::Io {
            path: path.clone(),
            source,
        };
        let age = std::fs::metadata(&path)
            .and_then(|metadata| metadata.modified())
            .map_err(io)?
            .elapsed()
            .unwrap_or_default();
        if age < min_age {
            report.kept_recent += 1;
            continue;
        }
        if !dry_run {
            std::fs::remove_file(&path).map_err(io)?;
        }
        report.removed_bytes += size;
        report.removed.insert(digest, size);
    }
    Ok(report)
}

/// Backs `data` up into `destination` (a new or empty directory): the history database as
/// one consistent snapshot, then the blobs, `config.toml` and dropped-in plugins. Blobs are
/// written (and synced) before the events that reference them commit, and never change, so
/// copying them after the snapshot gives every blob the snapshot references.
pub fn backup(data: &DataDir, destination: &Path) -> Result<BackupReport, MaintenanceError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| MaintenanceError::Io { path, source }
    };
    if std::fs::read_dir(destination).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(MaintenanceError::DestinationNotEmpty(
            destination.to_path_buf(),
        ));
    }
    std::fs::create_dir_all(destination).map_err(io(destination))?;
    let target = DataDir::new(destination.to_path_buf(), None);
    history::snapshot(&data.history_file(), &target.history_file())?;
    let store = history::SqliteStore::open(&target.history_file(), history::Durability::Full)?;
    let executions = pipeline_core::store::HistoryStore::executions(&store)?.len();
    let mut report = BackupReport {
        destination: destination.to_path_buf(),
        executions,
        blobs: 0,
        blob_bytes: 0,
        plugins: 0,
    };
    let blobs = BlobStore::new(data.blobs_dir());
    let copies = BlobStore::new(target.blobs_dir());
    for (digest, size) in blob_files(&data.blobs_dir()).map_err(io(&data.blobs_dir()))? {
        let (Ok(source), Ok(copy)) = (blobs.path_of(&digest), copies.path_of(&digest)) else {
            continue;
        };
        if let Some(parent) = copy.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::copy(&source, &copy).map_err(io(&source))?;
        report.blobs += 1;
        report.blob_bytes += size;
    }
    if data.config_file().is_file() {
        std::fs::copy(data.config_file(), target.config_file()).map_err(io(&data.config_file()))?;
    }
    if let Ok(entries) = std::fs::read_dir(data.plugins_dir()) {
        std::fs::create_dir_all(target.plugins_dir()).map_err(io(target.plugins_dir()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path
                .extension()
                .is_some_and(|extension| extension == "wasm")
                && path.is_file()
            {
                std::fs::copy(&path, target.plugins_dir().join(entry.file_name()))
                    .map_err(io(&path))?;
                report.plugins += 1;
            }
        }
    }
    Ok(report)
}

/// Verifies every history (its hash chain and committed length) and every blob the histories
/// reference, and lists the blobs nothing references.
pub fn check(engine: &Engine) -> Result<CheckReport, MaintenanceError> {
    let mut report = CheckReport::default();
    let mut referenced: BTreeMap<String, BlobRef> = BTreeMap::new();
    for row in engine.store.executions()? {
        report.executions += 1;
        match engine.store.read(&row.execution_id) {
            Ok(events) => {
                report.events += events.len() as u64;
                for event in &events {
                    if let Ok(payload) = serde_json::from_str::<Value>(&event.payload) {
                        collect_blob_refs(&payload, &mut referenced);
                    }
                }
            }
            Err(error) => report.problems.push(error.to_string()),
        }
    }
    for blob in referenced.values() {
        report.blobs += 1;
        if let Err(error) = engine.blobs.verify(blob) {
            report.problems.push(error.to_string());
        }
    }
    let root = engine.blobs.root().to_path_buf();
    for (digest, size) in blob_files(&root).map_err(|source| MaintenanceError::Io {
        path: root.clone(),
        source,
    })? {
        if !referenced.contains_key(&digest) {
            report.unreferenced.insert(digest, size);
        }
    }
    Ok(report)
}

/// Every blob reference (`{"digest": "sha256:…", "size_bytes": …, "media_type": …}`, those
/// three fields exactly) inside a recorded event, however deep. Published files are listed
/// with a `name` beside the same fields: they live in the episode folder, not among the blobs.
fn collect_blob_refs(value: &Value, found: &mut BTreeMap<String, BlobRef>) {
    match value {
        Value::Object(fields) => {
            if fields.len() == 3
                && ["digest", "size_bytes", "media_type"]
                    .iter()
                    .all(|field| fields.contains_key(*field))
                && let Ok(blob) = serde_json::from_value::<BlobRef>(value.clone())
            {
                found.insert(blob.digest.clone(), blob);
                return;
            }
            fields
                .values()
                .for_each(|field| collect_blob_refs(field, found));
        }
        Value::Array(items) => items.iter().for_each(|item| collect_blob_refs(item, found)),
        _ => {}
    }
}

/// The blobs stored under `root` (`<2 hex>/<64 hex>`), by digest with their size; scratch files
/// and anything else are not blobs.
fn blob_files(root: &Path) -> std::io::Result<Vec<(String, u64)>> {
    let mut found = Vec::new();
    let shards = match std::fs::read_dir(root) {
        Ok(shards) => shards,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(error) => return Err(error),
    };
    for shard in shards {
        let shard = shard?;
        let name = shard.file_name().to_string_lossy().into_owned();
        if name.len() != 2 || !shard.file_type()?.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(shard.path())? {
            let file = file?;
            let hex_digits = file.file_name().to_string_lossy().into_owned();
            if hex_digits.len() == 64
                && hex_digits.starts_with(&name)
                && hex_digits.bytes().all(|byte| byte.is_ascii_hexdigit())
                && file.file_type()?.is_file()
            {
                found.push((format!("sha256:{hex_digits}"), file.metadata()?.len()));
            }
        }
    }
    found.sort();
    Ok(found)
}
