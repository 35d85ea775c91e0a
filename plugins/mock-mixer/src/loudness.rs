//! A streaming integrated-loudness meter (ITU-R BS.1770-4 with EBU R128 gating) for the first
//! pass, where only the normalising gain is needed. It uses the ebur128 crate's K-weighting but
//! keeps 100 ms partial sums instead of re-summing every 400 ms block, and a histogram of block
//! loudness instead of every block, so it is several times faster and its memory is constant.
//! The second pass measures the output with ebur128 itself.

use crate::decode::Frame;

/// Histogram of gating-block loudness: bins of 0.01 LU from the absolute gate up.
const ABSOLUTE_GATE_LUFS: f64 = -70.0;
const BIN_WIDTH_LU: f64 = 0.01;
const BINS: usize = 8_000;
const RELATIVE_GATE_LU: f64 = -10.0;

/// A second-order section in transposed direct form II, one state pair per channel.
struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
    state: [[f64; 2]; 2],
}

impl Biquad {
    #[inline]
    fn process(&mut self, channel: usize, x: f64) -> f64 {
        let state = &mut self.state[channel];
        let y = self.b[0] * x + state[0];
        state[0] = self.b[1] * x - self.a[0] * y + state[1];
        state[1] = self.b[2] * x - self.a[1] * y;
        y
    }
}

/// The two stages of the K-weighting filter at `rate`: a high shelf modelling the head, then
/// the revised low-frequency B-curve high-pass.
fn k_weighting(rate: f64) -> [Biquad; 2] {
    let f0 = 1_681.974_450_955_533;
    let gain_db = 3.999_843_853_973_347;
    let q = 0.707_175_236_955_419_6;
    let k = (std::f64::consts::PI * f0 / rate).tan();
    let vh = 10f64.powf(gain_db / 20.0);
    let vb = vh.powf(0.499_666_774_154_541_6);
    let a0 = 1.0 + k / q + k * k;
    let shelf = Biquad {
        b: [
            (vh + vb * k / q + k * k) / a0,
            2.0 * (k * k - vh) / a0,
            (vh - vb * k / q + k * k) / a0,
        ],
        a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
        state: [[0.0; 2]; 2],
    };
    let f0 = 38.135_470_876_024_44;
    let q = 0.500_327_037_323_877_3;
    let k = (std::f64::consts::PI * f0 / rate).tan();
    let a0 = 1.0 + k / q + k * k;
    let high_pass = Biquad {
        b: [1.0, -2.0, 1.0],
        a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
        state: [[0.0; 2]; 2],
    };
    [shelf, high_pass]
}

fn energy_to_lufs(energy: f64) -> f64 {
    -0.691 + 10.0 * energy.log10()
}

pub struct LoudnessMeter {
    channels: usize,
    filters: [Biquad; 2],
    /// Frames per 100 ms step; a gating block is four steps.
    step_frames: usize,
    frames_in_step: usize,
    step_energy: f64,
    /// Energy of the last four completed steps, and how many steps have completed.
    recent_steps: [f64; 4],
    steps: u64,
    /// Per bin: blocks counted and the sum of their energies.
    histogram: Vec<(u64, f64)>,
}

impl LoudnessMeter {
    /// A meter for `channels` channels (1 or 2); a mono stream repeats each sample in both
    /// halves of a frame.
    pub fn new(sample_rate: u32, channels: usize) -> Self {
        Self {
            channels,
            filters: k_weighting(f64::from(sample_rate)),
            step_frames: (sample_rate as usize + 5) / 10,
            frames_in_step: 0,
            step_energy: 0.0,
            recent_steps: [0.0; 4],
            steps: 0,
            histogram: vec![(0, 0.0); BINS],
        }
    }

    pub fn push(&mut self, frames: &[Frame]) {
        let mut rest = frames;
        while !rest.is_empty() {
            let take = (self.step_frames - self.frames_in_step).min(rest.len());
            let (now, later) = rest.split_at(take);
            rest = later;
            let [shelf, high_pass] = &mut self.filters;
            let mut energy = 0.0;
            if self.channels == 2 {
                for frame in now {
                    let left = high_pass.process(0, shelf.process(0, f64::from(frame[0])));
                    let right = high_pass.process(1, shelf.process(1, f64::from(frame[1])));
                    energy += left * left + right * right;
                }
            } else {
                for frame in now {
                    let mono = high_pass.process(0, shelf.process(0, f64::from(frame[0])));
                    energy += mono * mono;
                }
            }
            self.step_energy += energy;
            self.frames_in_step += take;
            if self.frames_in_step == self.step_frames {
                self.finish_step();
            }
        }
    }

