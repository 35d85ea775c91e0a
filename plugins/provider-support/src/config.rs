//! Configuration from the environment variables the host grants a plugin. A plugin sees only
//! the variables granted to it, so a missing key is reported by name with how to grant it; the
//! value of a secret never appears in any message.

use crate::error;
use crate::types::{ErrorKind, ProviderError};

/// Where configuration comes from: the process environment inside the sandbox, a map in tests.
pub trait Environment {
    /// The variable's value, if it is set and not empty.
    fn get(&self, name: &str) -> Option<String>;
}

/// The environment the host gave the plugin.
pub struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name)
            .ok()
            .filter(|value| !value.trim().is_empty())
    }
}

/// Fixed variables, for tests.
pub struct Variables<'a>(pub &'a [(&'a str, &'a str)]);

impl Environment for Variables<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_string())
    }
}

/// A required secret, or an `unauthorized` error naming the variable.
pub fn required_secret(environment: &dyn Environment, name: &str) -> Result<String, ProviderError> {
    environment.get(name).ok_or_else(|| {
        error::permanent(
            ErrorKind::Unauthorized,
            format!("{name} is not set: set it in the host's environment and grant it to the plugin (`env = [\"{name}\"]` in config.toml)"),
        )
    })
}

/// A base URL from `name`, or `default`, without a trailing slash so paths can be appended.
pub fn base_url(environment: &dyn Environment, name: &str, default: &str) -> String {
    environment
        .get(name)
        .unwrap_or_else(|| default.to_string())
        .trim()
        .trim_end_matches('/')
        .to_string()
}

/// A setting with a default.
pub fn setting(environment: &dyn Environment, name: &str, default: &str) -> String {
    environment
        .get(name)
        .map(|value| value.trim().to_string())
        .unwrap_or_else(|| default.to_string())
}

/// OpenAI's own API, where the OpenAI-compatible plugins go unless `OPENAI_BASE_URL` says else.
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

/// Where an OpenAI-compatible API is and the key for it, shared by every OpenAI plugin.
pub struct OpenAiEndpoint {
    pub base_url: String,
    pub api_key: Option<String>,
}

impl OpenAiEndpoint {
    /// `OPENAI_BASE_URL` (OpenAI itself by default) and `OPENAI_API_KEY`, which OpenAI itself
    /// requires and a local server (Ollama, llama.cpp, vLLM) usually does not.
    pub fn from_environment(
        environment: &dyn Environment,
    ) -> Result<OpenAiEndpoint, ProviderError> {
        let base_url = base_url(environment, "OPENAI_BASE_URL", OPENAI_BASE_URL);
        let api_key = if base_url == OPENAI_BASE_URL {
            Some(required_secret(environment, "OPENAI_API_KEY")?)
        } else {
            environment.get("OPENAI_API_KEY")
        };
        Ok(OpenAiEndpoint { base_url, api_key })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_secret_is_named_without_a_value() {
        let environment = &Variables(&[("OPENAI_BASE_URL", "http://127.0.0.1:9/v1/")]);
        let error = required_secret(environment, "OPENAI_API_KEY").unwrap_err();
        assert_eq!(error.kind, ErrorKind::Unauthorized);
        assert!(error.message.contains("OPENAI_API_KEY"));
        assert_eq!(
            base_url(environment, "OPENAI_BASE_URL", "https://api.openai.com/v1"),
            "http://127.0.0.1:9/v1"
        );
        assert_eq!(
            base_url(
                &Variables(&[]),
                "OPENAI_BASE_URL",
                "https://api.openai.com/v1"
            ),
            "https://api.openai.com/v1"
        );
        assert_eq!(
            setting(environment, "OPENAI_LLM_MODEL", "gpt-4o-mini"),
            "gpt-4o-mini"
        );
    }
}
