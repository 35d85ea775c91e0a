//! The Markdown transcript (`transcript.md`): the title, the show and description, then the
//! lines as `**Speaker:** text` paragraphs under a `##` heading per chapter.
//!
//! A line goes under the last chapter that starts at or before it, so a line in a gap between
//! chapters stays with the chapter before and no line is ever dropped; lines before the first
//! chapter go directly under the title. Every chapter gets its heading, even without lines.
//! All text is escaped: it comes from a language model and is meant to be read, not rendered
//! as markup.

use crate::{Chapter, Episode, Line};

pub(crate) fn transcript(episode: &Episode, lines: &[Line], chapters: &[Chapter]) -> String {
    let mut blocks = vec![format!("# {}", escape_markdown(&episode.title))];
    if let Some(show) = &episode.show {
        blocks.push(format!("*{}*", escape_markdown(show)));
    }
    if let Some(description) = &episode.description {
        blocks.push(escape_markdown(description));
    }
    let mut chapters_started = 0;
    for line in lines {
        while let Some(chapter) = chapters.get(chapters_started)
            && chapter.start_ms <= line.start_ms
        {
            blocks.push(chapter_heading(chapter));
            chapters_started += 1;
        }
        blocks.push(paragraph(line));
    }
    blocks.extend(chapters[chapters_started..].iter().map(chapter_heading));
    let mut file = blocks.join("\n\n");
    file.push('\n');
    file
}

fn chapter_heading(chapter: &Chapter) -> String {
    format!("## {}", escape_markdown(&chapter.title))
}

fn paragraph(line: &Line) -> String {
    let text = escape_markdown(&line.text);
    let speaker = escape_markdown(&line.speaker);
    if speaker.is_empty() {
        text
    } else {
        format!("**{speaker}:** {text}")
    }
}

/// Collapses whitespace (a newline in a line's text would otherwise start a new block) and
/// backslash-escapes the characters that Markdown treats as inline markup.
fn escape_markdown(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for (index, word) in text.split_whitespace().enumerate() {
        if index > 0 {
            escaped.push(' ');
        }
        for character in word.chars() {
            if matches!(
                character,
                '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '&'
            ) {
                escaped.push('\\');
            }
            escaped.push(character);
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn episode(show: Option<&str>, description: Option<&str>) -> Episode {
        Episode {
            title: "Rust *Weekly*".to_owned(),
            show: show.map(str::to_owned),
            description: description.map(str::to_owned),
            lines: Vec::new(),
            chapters: Vec::new(),
            master_wav: None,
            cover_png: None,
        }
    }

    fn line(speaker: &str, text: &str, start_ms: u64) -> Line {
        Line {
            speaker: speaker.to_owned(),
            voice: Some("voice-1".to_owned()),
            text: text.to_owned(),
            start_ms,
            end_ms: start_ms + 100,
        }
    }

    fn chapter(title: &str, start_ms: u64, end_ms: u64) -> Chapter {
        Chapter {
            title: title.to_owned(),
            start_ms,
            end_ms,
        }
    }

    #[test]
    fn lines_go_under_the_chapter_they_start_in() {
        let lines = [
            line("Alice", "Cold open.", 0),
            line("Alice", "Welcome\nback.", 1000),
            line("Bob", "Gap line.", 2500),
            line("Bob", "Bye_now.", 4000),
        ];
        let chapters = [
            chapter("Intro", 1000, 2000),
            chapter("Main", 3000, 5000),
            chapter("Credits", 6000, 7000),
        ];
        let text = transcript(
            &episode(Some("The Show"), Some("About things.")),
            &lines,
            &chapters,
        );
        assert_eq!(
            text,
            "# Rust \\*Weekly\\*\n\n*The Show*\n\nAbout things.\n\n\
             **Alice:** Cold open.\n\n\
             ## Intro\n\n**Alice:** Welcome back.\n\n**Bob:** Gap line.\n\n\
             ## Main\n\n**Bob:** Bye\\_now.\n\n\
             ## Credits\n"
        );
    }

    #[test]
    fn without_chapters_all_lines_go_under_the_title() {
        let lines = [line("Alice", "One.", 0), line("", "Narration.", 10)];
        let text = transcript(&episode(None, None), &lines, &[]);
        assert_eq!(
            text,
            "# Rust \\*Weekly\\*\n\n**Alice:** One.\n\nNarration.\n"
        );
    }

    #[test]
    fn empty_episode_is_just_the_title() {
        assert_eq!(
            transcript(&episode(None, None), &[], &[]),
            "# Rust \\*Weekly\\*\n"
        );
    }
}
