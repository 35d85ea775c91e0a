//! A local Piper text-to-speech server as a TTS provider, for podcasts made with no cloud at
//! all. The logic lives in `speech`; this file only converts to and from the WIT types.

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

struct PiperTts;

impl Guest for PiperTts {
    /// One voice: the model the server was started with answers for every id.
    fn list_voices() -> Result<Vec<Voice>, ProviderError> {
        Ok(vec![Voice {
            id: "default".into(),
            name: "Piper".into(),
            description: "The voice model the Piper server was started with".into(),
            language: "en-US".into(),
        }])
    }

    fn synthesize(request: SynthesizeRequest) -> Result<SynthesizeResponse, ProviderError> {
        let settings = speech::Settings::from_environment(&ProcessEnvironment);
        let spoken = speech::synthesize(
            &settings,
            &sandbox_transport(),
            &request.text,
            request.speed,
        )?;
        Ok(provider_support::synthesize_response!(
            SynthesizeResponse,
            spoken
        ))
    }
}

#[cfg(target_arch = "wasm32")]
export!(PiperTts);
