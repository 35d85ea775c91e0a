//! The mixing job: validates the request, lays out the episode, measures its loudness in a
//! first pass and writes it normalised and limited in a second, streaming both times. The
//! loudness and true peak reported are measured on the samples actually written.

use ebur128::{EbuR128, Mode};

use crate::decode::{Frame, Resampler};
use crate::io::{AudioInputs, AudioOutput, ChunkedWriter};
use crate::limiter::Limiter;
use crate::loudness::LoudnessMeter;
use crate::render::{Clip, Input, MixPlan, MusicBed, Renderer, db_to_gain};
use crate::timeline::{ClipTiming, Timeline, frames_to_ms, lay_out, ms_to_frames};
use crate::true_peak::TruePeakMeter;
use crate::wav::{self, HEADER_BYTES};
use guest_support::failure::Failure;

/// Frames rendered per step.
const CHUNK_FRAMES: usize = 4096;
/// The limiter aims this far under the ceiling: the final rounding to 16 bits and the gain's
/// movement shift true peaks slightly.
const LIMITER_MARGIN_DB: f32 = 0.3;
const LIMITER_LOOKAHEAD_MS: u32 = 5;
const LIMITER_RELEASE_MS: u32 = 80;
/// Fade where the music bed loops.
const LOOP_SEAM_MS: u64 = 20;
pub const OUTPUT_RATES: std::ops::RangeInclusive<u32> = 8_000..=192_000;
/// Reported for digital silence, whose loudness and peak are minus infinity: the R128 absolute
/// gate and the level of one 16-bit step.
const SILENT_LUFS: f32 = -70.0;
const SILENT_DBTP: f32 = -90.3;

pub struct ClipRequest {
    pub source: u32,
    pub gain_db: f32,
    pub gap_before_ms: Option<u32>,
}

pub struct MusicRequest {
    pub source: u32,
    pub gain_db: f32,
    pub duck_db: f32,
    pub duck_attack_ms: u32,
    pub duck_release_ms: u32,
}

pub struct Settings {
    pub gap_ms: u32,
    pub crossfade_ms: u32,
    pub padding_ms: u32,
    pub sample_rate: u32,
    pub channels: u8,
    pub loudness_lufs: Option<f32>,
    pub true_peak_dbtp: f32,
}

pub struct MixRequest {
    pub clips: Vec<ClipRequest>,
    pub music: Option<MusicRequest>,
    pub settings: Settings,
}

#[derive(Debug, PartialEq)]
pub struct ClipPlacement {
    pub clip: u32,
    pub start_ms: u64,
    pub end_ms: u64,
}

#[derive(Debug)]
pub struct MixReport {
    pub duration_ms: u64,
    pub integrated_lufs: f32,
    pub true_peak_dbtp: f32,
    pub placements: Vec<ClipPlacement>,
    /// Total length of the input clips.
    pub input_ms: u64,
}

pub fn mix(
    request: &MixRequest,
    inputs: &dyn AudioInputs,
    output: &mut dyn AudioOutput,
) -> Result<MixReport, Failure> {
    let settings = &request.settings;
    check_settings(request)?;
    let plan = plan(request, inputs)?;
    let rate = plan.sample_rate;
    let channels = plan.channels;
    let total_frames = plan.timeline.total_frames;
    // The RIFF size field counts everything after its first 8 bytes and has 32 bits.
    let data_bytes = total_frames * channels as u64 * 2;
    if data_bytes + HEADER_BYTES - 8 > u64::from(u32::MAX) {
        return Err(Failure::invalid(format!(
            "the episode would be {} minutes, too long for one wav file",
            frames_to_ms(total_frames, rate) / 60_000
        )));
    }

    let target = settings
        .loudness_lufs
        .unwrap_or(if channels == 2 { -16.0 } else { -19.0 });
    let measured = measure_loudness(&plan, inputs)?;
    let gain = if measured.is_finite() {
        db_to_gain(target - measured as f32)
    } else {
        1.0
    };
    let ceiling = db_to_gain(settings.true_peak_dbtp - LIMITER_MARGIN_DB);
    let (lufs, peak) = write_episode(&plan, inputs, output, gain, ceiling)?;

    let placements = plan
        .timeline
        .placements
        .iter()
        .zip(0u32..)
        .map(|(placement, clip)| ClipPlacement {
            clip,
            start_ms: frames_to_ms(placement.start, rate),
            end_ms: frames_to_ms(placement.end(), rate),
        })
        .collect();
    let input_ms = plan
        .clips
        .iter()
        .map(|clip| frames_to_ms(clip.input.layout.frames, clip.input.layout.sample_rate))
        .sum();
    Ok(MixReport {
        duration_ms: frames_to_ms(total_frames, rate),
        integrated_lufs: if lufs.is_finite() {
            lufs as f32
        } else {
            SILENT_LUFS
        },
        true_peak_dbtp: if peak > 0.0 {
            20.0 * peak.log10()
        } else {
            SILENT_DBTP
        },
        placements,
        input_ms,
    })
}

