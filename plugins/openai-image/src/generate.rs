//! One image from an OpenAI-compatible server (`POST {base}/images/generations` with
//! `response_format: b64_json`): the PNG decoded, checked and fitted to the requested size (the
//! API offers a few fixed sizes, not the one asked for), usage and cost.

use provider_support::config::{self, Environment, OpenAiEndpoint};
use provider_support::error;
use provider_support::http::{self, HttpRequest, Transport};
use provider_support::prices::{Price, PriceTable, per_output};
use provider_support::types::{Cost, ProviderError};
use serde_json::{Value, json};

use crate::png;

/// Names the service in error messages.
const PROVIDER: &str = "the image server";
pub const DEFAULT_MODEL: &str = "dall-e-3";

/// List prices in USD per million images (standard quality, 1024x1024); override with
/// `OPENAI_PRICES`.
const DEFAULT_PRICES: &[(&str, Price)] = &[
    ("dall-e-3", per_output(40_000.0)),
    ("dall-e-2", per_output(20_000.0)),
];

pub struct Settings {
    pub api_key: Option<String>,
    pub base_url: String,
    pub default_model: String,
    pub prices: PriceTable,
}

impl Settings {
    pub fn from_environment(environment: &dyn Environment) -> Result<Settings, ProviderError> {
        let OpenAiEndpoint { base_url, api_key } = OpenAiEndpoint::from_environment(environment)?;
        Ok(Settings {
            api_key,
            base_url,
            default_model: config::setting(environment, "OPENAI_IMAGE_MODEL", DEFAULT_MODEL),
            prices: PriceTable::from_environment(DEFAULT_PRICES, "OPENAI_PRICES", environment)?,
        })
    }
}

pub struct Picture<'a> {
    pub idempotency_key: &'a str,
    pub prompt: &'a str,
    pub title: Option<&'a str>,
    pub style: Option<&'a str>,
    pub width: u32,
    pub height: u32,
    pub model: Option<&'a str>,
}

pub struct Image {
    pub png: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub revised_prompt: Option<String>,
    pub prompt_characters: u64,
    pub images: u64,
    pub cost: Cost,
}

/// The size DALL-E 3 offers closest in shape to the one asked for (it has only these three;
/// 1400x1400 cover art is made at 1024x1024 and then scaled).
pub fn size_for(width: u32, height: u32) -> &'static str {
    let ratio = f64::from(width.max(1)) / f64::from(height.max(1));
    if ratio > 1.25 {
        "1792x1024"
    } else if ratio < 0.8 {
        "1024x1792"
    } else {
        "1024x1024"
    }
}

/// The prompt with the style and the title folded in: the API has fields for neither.
pub fn full_prompt(picture: &Picture) -> String {
    let mut prompt = picture.prompt.trim().to_string();
    if let Some(style) = picture.style {
        prompt.push_str(&format!(" Style: {style}."));
    }
    if let Some(title) = picture.title {
        prompt.push_str(&format!(
            " Set the title \"{title}\" large and legible on the image."
        ));
    }
    prompt
}

pub fn generate(
    settings: &Settings,
    transport: &dyn Transport,
    picture: &Picture,
) -> Result<Image, ProviderError> {
    let model = picture.model.unwrap_or(&settings.default_model);
    let prompt = full_prompt(picture);
    let body = json!({
        "model": model,
        "prompt": prompt,
        "n": 1,
        "size": size_for(picture.width, picture.height),
        "response_format": "b64_json",
    });
    let mut request =
        HttpRequest::post_json(format!("{}/images/generations", settings.base_url), &body)
            .header("Idempotency-Key", picture.idempotency_key);
    if let Some(key) = &settings.api_key {
        request = request.header("Authorization", format!("Bearer {key}"));
    }
    let response = http::exchange(transport, PROVIDER, request)?;
    let answer = http::json_body(PROVIDER, &response)?;
    let data = answer
        .get("data")
        .and_then(Value::as_array)
        .filter(|data| !data.is_empty())
        .ok_or_else(|| error::malformed(PROVIDER, "the answer has no images in `data`"))?;
    let encoded = data[0]
        .get("b64_json")
        .and_then(Value::as_str)
        .ok_or_else(|| error::malformed(PROVIDER, "the image has no `b64_json`"))?;
    let png = png::decode_base64(encoded)
        .ok_or_else(|| error::malformed(PROVIDER, "`b64_json` is not base64"))?;
    if png::dimensions(&png).is_none() {
        return Err(error::malformed(PROVIDER, "the image is not a PNG"));
    }
    let png = png::fit(&png, picture.width, picture.height).map_err(|problem| {
        error::malformed(PROVIDER, format!("the PNG cannot be read ({problem})"))
    })?;
    let images = data.len() as u64;
    Ok(Image {
        revised_prompt: data[0]
            .get("revised_prompt")
            .and_then(Value::as_str)
            .map(str::to_string),
        cost: settings.prices.cost(model, 0, images),
        prompt_characters: prompt.chars().count() as u64,
        images,
        png,
        width: picture.width,
        height: picture.height,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use provider_support::config::Variables;
    use provider_support::http::HttpResponse;
    use provider_support::http::scripted::Scripted;

    /// A real 4x2 RGB PNG, base64-encoded.
    const TINY_PNG_B64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAQAAAACCAIAAADwyuo0AAAAEElEQVR4nGPgEpGDIwZkDgAX2gHh+d/4YgAAAABJRU5ErkJggg==";

    fn picture() -> Picture<'static> {
        Picture {
            idempotency_key: "podcast-1/cover_image#0",
            prompt: "A teapot",
            title: Some("Tea"),
            style: Some("flat"),
            width: 1400,
            height: 1400,
            model: None,
        }
    }

    fn settings() -> Settings {
        Settings::from_environment(&Variables(&[("OPENAI_API_KEY", "sk-x")])).unwrap()
    }

    #[test]
    fn the_png_comes_back_with_its_real_size_and_price() {
        let body =
            json!({"data": [{"b64_json": TINY_PNG_B64, "revised_prompt": "A teapot, flat"}]});
        let transport = Scripted::answering([HttpResponse {
            status: 200,
            headers: Vec::new(),
            body: body.to_string().into_bytes(),
        }]);
        let image = generate(&settings(), &transport, &picture()).unwrap();
        assert_eq!((image.width, image.height), (1400, 1400));
        assert_eq!(png::dimensions(&image.png), Some((1400, 1400)));
        assert_eq!(image.cost.amount_micros, 40_000);
        assert_eq!(image.revised_prompt.as_deref(), Some("A teapot, flat"));
        let sent: Value = serde_json::from_slice(&transport.sent.borrow()[0].body).unwrap();
        assert_eq!(sent["size"], "1024x1024");
        assert_eq!(sent["response_format"], "b64_json");
        assert!(sent["prompt"].as_str().unwrap().contains("\"Tea\""));
    }

    #[test]
    fn a_non_png_is_malformed() {
        let body = json!({"data": [{"b64_json": "R0lGODlhAQABAAAAACw="}]});
        let transport = Scripted::answering([HttpResponse {
            status: 200,
            headers: Vec::new(),
            body: body.to_string().into_bytes(),
        }]);
        let error = generate(&settings(), &transport, &picture()).err().unwrap();
        assert!(error.retryable);
        assert!(error.message.contains("not a PNG"));
        assert_eq!(size_for(1920, 1080), "1792x1024");
    }
}
