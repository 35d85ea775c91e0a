//! Finding plugins: a reference is either a path to a `.wasm` file or a name, looked up first as
//! `<plugins-dir>/<name>.wasm` (so a dropped-in file overrides a built-in) and then among the
//! built-in mocks.

use std::collections::HashMap;
use std::ops::Deref;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use sha2::{Digest as _, Sha256};

use super::builtin::BUILTIN_PLUGINS;
use super::error::LoadError;

/// Where a plugin's bytes came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", content = "path", rename_all = "lowercase")]
pub enum PluginOrigin {
    /// Compiled into the host binary.
    Builtin,
    /// A component file on disk.
    File(PathBuf),
}

/// A plugin's component bytes with its name and content digest.
#[derive(Debug, Clone)]
pub struct PluginSource {
    /// The name the plugin is referred to by (file stem for files).
    pub name: String,
    pub origin: PluginOrigin,
    /// `sha256:<hex>` of the component bytes; recorded with every result the plugin produces.
    pub digest: String,
    pub bytes: PluginBytes,
}

/// A component's bytes: borrowed from the binary for built-ins (never copied), shared for
/// files read from disk.
#[derive(Debug, Clone)]
pub enum PluginBytes {
    Builtin(&'static [u8]),
    Loaded(Arc<[u8]>),
}

impl AsRef<[u8]> for PluginBytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl Deref for PluginBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            PluginBytes::Builtin(bytes) => bytes,
            PluginBytes::Loaded(bytes) => bytes,
        }
    }
}

/// Resolves plugin references against a plugins directory and the built-ins.
#[derive(Debug, Clone)]
pub struct Catalog {
    plugins_dir: PathBuf,
    files: FileCache,
}

/// Plugin files already read and hashed, by path, with the file identity they were read at.
/// Every call resolves its plugin again (so a replaced file is noticed), and reading and
/// hashing a component of several MiB on each call would cost more than the call itself.
#[derive(Debug, Clone, Default)]
struct FileCache(Arc<Mutex<HashMap<PathBuf, (FileIdentity, PluginSource)>>>);

/// What changes whenever a file's content can have changed: a rewrite moves the modification
/// and change times, a replacement by rename brings a new inode.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileIdentity {
    device: u64,
    inode: u64,
    size: u64,
    modified_ns: (i64, i64),
    changed_ns: (i64, i64),
}

impl FileIdentity {
    fn of(path: &Path) -> std::io::Result<FileIdentity> {
        let metadata = std::fs::metadata(path)?;
        Ok(FileIdentity {
            device: metadata.dev(),
            inode: metadata.ino(),
            size: metadata.size(),
            modified_ns: (metadata.mtime(), metadata.mtime_nsec()),
            changed_ns: (metadata.ctime(), metadata.ctime_nsec()),
        })
    }
}

impl FileCache {
    fn read(&self, path: &Path) -> Result<PluginSource, LoadError> {
        let unreadable = |source| LoadError::Unreadable {
            path: path.to_path_buf(),
            source,
        };
        let identity = FileIdentity::of(path).map_err(unreadable)?;
        if let Some((cached_identity, source)) = self.lock().get(path)
            && *cached_identity == identity
        {
            return Ok(source.clone());
        }
        let source = read_file(path)?;
        // Identity taken before the read: a write during the read leaves a stale identity, so
        // the next lookup reads the file again rather than trusting a torn read.
        self.lock()
            .insert(path.to_path_buf(), (identity, source.clone()));
        Ok(source)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, (FileIdentity, PluginSource)>> {
        // Poisoning is safe to ignore: entries are inserted whole.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Catalog {
    pub fn new(plugins_dir: PathBuf) -> Catalog {
        Catalog {
            plugins_dir,
            files: FileCache::default(),
        }
    }

    /// Finds a plugin by name or path. Anything containing a path separator or ending in
    /// `.wasm` is a path; everything else is a name.
    pub fn resolve(&self, reference: &str) -> Result<PluginSource, LoadError> {
        if reference.contains(std::path::MAIN_SEPARATOR) || reference.ends_with(".wasm") {
            return self.files.read(Path::new(reference));
        }
        let candidate = self.plugins_dir.join(format!("{reference}.wasm"));
        if candidate.is_file() {
            return self.files.read(&candidate);
        }
        builtin_sources()
            .iter()
            .find(|source| source.name == reference)
            .cloned()
            .ok_or_else(|| LoadError::NotFound {
                name: reference.to_string(),
                searched: candidate,
            })
    }

    /// Whether a plugin of this name exists, as a file in the plugins directory or built in,
    /// without reading it.
    pub fn knows(&self, name: &str) -> bool {
        self.plugins_dir.join(format!("{name}.wasm")).is_file()
            || BUILTIN_PLUGINS.iter().any(|(builtin, _)| *builtin == name)
    }

    /// Every plugin available by name: files in the plugins directory, then the built-ins that no
    /// file overrides, sorted by name.
    pub fn list(&self) -> Result<Vec<PluginSource>, LoadError> {
        let mut sources = Vec::new();
        match std::fs::read_dir(&self.plugins_dir) {
            Ok(entries) => {
                for entry in entries {
                    let path = entry
                        .map_err(|source| LoadError::Unreadable {
                            path: self.plugins_dir.clone(),
                            source,
                        })?
                        .path();
                    if path
                        .extension()
                        .is_some_and(|extension| extension == "wasm")
                    {
                        sources.push(self.files.read(&path)?);
                    }
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(LoadError::Unreadable {
                    path: self.plugins_dir.clone(),
                    source,
                });
            }
        }
        for builtin in builtin_sources() {
            if !sources.iter().any(|source| source.name == builtin.name) {
                sources.push(builtin.clone());
            }
        }
        sources.sort_by(|left, right| left.name.cmp(&right.name));
        Ok(sources)
    }
}

fn read_file(path: &Path) -> Result<PluginSource, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let name = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    Ok(source_from_bytes(
        &name,
        PluginOrigin::File(path.to_path_buf()),
        PluginBytes::Loaded(Arc::from(bytes)),
    ))
}

/// The built-in plugins with their digests, hashed once per process rather than on every
/// lookup (each is several MiB).
fn builtin_sources() -> &'static [PluginSource] {
    static SOURCES: OnceLock<Vec<PluginSource>> = OnceLock::new();
    SOURCES.get_or_init(|| {
        BUILTIN_PLUGINS
            .iter()
            .map(|(name, bytes)| {
                source_from_bytes(name, PluginOrigin::Builtin, PluginBytes::Builtin(bytes))
            })
            .collect()
    })
}

fn source_from_bytes(name: &str, origin: PluginOrigin, bytes: PluginBytes) -> PluginSource {
    PluginSource {
        name: name.to_string(),
        origin,
        digest: format!("sha256:{}", hex::encode(Sha256::digest(&bytes))),
        bytes,
    }
}
