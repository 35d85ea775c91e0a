//! The smallest useful LLM plugin: answers every request with the same short text. Benchmarks
//! use it to measure what the host itself costs per call.

wit_bindgen::generate!({ path: "../../../wit", world: "llm-provider" });

use exports::pipeline::services::llm::{FinishReason, GenerateRequest, GenerateResponse, Guest};
use pipeline::services::types::{Cost, ProviderError, Quantity, Usage, UsageUnit};

struct NoopPlugin;

impl Guest for NoopPlugin {
    fn generate(_request: GenerateRequest) -> Result<GenerateResponse, ProviderError> {
        Ok(GenerateResponse {
            text: "ok".into(),
            model: "noop".into(),
            finish_reason: FinishReason::Stop,
            usage: Usage {
                input: Quantity {
                    amount: 0,
                    unit: UsageUnit::Tokens,
                },
                output: Quantity {
                    amount: 0,
                    unit: UsageUnit::Tokens,
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
export!(NoopPlugin);
