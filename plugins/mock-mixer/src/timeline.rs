//! Where every clip lands in the episode, and how far the music bed is ducked at each frame.
//! Both are known before any audio is read, which is what lets the mixer stream.

/// Rounds milliseconds to frames at `rate`.
pub fn ms_to_frames(ms: u64, rate: u32) -> u64 {
    (ms * u64::from(rate) + 500) / 1000
}

/// Rounds frames at `rate` to milliseconds.
pub fn frames_to_ms(frames: u64, rate: u32) -> u64 {
    (frames * 1000 + u64::from(rate) / 2) / u64::from(rate)
}

/// What the layout needs to know about one clip, in output frames.
pub struct ClipTiming {
    pub frames: u64,
    /// Silence before the clip; `None` takes the default gap (or nothing for the first clip).
    pub gap_before: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placement {
    pub start: u64,
    pub frames: u64,
    /// Length of the fade at each edge.
    pub fade: u64,
}

impl Placement {
    pub fn end(&self) -> u64 {
        self.start + self.frames
    }
}

#[derive(Debug, PartialEq)]
pub struct Timeline {
    pub placements: Vec<Placement>,
    pub total_frames: u64,
}

/// Lays clips out one after another: `padding` frames of lead-in, each clip separated from the
/// previous one by its gap, and `padding` frames of tail after the last to end. A gap shorter
/// than the fade turns into an overlap of `fade - gap` frames in which the two clips crossfade.
pub fn lay_out(clips: &[ClipTiming], default_gap: u64, fade: u64, padding: u64) -> Timeline {
    let mut placements: Vec<Placement> = Vec::with_capacity(clips.len());
    let mut end = padding;
    for clip in clips {
        let start = match placements.last() {
            None => padding + clip.gap_before.unwrap_or(0),
            Some(previous) => {
                let gap = clip.gap_before.unwrap_or(default_gap);
                if gap >= fade {
                    previous.end() + gap
                } else {
                    let overlap = (fade - gap).min(previous.frames).min(clip.frames);
                    previous.end() - overlap
                }
            }
        };
        let placement = Placement {
            start,
            frames: clip.frames,
            fade: fade.min(clip.frames / 2),
        };
        end = end.max(placement.end());
        placements.push(placement);
    }
    Timeline {
        placements,
        total_frames: end + padding,
    }
}

/// How deep the music bed is ducked, from 0 (full level) to 1 (fully ducked), as a function of
/// the frame. The duck starts `attack` frames before speech and recovers over `release` frames
/// after it; speech separated by less than `attack + release` stays ducked throughout.
pub struct DuckEnvelope {
    /// Merged speech regions `[start, end)`, in order and at least `attack + release` apart.
    regions: Vec<(u64, u64)>,
    attack: u64,
    release: u64,
    /// First region that can still affect the frames asked about; frames only move forward.
    next_region: usize,
}

impl DuckEnvelope {
    pub fn new(placements: &[Placement], attack: u64, release: u64) -> Self {
        let mut speech: Vec<(u64, u64)> = placements.iter().map(|p| (p.start, p.end())).collect();
        speech.sort_unstable();
        let mut regions: Vec<(u64, u64)> = Vec::with_capacity(speech.len());
        for (start, end) in speech {
            match regions.last_mut() {
                Some(last) if start < last.1 + attack + release => last.1 = last.1.max(end),
                _ => regions.push((start, end)),
            }
        }
        Self {
            regions,
            attack,
            release,
            next_region: 0,
        }
    }

    /// Duck depth at `frame`, and for how many frames from there it stays exactly that (at
    /// least 1). Successive calls must not go backwards.
    #[inline]
    pub fn depth(&mut self, frame: u64) -> (f32, u64) {
        while let Some(&(_, end)) = self.regions.get(self.next_region) {
            if frame < end + self.release {
                break;
            }
            self.next_region += 1;
        }
        let Some(&(start, end)) = self.regions.get(self.next_region) else {
            return (0.0, u64::MAX);
        };
        if frame >= end {
            (
                smooth_step(1.0 - (frame - end) as f32 / self.release as f32),
                1,
            )
        } else if frame >= start {
            (1.0, end - frame)
        } else if frame + self.attack > start {
            (
                smooth_step(1.0 - (start - frame) as f32 / self.attack as f32),
                1,
            )
        } else {
            // At exactly `start - attack` the ramp begins, at depth 0.
            (0.0, (start - self.attack - frame).max(1))
        }
    }
}

/// Eases a linear ramp so that the duck starts and ends without a corner.
fn smooth_step(x: f32) -> f32 {
    let x = x.clamp(0.0, 1.0);
    x * x * (3.0 - 2.0 * x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(frames: u64, gap_before: Option<u64>) -> ClipTiming {
        ClipTiming { frames, gap_before }
    }

    #[test]
    fn gaps_and_padding_add_up() {
        let clips = [timing(100, None), timing(50, None), timing(80, Some(30))];
        let timeline = lay_out(&clips, 20, 10, 5);
        let starts: Vec<u64> = timeline.placements.iter().map(|p| p.start).collect();
        assert_eq!(starts, [5, 125, 205]);
        assert_eq!(timeline.total_frames, 5 + 100 + 20 + 50 + 30 + 80 + 5);
    }

    #[test]
    fn short_gaps_overlap_into_a_crossfade() {
        let clips = [
            timing(100, None),
            timing(100, Some(0)),
            timing(100, Some(30)),
        ];
        let timeline = lay_out(&clips, 0, 40, 0);
        let starts: Vec<u64> = timeline.placements.iter().map(|p| p.start).collect();
        assert_eq!(starts, [0, 60, 150]);
        assert_eq!(timeline.total_frames, 250);
        // A fade never takes more than half a clip.
        let short = lay_out(&[timing(10, None)], 0, 40, 0);
        assert_eq!(short.placements[0].fade, 5);
    }

    #[test]
    fn ducks_ahead_of_speech_and_bridges_short_pauses() {
        let placements = [
            Placement {
                start: 100,
                frames: 100,
                fade: 0,
            },
            Placement {
                start: 220,
                frames: 50,
                fade: 0,
            },
            Placement {
                start: 400,
                frames: 50,
                fade: 0,
            },
        ];
        let mut envelope = DuckEnvelope::new(&placements, 20, 40);
        let spans: Vec<(f32, u64)> = (0..600).map(|frame| envelope.depth(frame)).collect();
        assert!(spans.iter().all(|&(_, steady)| steady >= 1));
        assert_eq!(spans[0], (0.0, 80));
        assert_eq!(spans[150], (1.0, 120));
        let depths: Vec<f32> = spans.iter().map(|&(depth, _)| depth).collect();
        assert_eq!(depths[79], 0.0);
        assert!(depths[90] > 0.0 && depths[90] < 1.0);
        // The 20-frame pause between the first two clips is shorter than attack + release.
        assert!(depths[100..270].iter().all(|&depth| depth == 1.0));
        assert!(depths[290] > 0.0 && depths[290] < 1.0);
        assert_eq!(depths[320], 0.0);
        assert!(depths[385] > 0.0);
        assert_eq!(depths[495], 0.0);
    }
}
