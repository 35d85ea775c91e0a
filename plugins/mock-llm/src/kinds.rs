//! What a property holds, judged from its name, so the generator can pick fitting content.

/// The kind of text a string property holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextKind {
    Title,
    ShowName,
    PersonName,
    Speaker,
    Voice,
    Topic,
    /// One sentence: a logline, hook or tagline.
    Logline,
    /// Two sentences.
    Summary,
    /// Three sentences.
    Description,
    Narration,
    /// A spoken line.
    Spoken,
    KeyPoint,
    /// A short phrase: a tag, keyword or concept.
    Phrase,
    Question,
    RevisionNote,
    Mood,
    Setting,
    Role,
    Audience,
    ImagePrompt,
    Segment,
    Url,
    Email,
    Date,
    DateTime,
    Identifier,
    Language,
    Generic,
}

/// What a numeric property measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberKind {
    Minutes,
    Seconds,
    Milliseconds,
    Ordinal,
    WordCount,
    Score,
    Fraction,
    Year,
    Generic,
}

/// Whether items of a list are people, which changes what `name` and `role` mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum People {
    Hosts,
    Characters,
}

fn has(words: &[String], candidates: &[&str]) -> bool {
    words.iter().any(|word| candidates.contains(&word.as_str()))
}

pub fn text_kind(words: &[String], people: Option<People>) -> TextKind {
    use TextKind::*;
    let rules: &[(&[&str], TextKind)] = &[
        (&["speaker", "host"], Speaker),
        (&["voice"], Voice),
        (&["url", "uri", "link", "href", "website"], Url),
        (&["email"], Email),
        (&["timestamp", "datetime"], DateTime),
        (&["date", "day"], Date),
        (&["id", "slug", "uuid"], Identifier),
        (&["language", "lang", "locale"], Language),
        (
            &["prompt", "visual", "image", "artwork", "cover"],
            ImagePrompt,
        ),
        (
            &[
                "revision",
                "change",
                "changelog",
                "edit",
                "improvement",
                "feedback",
            ],
            RevisionNote,
        ),
        (&["question", "faq"], Question),
        (&["audience", "listener", "reader"], Audience),
        (
            &[
                "mood",
                "tone",
                "style",
                "emotion",
                "vibe",
                "atmosphere",
                "delivery",
            ],
            Mood,
        ),
        (&["setting", "location", "place", "world"], Setting),
        (&["role", "archetype", "occupation", "job"], Role),
        (&["segment", "section", "chapter", "scene"], Segment),
    ];
    for (candidates, kind) in rules {
        if has(words, candidates) {
            // `segment_title`, `scene_heading`: the title of the segment it belongs to.
            if *kind == Segment && words.len() > 1 && !has(words, &["title", "name", "heading"]) {
                continue;
            }
            return *kind;
        }
    }
    if has(words, &["show", "podcast", "series"]) && has(words, &["name", "title"]) {
        return ShowName;
    }
    if has(
        words,
        &["character", "protagonist", "antagonist", "narrator", "hero"],
    ) {
        return PersonName;
    }
    if has(words, &["name", "title", "headline", "heading"]) {
        return match people {
            Some(_) => PersonName,
            None => Title,
        };
    }
    let later_rules: &[(&[&str], TextKind)] = &[
        (&["topic", "subject", "theme"], Topic),
        (
            &[
                "logline", "hook", "tagline", "pitch", "angle", "teaser", "premise",
            ],
            Logline,
        ),
        (
            &[
                "summary",
                "synopsis",
                "abstract",
                "overview",
                "intro",
                "introduction",
                "conclusion",
                "outro",
                "recap",
            ],
            Summary,
        ),
        (
            &[
                "description",
                "detail",
                "body",
                "note",
                "background",
                "context",
                "explanation",
                "rationale",
                "reason",
                "why",
                "motivation",
                "bio",
            ],
            Description,
        ),
        (
            &["narration", "narrative", "prose", "story", "passage"],
            Narration,
        ),
        (
            &[
                "text",
                "line",
                "content",
                "dialogue",
                "utterance",
                "script",
                "transcript",
                "quote",
                "say",
            ],
            Spoken,
        ),
        (
            &[
                "point",
                "takeaway",
                "fact",
                "bullet",
                "highlight",
                "lesson",
                "beat",
                "step",
            ],
            KeyPoint,
        ),
        (
            &[
                "tag", "keyword", "concept", "category", "genre", "label", "motif", "trait",
            ],
            Phrase,
        ),
    ];
    later_rules
        .iter()
        .find(|(candidates, _)| has(words, candidates))
        .map_or(Generic, |(_, kind)| *kind)
}

