//! Deterministic mock LLM provider: topic-aware JSON for schema requests, prose otherwise.
//! The logic lives in plain modules; this file only converts to and from the WIT types.

pub mod context;
pub mod draft;
pub mod embedded;
pub mod generator;
pub mod hash;
pub mod kinds;
pub mod numbers;
pub mod phrases;
pub mod prose;
pub mod request;
pub mod respond;
pub mod schema;
pub mod script;
pub mod theme;
pub mod words;

wit_bindgen::generate!({
    path: "../../wit",
    world: "llm-provider",
    with: { "pipeline:services/types@0.1.0": guest_support::types },
});

use exports::pipeline::services::llm::{
    FinishReason, GenerateRequest, GenerateResponse, Guest, Role as WitRole,
};
use guest_support::types::{Cost, ProviderError, Quantity, Usage, UsageUnit};

use request::{Finish, Message, Request, Role};

struct MockLlm;

impl Guest for MockLlm {
    fn generate(request: GenerateRequest) -> Result<GenerateResponse, ProviderError> {
        let request = Request {
            model: request.model,
            messages: request
                .messages
                .into_iter()
                .map(|message| Message {
                    role: match message.role {
                        WitRole::System => Role::System,
                        WitRole::User => Role::User,
                        WitRole::Assistant => Role::Assistant,
                    },
                    content: message.content,
                })
                .collect(),
            json_schema: request.json_schema,
            temperature: request.temperature,
            max_tokens: request.max_tokens,
        };
        let response = respond::respond(&request).map_err(ProviderError::from)?;
        let tokens = |amount| Quantity {
            amount,
            unit: UsageUnit::Tokens,
        };
        Ok(GenerateResponse {
            text: response.text,
            model: response.model,
            finish_reason: match response.finish {
                Finish::Stop => FinishReason::Stop,
                Finish::Length => FinishReason::Length,
            },
            usage: Usage {
                input: tokens(response.input_tokens),
                output: tokens(response.output_tokens),
            },
            cost: Cost {
                amount_micros: 0,
                currency: "USD".to_string(),
            },
        })
    }
}

#[cfg(target_arch = "wasm32")]
export!(MockLlm);
