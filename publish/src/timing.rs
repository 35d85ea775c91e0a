//! Makes the host's timings safe to publish: every span ends at or after its start, and nothing
//! runs past the end of the audio when the audio is known.
//!
//! The host computes timings from the mix, so bad values mean a bug upstream; publishing still
//! succeeds, because a slightly wrong subtitle is better than no episode. The rules:
//! - a start past the end of the audio moves to the end of the audio;
//! - an end before its start moves to the start (the span becomes empty);
//! - an end past the end of the audio moves to the end of the audio.

use crate::{Chapter, Line};

/// The episode's lines and chapters with the rules above applied.
pub(crate) struct Timeline {
    pub(crate) lines: Vec<Line>,
    pub(crate) chapters: Vec<Chapter>,
}

impl Timeline {
    /// `audio_duration_ms` is `None` when no audio was mixed; then only the ordering rule applies.
    pub(crate) fn clamped(
        lines: &[Line],
        chapters: &[Chapter],
        audio_duration_ms: Option<u64>,
    ) -> Timeline {
        let lines = lines
            .iter()
            .map(|line| {
                let (start_ms, end_ms) = clamp(line.start_ms, line.end_ms, audio_duration_ms);
                Line {
                    start_ms,
                    end_ms,
                    ..line.clone()
                }
            })
            .collect();
        let chapters = chapters
            .iter()
            .map(|chapter| {
                let (start_ms, end_ms) = clamp(chapter.start_ms, chapter.end_ms, audio_duration_ms);
                Chapter {
                    start_ms,
                    end_ms,
                    ..chapter.clone()
                }
            })
            .collect();
        Timeline { lines, chapters }
    }
}

fn clamp(start_ms: u64, end_ms: u64, audio_duration_ms: Option<u64>) -> (u64, u64) {
    let limit = audio_duration_ms.unwrap_or(u64::MAX);
    let start_ms = start_ms.min(limit);
    (start_ms, end_ms.max(start_ms).min(limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reversed_span_becomes_empty() {
        assert_eq!(clamp(500, 100, None), (500, 500));
    }

    #[test]
    fn spans_past_the_audio_end_at_the_audio() {
        assert_eq!(clamp(900, 1500, Some(1000)), (900, 1000));
        assert_eq!(clamp(1200, 1500, Some(1000)), (1000, 1000));
        assert_eq!(clamp(1200, 100, Some(1000)), (1000, 1000));
    }

    #[test]
    fn valid_spans_are_unchanged() {
        assert_eq!(clamp(100, 900, Some(1000)), (100, 900));
        assert_eq!(clamp(100, 900, None), (100, 900));
    }
}
