//! What a plugin is allowed to reach. A plugin gets nothing by default: no files, no network,
//! no environment; bounded memory and a deadline per call. Operators grant more per plugin in
//! `<data-dir>/config.toml`:
//!
//! ```toml
//! [plugins.my-llm]
//! memory_limit_mib = 512
//! call_timeout_secs = 300
//! env = ["OPENAI_API_KEY"]          # passed through from the host's environment
//! env_if_set = ["OPENAI_ORG_KEY"]   # the same, skipped when not set
//! settings = ["OPENAI_BASE_URL"]    # passed when set; not secret, so never redacted
//! allowed_hosts = ["https://api.openai.com", "http://127.0.0.1:8080"]
//! [[plugins.my-llm.directories]]
//! host = "/srv/voices"
//! guest = "/voices"
//! writable = false
//! ```
//!
//! `allowed_hosts` entries are origins, `scheme://host[:port]` (http or https, default ports
//! 80 and 443, no path): a plugin may send HTTP requests to exactly those, and every other
//! request is refused and fails the call permanently. wasi-http is in the host's one linker, so
//! a plugin importing it is pre-instantiated like any other and can be granted hosts later by a
//! workflow; a plugin granted no host loads and runs, and the request hook refuses each of its
//! requests (as any request to an origin not granted), naming the origin and how to grant it.
//!
//! Variables in `env` and `env_if_set` (and a workflow's `secrets`) are secrets: a value
//! reaches only this plugin, and any text the host keeps from the plugin (errors, answers,
//! stderr) has it replaced by `[redacted NAME]`. `settings` are passed the same way but not
//! redacted: scrubbing a model name, a flag such as `true` or a sample rate from every answer
//! would corrupt the answers and hide nothing.
//!
//! The built-in real providers need no section: [`HostConfig::grants_for`] gives `openai-llm`,
//! `openai-tts` and `openai-image` every set `OPENAI_*` variable and `https://api.openai.com`
//! plus the origin of `$OPENAI_BASE_URL`, and `elevenlabs-tts` every set `ELEVENLABS_*`
//! variable and `https://api.elevenlabs.io` plus the origin of `$ELEVENLABS_BASE_URL`, and
//! `piper-tts` every `PIPER_*` variable and `http://127.0.0.1:5000` plus `$PIPER_BASE_URL` (each
//! declared once, in the crate's `[package.metadata.host-grants]`). Of
//! those variables, names ending in `_KEY`, `_TOKEN`, `_SECRET` or `_PASSWORD` are secrets and
//! the rest settings. A section for one of them overrides its limits and adds to its variables
//! and hosts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pipeline_core::files::{FileError, limits, read_text};
use pipeline_core::workflow::looks_like_secret;

use super::builtin::PROVIDER_DEFAULTS;

pub use super::network::{InvalidOrigin, Origin};

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
    /// Only the names are ever shown or logged. Written `secrets`, as workflows name the same
    /// grant, or `env`.
    #[serde(default, alias = "secrets")]
    pub env: Vec<String>,
    /// Like `env`, but a variable that is not set is skipped instead of failing the call (a
    /// base URL with a built-in default, a model override).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_if_set: Vec<String>,
    /// Variables passed when set that are not secrets (base URLs, models, options), so their
    /// values are not redacted from what the plugin returns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settings: Vec<String>,
    /// Origins (`scheme://host[:port]`) the plugin may send HTTP requests to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<Origin>,
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
            env_if_set: Vec::new(),
            settings: Vec::new(),
            allowed_hosts: Vec::new(),
            directories: Vec::new(),
        }
    }
}

