//! Streaming decoding of one input: 16-bit PCM read in chunks, optionally looped, then
//! resampled to the output rate. Frames are always `[left, right]`; a mono input repeats its
//! sample in both. Everything works on blocks of frames so that the per-frame work stays a
//! few arithmetic operations.

use std::f32::consts::FRAC_PI_2;

use crate::io::{AudioInputs, CHUNK_BYTES};
use crate::wav::WavLayout;
use guest_support::failure::Failure;

pub type Frame = [f32; 2];

/// Input frames the resampler decodes at a time.
const PENDING_FRAMES: usize = 1024;
/// Most distinct interpolation positions whose weights are precomputed.
const MAX_WEIGHT_TABLE: u32 = 1024;

/// Reads the samples of one input chunk by chunk.
pub struct PcmReader<'a> {
    inputs: &'a dyn AudioInputs,
    source: u32,
    label: &'a str,
    layout: WavLayout,
    buffer: Vec<u8>,
    /// Next unread byte of `buffer`.
    cursor: usize,
    /// Frame index (within the file) of the first frame not yet fetched into `buffer`.
    fetched: u64,
    /// Frame index (within the file) of the next frame returned.
    position: u64,
    /// When set, the input repeats forever with this many frames of fade at each end of the
    /// file, so the seam dips instead of clicking.
    loop_seam: Option<u64>,
}

impl<'a> PcmReader<'a> {
    pub fn new(
        inputs: &'a dyn AudioInputs,
        source: u32,
        label: &'a str,
        layout: WavLayout,
        loop_seam: Option<u64>,
    ) -> Self {
        Self {
            inputs,
            source,
            label,
            layout,
            buffer: Vec::new(),
            cursor: 0,
            fetched: 0,
            position: 0,
            loop_seam: loop_seam.map(|seam| seam.min(layout.frames / 4)),
        }
    }

    /// Fills `out` from the input and returns how many frames it wrote: all of them, unless a
    /// non-looping input ran out.
    pub fn read(&mut self, out: &mut [Frame]) -> Result<usize, Failure> {
        let block = self.layout.block_align() as usize;
        let mut filled = 0;
        while filled < out.len() {
            if self.cursor >= self.buffer.len() && !self.refill()? {
                break;
            }
            // A buffer never spans the end of the file, so neither does `count`.
            let count = ((self.buffer.len() - self.cursor) / block).min(out.len() - filled);
            let bytes = &self.buffer[self.cursor..self.cursor + count * block];
            let target = &mut out[filled..filled + count];
            let sample = |low: u8, high: u8| f32::from(i16::from_le_bytes([low, high])) / 32768.0;
            if self.layout.channels == 2 {
                for (frame, bytes) in target.iter_mut().zip(bytes.chunks_exact(4)) {
                    *frame = [sample(bytes[0], bytes[1]), sample(bytes[2], bytes[3])];
                }
            } else {
                for (frame, bytes) in target.iter_mut().zip(bytes.chunks_exact(2)) {
                    let value = sample(bytes[0], bytes[1]);
                    *frame = [value, value];
                }
            }
            self.fade_seam(target);
            self.cursor += count * block;
            self.position += count as u64;
            if self.position == self.layout.frames && self.loop_seam.is_some() {
                self.position = 0;
            }
            filled += count;
        }
        Ok(filled)
    }

    /// Fades `frames`, which start at `self.position`, where they lie near a loop seam.
    fn fade_seam(&self, frames: &mut [Frame]) {
        let Some(seam) = self.loop_seam.filter(|&seam| seam > 0) else {
            return;
        };
        let total = self.layout.frames;
        let end = self.position + frames.len() as u64;
        if self.position >= seam && end <= total - seam {
            return;
        }
        for (frame, position) in frames.iter_mut().zip(self.position..) {
            let edge = position.min(total - 1 - position);
            if edge < seam {
                let gain = (edge as f32 + 0.5) / seam as f32;
                *frame = frame.map(|sample| sample * gain);
            }
        }
    }

    /// Fetches the next chunk; false at the end of a non-looping input.
    #[cold]
    fn refill(&mut self) -> Result<bool, Failure> {
        if self.fetched == self.layout.frames {
            if self.loop_seam.is_none() {
                return Ok(false);
            }
            self.fetched = 0;
        }
        let block = self.layout.block_align();
        let frames = (CHUNK_BYTES as u64 / block).min(self.layout.frames - self.fetched);
        let wanted = frames * block;
        let offset = self.layout.data_offset + self.fetched * block;
        self.buffer = self
            .inputs
            .read(self.source, offset, wanted as u32)
            .map_err(|error| {
                Failure::internal(format!("{}: reading failed: {error}", self.label))
            })?;
        if self.buffer.len() as u64 != wanted {
            return Err(Failure::internal(format!(
                "{}: read at byte {offset} returned {} bytes instead of {wanted}",
                self.label,
                self.buffer.len()
            )));
        }
        self.cursor = 0;
        self.fetched += frames;
        Ok(true)
    }
}

