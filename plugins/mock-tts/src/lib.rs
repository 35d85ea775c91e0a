//! Deterministic mock text-to-speech provider: speaks text as a synthetic, voice-specific
//! speech-like signal in a 24 kHz mono 16-bit WAV.

mod speech;
mod synth;
mod text;
mod voices;

wit_bindgen::generate!({
    path: "../../wit",
    world: "tts-provider",
    with: { "pipeline:services/types@0.1.0": guest_support::types },
});

use exports::pipeline::services::tts::{Guest, SynthesizeRequest, SynthesizeResponse, Voice};
use guest_support::types::{
    AudioEncoding, AudioFormat, Cost, ErrorKind, ProviderError, Quantity, Usage, UsageUnit,
};

struct MockTts;

impl Guest for MockTts {
    fn list_voices() -> Result<Vec<Voice>, ProviderError> {
        Ok(voices::VOICES
            .iter()
            .map(|voice| Voice {
                id: voice.id.into(),
                name: voice.name.into(),
                description: voice.description.into(),
                language: voices::LANGUAGE.into(),
            })
            .collect())
    }

    fn synthesize(request: SynthesizeRequest) -> Result<SynthesizeResponse, ProviderError> {
        let speech = speech::synthesize(&speech::SpeechRequest {
            text: &request.text,
            voice: &request.voice,
            style: request.style.as_deref(),
            speed: request.speed,
            model: request.model.as_deref(),
        })
        .map_err(|speech::InvalidRequest(message)| ProviderError {
            kind: ErrorKind::InvalidRequest,
            retryable: false,
            message,
            retry_after_ms: None,
        })?;
        Ok(SynthesizeResponse {
            audio: speech.wav,
            format: AudioFormat {
                encoding: AudioEncoding::WavPcm16,
                sample_rate: synth::SAMPLE_RATE,
                channels: 1,
            },
            duration_ms: speech.duration_ms,
            usage: Usage {
                input: Quantity {
                    amount: speech.characters,
                    unit: UsageUnit::Characters,
                },
                output: Quantity {
                    amount: speech.duration_ms,
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

#[cfg(target_arch = "wasm32")]
export!(MockTts);
