//! Where the host keeps what it stores. Everything lives under one data directory
//! (`--data-dir`, `HOST_DATA_DIR`, default `./data`), so one flag moves or isolates a whole
//! installation.

use std::path::PathBuf;

use crate::plugin::{ConfigError, HostConfig, InstanceAllocation, PluginHostSettings};

/// The layout of a data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
    plugins_dir: PathBuf,
}

impl DataDir {
    /// A data directory at `root`, with plugins in `plugins_dir` or else `<root>/plugins`.
    pub fn new(root: PathBuf, plugins_dir: Option<PathBuf>) -> DataDir {
        let plugins_dir = plugins_dir.unwrap_or_else(|| root.join("plugins"));
        DataDir { root, plugins_dir }
    }

    /// The data directory itself.
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }

    /// Where plugins are dropped in.
    pub fn plugins_dir(&self) -> &std::path::Path {
        &self.plugins_dir
    }

    /// The host configuration file (plugin grants).
    pub fn config_file(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    /// The history database.
    pub fn history_file(&self) -> PathBuf {
        self.root.join("history.db")
    }

    /// Content-addressed results (audio, images).
    pub fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs")
    }

    /// Finished episodes, one directory per execution.
    pub fn episodes_dir(&self) -> PathBuf {
        self.root.join("episodes")
    }

    /// One log file per execution.
    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// Compiled plugin code, reusable across runs.
    pub fn compile_cache_dir(&self) -> PathBuf {
        self.root.join("cache").join("compiled")
    }

    /// The key `host serve` signs sessions and approval links with.
    pub fn server_key_file(&self) -> PathBuf {
        self.root.join("server.key")
    }

    /// Where outlines waiting for approval are saved for editing.
    pub fn pending_dir(&self) -> PathBuf {
        self.root.join("pending")
    }

    /// Reads the configuration and assembles the plugin host settings for this directory.
    pub fn plugin_host_settings(&self) -> Result<PluginHostSettings, ConfigError> {
        let config = HostConfig::load(&self.config_file())?;
        Ok(PluginHostSettings {
            plugins_dir: self.plugins_dir.clone(),
            compile_cache_dir: Some(self.compile_cache_dir()),
            allocation: InstanceAllocation::pooling_for(&config),
            config,
        })
    }
}

/// How [`open_private`] treats what the file already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    Append,
    Replace,
}

/// Opens a file the host writes into its data directory (an execution's log, a pending
/// outline) for writing, creating it readable by its owner only. A symlink in its place is
/// refused rather than followed, so a link planted in the data directory cannot make the host
/// overwrite a file elsewhere.
pub fn open_private(path: &std::path::Path, existing: Existing) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut options = std::fs::OpenOptions::new();
    options
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW);
    match existing {
        Existing::Append => options.append(true),
        Existing::Replace => options.write(true).truncate(true),
    };
    options.open(path).map_err(|error| {
        if error.raw_os_error() == Some(libc::ELOOP) {
            std::io::Error::other(format!(
                "{} is a symlink; the host does not write through links in its data directory (remove it)",
                path.display()
            ))
        } else {
            error
        }
    })
}
