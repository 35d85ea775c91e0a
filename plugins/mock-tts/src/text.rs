//! Turns text into a timed score of syllables and pauses with relative intonation, which the
//! synthesiser then plays in a particular voice.

use guest_support::seed::Sequence;

/// Seconds one word takes at 150 words a minute.
const WORD_SECONDS: f32 = 0.4;
/// Average syllables per English word; a word with this many takes exactly `WORD_SECONDS`.
const AVERAGE_SYLLABLES: f32 = 1.5;
const PHRASE_PAUSE_SECONDS: f32 = 0.18;
const SENTENCE_PAUSE_SECONDS: f32 = 0.42;

/// The vowel at the core of a syllable; it picks the formant targets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Vowel {
    A,
    E,
    I,
    O,
    U,
    Schwa,
}

/// How a syllable begins, which shapes its first few tens of milliseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Onset {
    Open,
    Plosive,
    Fricative,
    Sonorant,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Syllable {
    pub vowel: Vowel,
    pub onset: Onset,
    pub seconds: f32,
    /// Pitch at the start and end of the syllable, in units of the voice's intonation range.
    pub pitch_start: f32,
    pub pitch_end: f32,
    /// Extra loudness for stressed syllables, 0 for none.
    pub stress: f32,
    /// Whether the syllable closes a word, so its release falls all the way to silence.
    pub word_end: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Event {
    Syllable(Syllable),
    Pause { seconds: f32, breath: bool },
}

/// What punctuation after a word asks for.
#[derive(Clone, Copy, PartialEq)]
enum Boundary {
    None,
    Phrase,
    Statement,
    Question,
}

struct Word {
    syllables: Vec<(Onset, Vowel)>,
    letters: usize,
    boundary: Boundary,
}

/// The score for `text`; `tempo` multiplies the speaking rate (1.0 is 150 words a minute).
pub fn score(text: &str, tempo: f32, rng: &mut Sequence) -> Vec<Event> {
    let words = split_words(text);
    let mut events = Vec::new();
    let mut sentence_start = 0;
    for (index, word) in words.iter().enumerate() {
        let last = index + 1 == words.len();
        if word.boundary == Boundary::Statement || word.boundary == Boundary::Question || last {
            let boundary = match word.boundary {
                Boundary::Statement | Boundary::Question => word.boundary,
                Boundary::None | Boundary::Phrase => Boundary::Statement,
            };
            let sentence = Sentence {
                words: &words[sentence_start..=index],
                boundary,
                breath_after: !last,
            };
            intone_sentence(&sentence, tempo, rng, &mut events);
            sentence_start = index + 1;
        }
    }
    events
}

struct Sentence<'a> {
    words: &'a [Word],
    /// How the sentence ends: a statement falls, a question rises.
    boundary: Boundary,
    /// Whether another sentence follows, so the speaker takes a breath in the pause.
    breath_after: bool,
}

fn intone_sentence(sentence: &Sentence, tempo: f32, rng: &mut Sequence, events: &mut Vec<Event>) {
    let words = sentence.words;
    let total: usize = words.iter().map(|word| word.syllables.len()).sum();
    let mut position = 0;
    for (word_index, word) in words.iter().enumerate() {
        let count = word.syllables.len();
        let weight = 0.6 + 0.4 * count.min(6) as f32 / AVERAGE_SYLLABLES;
        let syllable_seconds = WORD_SECONDS * weight / count as f32 / tempo;
        // Content words tend to carry an accent on their first syllable.
        let accented = word.letters >= 4 && rng.unit() < 0.6;
        let last_word = word_index + 1 == words.len();
        for (syllable_index, &(onset, vowel)) in word.syllables.iter().enumerate() {
            // Declination: pitch drifts down across the sentence.
            let along = |at: f32| 0.5 - at / total.max(1) as f32;
            let mut pitch_start = along(position as f32);
            let mut pitch_end = along(position as f32 + 1.0);
            let mut stress = 0.0;
            if accented && syllable_index == 0 {
                pitch_start += 0.7;
                pitch_end += 0.3;
                stress = 0.15;
            }
            let word_end = syllable_index + 1 == count;
            if word_end {
                let boundary = if last_word {
                    sentence.boundary
                } else {
                    word.boundary
                };
                match boundary {
                    Boundary::Statement => pitch_end -= 1.2,
                    Boundary::Question => pitch_end += 1.2,
                    Boundary::Phrase => pitch_end += 0.3,
                    Boundary::None => {}
                }
            }
            events.push(Event::Syllable(Syllable {
                vowel,
                onset,
                seconds: syllable_seconds,
                pitch_start,
                pitch_end,
                stress,
                word_end,
            }));
            position += 1;
        }
        let pause = if last_word {
            Some((SENTENCE_PAUSE_SECONDS, sentence.breath_after))
        } else if word.boundary == Boundary::Phrase {
            Some((PHRASE_PAUSE_SECONDS, false))
        } else {
            None
        };
        if let Some((seconds, breath)) = pause {
            events.push(Event::Pause {
                seconds: seconds / tempo,
                breath,
            });
        }
    }
}

