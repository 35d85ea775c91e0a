//! Text helpers: splitting property names into words, casing and fitting text to a length.

/// Words that title case leaves lowercase unless they start the title.
const SMALL_WORDS: &[&str] = &[
    "a", "an", "and", "as", "at", "but", "by", "for", "in", "nor", "of", "on", "or", "the", "to",
    "vs", "with",
];

/// Lowercase singular words of a property name: `keyPoints` and `key_points` both give
/// `["key", "point"]`.
pub fn name_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for ch in name.chars() {
        if !ch.is_alphanumeric() {
            flush(&mut current, &mut words);
            previous_lower = false;
            continue;
        }
        if ch.is_uppercase() && previous_lower {
            flush(&mut current, &mut words);
        }
        previous_lower = ch.is_lowercase() || ch.is_ascii_digit();
        current.extend(ch.to_lowercase());
    }
    flush(&mut current, &mut words);
    words
}

fn flush(current: &mut String, words: &mut Vec<String>) {
    if !current.is_empty() {
        words.push(singular(current));
        current.clear();
    }
}

fn singular(word: &str) -> String {
    if word.len() > 4 && word.ends_with("ies") {
        return format!("{}y", &word[..word.len() - 3]);
    }
    let keeps_s = ["ss", "us", "is"].iter().any(|end| word.ends_with(end));
    if word.len() > 3 && word.ends_with('s') && !keeps_s {
        return word[..word.len() - 1].to_string();
    }
    word.to_string()
}

pub fn title_case(text: &str) -> String {
    text.split(' ')
        .enumerate()
        .map(|(index, word)| {
            let lower = word.to_lowercase();
            if index > 0 && SMALL_WORDS.contains(&lower.as_str()) {
                lower
            } else if word.chars().skip(1).any(char::is_uppercase) {
                // Acronyms and brand names such as "NASA" or "iPhone" keep their casing.
                word.to_string()
            } else {
                capitalize(word)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

pub fn char_count(text: &str) -> usize {
    text.chars().count()
}

/// At most `max_chars` characters of `text`, cut after a whole word when there is one.
pub fn truncate_words(text: &str, max_chars: usize) -> String {
    if char_count(text) <= max_chars {
        return text.to_string();
    }
    let cut: String = text.chars().take(max_chars).collect();
    let next_is_space = text.chars().nth(max_chars).is_some_and(char::is_whitespace);
    if next_is_space {
        return cut.trim_end().to_string();
    }
    match cut.rfind(char::is_whitespace) {
        Some(at) if !cut[..at].trim_end().is_empty() => {
            cut[..at].trim_end_matches([',', ';', ':', ' ']).to_string()
        }
        _ => cut,
    }
}

/// `text` grown with `filler` sentences up to `min_chars`, then cut to `max_chars`
/// (which must be at least `min_chars`).
pub fn fit_length(
    text: String,
    min_chars: usize,
    max_chars: Option<usize>,
    filler: &dyn Fn(usize) -> String,
) -> String {
    let mut text = text;
    let mut round = 0;
    while char_count(&text) < min_chars {
        let addition = filler(round);
        if addition.is_empty() {
            text.push('.');
        } else {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(&addition);
        }
        round += 1;
    }
    let Some(max_chars) = max_chars else {
        return text;
    };
    let cut = truncate_words(&text, max_chars);
    if char_count(&cut) >= min_chars {
        cut
    } else {
        text.chars().take(max_chars).collect()
    }
}

/// A lowercase identifier made of the letters and digits of `text`.
pub fn slug(text: &str) -> String {
    let mut slug = String::new();
    for ch in text.chars().flat_map(char::to_lowercase) {
        if ch.is_ascii_alphanumeric() {
            slug.push(ch);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        "item".to_string()
    } else {
        slug.to_string()
    }
}

/// Joins items as prose: "a", "a and b", "a, b and c".
pub fn join_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [only] => only.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_names_into_singular_words() {
        assert_eq!(name_words("key_points"), vec!["key", "point"]);
        assert_eq!(name_words("episodeTitle"), vec!["episode", "title"]);
        assert_eq!(name_words("categories"), vec!["category"]);
        assert_eq!(name_words("synopsis"), vec!["synopsis"]);
    }

    #[test]
    fn title_case_keeps_small_words_and_acronyms() {
        assert_eq!(title_case("the rise of NASA"), "The Rise of NASA");
    }

    #[test]
    fn fits_text_between_bounds() {
        let filler = |_: usize| "More words here.".to_string();
        let grown = fit_length("Hi.".to_string(), 20, Some(25), &filler);
        assert!((20..=25).contains(&char_count(&grown)), "{grown}");
        let cut = fit_length("one two three four".to_string(), 0, Some(9), &filler);
        assert_eq!(cut, "one two");
        let hard = fit_length("abcdefghij".to_string(), 5, Some(6), &filler);
        assert_eq!(hard, "abcdef");
    }

    #[test]
    fn joins_lists_as_prose() {
        let items = ["a", "b", "c"].map(String::from);
        assert_eq!(join_list(&items), "a, b and c");
    }
}
