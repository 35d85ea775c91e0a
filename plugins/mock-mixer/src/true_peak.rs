//! True-peak estimation as in ITU-R BS.1770: the signal is oversampled with the same
//! Hann-windowed sinc interpolator the ebur128 crate uses (4x below 96 kHz, 2x below 192 kHz),
//! so the peaks the limiter sees and the meter reports agree with what ebur128 measures.

use crate::decode::Frame;

/// Length of the whole interpolation filter, all phases together.
const FILTER_TAPS: usize = 48;
/// Frames checked at once for whether they can be skipped.
pub const SKIP_BLOCK: usize = 32;

/// The largest sample magnitude in `frames`.
pub fn loudest(frames: &[Frame]) -> f32 {
    frames.iter().fold(0.0f32, |peak, frame| {
        peak.max(frame[0].abs()).max(frame[1].abs())
    })
}

/// Estimates the signal between two consecutive samples from the samples around them.
pub struct Interpolator {
    /// For each in-between phase, the coefficients over a window of `taps` samples, oldest
    /// first.
    phases: Vec<Vec<f32>>,
    taps: usize,
    /// How many samples after the pair the window reaches.
    lookahead: usize,
    /// Largest sum of absolute coefficients of any phase: no interpolated value can exceed the
    /// window's largest sample times this.
    bound: f32,
}

impl Interpolator {
    pub fn new(sample_rate: u32) -> Self {
        let factor = if sample_rate < 96_000 {
            4
        } else if sample_rate < 192_000 {
            2
        } else {
            // At 192 kHz the samples themselves are close enough to the true peak.
            return Self {
                phases: Vec::new(),
                taps: 1,
                lookahead: 0,
                bound: 1.0,
            };
        };
        let taps = FILTER_TAPS / factor;
        let window = FILTER_TAPS as f64;
        let coefficient = |index: usize| -> f32 {
            let j = index as f64;
            let hann = 0.5 * (1.0 - (std::f64::consts::TAU * j / window).cos());
            let m = (j - window / 2.0) * std::f64::consts::PI / factor as f64;
            (if m.abs() > 1e-6 {
                hann * m.sin() / m
            } else {
                hann
            }) as f32
        };
        let phases: Vec<Vec<f32>> = (1..factor)
            .map(|phase| {
                (0..taps)
                    .map(|i| coefficient((taps - 1 - i) * factor + phase))
                    .collect()
            })
            .collect();
        let bound = phases
            .iter()
            .map(|phase| phase.iter().map(|c| c.abs()).sum::<f32>())
            .fold(1.0, f32::max);
        Self {
            phases,
            taps,
            lookahead: taps / 2,
            bound,
        }
    }

    pub fn taps(&self) -> usize {
        self.taps
    }

    pub fn lookahead(&self) -> usize {
        self.lookahead
    }

    pub fn bound(&self) -> f32 {
        self.bound
    }

    /// The largest magnitude, over both channels, between the pair of frames `lookahead`
    /// before the newest one in `window` (oldest first, `taps` long) and the frame after it.
    #[inline]
    pub fn peak_between(&self, window: &[Frame]) -> f32 {
        let mut peak = 0.0f32;
        for phase in &self.phases {
            let mut sum = [0.0f32; 2];
            for (c, frame) in phase.iter().zip(window) {
                sum[0] += c * frame[0];
                sum[1] += c * frame[1];
            }
            peak = peak.max(sum[0].abs()).max(sum[1].abs());
        }
        peak
    }
}

/// Measures the true peak of a stream of frames (a mono stream repeats each sample in both
/// halves of a frame).
pub struct TruePeakMeter {
    interpolator: Interpolator,
    /// The last `taps - 1` frames, then the frames being measured.
    history: Vec<Frame>,
    /// Frames since the last sample loud enough that values interpolated near it could raise
    /// the peak; only windows holding such a sample are interpolated.
    quiet_frames: usize,
    peak: f32,
}

impl TruePeakMeter {
    pub fn new(sample_rate: u32) -> Self {
        let interpolator = Interpolator::new(sample_rate);
        Self {
            history: vec![[0.0; 2]; interpolator.taps() - 1],
            quiet_frames: interpolator.taps(),
            interpolator,
            peak: 0.0,
        }
    }

    pub fn push(&mut self, frames: &[Frame]) {
        let taps = self.interpolator.taps();
        let bound = self.interpolator.bound();
        self.history.extend_from_slice(frames);
        let mut peak = self.peak;
        let mut quiet_frames = self.quiet_frames;
        let mut block_start = taps - 1;
        while block_start < self.history.len() {
            let block_end = (block_start + SKIP_BLOCK).min(self.history.len());
            let block = &self.history[block_start..block_end];
            if quiet_frames >= taps && loudest(block) * bound <= peak {
                // Neither these samples nor any window ending among them can raise the peak.
                quiet_frames += block.len();
                block_start = block_end;
                continue;
            }
            for index in block_start..block_end {
                let frame = self.history[index];
                let magnitude = frame[0].abs().max(frame[1].abs());
                peak = peak.max(magnitude);
                quiet_frames = if magnitude * bound > peak {
                    0
                } else {
                    quiet_frames + 1
                };
                if quiet_frames < taps {
                    let window = &self.history[index + 1 - taps..=index];
                    peak = peak.max(self.interpolator.peak_between(window));
                }
            }
            block_start = block_end;
        }
        self.peak = peak;
        self.quiet_frames = quiet_frames;
        let keep_from = self.history.len() - (taps - 1);
        self.history.drain(..keep_from);
    }

    /// The true peak as a linear magnitude, after flushing the interpolator.
    pub fn finish(mut self) -> f32 {
        self.push(&vec![[0.0; 2]; self.interpolator.lookahead()]);
        self.peak
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebur128::{EbuR128, Mode};

    fn noise(frames: usize, seed: u32) -> Vec<f32> {
        let mut state = seed;
        (0..frames * 2)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / (1u32 << 24) as f32 * 1.6 - 0.8
            })
            .collect()
    }

    #[test]
    fn agrees_with_ebur128() {
        for rate in [44_100, 96_000, 192_000] {
            let samples = noise(20_000, rate);
            let frames: Vec<Frame> = samples.chunks_exact(2).map(|f| [f[0], f[1]]).collect();
            let mut meter = TruePeakMeter::new(rate);
            for chunk in frames.chunks(999) {
                meter.push(chunk);
            }
            let ours = meter.finish();
            let mut reference = EbuR128::new(2, rate, Mode::TRUE_PEAK).expect("meter");
            reference.add_frames_f32(&samples).expect("frames");
            let theirs = (0..2)
                .map(|channel| reference.true_peak(channel).expect("peak"))
                .fold(0.0f64, f64::max) as f32;
            assert!((ours - theirs).abs() < 1e-4, "{rate}: {ours} vs {theirs}");
        }
    }

    #[test]
    fn finds_peaks_between_samples() {
        // A quarter-rate sine sampled at 45 degrees: samples read 0.707, the wave reaches 1.
        let frames: Vec<Frame> = (0..1_000)
            .map(|n| {
                let value =
                    (std::f32::consts::FRAC_PI_2 * n as f32 + std::f32::consts::FRAC_PI_4).sin();
                [value, value]
            })
            .collect();
        let mut meter = TruePeakMeter::new(48_000);
        meter.push(&frames);
        let peak = meter.finish();
        assert!(peak > 0.98, "{peak}");
    }
}
