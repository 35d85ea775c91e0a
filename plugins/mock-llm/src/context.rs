//! What the conversation tells the mock: topic, hosts, an outline to follow, concepts to avoid
//! and whether it is asked to revise or enhance an earlier draft.

use serde_json::{Map, Value};

use crate::embedded::{find_with_key, split_message};
use crate::request::{Message, Role};

/// Used when no message names a topic at all.
const FALLBACK_TOPIC: &str = "everyday curiosities";
/// Longest topic taken from the first sentence of a request, in characters.
const MAX_TOPIC_CHARS: usize = 80;

/// A voice in the conversation: a podcast host or a story character.
#[derive(Clone, Debug, PartialEq)]
pub struct Speaker {
    pub name: String,
    pub voice: Option<String>,
}

/// One part of an outline given as context.
#[derive(Clone, Debug, PartialEq)]
pub struct OutlineSegment {
    pub title: String,
    pub summary: Option<String>,
    pub key_points: Vec<String>,
}

/// Whether a draft in context should be revised or enhanced; they add different kinds of text.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rewrite {
    Revise,
    Enhance,
}

pub struct Context {
    pub topic: String,
    pub show_name: Option<String>,
    /// Hosts, else story characters, else the default pair; never empty.
    pub speakers: Vec<Speaker>,
    pub outline: Vec<OutlineSegment>,
    /// The title of the outline or concept in context, reused as the document title.
    pub working_title: Option<String>,
    pub covered_concepts: Vec<String>,
    /// Set when the instructions ask for a revision or enhancement.
    pub rewrite: Option<Rewrite>,
    /// The prose of system and user messages, lowercased.
    pub instructions: String,
    /// Embedded JSON objects, newest message first.
    pub objects: Vec<Map<String, Value>>,
}

impl Context {
    pub fn from_messages(messages: &[Message]) -> Self {
        let mut objects = Vec::new();
        let mut proses = Vec::new();
        for message in messages.iter().rev() {
            let embedded = split_message(&message.content);
            objects.extend(embedded.objects);
            proses.push((message.role, embedded.prose));
        }
        let values: Vec<Value> = objects.iter().cloned().map(Value::Object).collect();

        let request_sentence = proses
            .iter()
            .find(|(role, _)| *role == Role::User)
            .and_then(|(_, prose)| first_sentence_topic(prose));
        // A sentence without "about" is more often an instruction than a subject, so a
        // title in context is preferred to it.
        let (about, instruction) = match request_sentence {
            Some((subject, true)) => (Some(subject), None),
            Some((sentence, false)) => (None, Some(sentence)),
            None => (None, None),
        };
        let topic = topic_line(messages)
            .or_else(|| {
                values
                    .iter()
                    .find_map(|value| find_with_key(value, "topic", &|_, topic| as_text(topic)))
            })
            .or(about)
            .or_else(|| values.iter().find_map(|value| string_at(value, "title")))
            .or(instruction)
            .unwrap_or_else(|| FALLBACK_TOPIC.to_string());

        let (speakers, show_name) = find_speakers(&values);
        let (outline, outline_title) = find_outline(&values);
        let working_title = outline_title.or_else(|| {
            values.iter().find_map(|value| {
                find_with_key(value, "concept", &|_, concept| {
                    concept.get("title")?.as_str().map(str::to_string)
                })
            })
        });
        let instructions = proses
            .iter()
            .filter(|(role, _)| *role != Role::Assistant)
            .map(|(_, prose)| prose.to_lowercase())
            .collect::<Vec<_>>()
            .join("\n");

        Self {
            topic,
            show_name,
            speakers,
            outline,
            working_title,
            covered_concepts: find_covered(&values),
            rewrite: rewrite_requested(&instructions),
            instructions,
            objects,
        }
    }
}

