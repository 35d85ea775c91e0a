//! Topic-aware content: titles, sentences and outline segments built from the context and the
//! phrasebook, each choice seeded so the same request always reads the same.

use crate::context::{Context, OutlineSegment, Rewrite, Speaker};
use crate::hash::{child_seed, pick};
use crate::kinds::{People, TextKind};
use crate::phrases::{self, Aspect, fill};
use crate::words::{capitalize, name_words, slug, title_case};

/// Longest topic, in words, that goes into a title.
const MAX_TITLE_TOPIC_WORDS: usize = 6;
/// Show name used when the context gives none.
const DEFAULT_SHOW: &str = "Curious Minds";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Podcast,
    Story,
}

/// One part of the document's outline: from the context, or invented from the topic.
#[derive(Clone, Debug)]
pub struct Segment {
    pub index: usize,
    pub title: String,
    pub summary: String,
    pub key_points: Vec<String>,
    /// Whether this is the final segment, which ends with a goodbye.
    pub last: bool,
}

/// Where a piece of text goes, as far as choosing its content is concerned.
#[derive(Clone, Copy)]
pub struct Place<'p> {
    pub seed: u64,
    /// Seed of the enclosing list, so siblings can pick different entries of one bank.
    pub list_seed: u64,
    pub index: Option<usize>,
    pub people: Option<People>,
    pub segment: Option<&'p Segment>,
    /// A direct property of the document's root object.
    pub top_level: bool,
}

pub struct Theme<'c> {
    pub context: &'c Context,
    pub flavor: Flavor,
    pub seed: u64,
    topic_title: String,
    /// How many segments to invent when neither the context nor the schema says.
    pub default_segments: usize,
}

impl<'c> Theme<'c> {
    pub fn new(context: &'c Context, flavor: Flavor, seed: u64) -> Self {
        let default_segments = 3 + pick(child_seed(seed, "segment-count"), 3);
        Self {
            context,
            flavor,
            seed,
            topic_title: decapitalize_article(&title_case(&short_topic(&context.topic))),
            default_segments,
        }
    }

    pub fn topic(&self) -> &str {
        &self.context.topic
    }

    pub fn speakers(&self) -> &[Speaker] {
        &self.context.speakers
    }

    pub fn speaker(&self, index: usize) -> &Speaker {
        let speakers = self.speakers();
        &speakers[index % speakers.len()]
    }

    pub fn show_name(&self) -> &str {
        self.context.show_name.as_deref().unwrap_or(DEFAULT_SHOW)
    }

    pub fn rewrite(&self) -> Rewrite {
        self.context.rewrite.unwrap_or(Rewrite::Revise)
    }

    /// Fills a template with the topic, show and speakers plus `extra` placeholders, and
    /// capitalises the result so templates may start with a placeholder.
    pub fn fill(&self, template: &str, extra: &[(&str, &str)]) -> String {
        let speakers = self.speakers();
        let second = speakers.get(1).unwrap_or(&speakers[0]);
        let mut values: Vec<(&str, &str)> = extra.to_vec();
        values.extend([
            ("t", self.topic()),
            ("T", self.topic_title.as_str()),
            ("show", self.show_name()),
            ("a", speakers[0].name.as_str()),
            ("b", second.name.as_str()),
            ("name", speakers[0].name.as_str()),
        ]);
        capitalize(&fill(template, &values))
    }

    pub fn pick_fill(&self, bank: &[&str], seed: u64, extra: &[(&str, &str)]) -> String {
        self.fill(bank[pick(seed, bank.len())], extra)
    }

    /// `count` consecutive, distinct sentences of a bank, starting at a seeded entry.
    pub fn sentences(&self, bank: &[&str], seed: u64, count: usize) -> String {
        let start = pick(seed, bank.len());
        (0..count.min(bank.len()))
            .map(|offset| self.fill(bank[(start + offset) % bank.len()], &[]))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn prose_bank(&self) -> &'static [&'static str] {
        match self.flavor {
            Flavor::Podcast => phrases::PODCAST_SENTENCES,
            Flavor::Story => phrases::STORY_SENTENCES,
        }
    }