/// A second-order low-pass section, used in pairs to keep aliasing out when downsampling.
#[derive(Clone, Copy)]
struct LowPass {
    b: [f32; 3],
    a: [f32; 2],
    state: [[f32; 2]; 2],
}

impl LowPass {
    /// RBJ cookbook low-pass at `cutoff` (a fraction of the sample rate) with quality `q`.
    fn new(cutoff: f32, q: f32) -> Self {
        let omega = std::f32::consts::TAU * cutoff;
        let alpha = omega.sin() / (2.0 * q);
        let cos = omega.cos();
        let a0 = 1.0 + alpha;
        let b1 = (1.0 - cos) / a0;
        Self {
            b: [b1 / 2.0, b1, b1 / 2.0],
            a: [-2.0 * cos / a0, (1.0 - alpha) / a0],
            state: [[0.0; 2]; 2],
        }
    }

    /// Transposed direct form II, one state pair per channel.
    fn process(&mut self, frames: &mut [Frame]) {
        for frame in frames {
            for (x, state) in frame.iter_mut().zip(&mut self.state) {
                let y = self.b[0] * *x + state[0];
                state[0] = self.b[1] * *x - self.a[0] * y + state[1];
                state[1] = self.b[2] * *x - self.a[1] * y;
                *x = y;
            }
        }
    }
}

/// Converts a stream of input frames to the output rate with four-point cubic (Catmull-Rom)
/// interpolation. Output frame `n` sits exactly at input position `n * from / to`, tracked in
/// integers, so long inputs never drift.
pub struct Resampler {
    same_rate: bool,
    from: u64,
    to: u64,
    /// Whole and fractional input frames per output frame; the fraction is in units of
    /// `1 / to` (with `from / to` in lowest terms), so positions stay exact without a
    /// division per frame.
    step_whole: u64,
    step_fraction: u64,
    /// Input position of the next output frame: `index + fraction / to`.
    index: u64,
    fraction: u64,
    fraction_scale: f32,
    /// Interpolation weights for every possible `fraction`, when there are few enough.
    weights: Vec<[f32; 4]>,
    /// Decoded input frames from input index `pending_start - 1` on; the interpolation reads
    /// frames `index - 1 ..= index + 2` straight from here.
    pending: Vec<Frame>,
    pending_start: u64,
    /// Whether the input has run out, after which its last frame repeats.
    ended: bool,
    anti_alias: Option<[LowPass; 2]>,
}

impl Resampler {
    pub fn new(from: u32, to: u32) -> Self {
        // A fourth-order Butterworth low-pass a little under the new Nyquist frequency.
        let anti_alias = (from > to).then(|| {
            let cutoff = 0.45 * to as f32 / from as f32;
            [
                LowPass::new(cutoff, 0.541_196),
                LowPass::new(cutoff, 1.306_563),
            ]
        });
        let divisor = greatest_common_divisor(from, to);
        let (from, to) = (from / divisor, to / divisor);
        // Common rate pairs have a short cycle of fractions (147 for 24 kHz to 44.1 kHz).
        let weights = if to <= MAX_WEIGHT_TABLE {
            (0..to)
                .map(|fraction| catmull_rom(fraction as f32 / to as f32))
                .collect()
        } else {
            Vec::new()
        };
        Self {
            same_rate: from == to,
            from: u64::from(from),
            to: u64::from(to),
            step_whole: u64::from(from / to),
            step_fraction: u64::from(from % to),
            index: 0,
            fraction: 0,
            fraction_scale: 1.0 / to as f32,
            weights,
            pending: Vec::with_capacity(PENDING_FRAMES + 4),
            pending_start: 0,
            ended: false,
            anti_alias,
        }
    }

    /// Output frames a `frames`-frame input becomes.
    pub fn output_frames(frames: u64, from: u32, to: u32) -> u64 {
        (frames * u64::from(to) + u64::from(from) / 2) / u64::from(from)
    }

