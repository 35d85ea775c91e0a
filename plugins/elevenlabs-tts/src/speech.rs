//! ElevenLabs text to speech: `POST {base}/v1/text-to-speech/{voice_id}?output_format=pcm_24000`
//! with the `xi-api-key` header, raw 24 kHz PCM wrapped in a WAV, and `GET {base}/v1/voices`.
//! ElevenLabs documents no idempotency header, so none is sent.

use provider_support::audio::{self, Spoken};
use provider_support::config::{self, Environment};
use provider_support::error;
use provider_support::http::{self, HttpRequest, Transport};
use provider_support::prices::{Price, PriceTable, per_input};
use provider_support::types::ProviderError;
use provider_support::voices;
use serde_json::{Value, json};

/// Names the service in error messages.
const PROVIDER: &str = "ElevenLabs";
pub const DEFAULT_BASE_URL: &str = "https://api.elevenlabs.io";
pub const DEFAULT_MODEL: &str = "eleven_multilingual_v2";
/// The PCM rate asked for; `output_format` names it.
const SAMPLE_RATE: u32 = 24_000;

/// Approximate pay-as-you-go prices in USD per million characters (plans differ; override
/// with `ELEVENLABS_PRICES`).
const DEFAULT_PRICES: &[(&str, Price)] = &[
    ("eleven_multilingual_v2", per_input(300.0)),
    ("eleven_v3", per_input(300.0)),
    ("eleven_turbo_v2_5", per_input(150.0)),
    ("eleven_flash_v2_5", per_input(150.0)),
];

/// Premade ElevenLabs voices standing in for the mock TTS's voices.
const STAND_INS: &[(&str, &str)] = &[
    ("aria", "21m00Tcm4TlvDq8ikWAM"),   // Rachel: calm young female
    ("basil", "pNInz6obpgDQGcFmaJgB"),  // Adam: deep male
    ("cora", "EXAVITQu4vr4xnSDxMaL"),   // Bella: soft female
    ("dmitri", "VR6AewLTigWG4xSOukaG"), // Arnold: crisp male
    ("elena", "AZnzlk1XvdvUeBnXmlld"),  // Domi: strong female
    ("felix", "TxGEqnHWrfWFTfGW9XjX"),  // Josh: young male
];

/// Premade voices any other name is hashed into.
const POOL: &[&str] = &[
    "21m00Tcm4TlvDq8ikWAM",
    "pNInz6obpgDQGcFmaJgB",
    "EXAVITQu4vr4xnSDxMaL",
    "VR6AewLTigWG4xSOukaG",
    "AZnzlk1XvdvUeBnXmlld",
    "TxGEqnHWrfWFTfGW9XjX",
];

pub struct Settings {
    pub api_key: String,
    pub base_url: String,
    pub default_model: String,
    pub prices: PriceTable,
}

impl Settings {
    pub fn from_environment(environment: &dyn Environment) -> Result<Settings, ProviderError> {
        Ok(Settings {
            api_key: config::required_secret(environment, "ELEVENLABS_API_KEY")?,
            base_url: config::base_url(environment, "ELEVENLABS_BASE_URL", DEFAULT_BASE_URL),
            default_model: config::setting(environment, "ELEVENLABS_MODEL", DEFAULT_MODEL),
            prices: PriceTable::from_environment(DEFAULT_PRICES, "ELEVENLABS_PRICES", environment)?,
        })
    }
}

pub struct Utterance<'a> {
    pub text: &'a str,
    pub voice: &'a str,
    pub speed: f32,
    pub model: Option<&'a str>,
}

/// A voice the provider offers.
pub struct VoiceInfo {
    pub id: String,
    pub name: String,
    pub description: String,
    pub language: String,
}

/// The ElevenLabs voice id that speaks `requested`: ElevenLabs ids are 20 letters and digits
/// and are used as given; mock names get a premade stand-in, other names a hashed one.
pub fn voice_for(requested: &str) -> &str {
    let is_voice_id = |voice: &str| {
        voice.len() == 20
            && voice
                .chars()
                .all(|character| character.is_ascii_alphanumeric())
    };
    voices::choose(requested, is_voice_id, STAND_INS, POOL)
}

pub fn synthesize(
    settings: &Settings,
    transport: &dyn Transport,
    utterance: &Utterance,
) -> Result<Spoken, ProviderError> {
    let model = utterance.model.unwrap_or(&settings.default_model);
    let body = json!({
        "text": utterance.text,
        "model_id": model,
        // ElevenLabs accepts 0.7 to 1.2.
        "voice_settings": {"speed": utterance.speed.clamp(0.7, 1.2)},
    });
    let url = format!(
        "{}/v1/text-to-speech/{}?output_format=pcm_{SAMPLE_RATE}",
        settings.base_url,
        voice_for(utterance.voice)
    );
    let request = HttpRequest::post_json(url, &body).header("xi-api-key", settings.api_key.clone());
    let response = http::exchange(transport, PROVIDER, request)?;
    let speech = audio::from_pcm16(PROVIDER, &response.body, SAMPLE_RATE, 1)?;
    // ElevenLabs bills the characters it reports; our count stands in when the header is absent.
    let characters = response
        .header("x-character-count")
        .or_else(|| response.header("character-cost"))
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or(utterance.text.chars().count() as u64);
    Ok(Spoken {
        cost: settings.prices.cost(model, characters, 0),
        speech,
        characters,
    })
}