/// The value of the newest `Topic: ...` line, ignoring markdown decoration around it.
fn topic_line(messages: &[Message]) -> Option<String> {
    messages.iter().rev().find_map(|message| {
        message.content.lines().find_map(|line| {
            let line = line.trim().trim_start_matches(['#', '-', '*', '>', ' ']);
            let label = line.get(..6)?;
            if !label.eq_ignore_ascii_case("topic:") {
                return None;
            }
            let value = line[6..].trim().trim_matches(['*', '"', '\'', '`', ' ']);
            (!value.is_empty()).then(|| value.to_string())
        })
    })
}

fn string_at(value: &Value, key: &str) -> Option<String> {
    as_text(value.get(key)?)
}

fn as_text(value: &Value) -> Option<String> {
    let text = value.as_str()?.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// The subject of a request's first sentence: "Make an episode about bees." gives "bees",
/// flagged true because it followed "about"; otherwise the whole sentence, flagged false.
fn first_sentence_topic(prose: &str) -> Option<(String, bool)> {
    let line = prose.lines().map(str::trim).find(|line| !line.is_empty())?;
    let sentence_end = line
        .char_indices()
        .find(|(index, ch)| {
            matches!(ch, '.' | '?' | '!')
                && line[index + ch.len_utf8()..]
                    .chars()
                    .next()
                    .is_none_or(char::is_whitespace)
        })
        .map_or(line.len(), |(index, _)| index);
    let sentence = &line[..sentence_end];
    let lowered = sentence.to_lowercase();
    let (subject, about) = match lowered.find(" about ") {
        // Lowercasing can change byte lengths outside ASCII; only slice when it did not.
        Some(at) if lowered.len() == sentence.len() => (&sentence[at + 7..], true),
        _ => (sentence, false),
    };
    let subject = subject.trim().trim_matches(['"', '\'', ':', ',']);
    if subject.is_empty() {
        return None;
    }
    Some((
        crate::words::truncate_words(subject, MAX_TOPIC_CHARS),
        about,
    ))
}

/// Hosts from a `hosts` array, else story characters, else Alex and Sam; and the show name,
/// taken from the object that holds the hosts.
fn find_speakers(values: &[Value]) -> (Vec<Speaker>, Option<String>) {
    for key in ["hosts", "characters"] {
        let found = values.iter().find_map(|value| {
            find_with_key(value, key, &|holder, list| {
                let speakers = parse_speakers(list);
                if speakers.is_empty() {
                    return None;
                }
                let show = ["show_name", "name", "title"]
                    .iter()
                    .find_map(|field| holder.get(*field)?.as_str().map(str::to_string))
                    .filter(|_| key == "hosts");
                Some((speakers, show))
            })
        });
        if let Some(found) = found {
            return found;
        }
    }
    let defaults = ["Alex", "Sam"]
        .map(|name| Speaker {
            name: name.to_string(),
            voice: None,
        })
        .to_vec();
    (defaults, None)
}

fn parse_speakers(list: &Value) -> Vec<Speaker> {
    let Some(items) = list.as_array() else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let name = match item {
                Value::String(name) => name.as_str(),
                Value::Object(fields) => fields.get("name")?.as_str()?,
                _ => return None,
            };
            let name = name.trim();
            (!name.is_empty()).then(|| Speaker {
                name: name.to_string(),
                voice: item
                    .get("voice")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            })
        })
        .collect()
}

/// The newest `segments` array whose items have titles, with the title of its holder.
fn find_outline(values: &[Value]) -> (Vec<OutlineSegment>, Option<String>) {
    values
        .iter()
        .find_map(|value| {
            find_with_key(value, "segments", &|holder, list| {
                let segments: Vec<OutlineSegment> =
                    list.as_array()?.iter().filter_map(parse_segment).collect();
                if segments.is_empty() {
                    return None;
                }
                let title = holder.get("title").and_then(Value::as_str);
                Some((segments, title.map(str::to_string)))
            })
        })
        .unwrap_or_default()
}

