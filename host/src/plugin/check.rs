//! One sample call of a plugin, for `host plugins check`: a small, valid request for the
//! service, sent through the same sandbox, grants and result checks as a workflow's calls, with
//! what the answer was, which checks it passed, its usage, cost and how long it took.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::audio_io::AudioInput;
use super::bindings::types::{AudioFormat, Cost, Usage};
use super::bindings::{image, llm, mixer, tts};
use super::error::CallError;
use super::runtime::{LoadedPlugin, PluginHost};
use super::service::Service;

/// The voice the sample speech asks for: a mock voice id, which every built-in TTS plugin
/// speaks (the real ones map it onto a voice of their own).
const SAMPLE_VOICE: &str = "aria";
/// Sample rate of the clips handed to a mixer, as the TTS plugins speak.
const SAMPLE_RATE: u32 = 24_000;

/// What one sample call did.
#[derive(Debug)]
pub struct SampleCall {
    pub service: Service,
    /// The request, in a line.
    pub request: String,
    /// From the start of the call (instantiation included) to its checked result.
    pub duration: Duration,
    pub outcome: Result<SampleAnswer, CallError>,
}

/// A sample call's answer, which passed every check the host makes of that service's results.
#[derive(Debug)]
pub struct SampleAnswer {
    /// The answer, in a line.
    pub summary: String,
    /// The checks the host made of it, in words.
    pub checks: Vec<String>,
    pub usage: Usage,
    pub cost: Cost,
}

impl PluginHost {
    /// Calls `plugin` once as `service` with a sample request. Nothing is recorded anywhere;
    /// a mixer writes its output to a temporary file that is removed afterwards.
    pub async fn sample_call(&self, plugin: &Arc<LoadedPlugin>, service: Service) -> SampleCall {
        let started = Instant::now();
        let (request, outcome) = match service {
            Service::Llm => self.sample_llm(plugin).await,
            Service::Tts => self.sample_tts(plugin).await,
            Service::Mixer => self.sample_mixer(plugin).await,
            Service::Image => self.sample_image(plugin).await,
        };
        SampleCall {
            service,
            request,
            duration: started.elapsed(),
            outcome,
        }
    }

    async fn sample_llm(&self, plugin: &LoadedPlugin) -> (String, Result<SampleAnswer, CallError>) {
        let schema = r#"{"type":"object","required":["greeting"],"properties":{"greeting":{"type":"string"}}}"#;
        let request = llm::GenerateRequest {
            idempotency_key: "plugins-check".into(),
            model: None,
            messages: vec![
                llm::Message {
                    role: llm::Role::System,
                    content: "You answer in JSON.".into(),
                },
                llm::Message {
                    role: llm::Role::User,
                    content: "Say hello to a new plugin author, as {\"greeting\": \"...\"}.".into(),
                },
            ],
            json_schema: Some(schema.into()),
            temperature: Some(0.0),
            max_tokens: Some(64),
        };
        let outcome = self
            .generate_text(plugin, &request)
            .await
            .map(|response| SampleAnswer {
                summary: format!("{} (model {})", one_line(&response.text), response.model),
                checks: vec!["the answer is JSON, as the request carried a schema".into()],
                usage: response.usage,
                cost: response.cost,
            });
        ("a two-message conversation asking for JSON".into(), outcome)
    }

    async fn sample_tts(&self, plugin: &LoadedPlugin) -> (String, Result<SampleAnswer, CallError>) {
        let request = tts::SynthesizeRequest {
            idempotency_key: "plugins-check".into(),
            text: "Hello from plugins check.".into(),
            voice: SAMPLE_VOICE.into(),
            style: None,
            speed: 1.0,
            model: None,
        };
        let outcome = self
            .synthesize_speech(plugin, &request)
            .await
            .map(|response| SampleAnswer {
                summary: format!(
                    "{} bytes of audio, {} ms",
                    response.audio.len(),
                    response.duration_ms
                ),
                checks: vec![format!(
                    "a 16-bit PCM WAV whose header matches {} and {} ms",
                    describe_format(&response.format),
                    response.duration_ms
                )],
                usage: response.usage,
                cost: response.cost,
            });
        (format!("25 characters in voice `{SAMPLE_VOICE}`"), outcome)
    }

