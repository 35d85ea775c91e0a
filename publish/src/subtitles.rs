//! SubRip (`episode.srt`) and WebVTT (`episode.vtt`) subtitles from the spoken lines.
//!
//! Both formats share one list of cues, so their timings are identical. A line becomes one or
//! more cues: its text is wrapped into rows of at most [`MAX_ROW_CHARS`] characters, at most
//! [`MAX_ROWS_PER_CUE`] rows per cue, and the line's time span is shared among its cues in
//! proportion to their characters. Each cue starts with the speaker (`Alice: ` in SubRip, a
//! `<v Alice>` voice span in WebVTT) so that it reads on its own; in the width budget the
//! SubRip prefix counts, which leaves the WebVTT rows a little shorter than they could be.

use crate::Line;

/// The usual broadcast limit for a subtitle row, in characters (Unicode scalar values).
const MAX_ROW_CHARS: usize = 42;
/// More rows than this cover too much of the picture and are too much to read at once.
const MAX_ROWS_PER_CUE: usize = 2;
/// The first row of a cue never gets narrower than this, even for a speaker name so long that
/// its prefix would leave almost no room: such a row may then exceed [`MAX_ROW_CHARS`], which
/// beats splitting the text into a cue per word.
const MIN_FIRST_ROW_TEXT_CHARS: usize = 12;

/// One subtitle shown from `start_ms` to `end_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cue {
    /// With whitespace collapsed; empty when the line has no speaker.
    speaker: String,
    /// One or two rows of text, without the speaker.
    rows: Vec<String>,
    start_ms: u64,
    end_ms: u64,
}

/// Cues for `lines`, in order. Lines whose text is blank have nothing to show and get no cue: an
/// empty cue would end a SubRip block early.
pub(crate) fn cues(lines: &[Line]) -> Vec<Cue> {
    lines.iter().flat_map(line_cues).collect()
}

/// The SubRip file: numbered cues separated by blank lines; empty when there are no cues.
pub(crate) fn srt(cues: &[Cue]) -> String {
    let blocks: Vec<String> = cues
        .iter()
        .enumerate()
        .map(|(index, cue)| {
            let prefix = srt_prefix(&cue.speaker);
            format!(
                "{}\n{} --> {}\n{prefix}{}\n",
                index + 1,
                timestamp(cue.start_ms, ','),
                timestamp(cue.end_ms, ','),
                cue.rows.join("\n"),
            )
        })
        .collect();
    blocks.join("\n")
}

/// The WebVTT file: the `WEBVTT` header, then each cue after a blank line.
pub(crate) fn vtt(cues: &[Cue]) -> String {
    let mut file = String::from("WEBVTT\n");
    for cue in cues {
        let voice = if cue.speaker.is_empty() {
            String::new()
        } else {
            format!("<v {}>", escape_vtt(&cue.speaker))
        };
        let rows: Vec<String> = cue.rows.iter().map(|row| escape_vtt(row)).collect();
        file.push_str(&format!(
            "\n{} --> {}\n{voice}{}\n",
            timestamp(cue.start_ms, '.'),
            timestamp(cue.end_ms, '.'),
            rows.join("\n"),
        ));
    }
    file
}

fn line_cues(line: &Line) -> Vec<Cue> {
    let speaker = line
        .speaker
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let first_row_width = MAX_ROW_CHARS
        .saturating_sub(srt_prefix(&speaker).chars().count())
        .max(MIN_FIRST_ROW_TEXT_CHARS);
    let rows = wrap(&line.text, |row_index| {
        if row_index % MAX_ROWS_PER_CUE == 0 {
            first_row_width
        } else {
            MAX_ROW_CHARS
        }
    });
    let chunks: Vec<&[String]> = rows.chunks(MAX_ROWS_PER_CUE).collect();
    let char_counts: Vec<u128> = chunks
        .iter()
        .map(|chunk| chunk.iter().map(|row| row.chars().count() as u128).sum())
        .collect();
    let total_chars: u128 = char_counts.iter().sum();
    let span_ms = u128::from(line.end_ms.saturating_sub(line.start_ms));
    let mut chars_so_far = 0;
    let mut start_ms = line.start_ms;
    chunks
        .iter()
        .zip(char_counts)
        .map(|(chunk, chars)| {
            chars_so_far += chars;
            // Every row holds at least one character, so `total_chars` is never zero here; the
            // last cue gets `chars_so_far == total_chars` and so ends exactly at the line's end.
            let offset_ms = span_ms * chars_so_far / total_chars;
            let end_ms = line.start_ms + offset_ms as u64;
            let cue = Cue {
                speaker: speaker.clone(),
                rows: chunk.to_vec(),
                start_ms,
                end_ms,
            };
            start_ms = end_ms;
            cue
        })
        .collect()
}

