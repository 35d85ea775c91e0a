//! One request to an OpenAI-compatible speech endpoint (`POST {base}/audio/speech`), the audio
//! it returns turned into a 16-bit PCM WAV, and the voices it offers.
//!
//! Audio is asked for as `pcm` by default (raw 24 kHz 16-bit mono, which OpenAI documents),
//! because OpenAI's streamed `wav` carries placeholder sizes; `OPENAI_TTS_FORMAT=wav` serves
//! compatible servers that only produce WAV, which is then re-read whatever its sample format.

use provider_support::audio::{self, Spoken};
use provider_support::config::{self, Environment, OpenAiEndpoint};
use provider_support::error;
use provider_support::http::{self, HttpRequest, Transport};
use provider_support::prices::{Price, PriceTable, per_input};
use provider_support::types::{ErrorKind, ProviderError};
use provider_support::voices;
use serde_json::json;

/// Names the service in error messages.
const PROVIDER: &str = "the speech server";
pub const DEFAULT_MODEL: &str = "tts-1";

/// List prices in USD per million input characters; override with `OPENAI_PRICES`.
const DEFAULT_PRICES: &[(&str, Price)] = &[
    ("tts-1", per_input(15.0)),
    ("tts-1-hd", per_input(30.0)),
    // Billed per token; about $0.015 a minute, which is close to tts-1 per character.
    ("gpt-4o-mini-tts", per_input(15.0)),
];

/// OpenAI's voices, with how they sound.
pub const VOICES: &[(&str, &str)] = &[
    ("alloy", "Neutral and balanced"),
    ("ash", "Clear, confident male"),
    ("ballad", "Soft, melodic male"),
    ("coral", "Warm, friendly female"),
    ("echo", "Calm, measured male"),
    ("fable", "Expressive, storytelling, British"),
    ("nova", "Bright, energetic female"),
    ("onyx", "Deep, authoritative male"),
    ("sage", "Gentle, thoughtful female"),
    ("shimmer", "Light, clear female"),
    ("verse", "Versatile, dynamic male"),
];

/// The mock TTS's voices and the OpenAI voice closest to each (see `provider_support::voices`).
const STAND_INS: &[(&str, &str)] = &[
    ("aria", "nova"),
    ("basil", "onyx"),
    ("cora", "shimmer"),
    ("dmitri", "echo"),
    ("elena", "coral"),
    ("felix", "fable"),
];

/// Voices the original `tts-1` models speak; other ids are hashed into these so any model
/// accepts them.
const CLASSIC_VOICES: &[&str] = &["alloy", "echo", "fable", "onyx", "nova", "shimmer"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pcm,
    Wav,
}

pub struct Settings {
    pub api_key: Option<String>,
    pub base_url: String,
    pub default_model: String,
    pub format: Format,
    /// Sample rate of raw `pcm` answers.
    pub pcm_sample_rate: u32,
    pub prices: PriceTable,
}

impl Settings {
    pub fn from_environment(environment: &dyn Environment) -> Result<Settings, ProviderError> {
        let OpenAiEndpoint { base_url, api_key } = OpenAiEndpoint::from_environment(environment)?;
        let format = match config::setting(environment, "OPENAI_TTS_FORMAT", "pcm").as_str() {
            "pcm" => Format::Pcm,
            "wav" => Format::Wav,
            other => {
                return Err(error::permanent(
                    ErrorKind::InvalidRequest,
                    format!("OPENAI_TTS_FORMAT is `{other}`; it must be `pcm` or `wav`"),
                ));
            }
        };
        let rate_text = config::setting(environment, "OPENAI_TTS_SAMPLE_RATE", "24000");
        let pcm_sample_rate = rate_text.parse::<u32>().ok().filter(|rate| *rate > 0).ok_or_else(|| {
            error::permanent(
                ErrorKind::InvalidRequest,
                format!("OPENAI_TTS_SAMPLE_RATE is `{rate_text}`; it must be a positive number of hertz"),
            )
        })?;
        Ok(Settings {
            api_key,
            base_url,
            default_model: config::setting(environment, "OPENAI_TTS_MODEL", DEFAULT_MODEL),
            format,
            pcm_sample_rate,
            prices: PriceTable::from_environment(DEFAULT_PRICES, "OPENAI_PRICES", environment)?,
        })
    }
}