pub fn list_voices(
    settings: &Settings,
    transport: &dyn Transport,
) -> Result<Vec<VoiceInfo>, ProviderError> {
    let request = HttpRequest::get(format!("{}/v1/voices", settings.base_url))
        .header("xi-api-key", settings.api_key.clone());
    let response = http::exchange(transport, PROVIDER, request)?;
    let answer = http::json_body(PROVIDER, &response)?;
    let voices = answer
        .get("voices")
        .and_then(Value::as_array)
        .ok_or_else(|| error::malformed(PROVIDER, "the answer has no `voices` list"))?;
    let text = |voice: &Value, pointer: &str| {
        voice
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    voices
        .iter()
        .map(|voice| {
            let id = text(voice, "/voice_id")
                .ok_or_else(|| error::malformed(PROVIDER, "a voice has no `voice_id`"))?;
            let labels: Vec<String> = voice
                .get("labels")
                .and_then(Value::as_object)
                .map(|labels| {
                    labels
                        .values()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            Ok(VoiceInfo {
                name: text(voice, "/name").unwrap_or_else(|| id.clone()),
                description: text(voice, "/description")
                    .filter(|description| !description.is_empty())
                    .unwrap_or_else(|| labels.join(", ")),
                language: text(voice, "/labels/language").unwrap_or_else(|| "en".into()),
                id,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use provider_support::config::Variables;
    use provider_support::http::HttpResponse;
    use provider_support::http::scripted::Scripted;

    fn settings() -> Settings {
        Settings::from_environment(&Variables(&[
            ("ELEVENLABS_API_KEY", "xi-secret"),
            ("ELEVENLABS_BASE_URL", "http://127.0.0.1:1"),
        ]))
        .unwrap()
    }

    #[test]
    fn speech_is_wrapped_and_billed_by_the_reported_characters() {
        let transport = Scripted::answering([HttpResponse {
            status: 200,
            headers: vec![("x-character-count".into(), "40".into())],
            body: vec![0; 48_000],
        }]);
        let utterance = Utterance {
            text: "Hi.",
            voice: "basil",
            speed: 1.0,
            model: None,
        };
        let spoken = synthesize(&settings(), &transport, &utterance).unwrap();
        assert_eq!(spoken.speech.duration_ms, 1000);
        assert_eq!((spoken.characters, spoken.cost.amount_micros), (40, 12_000));
        let sent = &transport.sent.borrow()[0];
        assert_eq!(
            sent.url,
            "http://127.0.0.1:1/v1/text-to-speech/pNInz6obpgDQGcFmaJgB?output_format=pcm_24000"
        );
        assert!(
            sent.headers
                .contains(&("xi-api-key".into(), "xi-secret".into()))
        );
    }

    #[test]
    fn voices_are_listed_from_the_api_and_ids_pass_through() {
        let body = json!({"voices": [{"voice_id": "abc", "name": "Rachel", "labels": {"accent": "american", "gender": "female"}}]});
        let transport = Scripted::answering([HttpResponse {
            status: 200,
            headers: Vec::new(),
            body: body.to_string().into_bytes(),
        }]);
        let voices = list_voices(&settings(), &transport).unwrap();
        assert_eq!(
            (voices[0].id.as_str(), voices[0].name.as_str()),
            ("abc", "Rachel")
        );
        assert_eq!(voices[0].description, "american, female");
        assert_eq!(voice_for("21m00Tcm4TlvDq8ikWAM"), "21m00Tcm4TlvDq8ikWAM");
        assert!(POOL.contains(&voice_for("narrator")));
    }

    #[test]
    fn the_detail_message_is_kept() {
        let transport = Scripted::answering([HttpResponse {
            status: 401,
            headers: Vec::new(),
            body: br#"{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}"#
                .to_vec(),
        }]);
        let utterance = Utterance {
            text: "Hi.",
            voice: "aria",
            speed: 1.0,
            model: None,
        };
        let error = synthesize(&settings(), &transport, &utterance)
            .err()
            .unwrap();
        assert!(!error.retryable);
        assert!(
            error.message.ends_with("Invalid API key"),
            "{}",
            error.message
        );
        assert!(!error.message.contains("xi-secret"));
    }
}