pub fn number_kind(words: &[String]) -> NumberKind {
    use NumberKind::*;
    if has(words, &["ms", "millisecond"]) {
        Milliseconds
    } else if has(words, &["second", "sec", "secs"]) {
        Seconds
    } else if has(words, &["minute", "min", "mins"]) {
        Minutes
    } else if has(words, &["duration", "length", "runtime", "time"]) {
        Seconds
    } else if has(words, &["word", "words"]) {
        WordCount
    } else if has(
        words,
        &[
            "index", "number", "order", "position", "rank", "seq", "sequence", "no",
        ],
    ) {
        Ordinal
    } else if has(words, &["rating", "score", "priority"]) {
        Score
    } else if has(
        words,
        &[
            "confidence",
            "probability",
            "ratio",
            "weight",
            "share",
            "percentage",
        ],
    ) {
        Fraction
    } else if has(words, &["year"]) {
        Year
    } else {
        Generic
    }
}

/// Lists whose items describe people.
pub fn people_list(words: &[String]) -> Option<People> {
    if has(words, &["host", "speaker", "presenter"]) {
        Some(People::Hosts)
    } else if has(words, &["character", "cast", "people", "person", "voice"]) {
        Some(People::Characters)
    } else {
        None
    }
}

/// Lists of outline parts: podcast segments or story scenes.
pub fn is_segment_list(words: &[String]) -> bool {
    has(
        words,
        &[
            "segment", "section", "chapter", "part", "scene", "act", "beat",
        ],
    )
}

/// Properties that name who speaks a line of a script.
pub fn is_speaker_name(words: &[String]) -> bool {
    has(words, &["speaker", "host", "character", "voice"])
}

/// Properties that hold the words of a line of a script.
pub fn is_line_text(words: &[String]) -> bool {
    has(
        words,
        &["text", "line", "content", "dialogue", "utterance", "say"],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::words::name_words;

    fn kind(name: &str) -> TextKind {
        text_kind(&name_words(name), None)
    }

    #[test]
    fn classifies_common_names() {
        assert_eq!(kind("title"), TextKind::Title);
        assert_eq!(kind("segment_title"), TextKind::Segment);
        assert_eq!(kind("segment"), TextKind::Segment);
        assert_eq!(kind("show_name"), TextKind::ShowName);
        assert_eq!(kind("speaker"), TextKind::Speaker);
        assert_eq!(kind("key_points"), TextKind::KeyPoint);
        assert_eq!(kind("revision_notes"), TextKind::RevisionNote);
        assert_eq!(kind("show_notes"), TextKind::Description);
        assert_eq!(kind("logline"), TextKind::Logline);
        assert_eq!(kind("text"), TextKind::Spoken);
        assert_eq!(kind("tags"), TextKind::Phrase);
        assert_eq!(kind("whatever"), TextKind::Generic);
        assert_eq!(
            text_kind(&name_words("name"), Some(People::Hosts)),
            TextKind::PersonName
        );
    }

    #[test]
    fn classifies_numbers() {
        assert_eq!(
            number_kind(&name_words("duration_seconds")),
            NumberKind::Seconds
        );
        assert_eq!(
            number_kind(&name_words("estimatedMinutes")),
            NumberKind::Minutes
        );
        assert_eq!(
            number_kind(&name_words("duration_ms")),
            NumberKind::Milliseconds
        );
        assert_eq!(
            number_kind(&name_words("scene_number")),
            NumberKind::Ordinal
        );
    }
}