fn split_words(text: &str) -> Vec<Word> {
    let mut words: Vec<Word> = Vec::new();
    for token in text.split_whitespace() {
        let boundary = token_boundary(token);
        let syllables = syllables(token);
        if syllables.is_empty() {
            // Free-standing punctuation such as a dash belongs to the word before it.
            if let Some(previous) = words.last_mut()
                && boundary != Boundary::None
                && previous.boundary == Boundary::None
            {
                previous.boundary = boundary;
            }
            continue;
        }
        words.push(Word {
            letters: token.chars().filter(|c| c.is_alphanumeric()).count(),
            syllables,
            boundary,
        });
    }
    words
}

fn token_boundary(token: &str) -> Boundary {
    let trailing = token
        .chars()
        .rev()
        .take_while(|c| !c.is_alphanumeric())
        .collect::<String>();
    if trailing.contains('?') {
        Boundary::Question
    } else if trailing.contains(['.', '!', '…']) {
        Boundary::Statement
    } else if trailing.contains([',', ';', ':', '—', '–', '-']) {
        Boundary::Phrase
    } else {
        Boundary::None
    }
}

/// Rough syllables of one token: one per vowel group, one per digit, and a neutral one for
/// vowel-less words such as "hmm" or "TV".
fn syllables(token: &str) -> Vec<(Onset, Vowel)> {
    let mut result = Vec::new();
    let mut onset = Onset::Open;
    let mut in_vowel_group = false;
    let mut has_letters = false;
    for c in token.chars().flat_map(char::to_lowercase) {
        if let Some(vowel) = vowel_of(c) {
            if !in_vowel_group {
                result.push((onset, vowel));
                onset = Onset::Open;
            }
            in_vowel_group = true;
            has_letters = true;
        } else if c.is_ascii_digit() {
            result.push((Onset::Sonorant, digit_vowel(c)));
            in_vowel_group = false;
            has_letters = true;
        } else if c.is_alphabetic() {
            // The first consonant of a cluster decides how the next syllable begins.
            if in_vowel_group || onset == Onset::Open {
                onset = consonant_onset(c);
            }
            in_vowel_group = false;
            has_letters = true;
        }
    }
    if result.is_empty() && has_letters {
        result.push((onset, Vowel::Schwa));
    }
    result
}

fn vowel_of(c: char) -> Option<Vowel> {
    Some(match c {
        'a' | 'à' | 'á' | 'â' | 'ä' => Vowel::A,
        'e' | 'è' | 'é' | 'ê' | 'ë' => Vowel::E,
        'i' | 'y' | 'í' | 'ì' | 'î' | 'ï' => Vowel::I,
        'o' | 'ó' | 'ò' | 'ô' | 'ö' => Vowel::O,
        'u' | 'ú' | 'ù' | 'û' | 'ü' => Vowel::U,
        _ => return None,
    })
}

fn digit_vowel(digit: char) -> Vowel {
    match digit {
        '0' | '4' => Vowel::O,
        '1' | '2' => Vowel::U,
        '3' | '7' => Vowel::E,
        '5' | '9' => Vowel::I,
        _ => Vowel::A,
    }
}

fn consonant_onset(c: char) -> Onset {
    match c {
        'p' | 't' | 'k' | 'b' | 'd' | 'g' | 'q' | 'c' => Onset::Plosive,
        's' | 'f' | 'h' | 'z' | 'v' | 'x' | 'j' => Onset::Fricative,
        _ => Onset::Sonorant,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syllable_count(events: &[Event]) -> usize {
        events
            .iter()
            .filter(|event| matches!(event, Event::Syllable(_)))
            .count()
    }

    #[test]
    fn counts_vowel_groups_as_syllables() {
        assert_eq!(syllables("banana").len(), 3);
        assert_eq!(syllables("strength").len(), 1);
        assert_eq!(syllables("hmm").len(), 1);
        assert_eq!(syllables("42").len(), 2);
        assert!(syllables("—").is_empty());
    }

    #[test]
    fn punctuation_becomes_pauses_and_falls() {
        let events = score("Hello there, friend. Ready?", 1.0, &mut Sequence::new(1));
        let pauses: Vec<f32> = events
            .iter()
            .filter_map(|event| match event {
                Event::Pause { seconds, .. } => Some(*seconds),
                Event::Syllable(_) => None,
            })
            .collect();
        assert_eq!(
            pauses,
            [
                PHRASE_PAUSE_SECONDS,
                SENTENCE_PAUSE_SECONDS,
                SENTENCE_PAUSE_SECONDS
            ]
        );
        let ends: Vec<f32> = events
            .iter()
            .filter_map(|event| match event {
                Event::Syllable(syllable) if syllable.word_end => {
                    Some(syllable.pitch_end - syllable.pitch_start)
                }
                _ => None,
            })
            .collect();
        // "friend." falls, "Ready?" rises.
        assert!(ends[2] < -1.0);
        assert!(ends[3] > 0.5);
        assert_eq!(syllable_count(&events), 7);
    }

    #[test]
    fn tempo_scales_every_duration() {
        let total = |tempo: f32| -> f32 {
            score("One, two three.", tempo, &mut Sequence::new(3))
                .iter()
                .map(|event| match event {
                    Event::Syllable(syllable) => syllable.seconds,
                    Event::Pause { seconds, .. } => *seconds,
                })
                .sum()
        };
        assert!((total(1.0) / total(2.0) - 2.0).abs() < 1e-4);
    }
}
