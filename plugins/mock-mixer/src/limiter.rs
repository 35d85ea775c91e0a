//! A look-ahead true-peak limiter. Each frame's peak includes the values interpolated on both
//! sides of it, so inter-sample overs are caught; the gain is the minimum needed over the
//! look-ahead window, released exponentially and then smoothed by a moving average as long as
//! the window. The average of values that are each at most the gain a frame needs is itself at
//! most that gain, so the smoothing never lets a peak through.

use std::collections::VecDeque;

use crate::decode::Frame;
use crate::true_peak::{Interpolator, SKIP_BLOCK, loudest};

pub struct Limiter {
    threshold: f32,
    interpolator: Interpolator,
    /// Look-ahead, and length of the moving average, in frames.
    window: u64,
    release: f32,
    /// The stream from frame `signal_start` on. The stream is the input preceded by `lead`
    /// frames of silence, which give the first frames a full window behind them.
    signal: Vec<Frame>,
    signal_start: u64,
    lead: u64,
    /// Stream index just past the last input frame.
    end: u64,
    /// Next frame whose peak is judged.
    judged: u64,
    /// Latest frame loud enough that values interpolated near it may exceed the threshold.
    last_loud: Option<u64>,
    /// Interpolated peak between the last judged frame and the one after it.
    previous_between: f32,
    /// Frames whose needed gain is below 1 and may still be the window minimum, as
    /// (frame, gain) with gains increasing; empty means the minimum is 1.
    minimum: VecDeque<(u64, f32)>,
    released: f32,
    /// The last `window` released gains, their sum, and the slot the next one replaces.
    recent: Vec<f32>,
    recent_sum: f64,
    recent_slot: usize,
    /// How many of the latest released gains in a row were exactly 1; once that covers the
    /// window, the gain is 1 without averaging.
    unity_run: u64,
}

impl Limiter {
    /// A limiter whose output's true peak stays at or below `threshold` (linear), for
    /// `total_frames` frames of input.
    pub fn new(
        sample_rate: u32,
        threshold: f32,
        lookahead_ms: u32,
        release_ms: u32,
        total_frames: u64,
    ) -> Self {
        let interpolator = Interpolator::new(sample_rate);
        let window = (u64::from(sample_rate) * u64::from(lookahead_ms) / 1000).max(1);
        let release_frames = (f64::from(sample_rate) * f64::from(release_ms) / 1000.0).max(1.0);
        let lead = window - 1 + interpolator.lookahead() as u64;
        Self {
            threshold,
            window,
            release: (1.0 - (-1.0 / release_frames).exp()) as f32,
            signal: vec![[0.0; 2]; lead as usize],
            signal_start: 0,
            lead,
            end: lead + total_frames,
            judged: 0,
            last_loud: None,
            previous_between: 0.0,
            minimum: VecDeque::new(),
            released: 1.0,
            recent: vec![1.0; window as usize],
            recent_sum: window as f64,
            recent_slot: 0,
            unity_run: window,
            interpolator,
        }
    }

    pub fn process(&mut self, input: &[Frame], output: &mut Vec<Frame>) {
        self.signal.extend_from_slice(input);
        self.run(output);
    }

    /// Pushes trailing silence until every input frame has come out.
    pub fn finish(&mut self, output: &mut Vec<Frame>) {
        let flush = self.window - 1 + self.interpolator.lookahead() as u64;
        self.signal
            .extend(std::iter::repeat_n([0.0; 2], flush as usize));
        self.run(output);
    }