impl PluginGrants {
    /// What a plugin importing `import` (for example `wasi:http/outgoing-handler@0.2.6`) gets
    /// from the host under these grants, in words, for `plugins inspect`: an import says what a
    /// component could ask for, the grants say what it is given.
    pub fn access_for(&self, import: &str) -> String {
        let interface = import.split('@').next().unwrap_or(import);
        let listed = |items: Vec<String>| items.join(", ");
        match interface {
            _ if interface.starts_with("wasi:http/") => {
                if self.allowed_hosts.is_empty() {
                    "no host granted: every request is refused".to_string()
                } else {
                    let hosts = self.allowed_hosts.iter().map(ToString::to_string).collect();
                    format!("requests to {} only", listed(hosts))
                }
            }
            _ if interface.starts_with("wasi:filesystem/") => {
                if self.directories.is_empty() {
                    "no directory granted: an empty filesystem".to_string()
                } else {
                    let directories = self
                        .directories
                        .iter()
                        .map(|directory| {
                            let mode = if directory.writable { "rw" } else { "ro" };
                            format!("{} ({mode})", directory.guest)
                        })
                        .collect();
                    format!("the granted directories {} only", listed(directories))
                }
            }
            "wasi:cli/environment" => {
                let names: Vec<String> = [&self.env, &self.env_if_set, &self.settings]
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect();
                if names.is_empty() {
                    "no variables".to_string()
                } else {
                    format!("the granted variables {} only", listed(names))
                }
            }
            _ if interface.starts_with("wasi:sockets/") => {
                "disabled: TCP, UDP and name lookups are refused".to_string()
            }
            "wasi:cli/stdin" => "closed".to_string(),
            "wasi:cli/stdout" => "discarded".to_string(),
            "wasi:cli/stderr" => "captured; its last lines explain a crash".to_string(),
            _ if interface.starts_with("wasi:clocks/") || interface.starts_with("wasi:random/") => {
                "provided".to_string()
            }
            _ if interface.starts_with("wasi:") => "provided (WASI 0.2)".to_string(),
            _ if interface.starts_with("pipeline:services/") => {
                "provided by the host (shared types, the mixer's audio streams)".to_string()
            }
            _ => "not provided by the host: the plugin cannot be linked".to_string(),
        }
    }

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
    /// `host serve`'s settings.
    #[serde(default)]
    pub server: crate::server::ServerSection,
    /// Notifications `host serve` sends.
    #[serde(default)]
    pub webhooks: Vec<crate::server::WebhookConfig>,
    /// Flow control per plugin name, shared by every execution a process drives.
    #[serde(default)]
    pub limits: BTreeMap<String, crate::engine::FlowLimits>,
}

/// Why the configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file: {0}")]
    Unreadable(FileError),
    #[error("invalid configuration file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl HostConfig {
    /// Reads the configuration file; a missing file means the defaults.
    pub fn load(path: &Path) -> Result<HostConfig, ConfigError> {
        let text = match read_text(path, limits::WORKFLOW_FILE_BYTES) {
            Ok(text) => text,
            Err(FileError::Unreadable { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                return Ok(HostConfig::default());
            }
            Err(error) => return Err(ConfigError::Unreadable(error)),
        };
        let config: HostConfig = toml::from_str(&text).map_err(|error| ConfigError::Invalid {
            path: path.to_path_buf(),
            message: error.to_string().trim_end().to_string(),
        })?;
        for (plugin, limits) in &config.limits {
            limits.check().map_err(|problem| ConfigError::Invalid {
                path: path.to_path_buf(),
                message: format!("[limits.{plugin}]: {problem}"),
            })?;
        }
        Ok(config)
    }

    /// The grants of the named plugin: its own section, or nothing beyond the defaults; for a
    /// built-in real provider, its provider's variables and hosts on top (read from the
    /// environment now).
    pub fn grants_for(&self, plugin: &str) -> PluginGrants {
        let section = self.plugins.get(plugin).cloned();
        match provider_defaults(plugin, &environment()) {
            Some(defaults) => section.unwrap_or_default().extended_by(defaults),
            None => section.unwrap_or_default(),
        }
    }
}

/// What a built-in real provider gets with no configuration: every set variable of its
/// provider's prefix (so new model or option variables need no host change), the provider's
/// API, and the origin of `<PREFIX>BASE_URL` when it is set (a local or compatible server).
fn provider_defaults(plugin: &str, environment: &[(String, String)]) -> Option<PluginGrants> {
    let (_, prefix, api) = PROVIDER_DEFAULTS
        .iter()
        .find(|(name, _, _)| *name == plugin)?;
    let mut names: Vec<&String> = environment
        .iter()
        .map(|(name, _)| name)
        .filter(|name| name.starts_with(prefix))
        .collect();
    names.sort();
    let (secrets, settings): (Vec<&String>, Vec<&String>) =
        names.into_iter().partition(|name| looks_like_secret(name));
    let mut allowed_hosts = vec![Origin::parse(api).expect("built-in API origins are valid")];
    let base_url = format!("{prefix}BASE_URL");
    // A malformed base URL grants nothing; the plugin's request to it is then refused with a
    // message naming the origin it tried.
    let base_origin = environment
        .iter()
        .find(|(name, _)| *name == base_url)
        .and_then(|(_, url)| Origin::of_url(url.trim()).ok());
    if let Some(origin) = base_origin
        && !allowed_hosts.contains(&origin)
    {
        allowed_hosts.push(origin);
    }
    Some(PluginGrants {
        env_if_set: secrets.into_iter().cloned().collect(),
        settings: settings.into_iter().cloned().collect(),
        allowed_hosts,
        ..PluginGrants::default()
    })
}

