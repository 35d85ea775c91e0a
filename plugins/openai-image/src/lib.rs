//! OpenAI-compatible image generation as an image provider, returning PNG bytes. The logic
//! lives in `generate` and `png`; this file only converts to and from the WIT types.

pub mod generate;
pub mod png;

wit_bindgen::generate!({
    path: "../../wit",
    world: "image-provider",
    with: { "pipeline:services/types@0.1.0": guest_support::types },
});

use exports::pipeline::services::image::{GenerateRequest, GenerateResponse, Guest};
use provider_support::config::ProcessEnvironment;
use provider_support::http::sandbox_transport;
use provider_support::types::{ProviderError, Quantity, Usage, UsageUnit};

struct OpenAiImage;

impl Guest for OpenAiImage {
    fn generate(request: GenerateRequest) -> Result<GenerateResponse, ProviderError> {
        let settings = generate::Settings::from_environment(&ProcessEnvironment)?;
        let image = generate::generate(
            &settings,
            &sandbox_transport(),
            &generate::Picture {
                idempotency_key: &request.idempotency_key,
                prompt: &request.prompt,
                title: request.title.as_deref(),
                style: request.style.as_deref(),
                width: request.width,
                height: request.height,
                model: request.model.as_deref(),
            },
        )?;
        Ok(GenerateResponse {
            png: image.png,
            width: image.width,
            height: image.height,
            revised_prompt: image.revised_prompt,
            usage: Usage {
                input: Quantity {
                    amount: image.prompt_characters,
                    unit: UsageUnit::Characters,
                },
                output: Quantity {
                    amount: image.images,
                    unit: UsageUnit::Images,
                },
            },
            cost: image.cost,
        })
    }
}

#[cfg(target_arch = "wasm32")]
export!(OpenAiImage);
