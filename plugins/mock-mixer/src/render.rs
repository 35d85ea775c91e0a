//! Renders the mix, before loudness normalisation, one chunk of frames at a time. Only the
//! clips that sound in the current chunk are open, each with a single read buffer, so memory
//! stays the same however long the episode is.

use crate::decode::{Frame, PcmReader, Resampler, fade_gain};
use crate::io::AudioInputs;
use crate::timeline::{DuckEnvelope, Timeline};
use crate::wav::WavLayout;
use guest_support::failure::Failure;

/// One input, checked and named.
pub struct Input {
    pub source: u32,
    /// Names the input in error messages, for example "clip 2 (source 5)".
    pub label: String,
    pub layout: WavLayout,
}

pub struct Clip {
    pub input: Input,
    pub gain: f32,
}

pub struct MusicBed {
    pub input: Input,
    pub level_db: f32,
    pub duck_db: f32,
    pub attack_frames: u64,
    pub release_frames: u64,
    /// Fade at each end of the file where it loops, in input frames.
    pub loop_seam_frames: u64,
}

/// Everything needed to render the mix, decided before any sample is read.
pub struct MixPlan {
    pub clips: Vec<Clip>,
    pub timeline: Timeline,
    pub bed: Option<MusicBed>,
    pub sample_rate: u32,
    pub channels: usize,
}

struct OpenClip<'a> {
    index: usize,
    reader: PcmReader<'a>,
    resampler: Resampler,
    /// Frames of this clip already mixed.
    done: u64,
}

struct OpenBed<'a> {
    reader: PcmReader<'a>,
    resampler: Resampler,
    envelope: DuckEnvelope,
    level_db: f32,
    duck_db: f32,
    open_gain: f32,
    ducked_gain: f32,
}

impl OpenBed<'_> {
    /// Applies the bed's level and ducking to `frames`, which start at episode frame `at`.
    fn apply_gain(&mut self, frames: &mut [Frame], mut at: u64) {
        let mut rest = frames;
        while !rest.is_empty() {
            let (depth, steady) = self.envelope.depth(at);
            let run = steady.min(rest.len() as u64) as usize;
            let gain = if depth == 0.0 {
                self.open_gain
            } else if depth == 1.0 {
                self.ducked_gain
            } else {
                db_to_gain(self.level_db - self.duck_db * depth)
            };
            let (now, later) = rest.split_at_mut(run);
            for frame in now {
                frame[0] *= gain;
                frame[1] *= gain;
            }
            rest = later;
            at += run as u64;
        }
    }
}

pub struct Renderer<'a> {
    plan: &'a MixPlan,
    inputs: &'a dyn AudioInputs,
    position: u64,
    next_clip: usize,
    open: Vec<OpenClip<'a>>,
    bed: Option<OpenBed<'a>>,
    /// One clip's frames for the current chunk, before they are weighted and added.
    scratch: Vec<Frame>,
}

impl<'a> Renderer<'a> {
    pub fn new(plan: &'a MixPlan, inputs: &'a dyn AudioInputs) -> Self {
        let bed = plan.bed.as_ref().map(|bed| OpenBed {
            reader: PcmReader::new(
                inputs,
                bed.input.source,
                &bed.input.label,
                bed.input.layout,
                Some(bed.loop_seam_frames),
            ),
            resampler: Resampler::new(bed.input.layout.sample_rate, plan.sample_rate),
            envelope: DuckEnvelope::new(
                &plan.timeline.placements,
                bed.attack_frames,
                bed.release_frames,
            ),
            level_db: bed.level_db,
            duck_db: bed.duck_db,
            open_gain: db_to_gain(bed.level_db),
            ducked_gain: db_to_gain(bed.level_db - bed.duck_db),
        });
        Self {
            plan,
            inputs,
            position: 0,
            next_clip: 0,
            open: Vec::new(),
            bed,
            scratch: Vec::new(),
        }
    }

    /// Fills `out` with the next `out.len()` frames of the mix.
    pub fn render(&mut self, out: &mut [Frame]) -> Result<(), Failure> {
        let start = self.position;
        let end = start + out.len() as u64;
        match &mut self.bed {
            Some(bed) => {
                bed.resampler.fill(&mut bed.reader, out)?;
                bed.apply_gain(out, start);
            }
            None => out.fill([0.0; 2]),
        }

        let placements = &self.plan.timeline.placements;
        while self.next_clip < placements.len() && placements[self.next_clip].start < end {
            let clip = &self.plan.clips[self.next_clip];
            self.open.push(OpenClip {
                index: self.next_clip,
                reader: PcmReader::new(
                    self.inputs,
                    clip.input.source,
                    &clip.input.label,
                    clip.input.layout,
                    None,
                ),
                resampler: Resampler::new(clip.input.layout.sample_rate, self.plan.sample_rate),
                done: 0,
            });
            self.next_clip += 1;
        }
        for clip in &mut self.open {
            let placement = placements[clip.index];
            let gain = self.plan.clips[clip.index].gain;
            let from = placement.start.max(start);
            let to = placement.end().min(end);
            let count = to.saturating_sub(from) as usize;
            self.scratch.resize(count, [0.0; 2]);
            clip.resampler.fill(&mut clip.reader, &mut self.scratch)?;
            let target = &mut out[(from - start) as usize..][..count];
            let first = clip.done;
            let fade = placement.fade;
            let in_fade = first < fade || first + count as u64 > placement.frames - fade;
            for ((frame, sample), position) in target.iter_mut().zip(&self.scratch).zip(first..) {
                let weight = if in_fade {
                    let edge = position.min(placement.frames - 1 - position);
                    if edge < fade {
                        gain * fade_gain(edge, fade)
                    } else {
                        gain
                    }
                } else {
                    gain
                };
                frame[0] += sample[0] * weight;
                frame[1] += sample[1] * weight;
            }
            clip.done += count as u64;
        }
        self.open
            .retain(|clip| clip.done < placements[clip.index].frames);

        if self.plan.channels == 1 {
            for frame in out.iter_mut() {
                let mid = 0.5 * (frame[0] + frame[1]);
                *frame = [mid, mid];
            }
        }
        self.position = end;
        Ok(())
    }
}

pub fn db_to_gain(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}