    fn is_covered(&self, title: &str) -> bool {
        let title = title.trim();
        self.context
            .covered_concepts
            .iter()
            .any(|covered| covered.trim().eq_ignore_ascii_case(title))
    }

    /// A title for the document or one of several alternatives, never one already covered.
    pub fn title(&self, seed: u64, index: usize) -> String {
        let bank = match self.flavor {
            Flavor::Podcast => phrases::PODCAST_TITLES,
            Flavor::Story => phrases::STORY_TITLES,
        };
        let start = pick(seed, bank.len()) + index;
        let fresh = (0..bank.len())
            .map(|offset| self.fill(bank[(start + offset) % bank.len()], &[]))
            .find(|title| !self.is_covered(title));
        if let Some(title) = fresh {
            return title;
        }
        let base = self.fill(bank[start % bank.len()], &[]);
        (2..)
            .map(|part| format!("{base}, Part {part}"))
            .find(|title| !self.is_covered(title))
            .unwrap_or(base)
    }

    /// The document's segments: the context outline first, then invented ones if `count`
    /// asks for more.
    pub fn segments(&self, count: usize) -> Vec<Segment> {
        let given = &self.context.outline;
        let mut segments: Vec<Segment> = given
            .iter()
            .take(count)
            .enumerate()
            .map(|(index, segment)| self.from_outline(index, segment))
            .collect();
        if segments.len() < count {
            let invented = self.invented(count);
            segments.extend(invented.into_iter().skip(segments.len()));
        }
        if let Some(last) = segments.last_mut() {
            last.last = true;
        }
        segments
    }

    /// How many segments an unbounded list gets.
    pub fn natural_segment_count(&self) -> usize {
        match self.context.outline.len() {
            0 => self.default_segments,
            given => given,
        }
    }

    pub fn from_outline(&self, index: usize, segment: &OutlineSegment) -> Segment {
        let title = segment.title.clone();
        let summary = segment.summary.clone().unwrap_or_else(|| {
            self.fill(
                "A closer look at {title}, and why it matters for {t}.",
                &[("title", &title)],
            )
        });
        let key_points = if segment.key_points.is_empty() {
            // Neighbouring segments start three entries apart, so they rarely repeat points.
            self.key_points_from(pick(self.seed, phrases::KEY_POINTS.len()) + index * 3)
        } else {
            segment.key_points.clone()
        };
        Segment {
            index,
            title,
            summary,
            key_points,
            last: false,
        }
    }

    /// `count` segments from the phrasebook's aspects, keeping the opening and closing aspects
    /// at the ends and choosing the middle ones by seed.
    fn invented(&self, count: usize) -> Vec<Segment> {
        let aspects: &[Aspect] = match self.flavor {
            Flavor::Podcast => phrases::PODCAST_ASPECTS,
            Flavor::Story => phrases::STORY_BEATS,
        };
        let last = aspects.len() - 1;
        let mut middle: Vec<usize> = (1..last).collect();
        let seed = child_seed(self.seed, "aspects");
        // A seeded Fisher-Yates shuffle, then the chosen middle aspects back in order.
        for position in (1..middle.len()).rev() {
            let other = pick(child_seed(seed, &position.to_string()), position + 1);
            middle.swap(position, other);
        }
        let mut chosen: Vec<usize> = middle.into_iter().take(count.saturating_sub(2)).collect();
        chosen.sort_unstable();
        let mut order = vec![0];
        order.extend(chosen);
        if count >= 2 {
            order.push(last);
        }
        let mut segments: Vec<Segment> = order
            .into_iter()
            .take(count)
            .enumerate()
            .map(|(index, aspect)| {
                let aspect = &aspects[aspect];
                Segment {
                    index,
                    title: self.fill(aspect.title, &[]),
                    summary: self.fill(aspect.summary, &[]),
                    key_points: aspect.points.iter().map(|p| self.fill(p, &[])).collect(),
                    last: false,
                }
            })
            .collect();
        for index in segments.len()..count {
            let round = (index + 1).to_string();
            let title = format!("Bonus Round {round}");
            segments.push(Segment {
                index,
                summary: self.fill("One more angle on {t}: {title}.", &[("title", &title)]),
                key_points: self.key_points_from(index),
                title,
                last: false,
            });
        }
        segments
    }

