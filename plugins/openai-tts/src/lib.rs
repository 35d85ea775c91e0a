//! OpenAI-compatible text to speech (`POST {base}/audio/speech`) as a TTS provider, returning
//! the 16-bit PCM WAV the mixer accepts. The logic lives in `speech`; this file only converts
//! to and from the WIT types.

pub mod speech;

wit_bindgen::generate!({
    path: "../../wit",
    world: "tts-provider",
    with: { "pipeline:services/types@0.1.0": guest_support::types },
});

use exports::pipeline::services::tts::{Guest, SynthesizeRequest, SynthesizeResponse, Voice};
use provider_support::config::ProcessEnvironment;
use provider_support::http::sandbox_transport;
use provider_support::types::ProviderError;

struct OpenAiTts;

impl Guest for OpenAiTts {
    /// OpenAI has no endpoint listing voices; its documented set is fixed.
    fn list_voices() -> Result<Vec<Voice>, ProviderError> {
        Ok(speech::VOICES
            .iter()
            .map(|(id, description)| Voice {
                id: id.to_string(),
                name: id.to_string(),
                description: description.to_string(),
                language: "en-US".into(),
            })
            .collect())
    }

    fn synthesize(request: SynthesizeRequest) -> Result<SynthesizeResponse, ProviderError> {
        let settings = speech::Settings::from_environment(&ProcessEnvironment)?;
        let spoken = speech::synthesize(
            &settings,
            &sandbox_transport(),
            &speech::Utterance {
                idempotency_key: &request.idempotency_key,
                text: &request.text,
                voice: &request.voice,
                style: request.style.as_deref(),
                speed: request.speed,
                model: request.model.as_deref(),
            },
        )?;
        Ok(provider_support::synthesize_response!(
            SynthesizeResponse,
            spoken
        ))
    }
}

#[cfg(target_arch = "wasm32")]
export!(OpenAiTts);
