//! Keeping granted secrets out of what the host records: a plugin may echo its API key into an
//! error message (a provider that quotes the rejected header, a panic that prints the request),
//! and whatever the host keeps of a call ends up in the history, the logs and `host status`.
//! Every text the host takes from a plugin goes through [`Redactor::redact`] first.

/// Values shorter than this are not treated as secrets: replacing every occurrence of, say,
/// `1` would mangle ordinary text, and no credential is that short.
const MIN_SECRET_LENGTH: usize = 4;

/// The values of the environment variables granted to one call, by variable name.
#[derive(Debug, Default, Clone)]
pub(crate) struct Redactor {
    /// Longest value first, so a secret containing another is replaced whole.
    secrets: Vec<(String, String)>,
}

impl Redactor {
    /// Remembers that `value` was passed to the plugin as `name`.
    pub(crate) fn add(&mut self, name: &str, value: &str) {
        if value.len() < MIN_SECRET_LENGTH {
            return;
        }
        self.secrets.push((name.to_string(), value.to_string()));
        self.secrets
            .sort_by_key(|(_, value)| std::cmp::Reverse(value.len()));
    }

    /// `text` with every granted value replaced by `[redacted NAME]`.
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut redacted = text.to_string();
        for (name, value) in &self.secrets {
            if redacted.contains(value.as_str()) {
                redacted = redacted.replace(value.as_str(), &format!("[redacted {name}]"));
            }
        }
        redacted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn granted_values_are_replaced_by_their_names() {
        let mut redactor = Redactor::default();
        redactor.add("API_KEY", "sk-abc123");
        redactor.add("LONG_KEY", "sk-abc123-and-more");
        redactor.add("SHORT", "no");
        assert_eq!(
            redactor.redact("bad key sk-abc123-and-more, then sk-abc123; no change"),
            "bad key [redacted LONG_KEY], then [redacted API_KEY]; no change"
        );
        assert_eq!(redactor.redact("nothing secret"), "nothing secret");
    }
}
