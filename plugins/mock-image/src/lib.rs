//! Deterministic mock image provider: a cover with a seeded gradient, geometric decoration and
//! the title set large. The drawing lives in plain modules; this file only converts to and
//! from the WIT types.

pub mod cover;
pub mod decor;
pub mod palette;
pub mod title;

wit_bindgen::generate!({
    path: "../../wit",
    world: "image-provider",
    with: { "pipeline:services/types@0.1.0": guest_support::types },
});

use exports::pipeline::services::image::{GenerateRequest, GenerateResponse, Guest};
use guest_support::types::{Cost, ProviderError, Quantity, Usage, UsageUnit};

use cover::{Cover, render};

struct MockImage;

impl Guest for MockImage {
    fn generate(request: GenerateRequest) -> Result<GenerateResponse, ProviderError> {
        let png = render(&Cover {
            prompt: &request.prompt,
            title: request.title.as_deref(),
            style: request.style.as_deref(),
            width: request.width,
            height: request.height,
        })
        .map_err(ProviderError::from)?;
        Ok(GenerateResponse {
            png,
            width: request.width,
            height: request.height,
            revised_prompt: None,
            usage: Usage {
                input: Quantity {
                    amount: request.prompt.chars().count() as u64,
                    unit: UsageUnit::Characters,
                },
                output: Quantity {
                    amount: 1,
                    unit: UsageUnit::Images,
                },
            },
            cost: Cost {
                amount_micros: 0,
                currency: "USD".to_string(),
            },
        })
    }
}

#[cfg(target_arch = "wasm32")]
export!(MockImage);