/// The host's environment variables that are valid UTF-8 (the only ones a grant can name).
fn environment() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
        .collect()
}

impl PluginGrants {
    /// Whether any of the variable lists names `variable`.
    fn names(&self, variable: &str) -> bool {
        [&self.env, &self.env_if_set, &self.settings]
            .iter()
            .any(|names| names.iter().any(|name| name == variable))
    }

    /// These grants with `more`'s variables and hosts added (limits and directories stay). A
    /// variable this section already names keeps its place (a setting made a secret stays one).
    fn extended_by(mut self, more: PluginGrants) -> PluginGrants {
        for name in more.env.into_iter().chain(more.env_if_set) {
            if !self.names(&name) {
                self.env_if_set.push(name);
            }
        }
        for name in more.settings {
            if !self.names(&name) {
                self.settings.push(name);
            }
        }
        for origin in more.allowed_hosts {
            if !self.allowed_hosts.contains(&origin) {
                self.allowed_hosts.push(origin);
            }
        }
        self
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
    fn allowed_hosts_are_origins_checked_when_read() {
        let config: HostConfig = toml::from_str(
            "[plugins.net]\nallowed_hosts = [\"https://api.example.com\", \"http://127.0.0.1:8080\"]\n",
        )
        .unwrap();
        let hosts: Vec<String> = config
            .grants_for("net")
            .allowed_hosts
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(hosts, ["https://api.example.com", "http://127.0.0.1:8080"]);
        let error = toml::from_str::<HostConfig>(
            "[plugins.net]\nallowed_hosts = [\"https://api.example.com/v1\"]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("must not have a path"), "{error}");
        assert!(error.contains("https://api.example.com/v1"), "{error}");
    }

    #[test]
    fn built_in_providers_get_their_variables_and_hosts() {
        let environment = [
            ("OPENAI_API_KEY", "sk-test"),
            ("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1"),
            ("ELEVENLABS_API_KEY", "el-test"),
            ("HOME", "/root"),
        ]
        .map(|(name, value)| (name.to_string(), value.to_string()));
        let openai = provider_defaults("openai-llm", &environment).unwrap();
        assert_eq!(openai.env_if_set, ["OPENAI_API_KEY"]);
        assert_eq!(openai.settings, ["OPENAI_BASE_URL"]);
        let hosts: Vec<String> = openai
            .allowed_hosts
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(hosts, ["https://api.openai.com", "http://127.0.0.1:11434"]);
        let eleven = provider_defaults("elevenlabs-tts", &environment).unwrap();
        assert_eq!(eleven.env_if_set, ["ELEVENLABS_API_KEY"]);
        assert_eq!(
            eleven.allowed_hosts[0].to_string(),
            "https://api.elevenlabs.io"
        );
        assert!(provider_defaults("mock-llm", &environment).is_none());

        // A section keeps its limits and adds to the provider's variables and hosts.
        let config: HostConfig = toml::from_str(
            "[plugins.openai-llm]\ncall_timeout_secs = 30\nenv = [\"OPENAI_API_KEY\"]\nallowed_hosts = [\"http://10.0.0.2:8000\"]\n",
        )
        .unwrap();
        let grants = config.plugins["openai-llm"].clone().extended_by(openai);
        assert_eq!(grants.call_timeout(), Duration::from_secs(30));
        assert_eq!(grants.env, ["OPENAI_API_KEY"]);
        assert!(grants.env_if_set.is_empty());
        assert_eq!(grants.settings, ["OPENAI_BASE_URL"]);
        assert_eq!(grants.allowed_hosts.len(), 3);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let error = toml::from_str::<HostConfig>("[plugins.x]\nnetwork = true\n").unwrap_err();
        assert!(error.to_string().contains("network"), "{error}");
    }
}
