//! Script planning: the lines of each segment, alternating between the speakers, opening with
//! the segment's title and walking through its summary and key points.

use crate::hash::{child_seed, pick};
use crate::phrases;
use crate::theme::{Flavor, Segment, Theme};
use crate::words::capitalize;

/// One planned line of a script.
#[derive(Clone, Debug)]
pub struct PlannedLine {
    /// Index into the theme's speakers.
    pub speaker: usize,
    pub text: String,
    /// A shorter text that still names the segment, for schemas with a tight `maxLength`.
    pub short_text: Option<String>,
    pub segment_title: String,
    /// Position of the line in its list, from 0.
    pub position: usize,
}

/// How many lines a segment gets when the schema leaves it open: an opening, the summary,
/// up to three key points and a reaction, plus a goodbye at the very end.
pub fn natural_line_count(segment: &Segment, is_last: bool) -> usize {
    3 + segment.key_points.len().min(3) + usize::from(is_last)
}

/// Lines for every segment in order, `total` in all, shared out as evenly as the natural
/// counts allow.
pub fn plan_script(theme: &Theme, segments: &[Segment], total: usize) -> Vec<PlannedLine> {
    let last = segments.len().saturating_sub(1);
    let natural: Vec<usize> = segments
        .iter()
        .enumerate()
        .map(|(index, segment)| natural_line_count(segment, index == last))
        .collect();
    let counts: Vec<usize> = if natural.iter().sum::<usize>() == total {
        natural
    } else {
        let share = total / segments.len().max(1);
        let extra = total % segments.len().max(1);
        (0..segments.len())
            .map(|index| share + usize::from(index < extra))
            .collect()
    };
    let mut lines = Vec::new();
    for (index, (segment, count)) in segments.iter().zip(counts).enumerate() {
        lines.extend(plan_segment(theme, segment, index == last, count));
    }
    for (position, line) in lines.iter_mut().enumerate() {
        line.position = position;
    }
    lines
}

/// `count` lines for one segment.
pub fn plan_segment(
    theme: &Theme,
    segment: &Segment,
    is_last: bool,
    count: usize,
) -> Vec<PlannedLine> {
    let seed = child_seed(theme.seed, &format!("lines/{}", segment.index));
    let goodbye = is_last && count >= 2;
    let body_count = count - usize::from(goodbye);
    let mut texts = match theme.flavor {
        Flavor::Podcast => podcast_lines(theme, segment, seed, body_count),
        Flavor::Story => story_lines(theme, segment, body_count),
    };
    texts.truncate(body_count);
    if goodbye {
        let bank = match theme.flavor {
            Flavor::Podcast => phrases::CLOSINGS,
            Flavor::Story => phrases::STORY_ENDINGS,
        };
        texts.push(theme.pick_fill(bank, seed, &[]));
    }
    let speakers = theme.speakers().len();
    texts
        .into_iter()
        .enumerate()
        .map(|(position, text)| PlannedLine {
            speaker: position % speakers,
            short_text: (position == 0 && theme.flavor == Flavor::Podcast)
                .then(|| theme.fill("Next up: {title}.", &[("title", &segment.title)])),
            text,
            segment_title: segment.title.clone(),
            position,
        })
        .collect()
}

fn podcast_lines(theme: &Theme, segment: &Segment, seed: u64, count: usize) -> Vec<String> {
    let title = segment.title.as_str();
    // Offsets by segment index keep neighbouring segments from reusing the same phrasing.
    let offset = pick(theme.seed, 16) + segment.index;
    let nth = |bank: &[&'static str], turn: usize| bank[(offset + turn) % bank.len()];
    let opening = if segment.index == 0 {
        let bank: &[&str] = if theme.speakers().len() > 1 {
            phrases::PODCAST_OPENINGS
        } else {
            &[phrases::SOLO_OPENING]
        };
        theme.pick_fill(bank, seed, &[("title", title)])
    } else {
        theme.fill(nth(phrases::TRANSITIONS, 0), &[("title", title)])
    };
    let summary = as_sentence(&segment.summary);
    let mut lines = vec![
        opening,
        theme.fill(nth(phrases::SUMMARY_LEADS, 0), &[("summary", &summary)]),
    ];
    let points = segment.key_points.len().min(3);
    // Past the natural lines, keep alternating key points and reactions.
    for turn in 0..count.saturating_sub(2) {
        let wants_point = turn < points || (turn > points && turn.is_multiple_of(2));
        let point = segment
            .key_points
            .get(turn % segment.key_points.len().max(1));
        let text = if let (true, Some(point)) = (wants_point, point) {
            let point = as_sentence(point);
            theme.fill(nth(phrases::POINT_LEADS, turn), &[("point", &point)])
        } else {
            theme.fill(nth(phrases::REACTIONS, turn), &[("title", title)])
        };
        lines.push(text);
    }
    lines
}

/// `text` with a capital first letter and closing punctuation, to follow a colon.
fn as_sentence(text: &str) -> String {
    let text = capitalize(text.trim());
    if text.ends_with(['.', '!', '?']) {
        text
    } else {
        format!("{text}.")
    }
}

fn story_lines(theme: &Theme, segment: &Segment, count: usize) -> Vec<String> {
    let bank = phrases::STORY_DIALOGUE;
    // Each scene continues where the previous one stopped in the bank.
    let start = pick(theme.seed, bank.len()) + segment.index * count;
    (0..count)
        .map(|turn| theme.fill(bank[(start + turn) % bank.len()], &[]))
        .collect()
}
