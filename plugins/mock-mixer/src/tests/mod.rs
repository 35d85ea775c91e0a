//! End-to-end tests of the mixer over in-memory inputs, with generated test signals, checked
//! by decoding the output with hound and measuring it independently with ebur128.

mod long_episode;
mod mixing;

use ebur128::{EbuR128, Mode};

use crate::io::memory::{MemoryInputs, MemoryOutput};
use crate::mix::{ClipRequest, MixReport, MixRequest, Settings, mix};

pub fn wav_bytes(rate: u32, channels: u16, samples: &[i16]) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut bytes = std::io::Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut bytes, spec).expect("wav writer");
    for &sample in samples {
        writer.write_sample(sample).expect("sample");
    }
    writer.finalize().expect("finalize");
    bytes.into_inner()
}

/// A small deterministic generator for test noise.
pub struct Lcg(pub u32);

impl Lcg {
    pub fn signed(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (self.0 >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0
    }
}

/// Mono "speech": a buzzy 140 Hz tone with harmonics, in syllable-like bursts separated by
/// short pauses, so it has speech's peaky envelope.
pub fn speechlike(rate: u32, seconds: f32, seed: u32) -> Vec<i16> {
    let mut noise = Lcg(seed);
    let frames = (rate as f32 * seconds) as usize;
    let syllable = rate as usize / 5;
    (0..frames)
        .map(|n| {
            let t = n as f32 / rate as f32;
            let within = (n % syllable) as f32 / syllable as f32;
            let envelope = if (n / syllable) % 7 == 6 {
                0.0
            } else {
                (std::f32::consts::PI * within).sin().powi(2)
            };
            let buzz: f32 = (1..=8)
                .map(|k| (std::f32::consts::TAU * 140.0 * k as f32 * t).sin() / k as f32)
                .sum();
            let value = envelope * (0.25 * buzz + 0.02 * noise.signed());
            (value * 32767.0) as i16
        })
        .collect()
}

pub fn tone(rate: u32, channels: u16, seconds: f32, hz: f32, amplitude: f32) -> Vec<i16> {
    let frames = (rate as f32 * seconds) as usize;
    (0..frames)
        .flat_map(|n| {
            let value = amplitude * (std::f32::consts::TAU * hz * n as f32 / rate as f32).sin();
            std::iter::repeat_n((value * 32767.0) as i16, channels as usize)
        })
        .collect()
}

/// Bursts of white noise, half a second on and a quarter off.
pub fn noise_bursts(rate: u32, channels: u16, seconds: f32, seed: u32) -> Vec<i16> {
    let mut noise = Lcg(seed);
    let frames = (rate as f32 * seconds) as usize;
    let period = rate as usize * 3 / 4;
    (0..frames)
        .flat_map(|n| {
            let on = n % period < rate as usize / 2;
            (0..channels)
                .map(|_| {
                    let value = if on { 0.4 * noise.signed() } else { 0.0 };
                    (value * 32767.0) as i16
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

pub fn settings(sample_rate: u32, channels: u8) -> Settings {
    Settings {
        gap_ms: 400,
        crossfade_ms: 20,
        padding_ms: 500,
        sample_rate,
        channels,
        loudness_lufs: None,
        true_peak_dbtp: -1.0,
    }
}

pub fn clip(source: u32) -> ClipRequest {
    ClipRequest {
        source,
        gain_db: 0.0,
        gap_before_ms: None,
    }
}

pub fn run(request: &MixRequest, inputs: Vec<Vec<u8>>) -> (MixReport, Vec<u8>) {
    let mut output = MemoryOutput::default();
    let report = mix(request, &MemoryInputs(inputs), &mut output).expect("mix");
    (report, output.bytes)
}

pub fn decode(bytes: &[u8]) -> (hound::WavSpec, Vec<i16>) {
    let reader = hound::WavReader::new(bytes).expect("valid wav");
    let spec = reader.spec();
    let samples = reader
        .into_samples::<i16>()
        .collect::<Result<_, _>>()
        .expect("samples");
    (spec, samples)
}

/// Integrated loudness (LUFS) and true peak (dBTP), measured without the mixer's shortcuts.
pub fn measure(spec: &hound::WavSpec, samples: &[i16]) -> (f64, f64) {
    let mut meter = EbuR128::new(
        u32::from(spec.channels),
        spec.sample_rate,
        Mode::I | Mode::TRUE_PEAK,
    )
    .expect("meter");
    meter.add_frames_i16(samples).expect("frames");
    let peak = (0..u32::from(spec.channels))
        .map(|channel| meter.true_peak(channel).expect("peak"))
        .fold(0.0f64, f64::max);
    (
        meter.loudness_global().expect("loudness"),
        20.0 * peak.log10(),
    )
}