pub struct Utterance<'a> {
    pub idempotency_key: &'a str,
    pub text: &'a str,
    pub voice: &'a str,
    pub style: Option<&'a str>,
    pub speed: f32,
    pub model: Option<&'a str>,
}

/// The OpenAI voice that speaks `requested`.
pub fn voice_for(requested: &str) -> &str {
    let known = |voice: &str| VOICES.iter().any(|(id, _)| *id == voice);
    voices::choose(requested, known, STAND_INS, CLASSIC_VOICES)
}

pub fn synthesize(
    settings: &Settings,
    transport: &dyn Transport,
    utterance: &Utterance,
) -> Result<Spoken, ProviderError> {
    let model = utterance.model.unwrap_or(&settings.default_model);
    let mut body = json!({
        "model": model,
        "input": utterance.text,
        "voice": voice_for(utterance.voice),
        "response_format": match settings.format { Format::Pcm => "pcm", Format::Wav => "wav" },
        // OpenAI accepts 0.25 to 4.0.
        "speed": utterance.speed.clamp(0.25, 4.0),
    });
    // Only the newer models take speaking instructions; tts-1 refuses the field.
    if let Some(style) = utterance.style.filter(|_| !model.starts_with("tts-1")) {
        body["instructions"] = json!(format!("Speak in a {style} tone."));
    }
    let mut request = HttpRequest::post_json(format!("{}/audio/speech", settings.base_url), &body)
        .header("Idempotency-Key", utterance.idempotency_key);
    if let Some(key) = &settings.api_key {
        request = request.header("Authorization", format!("Bearer {key}"));
    }
    let response = http::exchange(transport, PROVIDER, request)?;
    // A server may send WAV even when asked for raw PCM; the header says which it is.
    let speech = if response.body.starts_with(b"RIFF") || settings.format == Format::Wav {
        audio::from_wav(PROVIDER, &response.body)?
    } else {
        audio::from_pcm16(PROVIDER, &response.body, settings.pcm_sample_rate, 1)?
    };
    let characters = utterance.text.chars().count() as u64;
    Ok(Spoken {
        cost: settings.prices.cost(model, characters, 0),
        speech,
        characters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use provider_support::config::Variables;
    use provider_support::http::HttpResponse;
    use provider_support::http::scripted::Scripted;

    fn utterance() -> Utterance<'static> {
        Utterance {
            idempotency_key: "podcast-1/audio_synthesis#0/3",
            text: "Hello there.",
            voice: "aria",
            style: Some("warm"),
            speed: 1.0,
            model: None,
        }
    }

    #[test]
    fn raw_pcm_becomes_a_wav_priced_per_character() {
        let settings =
            Settings::from_environment(&Variables(&[("OPENAI_API_KEY", "sk-x")])).unwrap();
        let transport = Scripted::answering([HttpResponse {
            status: 200,
            headers: Vec::new(),
            body: vec![0; 24_000],
        }]);
        let spoken = synthesize(&settings, &transport, &utterance()).unwrap();
        assert_eq!(spoken.speech.duration_ms, 500);
        assert_eq!(spoken.characters, 12);
        assert_eq!(spoken.cost.amount_micros, 180);
        let body: serde_json::Value =
            serde_json::from_slice(&transport.sent.borrow()[0].body).unwrap();
        assert_eq!(body["voice"], "nova");
        assert_eq!(body["response_format"], "pcm");
        assert!(
            body.get("instructions").is_none(),
            "tts-1 takes no instructions"
        );
    }

    #[test]
    fn voices_map_deterministically() {
        assert_eq!(voice_for("shimmer"), "shimmer");
        assert_eq!(voice_for("basil"), "onyx");
        assert_eq!(voice_for("host-3"), voice_for("host-3"));
        assert!(CLASSIC_VOICES.contains(&voice_for("host-3")));
    }
}
