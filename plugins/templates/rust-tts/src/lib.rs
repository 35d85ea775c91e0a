//! A TTS plugin in Rust that speaks each word as a short tone: a working skeleton that shows
//! what the host expects (a 16-bit PCM WAV whose header matches the stated format and
//! duration, usage in characters and milliseconds, a cost), ready to have the tone replaced by
//! a real voice. WAV, usage and cost come from `tts-kit`.
//!
//! Settings, read from the environment the host grants (see README.md):
//! `TTS_USD_PER_MILLION_CHARACTERS`, the price for the reported cost (default 0).

wit_bindgen::generate!({ path: "wit", world: "tts-provider" });

use exports::pipeline::services::tts::{Guest, SynthesizeRequest, SynthesizeResponse, Voice};
use pipeline::services::types::{
    AudioEncoding, AudioFormat, Cost, ErrorKind, ProviderError, Quantity, Usage, UsageUnit,
};
use tts_kit::billing::{characters, cost_micros};
use tts_kit::wav::{self, Pcm16};

const SAMPLE_RATE: u32 = 24_000;
/// Pitch in Hz per voice id; the show blueprints name these ids.
const VOICES: [(&str, f32); 6] = [
    ("aria", 262.0),
    ("basil", 196.0),
    ("cora", 330.0),
    ("dmitri", 147.0),
    ("elena", 294.0),
    ("felix", 220.0),
];

struct Plugin;

impl Guest for Plugin {
    fn list_voices() -> Result<Vec<Voice>, ProviderError> {
        Ok(VOICES
            .iter()
            .map(|(id, pitch)| Voice {
                id: id.to_string(),
                name: id.to_string(),
                description: format!("a {pitch} Hz tone"),
                language: "en-US".into(),
            })
            .collect())
    }

    fn synthesize(request: SynthesizeRequest) -> Result<SynthesizeResponse, ProviderError> {
        let (_, pitch) = VOICES
            .iter()
            .find(|(id, _)| *id == request.voice)
            .ok_or_else(|| ProviderError {
                kind: ErrorKind::InvalidRequest,
                retryable: false,
                message: format!("unknown voice {}", request.voice),
                retry_after_ms: None,
            })?;
        let speed = if request.speed > 0.0 {
            request.speed
        } else {
            1.0
        };
        let frames_for = |seconds: f32| (SAMPLE_RATE as f32 * seconds / speed) as usize;
        let mut samples = Vec::new();
        for word in request.text.split_whitespace() {
            for frame in 0..frames_for(0.06 * word.chars().count() as f32) {
                let phase = std::f32::consts::TAU * pitch * frame as f32 / SAMPLE_RATE as f32;
                samples.extend_from_slice(&((phase.sin() * 8000.0) as i16).to_le_bytes());
            }
            samples.resize(samples.len() + 2 * frames_for(0.08), 0);
        }
        let pcm = Pcm16 {
            samples,
            sample_rate: SAMPLE_RATE,
            channels: 1,
        };
        let duration_ms = pcm.duration_ms();
        let audio = wav::encode(&pcm).ok_or_else(|| ProviderError {
            kind: ErrorKind::InvalidRequest,
            retryable: false,
            message: "text too long for one WAV file".into(),
            retry_after_ms: None,
        })?;
        let characters = characters(&request.text);
        let price = std::env::var("TTS_USD_PER_MILLION_CHARACTERS")
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(0.0);
        Ok(SynthesizeResponse {
            audio,
            format: AudioFormat {
                encoding: AudioEncoding::WavPcm16,
                sample_rate: SAMPLE_RATE,
                channels: 1,
            },
            duration_ms,
            usage: Usage {
                input: Quantity {
                    amount: characters,
                    unit: UsageUnit::Characters,
                },
                output: Quantity {
                    amount: duration_ms,
                    unit: UsageUnit::AudioMilliseconds,
                },
            },
            cost: Cost {
                amount_micros: cost_micros(characters, price),
                currency: "USD".into(),
            },
        })
    }
}

export!(Plugin);