    /// Three consecutive general key points starting at bank entry `start`.
    fn key_points_from(&self, start: usize) -> Vec<String> {
        let bank = phrases::KEY_POINTS;
        (0..3)
            .map(|offset| self.fill(bank[(start + offset) % bank.len()], &[]))
            .collect()
    }

    /// Short phrases for tags and keywords: the topic, its longer words, then general ones.
    fn phrase_list(&self) -> Vec<String> {
        let mut list = vec![self.topic().to_lowercase()];
        for word in self.topic().split_whitespace() {
            let word = word
                .trim_matches(|ch: char| !ch.is_alphanumeric())
                .to_lowercase();
            if word.chars().count() > 3 && !list.contains(&word) {
                list.push(word);
            }
        }
        for phrase in phrases::TAG_PHRASES {
            if !list.iter().any(|existing| existing == phrase) {
                list.push((*phrase).to_string());
            }
        }
        list
    }

    fn person_name(&self, index: usize) -> String {
        let speakers = self.speakers();
        match speakers.get(index) {
            Some(speaker) => speaker.name.clone(),
            None => phrases::NAMES[(index - speakers.len()) % phrases::NAMES.len()].to_string(),
        }
    }

    /// Fresh text of `kind` for `place`.
    pub fn text(&self, kind: TextKind, place: &Place) -> String {
        let seed = place.seed;
        let index = place.index.unwrap_or(0);
        // Siblings in one list walk a bank in order from a seeded start, so they differ.
        let ordinal = |len: usize| match place.index {
            Some(index) => (pick(place.list_seed, len) + index) % len,
            None => pick(seed, len),
        };
        let topic = self.topic();
        match kind {
            TextKind::Title => match (place.segment, &self.context.working_title) {
                (Some(segment), _) => segment.title.clone(),
                (None, Some(working)) if place.top_level && !self.is_covered(working) => {
                    working.clone()
                }
                _ => self.title(place.list_seed, index),
            },
            TextKind::Segment => place
                .segment
                .map_or_else(|| self.segments(1)[0].title.clone(), |s| s.title.clone()),
            TextKind::ShowName => self.show_name().to_string(),
            TextKind::PersonName => match place.people {
                Some(_) => self.person_name(index),
                None => self.person_name(0),
            },
            TextKind::Speaker => self.speaker(index).name.clone(),
            TextKind::Voice => {
                let speaker = self.speaker(index);
                speaker
                    .voice
                    .clone()
                    .unwrap_or_else(|| speaker.name.to_lowercase())
            }
            TextKind::Topic => capitalize(topic),
            TextKind::Logline => self.sentences(self.prose_bank(), seed, 1),
            TextKind::Summary => match place.segment {
                Some(segment) => segment.summary.clone(),
                None => self.sentences(self.prose_bank(), seed, 2),
            },
            TextKind::Description => match (place.people, place.segment) {
                (Some(_), _) => {
                    let name = self.person_name(index);
                    let bank = phrases::CHARACTER_DESCRIPTIONS;
                    self.fill(bank[ordinal(bank.len())], &[("name", &name)])
                }
                (None, Some(segment)) => {
                    let point = segment.key_points.first().cloned().unwrap_or_default();
                    format!("{} {point}", segment.summary).trim().to_string()
                }
                (None, None) => self.sentences(self.prose_bank(), seed, 3),
            },
            TextKind::Narration => match place.segment {
                Some(segment) => {
                    // Scenes walk the bank in order, so neighbours do not repeat sentences.
                    let start = pick(self.seed, phrases::NARRATION.len()) + segment.index * 2;
                    let narration = self.sentences(phrases::NARRATION, start as u64, 2);
                    format!("{} {narration}", segment.summary)
                }
                None => self.sentences(phrases::NARRATION, seed, 2),
            },
            TextKind::Spoken => match self.flavor {
                Flavor::Podcast => self.pick_fill(phrases::SPOKEN, seed, &[]),
                Flavor::Story => self.pick_fill(phrases::STORY_DIALOGUE, seed, &[]),
            },
            TextKind::KeyPoint => match place.segment {
                Some(segment) if !segment.key_points.is_empty() => {
                    segment.key_points[index % segment.key_points.len()].clone()
                }
                _ => self.fill(phrases::KEY_POINTS[ordinal(phrases::KEY_POINTS.len())], &[]),
            },
            TextKind::Phrase => {
                let list = self.phrase_list();
                list[ordinal(list.len())].clone()
            }
            TextKind::Question => {
                self.fill(phrases::QUESTIONS[ordinal(phrases::QUESTIONS.len())], &[])
            }
            TextKind::RevisionNote => {
                let bank = match self.rewrite() {
                    Rewrite::Revise => phrases::REVISE_NOTES,
                    Rewrite::Enhance => phrases::ENHANCE_NOTES,
                };
                self.fill(bank[ordinal(bank.len())], &[])
            }
            TextKind::Mood => {
                let bank = match self.flavor {
                    Flavor::Podcast => phrases::PODCAST_MOODS,
                    Flavor::Story => phrases::STORY_MOODS,
                };
                bank[ordinal(bank.len())].to_string()
            }
            TextKind::Setting => capitalize(phrases::SETTINGS[ordinal(phrases::SETTINGS.len())]),
            TextKind::Role => match place.people {
                Some(People::Hosts) => phrases::HOST_ROLES[index.min(2)].to_string(),
                _ => phrases::STORY_ROLES[index % phrases::STORY_ROLES.len()].to_string(),
            },
            TextKind::Audience => self.pick_fill(phrases::AUDIENCES, seed, &[]),
            TextKind::ImagePrompt => self.pick_fill(phrases::IMAGE_PROMPTS, seed, &[]),
            TextKind::Url => format!("https://example.com/{}", slug(topic)),
            TextKind::Email => "hello@example.com".to_string(),
            TextKind::Date => "2024-06-01".to_string(),
            TextKind::DateTime => "2024-06-01T09:00:00Z".to_string(),
            TextKind::Identifier => format!("{}-{}", slug(topic), index + 1),
            TextKind::Language => "en".to_string(),
            TextKind::Generic => self.pick_fill(phrases::GENERIC, seed, &[]),
        }
    }