pub fn parse_segment(item: &Value) -> Option<OutlineSegment> {
    let title = item.get("title")?.as_str()?.trim();
    if title.is_empty() {
        return None;
    }
    let summary = ["summary", "description"]
        .iter()
        .find_map(|key| string_at(item, key));
    let key_points = ["key_points", "points", "talking_points"]
        .iter()
        .find_map(|key| item.get(*key)?.as_array())
        .map(|points| {
            points
                .iter()
                .filter_map(Value::as_str)
                .map(str::trim)
                .filter(|point| !point.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    Some(OutlineSegment {
        title: title.to_string(),
        summary,
        key_points,
    })
}

/// Every `covered_concepts` entry anywhere in context: strings, or objects with a title.
fn find_covered(values: &[Value]) -> Vec<String> {
    let mut covered = Vec::new();
    for value in values {
        collect_covered(value, &mut covered);
    }
    covered
}

fn collect_covered(value: &Value, covered: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            for (key, inner) in object {
                if key == "covered_concepts" {
                    let items = inner.as_array().map(Vec::as_slice).unwrap_or_default();
                    covered.extend(items.iter().filter_map(|item| {
                        item.as_str()
                            .or_else(|| item.get("title")?.as_str())
                            .map(str::to_string)
                    }));
                } else {
                    collect_covered(inner, covered);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_covered(item, covered)),
        _ => {}
    }
}

fn rewrite_requested(instructions: &str) -> Option<Rewrite> {
    if instructions.contains("enhanc") {
        return Some(Rewrite::Enhance);
    }
    let revising = [
        "revise", "revision", "rewrite", "improve", "polish", "edit ",
    ];
    revising
        .iter()
        .any(|word| instructions.contains(word))
        .then_some(Rewrite::Revise)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(text: &str) -> Message {
        Message {
            role: Role::User,
            content: text.to_string(),
        }
    }

    #[test]
    fn topic_line_wins_over_first_sentence() {
        let context = Context::from_messages(&[
            Message {
                role: Role::System,
                content: "You write podcasts.\n**Topic:** the history of coffee".to_string(),
            },
            user("Make an episode about tea. Keep it short."),
        ]);
        assert_eq!(context.topic, "the history of coffee");
    }

    #[test]
    fn first_sentence_gives_the_subject() {
        let context = Context::from_messages(&[user("Make an episode about honey bees. Thanks!")]);
        assert_eq!(context.topic, "honey bees");
        assert_eq!(context.speakers.len(), 2);
        assert_eq!(context.speakers[0].name, "Alex");
    }

    #[test]
    fn reads_hosts_outline_and_covered_concepts() {
        let context = Context::from_messages(&[user(
            "Topic: volcanoes\n```json\n{\"show\": {\"name\": \"Deep Time\", \"hosts\": [{\"name\": \"Ada\", \"voice\": \"v1\"}, {\"name\": \"Lin\"}]}, \"covered_concepts\": [\"Fire Mountains\"]}\n```\nOutline: {\"title\": \"Hot Rocks\", \"segments\": [{\"title\": \"Magma\", \"key_points\": [\"It is hot\"]}]}",
        )]);
        assert_eq!(context.show_name.as_deref(), Some("Deep Time"));
        assert_eq!(context.speakers[0].voice.as_deref(), Some("v1"));
        assert_eq!(context.speakers[1].name, "Lin");
        assert_eq!(context.outline[0].title, "Magma");
        assert_eq!(context.outline[0].key_points, vec!["It is hot"]);
        assert_eq!(context.working_title.as_deref(), Some("Hot Rocks"));
        assert_eq!(context.covered_concepts, vec!["Fire Mountains"]);
        assert_eq!(context.rewrite, None);
    }

    #[test]
    fn detects_rewrite_requests() {
        let context = Context::from_messages(&[user("Please enhance this draft.")]);
        assert_eq!(context.rewrite, Some(Rewrite::Enhance));
        let context = Context::from_messages(&[user("Revise the script.")]);
        assert_eq!(context.rewrite, Some(Rewrite::Revise));
    }
}
