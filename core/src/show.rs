//! Show blueprints (`workflows/shows/<show>.toml`): who makes the show and for whom. Loaded when
//! an episode starts, recorded in its history, and given to every LLM stage's prompt.

use serde::{Deserialize, Serialize};

/// A show, as its blueprint file describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShowBlueprint {
    pub name: String,
    pub premise: String,
    pub audience: String,
    pub tone: String,
    pub hosts: Vec<ShowHost>,
}

/// One voice of the show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShowHost {
    pub name: String,
    pub personality: String,
    /// A voice id of the TTS provider.
    pub voice: String,
}

/// Why a blueprint could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ShowError {
    #[error("show blueprint cannot be read: {0}")]
    Unreadable(#[from] crate::files::FileError),
    #[error("show blueprint {path}: {message}")]
    Invalid { path: String, message: String },
}

impl ShowBlueprint {
    /// Parses a blueprint's text; `path` names it in messages.
    pub fn parse(path: &str, text: &str) -> Result<ShowBlueprint, ShowError> {
        let invalid = |message: String| ShowError::Invalid {
            path: path.to_string(),
            message,
        };
        let show: ShowBlueprint = toml::from_str(text)
            .map_err(|error| invalid(error.to_string().trim_end().to_string()))?;
        if show.hosts.is_empty() {
            return Err(invalid(
                "a show needs at least one host in [[hosts]]".to_string(),
            ));
        }
        for (index, host) in show.hosts.iter().enumerate() {
            if show.hosts[..index]
                .iter()
                .any(|earlier| earlier.name == host.name)
            {
                return Err(invalid(format!("host name `{}` appears twice", host.name)));
            }
        }
        Ok(show)
    }

    /// Reads and parses the blueprint `shows/<slug>.toml` of the workflow folder `folder`,
    /// which it must not leave (a symlink to a file elsewhere is refused).
    pub fn load(folder: &std::path::Path, slug: &str) -> Result<ShowBlueprint, ShowError> {
        use crate::files::{inside_folder, limits, read_text};
        let relative = format!("shows/{slug}.toml");
        let path = inside_folder(folder, &relative)?;
        let text = read_text(&path, limits::WORKFLOW_FILE_BYTES)?;
        ShowBlueprint::parse(&folder.join(&relative).display().to_string(), &text)
    }

    /// What templates see as `show`: the blueprint plus the concepts earlier episodes covered.
    pub fn context(
        &self,
        slug: &str,
        covered_concepts: &[String],
        episodes: usize,
    ) -> serde_json::Value {
        let mut value = serde_json::to_value(self).expect("a blueprint is plain data");
        value["slug"] = slug.into();
        value["covered_concepts"] = covered_concepts.into();
        value["episodes_so_far"] = episodes.into();
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_show_without_hosts_or_with_twins() {
        let base = "name = \"S\"\npremise = \"p\"\naudience = \"a\"\ntone = \"t\"\n";
        assert!(ShowBlueprint::parse("s.toml", &format!("{base}hosts = []")).is_err());
        let twins = format!(
            "{base}[[hosts]]\nname = \"A\"\npersonality = \"x\"\nvoice = \"v\"\n[[hosts]]\nname = \"A\"\npersonality = \"y\"\nvoice = \"w\"\n"
        );
        let error = ShowBlueprint::parse("s.toml", &twins).unwrap_err();
        assert!(error.to_string().contains("appears twice"), "{error}");
    }
}