    async fn sample_image(
        &self,
        plugin: &LoadedPlugin,
    ) -> (String, Result<SampleAnswer, CallError>) {
        let request = image::GenerateRequest {
            idempotency_key: "plugins-check".into(),
            prompt: "A teapot on a wooden table".into(),
            title: Some("Plugins check".into()),
            width: 64,
            height: 64,
            style: None,
            model: None,
        };
        let outcome = self
            .generate_image(plugin, &request)
            .await
            .map(|response| SampleAnswer {
                summary: format!("a {} byte PNG", response.png.len()),
                checks: vec![format!(
                    "a PNG of {}x{}, the size asked for",
                    response.width, response.height
                )],
                usage: response.usage,
                cost: response.cost,
            });
        ("a 64x64 image with a title".into(), outcome)
    }

    async fn sample_mixer(
        &self,
        plugin: &LoadedPlugin,
    ) -> (String, Result<SampleAnswer, CallError>) {
        // Clips as TTS plugins speak them, mixed to the format a workflow gets by default (the
        // podcast's): a mixer that cannot convert rates and channels is found out here, not in
        // the middle of an episode.
        let description = format!(
            "two 500 ms tones, mono at 24 kHz, mixed to {} Hz with {} channels",
            mixer::DEFAULT_SAMPLE_RATE,
            mixer::DEFAULT_CHANNELS
        );
        let scratch = match tempfile::NamedTempFile::new() {
            Ok(file) => file,
            Err(error) => {
                let error = CallError::Host {
                    plugin: plugin.name.clone(),
                    reason: format!("cannot create a scratch file for the mix: {error}"),
                };
                return (description, Err(error));
            }
        };
        let inputs = [220.0, 330.0].map(|pitch| AudioInput::Bytes(tone_wav(pitch, 500).into()));
        let clip = |source| mixer::Clip {
            source,
            gain_db: 0.0,
            gap_before_ms: None,
        };
        let request = mixer::MixRequest {
            idempotency_key: "plugins-check".into(),
            clips: vec![clip(0), clip(1)],
            music: None,
            settings: mixer::MixSettings {
                gap_ms: 200,
                crossfade_ms: 10,
                padding_ms: 100,
                sample_rate: mixer::DEFAULT_SAMPLE_RATE,
                channels: mixer::DEFAULT_CHANNELS,
                loudness_lufs: None,
                true_peak_dbtp: -1.0,
            },
        };
        let outcome = self
            .mix_audio(plugin, &request, &inputs, scratch.path())
            .await
            .map(|response| SampleAnswer {
                summary: format!(
                    "{} ms at {:.1} LUFS, {} placements",
                    response.duration_ms,
                    response.integrated_lufs,
                    response.placements.len()
                ),
                checks: vec![format!(
                    "the WAV written to audio-sink matches {} and {} ms",
                    describe_format(&response.format),
                    response.duration_ms
                )],
                usage: response.usage,
                cost: response.cost,
            });
        (description, outcome)
    }
}

fn describe_format(format: &AudioFormat) -> String {
    format!("{} Hz, {} channel(s)", format.sample_rate, format.channels)
}

/// `text` on one line (runs of white space as one space), cut to 80 characters.
fn one_line(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut shown: String = joined.chars().take(80).collect();
    if shown.len() < joined.len() {
        shown.push('…');
    }
    shown
}

/// A mono 16-bit WAV of a sine tone at `SAMPLE_RATE`, at a quarter of full scale.
fn tone_wav(pitch: f32, milliseconds: u32) -> Vec<u8> {
    let frames = SAMPLE_RATE / 1000 * milliseconds;
    let data_length = frames * 2;
    let mut wav = Vec::with_capacity(44 + data_length as usize);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_length).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    wav.extend_from_slice(&(SAMPLE_RATE * 2).to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_length.to_le_bytes());
    for frame in 0..frames {
        let phase = std::f32::consts::TAU * pitch * frame as f32 / SAMPLE_RATE as f32;
        let sample = (phase.sin() * f32::from(i16::MAX) / 4.0) as i16;
        wav.extend_from_slice(&sample.to_le_bytes());
    }
    wav
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_clips_are_wavs_the_host_accepts() {
        let wav = tone_wav(220.0, 500);
        let facts =
            super::super::validate::read_wav_header(&wav, wav.len() as u64).expect("a valid WAV");
        let format = AudioFormat {
            encoding: super::super::bindings::types::AudioEncoding::WavPcm16,
            sample_rate: SAMPLE_RATE,
            channels: 1,
        };
        super::super::validate::check_wav_facts(&facts, &format, 500).expect("500 ms");
    }

    #[test]
    fn summaries_are_one_short_line() {
        assert_eq!(one_line("short"), "short");
        assert_eq!(one_line("{\n  \"a\": 1\n}"), "{ \"a\": 1 }");
        assert_eq!(one_line(&"x".repeat(100)).chars().count(), 81);
    }
}