fn check_settings(request: &MixRequest) -> Result<(), Failure> {
    let settings = &request.settings;
    if request.clips.is_empty() {
        return Err(Failure::invalid("no clips to mix"));
    }
    if settings.channels != 1 && settings.channels != 2 {
        return Err(Failure::invalid(format!(
            "channels must be 1 or 2, not {}",
            settings.channels
        )));
    }
    if !OUTPUT_RATES.contains(&settings.sample_rate) {
        return Err(Failure::invalid(format!(
            "sample rate {} hz is outside {}..={} hz",
            settings.sample_rate,
            OUTPUT_RATES.start(),
            OUTPUT_RATES.end()
        )));
    }
    check_range("loudness-lufs", settings.loudness_lufs, -70.0, -1.0)?;
    check_range("true-peak-dbtp", Some(settings.true_peak_dbtp), -30.0, 0.0)?;
    for (index, clip) in request.clips.iter().enumerate() {
        check_range(
            &format!("clip {index} gain-db"),
            Some(clip.gain_db),
            -100.0,
            40.0,
        )?;
    }
    if let Some(music) = &request.music {
        check_range("music gain-db", Some(music.gain_db), -100.0, 40.0)?;
        check_range("music duck-db", Some(music.duck_db), 0.0, 100.0)?;
    }
    Ok(())
}

fn check_range(name: &str, value: Option<f32>, low: f32, high: f32) -> Result<(), Failure> {
    match value {
        Some(value) if !(low..=high).contains(&value) => Err(Failure::invalid(format!(
            "{name} {value} is outside {low}..={high}"
        ))),
        _ => Ok(()),
    }
}

/// Reads every header and lays out the timeline.
fn plan(request: &MixRequest, inputs: &dyn AudioInputs) -> Result<MixPlan, Failure> {
    let settings = &request.settings;
    let rate = settings.sample_rate;
    let frames = |ms: u32| ms_to_frames(u64::from(ms), rate);
    let mut clips = Vec::with_capacity(request.clips.len());
    let mut timings = Vec::with_capacity(request.clips.len());
    for (index, clip) in request.clips.iter().enumerate() {
        let input = open_input(inputs, clip.source, format!("clip {index}"))?;
        timings.push(ClipTiming {
            frames: Resampler::output_frames(input.layout.frames, input.layout.sample_rate, rate),
            gap_before: clip.gap_before_ms.map(frames),
        });
        clips.push(Clip {
            input,
            gain: db_to_gain(clip.gain_db),
        });
    }
    let timeline: Timeline = lay_out(
        &timings,
        frames(settings.gap_ms),
        frames(settings.crossfade_ms),
        frames(settings.padding_ms),
    );
    let bed = match &request.music {
        Some(music) => {
            let input = open_input(inputs, music.source, "music bed".into())?;
            Some(MusicBed {
                loop_seam_frames: ms_to_frames(LOOP_SEAM_MS, input.layout.sample_rate),
                input,
                level_db: music.gain_db,
                duck_db: music.duck_db,
                attack_frames: frames(music.duck_attack_ms),
                release_frames: frames(music.duck_release_ms),
            })
        }
        None => None,
    };
    Ok(MixPlan {
        clips,
        timeline,
        bed,
        sample_rate: rate,
        channels: usize::from(settings.channels),
    })
}

fn open_input(inputs: &dyn AudioInputs, source: u32, name: String) -> Result<Input, Failure> {
    let label = format!("{name} (source {source})");
    let layout = wav::read_layout(inputs, source, &label)?;
    Ok(Input {
        source,
        label,
        layout,
    })
}

/// The meter for the written output.
fn loudness_meter(plan: &MixPlan) -> Result<EbuR128, Failure> {
    // The histogram keeps the meter's memory constant however long the episode is.
    EbuR128::new(
        plan.channels as u32,
        plan.sample_rate,
        Mode::I | Mode::HISTOGRAM,
    )
    .map_err(|error| Failure::internal(format!("cannot create the loudness meter: {error}")))
}

fn meter_error(error: ebur128::Error) -> Failure {
    Failure::internal(format!("loudness measurement failed: {error}"))
}

