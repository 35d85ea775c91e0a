//! One request to a local Piper server (`python -m piper.http_server`, run as a separate
//! process because Piper is GPL): `POST {PIPER_BASE_URL}/synthesize` with the text and a length
//! scale, answered with a WAV that is re-read as canonical 16-bit PCM. Piper speaks with the
//! voice model the server was started with, so every voice id is accepted and spoken by it;
//! a local server costs nothing, so usage is reported and cost is 0.

use provider_support::audio::{self, Spoken};
use provider_support::config::{self, Environment};
use provider_support::http::{self, HttpRequest, Transport};
use provider_support::types::{Cost, ProviderError};
use serde_json::json;

/// Names the service in error messages.
const PROVIDER: &str = "the Piper server";
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:5000";

pub struct Settings {
    pub base_url: String,
}

impl Settings {
    pub fn from_environment(environment: &dyn Environment) -> Settings {
        Settings {
            base_url: config::base_url(environment, "PIPER_BASE_URL", DEFAULT_BASE_URL),
        }
    }
}

pub fn synthesize(
    settings: &Settings,
    transport: &dyn Transport,
    text: &str,
    speed: f32,
) -> Result<Spoken, ProviderError> {
    // Piper's length scale is the inverse of a speaking rate: 2.0 is half speed.
    let length_scale = 1.0 / speed.clamp(0.25, 4.0);
    let body = json!({"text": text, "length_scale": length_scale});
    let request = HttpRequest::post_json(format!("{}/synthesize", settings.base_url), &body);
    let response = http::exchange(transport, PROVIDER, request)?;
    Ok(Spoken {
        speech: audio::from_wav(PROVIDER, &response.body)?,
        characters: text.chars().count() as u64,
        cost: Cost {
            amount_micros: 0,
            currency: "USD".into(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use provider_support::config::Variables;
    use provider_support::http::HttpResponse;
    use provider_support::http::scripted::Scripted;

    #[test]
    fn piper_wav_is_re_read_and_the_rate_becomes_a_length_scale() {
        // Piper streams its WAV with a placeholder data size.
        let mut wav = b"RIFF\xff\xff\xff\xffWAVEfmt \x10\0\0\0\x01\0\x01\0".to_vec();
        wav.extend_from_slice(&22_050u32.to_le_bytes());
        wav.extend_from_slice(&44_100u32.to_le_bytes());
        wav.extend_from_slice(b"\x02\0\x10\0data\xff\xff\xff\xff");
        wav.extend_from_slice(&[0; 44_100]);
        let transport = Scripted::answering([HttpResponse {
            status: 200,
            headers: Vec::new(),
            body: wav,
        }]);
        let settings =
            Settings::from_environment(&Variables(&[("PIPER_BASE_URL", "http://127.0.0.1:1/")]));
        let spoken = synthesize(&settings, &transport, "Hello.", 2.0).unwrap();
        assert_eq!(spoken.speech.duration_ms, 1000);
        assert_eq!(spoken.speech.format.sample_rate, 22_050);
        let sent = &transport.sent.borrow()[0];
        assert_eq!(sent.url, "http://127.0.0.1:1/synthesize");
        let body: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
        assert_eq!(body["length_scale"], 0.5);
    }
}