/// Greedy word wrap; `width_of_row` (at least 1) gives each row's width by its index. A word
/// wider than its row is cut into pieces, since a row must never exceed its width.
fn wrap(text: &str, width_of_row: impl Fn(usize) -> usize) -> Vec<String> {
    let mut rows = Vec::new();
    let mut row = String::new();
    let mut row_chars = 0;
    for word in text.split_whitespace() {
        let mut rest = word;
        loop {
            let width = width_of_row(rows.len());
            let rest_chars = rest.chars().count();
            let separator = usize::from(row_chars > 0);
            if row_chars + separator + rest_chars <= width {
                if separator == 1 {
                    row.push(' ');
                }
                row.push_str(rest);
                row_chars += separator + rest_chars;
                break;
            }
            if row_chars > 0 {
                rows.push(std::mem::take(&mut row));
                row_chars = 0;
                continue;
            }
            // Here `rest_chars > width`, so the cut falls inside `rest`.
            let cut = rest
                .char_indices()
                .nth(width)
                .map_or(rest.len(), |(index, _)| index);
            rows.push(rest[..cut].to_owned());
            rest = &rest[cut..];
        }
    }
    if row_chars > 0 {
        rows.push(row);
    }
    rows
}

fn srt_prefix(speaker: &str) -> String {
    if speaker.is_empty() {
        String::new()
    } else {
        format!("{speaker}: ")
    }
}

/// `HH:MM:SS<separator>mmm`; hours grow past two digits rather than wrap.
fn timestamp(ms: u64, separator: char) -> String {
    let hours = ms / 3_600_000;
    let minutes = ms / 60_000 % 60;
    let seconds = ms / 1000 % 60;
    let millis = ms % 1000;
    format!("{hours:02}:{minutes:02}:{seconds:02}{separator}{millis:03}")
}

/// WebVTT cue text treats `&` and `<` as markup, and `>` would let `-->` end the cue timing.
fn escape_vtt(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(speaker: &str, text: &str, start_ms: u64, end_ms: u64) -> Line {
        Line {
            speaker: speaker.to_owned(),
            voice: None,
            text: text.to_owned(),
            start_ms,
            end_ms,
        }
    }

    #[test]
    fn short_lines_make_one_cue_each() {
        let lines = [
            line("Alice", "Hello & welcome <everyone>!", 0, 1500),
            line("Bob", "Thanks.", 1500, 3_723_004),
        ];
        let cues = cues(&lines);
        assert_eq!(
            srt(&cues),
            "1\n00:00:00,000 --> 00:00:01,500\nAlice: Hello & welcome <everyone>!\n\
             \n\
             2\n00:00:01,500 --> 01:02:03,004\nBob: Thanks.\n"
        );
        assert_eq!(
            vtt(&cues),
            "WEBVTT\n\
             \n\
             00:00:00.000 --> 00:00:01.500\n<v Alice>Hello &amp; welcome &lt;everyone&gt;!\n\
             \n\
             00:00:01.500 --> 01:02:03.004\n<v Bob>Thanks.\n"
        );
    }

    #[test]
    fn long_lines_wrap_and_split_in_proportion_to_characters() {
        // "Alice: " takes 7 of each cue's first row. The first cue holds 74 of the 114
        // characters, so it gets 74/114 of the 10 s span: 6491 ms.
        let text = "The quick brown fox jumps over the lazy dog while the band plays on \
                    and the crowd cheers loudly for an encore tonight";
        let lines = [line("Alice", text, 1000, 11_000)];
        let cues = cues(&lines);
        assert_eq!(
            srt(&cues),
            "1\n00:00:01,000 --> 00:00:07,491\n\
             Alice: The quick brown fox jumps over the\n\
             lazy dog while the band plays on and the\n\
             \n\
             2\n00:00:07,491 --> 00:00:11,000\n\
             Alice: crowd cheers loudly for an encore\n\
             tonight\n"
        );
        assert_eq!(
            vtt(&cues),
            "WEBVTT\n\
             \n\
             00:00:01.000 --> 00:00:07.491\n\
             <v Alice>The quick brown fox jumps over the\n\
             lazy dog while the band plays on and the\n\
             \n\
             00:00:07.491 --> 00:00:11.000\n\
             <v Alice>crowd cheers loudly for an encore\n\
             tonight\n"
        );
        for row in srt(&cues).lines() {
            assert!(row.chars().count() <= MAX_ROW_CHARS, "{row}");
        }
    }

    #[test]
    fn words_wider_than_a_row_are_cut() {
        let rows = wrap(&"x".repeat(50), |_| 20);
        assert_eq!(rows, ["x".repeat(20), "x".repeat(20), "x".repeat(10)]);
        let rows = wrap("ab éééé", |_| 3);
        assert_eq!(rows, ["ab", "ééé", "é"]);
    }

    #[test]
    fn blank_lines_get_no_cue_and_no_lines_give_empty_files() {
        assert!(cues(&[line("Alice", " \n ", 0, 10)]).is_empty());
        assert_eq!(srt(&[]), "");
        assert_eq!(vtt(&[]), "WEBVTT\n");
    }

    #[test]
    fn missing_speaker_has_no_prefix_or_voice() {
        let cues = cues(&[line(" ", "Narration.", 0, 10)]);
        assert_eq!(srt(&cues), "1\n00:00:00,000 --> 00:00:00,010\nNarration.\n");
        assert_eq!(
            vtt(&cues),
            "WEBVTT\n\n00:00:00.000 --> 00:00:00.010\nNarration.\n"
        );
    }

    #[test]
    fn last_cue_ends_at_the_line_end_even_for_an_empty_span() {
        let text = "word ".repeat(40);
        let cues = cues(&[line("A", &text, 5000, 5000)]);
        assert!(cues.len() > 1);
        assert!(
            cues.iter()
                .all(|cue| cue.start_ms == 5000 && cue.end_ms == 5000)
        );
    }
}
