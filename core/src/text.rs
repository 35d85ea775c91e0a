//! Text from plugins and providers made safe to show: a provider's error body or a model's
//! answer may carry terminal control sequences (set the window title, move the cursor, print
//! a fake "Completed" line), so every such text is escaped before it reaches a terminal, a
//! log file or a status report.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with every control character written as an escape (`\n`, `\u{1b}`): C0 and C1
/// controls, DEL, and the bidirectional overrides that reorder what a reader sees. Text
/// without any comes back borrowed.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for character in text.chars() {
        match character {
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            other if needs_escape(other) => {
                let _ = write!(escaped, "\\u{{{:x}}}", other as u32);
            }
            other => escaped.push(other),
        }
    }
    Cow::Owned(escaped)
}

/// Like [`printable`], but keeps line breaks (and tabs), for multi-line text such as a
/// plugin's stderr shown as a block.
pub fn printable_lines(text: &str) -> Cow<'_, str> {
    if !text
        .chars()
        .any(|character| needs_escape(character) && !matches!(character, '\n' | '\t'))
    {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.split('\n')
            .map(|line| {
                line.split('\t')
                    .map(|part| printable(part).into_owned())
                    .collect::<Vec<_>>()
                    .join("\t")
            })
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// `text` cut to at most `limit` characters (with `…` and the full length when cut), for
/// messages that quote something a user or a plugin gave, which may be huge.
pub fn abbreviate(text: &str, limit: usize) -> Cow<'_, str> {
    match text.char_indices().nth(limit) {
        None => Cow::Borrowed(text),
        Some((end, _)) => Cow::Owned(format!(
            "{}… ({} characters in all)",
            &text[..end],
            text.chars().count()
        )),
    }
}

fn needs_escape(character: char) -> bool {
    character.is_control() || matches!(character, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_sequences_are_escaped_and_plain_text_is_borrowed() {
        assert!(matches!(printable("plain text ✓"), Cow::Borrowed(_)));
        assert_eq!(
            printable("500\u{1b}]0;pwned\u{7}\r\n✓ Completed"),
            "500\\u{1b}]0;pwned\\u{7}\\r\\n✓ Completed"
        );
        assert_eq!(
            printable("csi \u{9b}2J del \u{7f}"),
            "csi \\u{9b}2J del \\u{7f}"
        );
        assert_eq!(printable("abc \u{202e}cba"), "abc \\u{202e}cba");
    }

    #[test]
    fn long_text_is_abbreviated_with_its_length() {
        assert_eq!(abbreviate("short", 10), "short");
        assert_eq!(abbreviate("abcdefghij", 4), "abcd… (10 characters in all)");
    }

    #[test]
    fn lines_keep_their_breaks() {
        assert_eq!(
            printable_lines("panicked at\n\tsrc/lib.rs\u{1b}[2J"),
            "panicked at\n\tsrc/lib.rs\\u{1b}[2J"
        );
    }
}
