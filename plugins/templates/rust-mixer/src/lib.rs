//! A mixer plugin in Rust that lays the clips end to end with gaps and padding: a working
//! skeleton that shows what the host expects (clips read through `audio-source`, the episode
//! written through `audio-sink` as a 16-bit PCM WAV whose header matches the stated format and
//! duration, where each clip landed, usage and cost), ready for crossfades, a music bed and
//! loudness normalisation (`plugins/mock-mixer` in the host's repository does all of them).
//!
//! Clips may be any WAV `tts_kit::wav::decode` reads, at any rate and channel count: each is
//! converted to the requested format (`Pcm16::converted`: linear interpolation, mono spread
//! over both channels). Each clip is read whole, which suits speech lines; a mixer for long
//! inputs reads them in chunks, as `audio-source` allows.

wit_bindgen::generate!({ path: "wit", world: "mixer-provider" });

use exports::pipeline::services::mixer::{Guest, MixRequest, MixResponse, Placement};
use pipeline::services::audio_sink;
use pipeline::services::audio_source;
use pipeline::services::types::{
    AudioEncoding, AudioFormat, Cost, ErrorKind, ProviderError, Quantity, Usage, UsageUnit,
};
use tts_kit::billing::duration_ms;
use tts_kit::wav::{self, Pcm16};

/// Bytes asked of `audio-source` per read.
const READ_CHUNK: u32 = 1 << 20;

struct Plugin;

impl Guest for Plugin {
    fn mix(request: MixRequest) -> Result<MixResponse, ProviderError> {
        let settings = &request.settings;
        let channels = u16::from(settings.channels);
        if channels == 0 || channels > 2 || settings.sample_rate == 0 {
            return Err(failure(
                ErrorKind::InvalidRequest,
                "channels must be 1 or 2".into(),
            ));
        }
        let frames_of = |ms: u32| u64::from(ms) * u64::from(settings.sample_rate) / 1000;
        let clips = request
            .clips
            .iter()
            .map(|clip| read_clip(clip.source, settings.sample_rate, channels, clip.gain_db))
            .collect::<Result<Vec<Vec<u8>>, ProviderError>>()?;

        // The layout first: the WAV header states the total length before any sample.
        let block = u64::from(channels) * 2;
        let mut at = frames_of(settings.padding_ms);
        let mut placements = Vec::new();
        let mut starts = Vec::new();
        for (index, (clip, samples)) in request.clips.iter().zip(&clips).enumerate() {
            if index > 0 {
                at += frames_of(clip.gap_before_ms.unwrap_or(settings.gap_ms));
            }
            let start = at;
            starts.push(start);
            at += samples.len() as u64 / block;
            placements.push(Placement {
                clip: index as u32,
                start_ms: duration_ms(start, settings.sample_rate),
                end_ms: duration_ms(at, settings.sample_rate),
            });
        }
        let total_frames = at + frames_of(settings.padding_ms);
        let total = u32::try_from(total_frames)
            .ok()
            .filter(|frames| u64::from(*frames) * block < u64::from(u32::MAX) - 44)
            .ok_or_else(|| {
                failure(
                    ErrorKind::InvalidRequest,
                    "the episode is too long for a WAV file".into(),
                )
            })?;

        write(&wav::pcm16_header(settings.sample_rate, channels, total))?;
        let mut written = 0u64;
        let mut sum_of_squares = 0f64;
        let mut peak = 0i16;
        for (start, samples) in starts.iter().zip(&clips) {
            write_silence((start - written) * block)?;
            written = start + samples.len() as u64 / block;
            for sample in samples.chunks_exact(2) {
                let value = i16::from_le_bytes([sample[0], sample[1]]);
                sum_of_squares += f64::from(value).powi(2);
                peak = peak.max(value.saturating_abs());
            }
            write(samples)?;
        }
        write_silence((total_frames - written) * block)?;

        // An RMS level, not a true EBU R128 measurement: replace it with a loudness meter.
        let samples = (total_frames * u64::from(channels)).max(1) as f64;
        let rms = (sum_of_squares / samples).sqrt() / 32768.0;
        let episode_ms = duration_ms(total_frames, settings.sample_rate);
        let clip_frames: u64 = clips
            .iter()
            .map(|samples| samples.len() as u64 / block)
            .sum();
        Ok(MixResponse {
            format: AudioFormat {
                encoding: AudioEncoding::WavPcm16,
                sample_rate: settings.sample_rate,
                channels: settings.channels,
            },
            duration_ms: episode_ms,
            integrated_lufs: (20.0 * rms.max(1e-9).log10()) as f32,
            true_peak_dbtp: (20.0 * (f64::from(peak.max(1)) / 32768.0).log10()) as f32,
            placements,
            usage: Usage {
                input: Quantity {
                    amount: duration_ms(clip_frames, settings.sample_rate),
                    unit: UsageUnit::AudioMilliseconds,
                },
                output: Quantity {
                    amount: episode_ms,
                    unit: UsageUnit::AudioMilliseconds,
                },
            },
            cost: Cost {
                amount_micros: 0,
                currency: "USD".into(),
            },
        })
    }
}

/// A clip as 16-bit PCM in the output's rate and channel layout, with its gain applied.
fn read_clip(
    source: u32,
    sample_rate: u32,
    channels: u16,
    gain_db: f32,
) -> Result<Vec<u8>, ProviderError> {
    let host = |message: String| failure(ErrorKind::Internal, format!("input {source}: {message}"));
    let size = audio_source::size(source).map_err(host)?;
    let mut bytes = Vec::new();
    while (bytes.len() as u64) < size {
        let chunk = audio_source::read(source, bytes.len() as u64, READ_CHUNK).map_err(host)?;
        if chunk.is_empty() {
            break;
        }
        bytes.extend_from_slice(&chunk);
    }
    let pcm: Pcm16 = wav::decode(&bytes).map_err(|problem| {
        failure(
            ErrorKind::InvalidRequest,
            format!("input {source}: {problem}"),
        )
    })?;
    let gain = 10f32.powf(gain_db / 20.0);
    let mut samples = pcm.converted(sample_rate, channels).samples;
    for sample in samples.chunks_exact_mut(2) {
        let value = (f32::from(i16::from_le_bytes([sample[0], sample[1]])) * gain)
            .clamp(-32768.0, 32767.0) as i16;
        sample.copy_from_slice(&value.to_le_bytes());
    }
    Ok(samples)
}

fn write(bytes: &[u8]) -> Result<(), ProviderError> {
    for chunk in bytes.chunks(READ_CHUNK as usize) {
        audio_sink::write(chunk)
            .map_err(|message| failure(ErrorKind::Internal, format!("output: {message}")))?;
    }
    Ok(())
}

fn write_silence(bytes: u64) -> Result<(), ProviderError> {
    let zeros = vec![0u8; READ_CHUNK as usize];
    let mut left = bytes;
    while left > 0 {
        let now = left.min(u64::from(READ_CHUNK));
        write(&zeros[..now as usize])?;
        left -= now;
    }
    Ok(())
}

fn failure(kind: ErrorKind, message: String) -> ProviderError {
    ProviderError {
        kind,
        retryable: false,
        message,
        retry_after_ms: None,
    }
}

export!(Plugin);
