//! On-disk cache of compiled components, so only the first run pays for Cranelift.
//!
//! Entries are keyed by the component's content digest and by the engine's compatibility hash
//! (wasmtime version, target and every setting that changes generated code), so a different
//! engine configuration never loads stale machine code. We keep our own small cache instead of
//! wasmtime's `Config::cache`: it needs no cache configuration file or background worker, it
//! lives under `--data-dir` with everything else, and each entry carries a checksum that is
//! verified before loading, because deserializing tampered machine code would be unsound.

use std::hash::{Hash as _, Hasher as _};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::error::LoadError;

/// Whether a component came from the cache or had to be compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheOutcome {
    Hit,
    Compiled,
}

/// A directory of compiled components for one engine configuration.
#[derive(Debug, Clone)]
pub struct CompileCache {
    directory: PathBuf,
    engine_key: String,
}

const CHECKSUM_LENGTH: usize = 32;

impl CompileCache {
    pub fn new(directory: PathBuf, engine: &Engine) -> CompileCache {
        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        CompileCache {
            directory,
            engine_key: format!("{:016x}", hasher.finish()),
        }
    }

    /// Loads the compiled form of `bytes` from the cache, or compiles and stores it, calling
    /// `before_compiling` first. A corrupt or unreadable entry is replaced rather than trusted.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        plugin: &str,
        digest: &str,
        bytes: &[u8],
        before_compiling: impl FnOnce(),
    ) -> Result<(Component, CacheOutcome), LoadError> {
        let path = self.entry_path(digest);
        if let Some(component) = self.load_entry(engine, &path) {
            return Ok((component, CacheOutcome::Hit));
        }
        before_compiling();
        let component =
            Component::new(engine, bytes).map_err(|error| LoadError::NotAComponent {
                plugin: plugin.to_string(),
                reason: format!("{error:#}"),
            })?;
        let compiled = component
            .serialize()
            .map_err(|error| LoadError::Engine(format!("serializing {plugin}: {error:#}")))?;
        self.store_entry(&path, &compiled)?;
        Ok((component, CacheOutcome::Compiled))
    }

    fn entry_path(&self, digest: &str) -> PathBuf {
        let digest = digest.trim_start_matches("sha256:");
        self.directory
            .join(format!("{digest}-{}.cwasm", self.engine_key))
    }

    fn load_entry(&self, engine: &Engine, path: &Path) -> Option<Component> {
        let stored = std::fs::read(path).ok()?;
        if stored.len() < CHECKSUM_LENGTH {
            return None;
        }
        let (checksum, compiled) = stored.split_at(CHECKSUM_LENGTH);
        if Sha256::digest(compiled).as_slice() != checksum {
            tracing::warn!(path = %path.display(), "compiled plugin cache entry is corrupt; recompiling");
            return None;
        }
        // SAFETY: the bytes were produced by `Component::serialize` of an engine with the same
        // compatibility hash (it is part of the file name) and the checksum proves they were not
        // altered since; wasmtime also checks its own header before using them.
        match unsafe { Component::deserialize(engine, compiled) } {
            Ok(component) => Some(component),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "unusable compiled plugin cache entry; recompiling");
                None
            }
        }
    }

    /// Writes the entry to a temporary file and renames it into place, so a crash or a
    /// concurrent host never leaves a half-written entry under the final name.
    fn store_entry(&self, path: &Path, compiled: &[u8]) -> Result<(), LoadError> {
        let cache_error = |source| LoadError::Cache {
            path: self.directory.clone(),
            source,
        };
        std::fs::create_dir_all(&self.directory).map_err(cache_error)?;
        let mut temporary =
            tempfile::NamedTempFile::new_in(&self.directory).map_err(cache_error)?;
        temporary
            .write_all(&Sha256::digest(compiled))
            .and_then(|()| temporary.write_all(compiled))
            .map_err(cache_error)?;
        temporary
            .persist(path)
            .map_err(|error| cache_error(error.error))?;
        Ok(())
    }
}