    /// Fills `out` with the next output frames. Past the end of the input its last frame
    /// repeats.
    pub fn fill(&mut self, reader: &mut PcmReader, out: &mut [Frame]) -> Result<(), Failure> {
        if self.same_rate {
            // Frames pass straight through; `pending` only remembers the last one, to repeat
            // past the end.
            let read = reader.read(out)?;
            if read < out.len() {
                let last = match read {
                    0 => self.pending.last().copied().unwrap_or([0.0; 2]),
                    _ => out[read - 1],
                };
                out[read..].fill(last);
            }
            if let Some(&last) = out.last() {
                self.pending.clear();
                self.pending.push(last);
            }
            return Ok(());
        }
        // Locals let the compiler keep the position in registers across the loop.
        let (from, to, step_whole, step_fraction, scale) = (
            self.from,
            self.to,
            self.step_whole,
            self.step_fraction,
            self.fraction_scale,
        );
        let mut index = self.index;
        let mut fraction = self.fraction;
        let mut rest = out;
        while !rest.is_empty() {
            if (index - self.pending_start) as usize + 4 > self.pending.len() {
                self.index = index;
                self.decode_more(reader)?;
            }
            // `pending[i]` is input frame `base + i - 1`; the frames decoded so far serve every
            // output frame whose `index` stays at or below `last`.
            let base = self.pending_start;
            let last = base + self.pending.len() as u64 - 4;
            let room = ((last - index + 1) * to - fraction).div_ceil(from);
            let (now, later) = rest.split_at_mut(room.min(rest.len() as u64) as usize);
            rest = later;
            for frame in now {
                let offset = (index - base) as usize;
                let window = &self.pending[offset..offset + 4];
                let weights = match self.weights.get(fraction as usize) {
                    Some(&weights) => weights,
                    // `fraction < to`, which fits 32 bits; converting from those is cheaper.
                    None => catmull_rom(fraction as u32 as f32 * scale),
                };
                index += step_whole;
                fraction += step_fraction;
                if fraction >= to {
                    fraction -= to;
                    index += 1;
                }
                for channel in 0..2 {
                    frame[channel] = weights[0] * window[0][channel]
                        + weights[1] * window[1][channel]
                        + weights[2] * window[2][channel]
                        + weights[3] * window[3][channel];
                }
            }
        }
        self.index = index;
        self.fraction = fraction;
        Ok(())
    }

    /// Drops the frames no longer needed and decodes more input, low-passed when
    /// downsampling, until frames `index - 1 ..= index + 2` are at hand.
    #[cold]
    fn decode_more(&mut self, reader: &mut PcmReader) -> Result<(), Failure> {
        loop {
            let offset = (self.index - self.pending_start) as usize;
            if offset + 4 <= self.pending.len() {
                return Ok(());
            }
            if self.ended {
                let last = self.pending.last().copied().unwrap_or([0.0; 2]);
                self.pending.clear();
                self.pending.resize(4, last);
                self.pending_start = self.index;
                return Ok(());
            }
            let first_read = self.pending_start == 0 && self.pending.is_empty();
            let dropped = offset.min(self.pending.len());
            self.pending.drain(..dropped);
            self.pending_start += dropped as u64;
            let kept = self.pending.len();
            self.pending.resize(kept + PENDING_FRAMES, [0.0; 2]);
            let read = reader.read(&mut self.pending[kept..])?;
            self.pending.truncate(kept + read);
            if let Some([first, second]) = &mut self.anti_alias {
                first.process(&mut self.pending[kept..]);
                second.process(&mut self.pending[kept..]);
            }
            if first_read && read > 0 {
                // Before the start, the first frame stands in for its missing predecessor.
                let first = self.pending[0];
                self.pending.insert(0, first);
            }
            self.ended = read == 0;
        }
    }
}

/// Weights of input frames `i - 1 ..= i + 2` for the point `t` of the way from frame `i` to
/// frame `i + 1`, on a Catmull-Rom spline.
fn catmull_rom(t: f32) -> [f32; 4] {
    let t2 = t * t;
    let t3 = t2 * t;
    [
        -0.5 * t3 + t2 - 0.5 * t,
        1.5 * t3 - 2.5 * t2 + 1.0,
        -1.5 * t3 + 2.0 * t2 + 0.5 * t,
        0.5 * t3 - 0.5 * t2,
    ]
}

