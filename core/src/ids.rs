//! Identifiers that appear in histories and on the command line.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One run of a workflow, for example `podcast-20261121-k3x9qa`: the workflow's name, the
/// day it started and random letters, so ids read well in a terminal and never collide.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExecutionId(pub String);

/// A stage of a workflow definition, as written in its `id` field.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StageId(pub String);

/// One plugin call of an execution: the stage, its reset generation and, for a stage that
/// fans out, the item, for example `synthesis#0/3`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ActivityId(pub String);

impl ExecutionId {
    /// Builds an id from a workflow name, the start day (`YYYYMMDD`) and entropy from the
    /// caller, who owns randomness so that the engine stays deterministic.
    pub fn generate(workflow: &str, day: &str, entropy: u64) -> ExecutionId {
        const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
        let mut suffix = String::with_capacity(6);
        let mut rest = entropy;
        for _ in 0..6 {
            suffix.push(ALPHABET[(rest % ALPHABET.len() as u64) as usize] as char);
            rest /= ALPHABET.len() as u64;
        }
        let prefix: String = workflow
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        ExecutionId(format!("{prefix}-{day}-{suffix}"))
    }

    /// The longest id accepted.
    pub const MAX_LENGTH: usize = 128;

    /// Whether `text` can be an execution id: it names directories and log files and is typed
    /// in commands, so only letters, digits, `-`, `_` and `.` are allowed, at most
    /// [`MAX_LENGTH`](Self::MAX_LENGTH) of them, and it cannot start with a dot (hidden files)
    /// or a dash (it would read as an option).
    pub fn is_valid(text: &str) -> bool {
        !text.is_empty()
            && text.len() <= Self::MAX_LENGTH
            && !text.starts_with(['.', '-'])
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl ActivityId {
    pub fn new(stage: &StageId, generation: u32, item: Option<usize>) -> ActivityId {
        match item {
            Some(index) => ActivityId(format!("{}#{generation}/{index}", stage.0)),
            None => ActivityId(format!("{}#{generation}", stage.0)),
        }
    }
}

impl StageId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! display_as_inner {
    ($($name:ident),*) => {$(
        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(&self.0)
            }
        }
    )*};
}
display_as_inner!(ExecutionId, StageId, ActivityId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_readable_and_valid() {
        let id = ExecutionId::generate("My Podcast", "20261121", 123_456_789);
        assert!(id.0.starts_with("my-podcast-20261121-"), "{id}");
        assert!(ExecutionId::is_valid(&id.0));
        assert_ne!(
            id,
            ExecutionId::generate("My Podcast", "20261121", 987_654_321)
        );
    }

    #[test]
    fn ids_that_could_escape_a_directory_are_invalid() {
        for bad in ["", "../x", "a/b", ".hidden", "a b"] {
            assert!(!ExecutionId::is_valid(bad), "{bad}");
        }
    }
}
