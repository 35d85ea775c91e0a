//! Finding plugins: a reference is either a path to a `.wasm` file or a name, looked up first as
//! `<plugins-dir>/<name>.wasm` (so a dropped-in file overrides a built-in) and then among the
//! built-in mocks.

use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    pub bytes: Arc<[u8]>,
}

/// Resolves plugin references against a plugins directory and the built-ins.
#[derive(Debug, Clone)]
pub struct Catalog {
    plugins_dir: PathBuf,
}

impl Catalog {
    pub fn new(plugins_dir: PathBuf) -> Catalog {
        Catalog { plugins_dir }
    }

    pub fn plugins_dir(&self) -> &Path {
        &self.plugins_dir
    }

    /// Finds a plugin by name or path. Anything containing a path separator or ending in
    /// `.wasm` is a path; everything else is a name.
    pub fn resolve(&self, reference: &str) -> Result<PluginSource, LoadError> {
        if reference.contains(std::path::MAIN_SEPARATOR) || reference.ends_with(".wasm") {
            return read_file(Path::new(reference));
        }
        let candidate = self.plugins_dir.join(format!("{reference}.wasm"));
        if candidate.is_file() {
            return read_file(&candidate);
        }
        BUILTIN_PLUGINS
            .iter()
            .find(|(name, _)| *name == reference)
            .map(|(name, bytes)| source_from_bytes(name, PluginOrigin::Builtin, Arc::from(*bytes)))
            .ok_or_else(|| LoadError::NotFound {
                name: reference.to_string(),
                searched: candidate,
            })
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
                        sources.push(read_file(&path)?);
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
        for (name, bytes) in BUILTIN_PLUGINS {
            if !sources.iter().any(|source| source.name == *name) {
                sources.push(source_from_bytes(
                    name,
                    PluginOrigin::Builtin,
                    Arc::from(*bytes),
                ));
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
        Arc::from(bytes),
    ))
}

fn source_from_bytes(name: &str, origin: PluginOrigin, bytes: Arc<[u8]>) -> PluginSource {
    PluginSource {
        name: name.to_string(),
        origin,
        digest: format!("sha256:{}", hex::encode(Sha256::digest(&bytes))),
        bytes,
    }
}
