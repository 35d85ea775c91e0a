//! Keeping granted secrets out of what the host records: a plugin may echo its API key into an
//! error message (a provider that quotes the rejected header, a panic that prints the request),
//! and whatever the host keeps of a call ends up in the history, the logs and `host status`.
//! Every text the host takes from a plugin goes through [`Redactor::redact`] first.

/// Values shorter than this are not treated as secrets: a local server's placeholder key such
/// as `none`, `null` or `ollama` would otherwise be replaced inside every answer, and no real
/// credential is that short.
pub const MIN_SECRET_LENGTH: usize = 8;

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

    /// Text the host shows or logs (an error message, stderr): redacted, with control
    /// characters escaped.
    pub(crate) fn clean(&self, text: &str) -> String {
        pipeline_core::text::printable(&self.redact(text)).into_owned()
    }

    /// A JSON answer with granted values replaced inside its strings (keys and values) only,
    /// after parsing: replacing inside the raw text could break the JSON or rewrite its
    /// structure. Text that is not JSON is returned as it is, for the caller's check to refuse.
    pub(crate) fn redact_json(&self, text: &str) -> String {
        if self.secrets.is_empty() {
            return text.to_string();
        }
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(mut value) => {
                self.redact_value(&mut value);
                value.to_string()
            }
            Err(_) => text.to_string(),
        }
    }

    fn redact_value(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::String(text) => *text = self.redact(text),
            Value::Array(items) => items.iter_mut().for_each(|item| self.redact_value(item)),
            Value::Object(fields) => {
                *fields = std::mem::take(fields)
                    .into_iter()
                    .map(|(key, mut field)| {
                        self.redact_value(&mut field);
                        (self.redact(&key), field)
                    })
                    .collect();
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
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
        redactor.add("API_KEY", "sk-abc1234");
        redactor.add("LONG_KEY", "sk-abc123-and-more");
        redactor.add("SHORT", "ollama");
        assert_eq!(
            redactor.redact("bad key sk-abc123-and-more, then sk-abc1234; no change"),
            "bad key [redacted LONG_KEY], then [redacted API_KEY]; no change"
        );
        assert_eq!(redactor.redact("ollama stays"), "ollama stays");
        assert_eq!(redactor.redact("nothing secret"), "nothing secret");
    }

    #[test]
    fn json_answers_are_redacted_inside_strings_and_stay_json() {
        let mut redactor = Redactor::default();
        redactor.add("LOCAL_KEY", "null");
        redactor.add("API_KEY", "sk-long-secret-value");
        let answer =
            r#"{"title": null, "note": "key sk-long-secret-value", "sk-long-secret-value": 1}"#;
        let redacted: serde_json::Value =
            serde_json::from_str(&redactor.redact_json(answer)).unwrap();
        assert_eq!(
            redacted,
            serde_json::json!({"title": null, "note": "key [redacted API_KEY]", "[redacted API_KEY]": 1})
        );
        assert_eq!(redactor.redact_json("not { json"), "not { json");
    }

    #[test]
    fn shown_text_is_redacted_and_escaped() {
        let mut redactor = Redactor::default();
        redactor.add("API_KEY", "sk-long-secret-value");
        assert_eq!(
            redactor.clean("bad sk-long-secret-value\u{1b}]0;title\u{7}"),
            "bad [redacted API_KEY]\\u{1b}]0;title\\u{7}"
        );
    }
}