/// Pass one: integrated loudness of the mix before normalisation, in LUFS.
fn measure_loudness(plan: &MixPlan, inputs: &dyn AudioInputs) -> Result<f64, Failure> {
    let mut meter = LoudnessMeter::new(plan.sample_rate, plan.channels);
    let mut renderer = Renderer::new(plan, inputs);
    let mut chunk = vec![[0.0f32; 2]; CHUNK_FRAMES];
    let mut remaining = plan.timeline.total_frames;
    while remaining > 0 {
        let frames = remaining.min(CHUNK_FRAMES as u64) as usize;
        let chunk = &mut chunk[..frames];
        renderer.render(chunk)?;
        meter.push(chunk);
        remaining -= frames as u64;
    }
    Ok(meter.integrated())
}

/// Pass two: renders again with `gain`, limits true peaks to `ceiling`, writes the WAV and
/// measures what was written. Returns its integrated loudness (LUFS) and true peak (linear).
fn write_episode(
    plan: &MixPlan,
    inputs: &dyn AudioInputs,
    output: &mut dyn AudioOutput,
    gain: f32,
    ceiling: f32,
) -> Result<(f64, f32), Failure> {
    let total_frames = plan.timeline.total_frames;
    let mut writer = ChunkedWriter::new(output);
    // `mix` checked that the episode fits a WAV file, so the frame count fits 32 bits.
    writer.write(&tts_kit::wav::pcm16_header(
        plan.sample_rate,
        plan.channels as u16,
        total_frames as u32,
    ))?;
    let mut encoder = Encoder {
        channels: plan.channels,
        writer,
        loudness: loudness_meter(plan)?,
        peak: TruePeakMeter::new(plan.sample_rate),
        pcm: Vec::with_capacity(CHUNK_FRAMES * 2),
        bytes: Vec::with_capacity(CHUNK_FRAMES * 4),
        written: Vec::with_capacity(CHUNK_FRAMES),
    };
    let mut limiter = Limiter::new(
        plan.sample_rate,
        ceiling,
        LIMITER_LOOKAHEAD_MS,
        LIMITER_RELEASE_MS,
        total_frames,
    );
    let mut renderer = Renderer::new(plan, inputs);
    let mut chunk = vec![[0.0f32; 2]; CHUNK_FRAMES];
    let mut limited = Vec::with_capacity(CHUNK_FRAMES);
    let mut remaining = total_frames;
    while remaining > 0 {
        let frames = remaining.min(CHUNK_FRAMES as u64) as usize;
        let chunk = &mut chunk[..frames];
        renderer.render(chunk)?;
        for frame in chunk.iter_mut() {
            frame[0] *= gain;
            frame[1] *= gain;
        }
        limiter.process(chunk, &mut limited);
        encoder.encode(&limited)?;
        limited.clear();
        remaining -= frames as u64;
    }
    limiter.finish(&mut limited);
    encoder.encode(&limited)?;
    encoder.writer.flush()?;
    let lufs = encoder.loudness.loudness_global().map_err(meter_error)?;
    Ok((lufs, encoder.peak.finish()))
}

/// Turns limited frames into 16-bit PCM, writes them and measures exactly what was written.
struct Encoder<'a> {
    channels: usize,
    writer: ChunkedWriter<'a>,
    loudness: EbuR128,
    peak: TruePeakMeter,
    pcm: Vec<i16>,
    bytes: Vec<u8>,
    /// The written samples as frames again, for the true-peak meter.
    written: Vec<Frame>,
}

impl Encoder<'_> {
    fn encode(&mut self, frames: &[Frame]) -> Result<(), Failure> {
        self.pcm.clear();
        if self.channels == 2 {
            self.pcm.extend(
                frames
                    .iter()
                    .flat_map(|frame| [to_pcm(frame[0]), to_pcm(frame[1])]),
            );
        } else {
            self.pcm.extend(frames.iter().map(|frame| to_pcm(frame[0])));
        }
        self.bytes.clear();
        self.bytes
            .extend(self.pcm.iter().flat_map(|sample| sample.to_le_bytes()));
        self.written.clear();
        let as_float = |sample: i16| f32::from(sample) / 32768.0;
        if self.channels == 2 {
            self.written.extend(
                self.pcm
                    .chunks_exact(2)
                    .map(|pair| [as_float(pair[0]), as_float(pair[1])]),
            );
        } else {
            self.written
                .extend(self.pcm.iter().map(|&sample| [as_float(sample); 2]));
        }
        self.peak.push(&self.written);
        self.loudness
            .add_frames_i16(&self.pcm)
            .map_err(meter_error)?;
        self.writer.write(&self.bytes)
    }
}

/// Rounds to the nearest 16-bit step, halves away from zero. Adding a half and truncating
/// avoids `f32::round`, a library call on baseline x86-64; `as` saturates out-of-range values.
#[inline]
fn to_pcm(sample: f32) -> i16 {
    let scaled = sample * 32768.0;
    (scaled + 0.5f32.copysign(scaled)) as i16
}
