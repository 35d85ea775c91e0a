//! The README read the way a user reads it: a section by its heading, the first code block in
//! it, and a command line from it split into arguments as a POSIX shell would.

use std::path::Path;

/// The repository's README.md.
pub fn text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// The lines from `heading` (a whole line, such as `## Exit codes`) up to the next heading of
/// the same or a higher level; `#` lines inside code blocks are shell comments, not headings.
pub fn section<'a>(readme: &'a str, heading: &str) -> Vec<&'a str> {
    let level = heading.split(' ').next().unwrap_or_default().len();
    let mut lines = readme.lines().skip_while(|line| line.trim_end() != heading);
    assert!(lines.next().is_some(), "README has no `{heading}` section");
    let mut in_code = false;
    lines
        .take_while(|line| {
            in_code ^= line.starts_with("```");
            let hashes = line.split(' ').next().unwrap_or_default();
            let is_heading = !hashes.is_empty() && hashes.chars().all(|c| c == '#');
            in_code || !is_heading || hashes.len() > level
        })
        .collect()
}

/// The lines inside the first fenced code block of a section.
pub fn first_code_block<'a>(section: &[&'a str]) -> Vec<&'a str> {
    let mut lines = section.iter().skip_while(|line| !line.starts_with("```"));
    assert!(
        lines.next().is_some(),
        "no code block in:\n{}",
        section.join("\n")
    );
    lines
        .take_while(|line| !line.starts_with("```"))
        .copied()
        .collect()
}

/// The first line of a code block that starts with `prefix`, with the prefix removed.
pub fn command_after<'a>(block: &[&'a str], prefix: &str) -> &'a str {
    block
        .iter()
        .find_map(|line| line.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line starting with `{prefix}` in:\n{}", block.join("\n")))
}

/// Splits a command line into words as `sh` does for the quoting the README uses: blanks
/// separate words, double quotes keep blanks (with `\` escaping `"`, `\`, `$` and a backquote),
/// single quotes keep everything, and a backslash outside quotes escapes the next character.
pub fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut characters = line.chars();
    while let Some(character) = characters.next() {
        match character {
            ' ' | '\t' => words.extend(word.take()),
            '\'' => {
                let quoted = word.get_or_insert_with(String::new);
                loop {
                    match characters.next() {
                        Some('\'') => break,
                        Some(inner) => quoted.push(inner),
                        None => panic!("unterminated single quote in `{line}`"),
                    }
                }
            }
            '"' => {
                let quoted = word.get_or_insert_with(String::new);
                loop {
                    match characters.next() {
                        Some('"') => break,
                        Some('\\') => match characters.next() {
                            Some(escaped @ ('"' | '\\' | '$' | '`')) => quoted.push(escaped),
                            Some(other) => quoted.extend(['\\', other]),
                            None => panic!("unterminated double quote in `{line}`"),
                        },
                        Some(inner) => quoted.push(inner),
                        None => panic!("unterminated double quote in `{line}`"),
                    }
                }
            }
            '\\' => {
                let escaped = characters.next().expect("a character after `\\`");
                word.get_or_insert_with(String::new).push(escaped);
            }
            other => word.get_or_insert_with(String::new).push(other),
        }
    }
    words.extend(word);
    words
}