fn greatest_common_divisor(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Gain of an equal-power fade `position` frames into a fade of `length` frames.
pub fn fade_gain(position: u64, length: u64) -> f32 {
    (FRAC_PI_2 * (position as f32 + 0.5) / length as f32).sin()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::memory::MemoryInputs;
    use crate::wav::read_layout;
    use tts_kit::wav::pcm16_header as header;

    fn wav(channels: u16, rate: u32, samples: &[i16]) -> Vec<u8> {
        let frames = (samples.len() / channels as usize) as u32;
        let mut bytes = header(rate, channels, frames).to_vec();
        for sample in samples {
            bytes.extend_from_slice(&sample.to_le_bytes());
        }
        bytes
    }

    fn read_all(inputs: &MemoryInputs, frames: usize, looping: bool) -> Vec<Frame> {
        let layout = read_layout(inputs, 0, "clip 0").expect("layout");
        let mut reader = PcmReader::new(inputs, 0, "clip 0", layout, looping.then_some(0));
        let mut out = vec![[0.0; 2]; frames];
        let read = reader.read(&mut out).expect("frames");
        out.truncate(read);
        out
    }

    #[test]
    fn reads_across_chunk_boundaries() {
        let samples: Vec<i16> = (0..100_000).map(|i| (i % 30_000) as i16).collect();
        let inputs = MemoryInputs(vec![wav(2, 8_000, &samples)]);
        let frames = read_all(&inputs, 60_000, false);
        assert_eq!(frames.len(), 50_000);
        assert_eq!(frames[40_000][1], f32::from(samples[80_001]) / 32768.0);
    }

    #[test]
    fn loops_back_to_the_start() {
        let inputs = MemoryInputs(vec![wav(1, 8_000, &[1, 2, 3])]);
        let frames = read_all(&inputs, 7, true);
        let values: Vec<i32> = frames
            .iter()
            .map(|frame| (frame[0] * 32768.0) as i32)
            .collect();
        assert_eq!(values, [1, 2, 3, 1, 2, 3, 1]);
    }

    #[test]
    fn resampling_keeps_duration_and_pitch() {
        // One second of 1 kHz at 24 kHz, resampled to 44.1 kHz (weights from the table) and to
        // 44.101 kHz (too many positions for a table, so weights computed per frame).
        let samples: Vec<i16> = (0..24_000)
            .map(|i| ((i as f32 * std::f32::consts::TAU / 24.0).sin() * 16_000.0) as i16)
            .collect();
        let inputs = MemoryInputs(vec![wav(1, 24_000, &samples)]);
        let layout = read_layout(&inputs, 0, "clip 0").expect("layout");
        for rate in [44_100, 44_101] {
            let count = Resampler::output_frames(layout.frames, 24_000, rate);
            assert_eq!(count, u64::from(rate));
            let mut reader = PcmReader::new(&inputs, 0, "clip 0", layout, None);
            let mut resampler = Resampler::new(24_000, rate);
            let mut frames = vec![[0.0; 2]; count as usize];
            // Uneven pieces, to cross block boundaries at odd places.
            for piece in frames.chunks_mut(777) {
                resampler.fill(&mut reader, piece).expect("frames");
            }
            let out: Vec<f32> = frames.iter().map(|frame| frame[0]).collect();
            let crossings = out
                .windows(2)
                .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
                .count();
            assert!((1_998..=2_001).contains(&crossings), "{crossings}");
            let expected =
                |n: usize| (n as f32 * std::f32::consts::TAU * 1_000.0 / rate as f32).sin();
            for n in (100..44_000).step_by(997) {
                assert!(
                    (out[n] / 0.488 - expected(n)).abs() < 0.02,
                    "{rate}: frame {n}"
                );
            }
        }
    }

    #[test]
    fn downsampling_removes_content_above_the_new_nyquist() {
        // 15 kHz cannot exist at 16 kHz; it must not fold back as a loud 1 kHz tone.
        let samples: Vec<i16> = (0..48_000)
            .map(|i| ((i as f32 * std::f32::consts::TAU * 15.0 / 48.0).sin() * 16_000.0) as i16)
            .collect();
        let inputs = MemoryInputs(vec![wav(1, 48_000, &samples)]);
        let layout = read_layout(&inputs, 0, "clip 0").expect("layout");
        let mut reader = PcmReader::new(&inputs, 0, "clip 0", layout, None);
        let mut resampler = Resampler::new(48_000, 16_000);
        let mut frames = vec![[0.0; 2]; 16_000];
        resampler.fill(&mut reader, &mut frames).expect("frames");
        let out: Vec<f32> = frames.iter().map(|frame| frame[0]).collect();
        let rms = (out[1_000..].iter().map(|v| v * v).sum::<f32>() / 15_000.0).sqrt();
        assert!(rms < 0.01, "aliased rms {rms}");
    }
}
