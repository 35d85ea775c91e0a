//! Origins (`scheme://host[:port]`): what a plugin may be granted to reach over HTTP, written
//! in workflow files and the host's configuration. Parsed here so that `host validate` and the
//! host refuse exactly the same entries.

use std::fmt;

/// Where a plugin may send requests: a scheme (http or https), a host and a port. No path: a
/// grant covers the whole origin.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct Origin {
    https: bool,
    /// Lower case; IPv6 addresses keep their brackets.
    host: String,
    port: u16,
}

/// Why an allowed-host entry cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "allowed host `{entry}` {problem}; write it as `https://api.example.com` or \
     `http://127.0.0.1:8080` (scheme, host, optional port, no path)"
)]
pub struct InvalidOrigin {
    pub entry: String,
    pub problem: &'static str,
}

impl Origin {
    /// Parses a grant entry, `scheme://host[:port]`.
    pub fn parse(entry: &str) -> Result<Origin, InvalidOrigin> {
        let invalid = |problem| InvalidOrigin {
            entry: entry.to_string(),
            problem,
        };
        let (scheme, rest) = entry
            .split_once("://")
            .ok_or_else(|| invalid("has no scheme"))?;
        let https = match scheme.to_ascii_lowercase().as_str() {
            "https" => true,
            "http" => false,
            _ => return Err(invalid("must use http or https")),
        };
        if rest.contains(['/', '?', '#']) {
            return Err(invalid("must not have a path, query or fragment"));
        }
        if rest.contains('@') {
            return Err(invalid("must not carry a user name or password"));
        }
        let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
            let (address, after) = bracketed
                .split_once(']')
                .ok_or_else(|| invalid("has an unclosed IPv6 bracket"))?;
            (format!("[{address}]"), after.strip_prefix(':'))
        } else {
            match rest.rsplit_once(':') {
                Some((host, port)) => (host.to_string(), Some(port)),
                None => (rest.to_string(), None),
            }
        };
        let host_is_valid = !host.is_empty()
            && (host.starts_with('[')
                || host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')));
        if !host_is_valid {
            return Err(invalid("has no valid host name"));
        }
        let port = match port {
            None => default_port(https),
            Some(port) => port
                .parse::<u16>()
                .ok()
                .filter(|port| *port != 0)
                .ok_or_else(|| invalid("has a port that is not a number from 1 to 65535"))?,
        };
        Ok(Origin {
            https,
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// The origin of a full URL such as a configured base URL (`http://127.0.0.1:8080/v1`).
    pub fn of_url(url: &str) -> Result<Origin, InvalidOrigin> {
        let end = url
            .find("://")
            .map(|start| start + 3)
            .and_then(|authority| {
                url[authority..]
                    .find(['/', '?', '#'])
                    .map(|end| authority + end)
            })
            .unwrap_or(url.len());
        Origin::parse(&url[..end])
    }

    /// An origin from its parts; `host` is lower-cased.
    pub fn new(https: bool, host: &str, port: u16) -> Origin {
        Origin {
            https,
            host: host.to_ascii_lowercase(),
            port,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(formatter, "{scheme}://{}", self.host)?;
        if self.port != default_port(self.https) {
            write!(formatter, ":{}", self.port)?;
        }
        Ok(())
    }
}

impl TryFrom<String> for Origin {
    type Error = InvalidOrigin;

    fn try_from(entry: String) -> Result<Origin, InvalidOrigin> {
        Origin::parse(&entry)
    }
}

impl From<Origin> for String {
    fn from(origin: Origin) -> String {
        origin.to_string()
    }
}

/// The port of a scheme when none is written.
pub fn default_port(https: bool) -> u16 {
    if https { 443 } else { 80 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_entries_are_origins() {
        let origin = Origin::parse("HTTPS://API.OpenAI.com").unwrap();
        assert_eq!(origin.to_string(), "https://api.openai.com");
        assert_eq!(origin.port, 443);
        let local = Origin::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(local.to_string(), "http://127.0.0.1:8080");
        assert_eq!(
            Origin::parse("http://example.com:80").unwrap(),
            Origin::parse("http://example.com").unwrap()
        );
        assert_eq!(Origin::parse("http://[::1]:9000").unwrap().host, "[::1]");
    }

    #[test]
    fn malformed_entries_say_what_is_wrong() {
        for (entry, problem) in [
            ("api.openai.com", "has no scheme"),
            ("ftp://files.example.com", "must use http or https"),
            ("https://api.openai.com/v1", "must not have a path"),
            ("https://api.openai.com?x=1", "must not have a path"),
            ("https://user:secret@example.com", "user name"),
            ("https://", "no valid host"),
            ("https://exa mple.com", "no valid host"),
            ("http://localhost:port", "port"),
            ("http://localhost:0", "port"),
            ("http://localhost:70000", "port"),
        ] {
            let error = Origin::parse(entry).unwrap_err().to_string();
            assert!(error.contains(problem), "{entry}: {error}");
            assert!(error.contains(entry), "{error}");
        }
    }

    #[test]
    fn a_base_url_gives_its_origin() {
        assert_eq!(
            Origin::of_url("http://127.0.0.1:11434/v1").unwrap(),
            Origin::parse("http://127.0.0.1:11434").unwrap()
        );
        assert_eq!(
            Origin::of_url("https://api.example.com").unwrap(),
            Origin::parse("https://api.example.com").unwrap()
        );
    }
}
