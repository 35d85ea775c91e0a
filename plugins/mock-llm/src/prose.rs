//! Plain-prose answers for requests without a schema.

use crate::hash::child_seed;
use crate::phrases;
use crate::theme::{Flavor, Theme};
use crate::words::join_list;

/// A few paragraphs about the topic that walk through the outline in context, if any.
pub fn write(theme: &Theme) -> String {
    let (opening, middle) = match theme.flavor {
        Flavor::Podcast => (phrases::PODCAST_SENTENCES, phrases::KEY_POINTS),
        Flavor::Story => (phrases::STORY_SENTENCES, phrases::NARRATION),
    };
    let mut paragraphs = vec![theme.sentences(opening, child_seed(theme.seed, "intro"), 3)];

    let outline = &theme.context.outline;
    if outline.is_empty() {
        paragraphs.push(theme.sentences(middle, child_seed(theme.seed, "middle"), 3));
    } else {
        let titles: Vec<String> = outline
            .iter()
            .map(|segment| segment.title.clone())
            .collect();
        let count = titles.len().to_string();
        let mut walk = vec![theme.fill(
            "The conversation moves through {count} parts: {titles}.",
            &[("count", &count), ("titles", &join_list(&titles))],
        )];
        for (index, segment) in theme.segments(outline.len()).iter().enumerate() {
            let lead = if index == 0 {
                "It opens with"
            } else {
                "Then comes"
            };
            walk.push(format!("{lead} {}: {}", segment.title, segment.summary));
        }
        paragraphs.push(walk.join(" "));
    }

    let closing = match theme.flavor {
        Flavor::Podcast => {
            let names: Vec<String> = theme.speakers().iter().map(|s| s.name.clone()).collect();
            let verb = if names.len() == 1 { "guides" } else { "guide" };
            theme.fill(
                "{hosts} {verb} listeners through {t} with curiosity and humour, and {show} \
                 closes with a question to carry into the week.",
                &[("hosts", &join_list(&names)), ("verb", verb)],
            )
        }
        Flavor::Story => {
            let ending =
                theme.pick_fill(phrases::STORY_ENDINGS, child_seed(theme.seed, "close"), &[]);
            let ending = ending.strip_suffix('.').unwrap_or(&ending);
            format!("\"{ending},\" {} said.", theme.speaker(0).name)
        }
    };
    paragraphs.push(closing);
    paragraphs.join("\n\n")
}
