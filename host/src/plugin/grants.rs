//! What a plugin is allowed to reach. A plugin gets nothing by default: no files, no network,
//! no environment; bounded memory and a deadline per call. Operators grant more per plugin in
//! `<data-dir>/config.toml`:
//!
//! ```toml
//! [plugins.my-llm]
//! memory_limit_mib = 512
//! call_timeout_secs = 300
//! env = ["OPENAI_API_KEY"]          # passed through from the host's environment
//! [[plugins.my-llm.directories]]
//! host = "/srv/voices"
//! guest = "/voices"
//! writable = false
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Memory a plugin may use unless configured otherwise.
pub const DEFAULT_MEMORY_LIMIT_MIB: u64 = 256;
/// Deadline of one call unless configured otherwise: long enough for a slow real provider,
/// short enough that a stuck plugin does not hold a stage for long.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(300);

/// The capabilities granted to one plugin.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PluginGrants {
    /// Cap on the plugin's linear memory, in MiB.
    #[serde(default = "default_memory_limit_mib")]
    pub memory_limit_mib: u64,
    /// Wall-clock deadline of one call, in seconds.
    #[serde(default = "default_call_timeout_secs")]
    pub call_timeout_secs: f64,
    /// Names of host environment variables the plugin may read (secrets such as API keys).
    /// Only the names are ever shown or logged.
    #[serde(default)]
    pub env: Vec<String>,
    /// Host directories visible inside the plugin.
    #[serde(default)]
    pub directories: Vec<DirectoryGrant>,
}

/// One host directory made visible to a plugin.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryGrant {
    /// The directory on the host.
    pub host: PathBuf,
    /// Where the plugin sees it, for example `/data`.
    pub guest: String,
    /// Whether the plugin may create and change files in it.
    #[serde(default)]
    pub writable: bool,
}

impl Default for PluginGrants {
    fn default() -> PluginGrants {
        PluginGrants {
            memory_limit_mib: DEFAULT_MEMORY_LIMIT_MIB,
            call_timeout_secs: DEFAULT_CALL_TIMEOUT.as_secs_f64(),
            env: Vec::new(),
            directories: Vec::new(),
        }
    }
}

impl PluginGrants {
    pub fn call_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.call_timeout_secs.max(0.0))
    }

    pub fn memory_limit_bytes(&self) -> usize {
        usize::try_from(self.memory_limit_mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
    }
}

/// The host configuration file, `<data-dir>/config.toml`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    /// Grants per plugin name.
    #[serde(default)]
    pub plugins: BTreeMap<String, PluginGrants>,
}

/// Why the configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl HostConfig {
    /// Reads the configuration file; a missing file means the defaults.
    pub fn load(path: &Path) -> Result<HostConfig, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(HostConfig::default());
            }
            Err(source) => {
                return Err(ConfigError::Unreadable {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        toml::from_str(&text).map_err(|error| ConfigError::Invalid {
            path: path.to_path_buf(),
            message: error.to_string().trim_end().to_string(),
        })
    }

    /// The grants of the named plugin: its own section, or nothing beyond the defaults.
    pub fn grants_for(&self, plugin: &str) -> PluginGrants {
        self.plugins.get(plugin).cloned().unwrap_or_default()
    }
}

fn default_memory_limit_mib() -> u64 {
    DEFAULT_MEMORY_LIMIT_MIB
}

fn default_call_timeout_secs() -> f64 {
    DEFAULT_CALL_TIMEOUT.as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_sections_mean_nothing_granted() {
        let config: HostConfig = toml::from_str("").unwrap();
        assert_eq!(config.grants_for("anything"), PluginGrants::default());
        assert!(config.grants_for("anything").env.is_empty());
        assert!(config.grants_for("anything").directories.is_empty());
    }

    #[test]
    fn grants_are_read_per_plugin() {
        let config: HostConfig = toml::from_str(
            r#"
            [plugins.reader]
            memory_limit_mib = 64
            env = ["API_KEY"]
            [[plugins.reader.directories]]
            host = "/srv"
            guest = "/data"
            "#,
        )
        .unwrap();
        let grants = config.grants_for("reader");
        assert_eq!(grants.memory_limit_mib, 64);
        assert_eq!(grants.env, ["API_KEY"]);
        assert_eq!(grants.directories[0].guest, "/data");
        assert!(!grants.directories[0].writable);
        assert_eq!(grants.call_timeout(), DEFAULT_CALL_TIMEOUT);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let error = toml::from_str::<HostConfig>("[plugins.x]\nnetwork = true\n").unwrap_err();
        assert!(error.to_string().contains("network"), "{error}");
    }
}