    fn finish_step(&mut self) {
        self.recent_steps[(self.steps % 4) as usize] = self.step_energy;
        self.steps += 1;
        self.step_energy = 0.0;
        self.frames_in_step = 0;
        if self.steps < 4 {
            return;
        }
        let block_energy = self.recent_steps.iter().sum::<f64>() / (4 * self.step_frames) as f64;
        let lufs = energy_to_lufs(block_energy);
        if lufs > ABSOLUTE_GATE_LUFS {
            let bin = (((lufs - ABSOLUTE_GATE_LUFS) / BIN_WIDTH_LU) as usize).min(BINS - 1);
            self.histogram[bin].0 += 1;
            self.histogram[bin].1 += block_energy;
        }
    }

    /// Gated integrated loudness in LUFS; minus infinity when no block passes the gates.
    pub fn integrated(&self) -> f64 {
        let (count, energy) = self
            .histogram
            .iter()
            .fold((0u64, 0.0f64), |(count, energy), bin| {
                (count + bin.0, energy + bin.1)
            });
        if count == 0 {
            return f64::NEG_INFINITY;
        }
        let relative_gate = energy_to_lufs(energy / count as f64) + RELATIVE_GATE_LU;
        let (count, energy) = self
            .histogram
            .iter()
            .enumerate()
            .filter(|(bin, _)| {
                let centre = ABSOLUTE_GATE_LUFS + (*bin as f64 + 0.5) * BIN_WIDTH_LU;
                centre > relative_gate
            })
            .fold((0u64, 0.0f64), |(count, energy), (_, bin)| {
                (count + bin.0, energy + bin.1)
            });
        if count == 0 {
            return f64::NEG_INFINITY;
        }
        energy_to_lufs(energy / count as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebur128::{EbuR128, Mode};

    fn reference(frames: &[Frame], rate: u32, channels: usize) -> f64 {
        let mut meter = EbuR128::new(channels as u32, rate, Mode::I).expect("meter");
        let samples: Vec<f32> = if channels == 2 {
            frames.as_flattened().to_vec()
        } else {
            frames.iter().map(|frame| frame[0]).collect()
        };
        meter.add_frames_f32(&samples).expect("frames");
        meter.loudness_global().expect("loudness")
    }

    /// Programme-like material: tones of changing pitch and level with near-silent pauses.
    fn programme(rate: u32, seconds: usize, stereo: bool) -> Vec<Frame> {
        let mut state = 99u32;
        (0..rate as usize * seconds)
            .map(|n| {
                let t = n as f32 / rate as f32;
                let segment = (t * 1.7) as u32;
                let level = [0.3, 0.05, 0.0001, 0.5, 0.2][segment as usize % 5];
                let hz = 80.0 + 900.0 * (segment % 7) as f32;
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let hiss = ((state >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 0.05;
                let left = level * (std::f32::consts::TAU * hz * t).sin() + hiss * level;
                let right = if stereo {
                    0.5 * left + hiss * 0.1
                } else {
                    left
                };
                [left, right]
            })
            .collect()
    }

    #[test]
    fn agrees_with_ebur128() {
        for (rate, channels) in [(44_100, 2), (48_000, 1), (8_000, 2), (192_000, 1)] {
            let frames = programme(rate, 20, channels == 2);
            let mut meter = LoudnessMeter::new(rate, channels);
            for chunk in frames.chunks(1_234) {
                meter.push(chunk);
            }
            let ours = meter.integrated();
            let theirs = reference(&frames, rate, channels);
            assert!(
                (ours - theirs).abs() < 0.02,
                "{rate}/{channels}: {ours} vs {theirs}"
            );
        }
    }

    #[test]
    fn silence_has_no_loudness() {
        let mut meter = LoudnessMeter::new(48_000, 2);
        meter.push(&vec![[0.0; 2]; 48_000]);
        assert_eq!(meter.integrated(), f64::NEG_INFINITY);
    }
}
