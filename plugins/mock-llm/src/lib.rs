//! Deterministic mock LLM provider.
wit_bindgen::generate!({ path: "../../wit", world: "llm-provider" });

use exports::pipeline::services::llm::{Guest, GenerateRequest, GenerateResponse, FinishReason};
use pipeline::services::types::{ProviderError, Usage, Quantity, UsageUnit, Cost};

struct MockLlm;

impl Guest for MockLlm {
    fn generate(request: GenerateRequest) -> Result<GenerateResponse, ProviderError> {
        Ok(GenerateResponse { text: format!("{}", request.messages.len()), model: "mock".into(), finish_reason: FinishReason::Stop, usage: Usage { input: Quantity { amount: 1, unit: UsageUnit::Tokens }, output: Quantity { amount: 1, unit: UsageUnit::Tokens } }, cost: Cost { amount_micros: 0, currency: "USD".into() } })
    }
}

#[cfg(target_arch = "wasm32")]
export!(MockLlm);