    fn run(&mut self, output: &mut Vec<Frame>) {
        let lookahead = self.interpolator.lookahead() as u64;
        let taps = self.interpolator.taps() as u64;
        let bound = self.interpolator.bound();
        let threshold = self.threshold;
        let window = self.window;
        let received = self.signal_start + self.signal.len() as u64;
        let start = self.signal_start;
        let frame_at = |signal: &[Frame], index: u64| signal[(index - start) as usize];
        let mut judged = self.judged;
        while judged + lookahead < received {
            let block = (received - judged - lookahead).min(SKIP_BLOCK as u64);
            if self.is_settled(judged) {
                let entering = (judged + lookahead - start) as usize;
                let entering = &self.signal[entering..entering + block as usize];
                if loudest(entering) * bound <= threshold {
                    // Nothing here needs limiting and the gain is settled at 1: the frames
                    // leaving the look-ahead pass through unchanged.
                    let leaving_from = (judged + 1).saturating_sub(window).max(self.lead);
                    let leaving_to = (judged + block + 1).saturating_sub(window).min(self.end);
                    if leaving_from < leaving_to {
                        let from = (leaving_from - start) as usize;
                        let to = (leaving_to - start) as usize;
                        output.extend_from_slice(&self.signal[from..to]);
                    }
                    judged += block;
                    self.previous_between = 0.0;
                    continue;
                }
            }
            let entering = frame_at(&self.signal, judged + lookahead);
            if entering[0].abs().max(entering[1].abs()) * bound > threshold {
                self.last_loud = Some(judged + lookahead);
            }
            // The window of the values between `judged` and the next frame.
            let window_start = (judged + lookahead + 1).saturating_sub(taps);
            let between = match self.last_loud {
                Some(loud) if loud >= window_start => {
                    let from = (window_start - start) as usize;
                    self.interpolator
                        .peak_between(&self.signal[from..from + taps as usize])
                }
                _ => 0.0,
            };
            let frame = frame_at(&self.signal, judged);
            let peak = frame[0]
                .abs()
                .max(frame[1].abs())
                .max(between)
                .max(self.previous_between);
            self.previous_between = between;
            if peak > threshold {
                let needed = threshold / peak;
                while self.minimum.back().is_some_and(|&(_, gain)| gain >= needed) {
                    self.minimum.pop_back();
                }
                self.minimum.push_back((judged, needed));
            }
            judged += 1;
            // `judged` now completes the look-ahead window of frame `judged - window`.
            let Some(first) = judged.checked_sub(window) else {
                continue;
            };
            while self
                .minimum
                .front()
                .is_some_and(|&(frame, _)| frame < first)
            {
                self.minimum.pop_front();
            }
            let gain = self.gain_for(self.minimum.front().map_or(1.0, |&(_, gain)| gain));
            if first >= self.lead && first < self.end {
                let frame = frame_at(&self.signal, first);
                output.push([frame[0] * gain, frame[1] * gain]);
            }
        }
        self.judged = judged;
        // Keep what later windows and the delayed output still need.
        let keep_from = (judged + 1)
            .saturating_sub(taps)
            .min(judged.saturating_sub(window))
            .max(start);
        self.signal.drain(..(keep_from - start) as usize);
        self.signal_start = keep_from;
    }

    /// Whether the gain is exactly 1 with nothing pending: no frame in the look-ahead needs
    /// less, the release has recovered, and no loud sample lies in the interpolation window of
    /// frame `judged`.
    fn is_settled(&self, judged: u64) -> bool {
        self.minimum.is_empty()
            && self.released == 1.0
            && self.unity_run >= self.window
            && self.previous_between <= self.threshold
            && self
                .last_loud
                .is_none_or(|loud| loud + (self.interpolator.lookahead() as u64) <= judged)
    }

    /// Releases toward `window_minimum` and averages the released gain over the window.
    #[inline]
    fn gain_for(&mut self, window_minimum: f32) -> f32 {
        let recovering = self.released + (1.0 - self.released) * self.release;
        // Snap the last step of the recovery, which would otherwise stall a rounding step
        // short of 1.
        let recovering = if recovering > 0.999_999 {
            1.0
        } else {
            recovering
        };
        self.released = window_minimum.min(recovering);
        if self.released == 1.0 && self.unity_run >= self.window {
            // The ring holds only ones, so the average is exactly 1.
            return 1.0;
        }
        self.unity_run = if self.released == 1.0 {
            self.unity_run + 1
        } else {
            0
        };
        let slot = self.recent_slot;
        self.recent_slot = if slot + 1 == self.recent.len() {
            0
        } else {
            slot + 1
        };
        self.recent_sum += f64::from(self.released) - f64::from(self.recent[slot]);
        self.recent[slot] = self.released;
        if self.unity_run >= self.window {
            self.recent_sum = self.window as f64;
            return 1.0;
        }
        (self.recent_sum / self.window as f64) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::true_peak::TruePeakMeter;

    fn limit(input: &[Frame], threshold: f32) -> Vec<Frame> {
        let mut limiter = Limiter::new(44_100, threshold, 5, 80, input.len() as u64);
        let mut output = Vec::new();
        for chunk in input.chunks(1000) {
            limiter.process(chunk, &mut output);
        }
        limiter.finish(&mut output);
        output
    }

    #[test]
    fn quiet_audio_passes_unchanged() {
        let input: Vec<Frame> = (0..5_000)
            .map(|n| {
                let value = 0.3 * (n as f32 * 0.05).sin();
                [value, -value]
            })
            .collect();
        assert_eq!(limit(&input, 0.8), input);
    }

    #[test]
    fn true_peak_stays_under_the_threshold() {
        // Loud noise with bursts far over full scale, rich in inter-sample peaks.
        let mut state = 12_345u32;
        let input: Vec<Frame> = (0..100_000)
            .map(|n| {
                let burst = if (n / 7_000) % 2 == 0 { 3.0 } else { 0.5 };
                let mut next = || {
                    state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    ((state >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0) * burst
                };
                [next(), next()]
            })
            .collect();
        let threshold = 0.85;
        let output = limit(&input, threshold);
        assert_eq!(output.len(), input.len());
        let mut meter = TruePeakMeter::new(44_100);
        meter.push(&output);
        let peak = meter.finish();
        // The gain moves slowly enough that interpolating the product barely differs.
        assert!(peak <= threshold * 1.01, "true peak {peak}");
        assert!(peak > threshold * 0.9, "true peak {peak}");
    }
}
