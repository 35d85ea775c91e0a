//! ElevenLabs text to speech as a TTS provider, returning the 16-bit PCM WAV the mixer
//! accepts. The logic lives in `speech`; this file only converts to and from the WIT types.

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

struct ElevenLabsTts;

impl Guest for ElevenLabsTts {
    fn list_voices() -> Result<Vec<Voice>, ProviderError> {
        let settings = speech::Settings::from_environment(&ProcessEnvironment)?;
        Ok(speech::list_voices(&settings, &sandbox_transport())?
            .into_iter()
            .map(|voice| Voice {
                id: voice.id,
                name: voice.name,
                description: voice.description,
                language: voice.language,
            })
            .collect())
    }

    /// Style is not sent: ElevenLabs voices carry their style, and the API has no field for it.
    fn synthesize(request: SynthesizeRequest) -> Result<SynthesizeResponse, ProviderError> {
        let settings = speech::Settings::from_environment(&ProcessEnvironment)?;
        let spoken = speech::synthesize(
            &settings,
            &sandbox_transport(),
            &speech::Utterance {
                text: &request.text,
                voice: &request.voice,
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
export!(ElevenLabsTts);