    /// More sentences about the topic, used to reach a `minLength`.
    pub fn filler(&self, round: usize) -> String {
        let bank = self.prose_bank();
        self.fill(bank[round % bank.len()], &[])
    }
}

/// The head of a long topic, for titles: "a keeper who collects sounds" gives "a keeper".
fn short_topic(topic: &str) -> String {
    let lowered = topic.to_lowercase();
    let clause = [" who ", " that ", " which ", " where ", " when ", ", "]
        .iter()
        .filter_map(|marker| lowered.find(marker))
        .min()
        // Lowercasing can change byte offsets outside ASCII; only cut when it did not.
        .filter(|_| lowered.len() == topic.len());
    let head = clause.map_or(topic, |end| &topic[..end]);
    head.split_whitespace()
        .take(MAX_TITLE_TOPIC_WORDS)
        .collect::<Vec<_>>()
        .join(" ")
}

/// "The Rise of Tea" becomes "the Rise of Tea", so the topic reads right inside a title;
/// a title that starts with the topic is capitalised again by [`Theme::fill`].
fn decapitalize_article(title: &str) -> String {
    match title.split_once(' ') {
        Some((first, rest)) if ["The", "A", "An"].contains(&first) => {
            format!("{} {rest}", first.to_lowercase())
        }
        _ => title.to_string(),
    }
}

/// Story when the schema's property names read like fiction.
pub fn flavor_of(property_names: &[String]) -> Flavor {
    let story_words = [
        "scene",
        "narration",
        "logline",
        "character",
        "plot",
        "protagonist",
        "antagonist",
        "act",
        "moral",
    ];
    let story = property_names
        .iter()
        .flat_map(|name| name_words(name))
        .any(|word| story_words.contains(&word.as_str()));
    if story {
        Flavor::Story
    } else {
        Flavor::Podcast
    }
}
