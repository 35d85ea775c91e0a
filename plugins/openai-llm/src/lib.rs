//! OpenAI-compatible chat completions as an LLM provider: OpenAI, or any server with the same
//! API (Ollama, llama.cpp's server, vLLM) through `OPENAI_BASE_URL`. The logic lives in
//! `chat`; this file only converts to and from the WIT types.

pub mod chat;

wit_bindgen::generate!({
    path: "../../wit",
    world: "llm-provider",
    with: { "pipeline:services/types@0.1.0": guest_support::types },
});

use exports::pipeline::services::llm::{
    FinishReason, GenerateRequest, GenerateResponse, Guest, Role,
};
use provider_support::config::ProcessEnvironment;
use provider_support::http::sandbox_transport;
use provider_support::types::{ProviderError, Quantity, Usage, UsageUnit};

use chat::{Chat, Finish, Message};

struct OpenAiLlm;

impl Guest for OpenAiLlm {
    fn generate(request: GenerateRequest) -> Result<GenerateResponse, ProviderError> {
        let settings = chat::Settings::from_environment(&ProcessEnvironment)?;
        let chat = Chat {
            idempotency_key: request.idempotency_key,
            model: request.model,
            messages: request
                .messages
                .into_iter()
                .map(|message| Message {
                    role: match message.role {
                        Role::System => "system",
                        Role::User => "user",
                        Role::Assistant => "assistant",
                    },
                    content: message.content,
                })
                .collect(),
            json_schema: request.json_schema,
            temperature: request.temperature,
            max_tokens: request.max_tokens,
        };
        let answer = chat::generate(&settings, &sandbox_transport(), &chat)?;
        let tokens = |amount| Quantity {
            amount,
            unit: UsageUnit::Tokens,
        };
        Ok(GenerateResponse {
            text: answer.text,
            model: answer.model,
            finish_reason: match answer.finish {
                Finish::Stop => FinishReason::Stop,
                Finish::Length => FinishReason::Length,
                Finish::ContentFilter => FinishReason::ContentFilter,
            },
            usage: Usage {
                input: tokens(answer.prompt_tokens),
                output: tokens(answer.completion_tokens),
            },
            cost: answer.cost,
        })
    }
}

#[cfg(target_arch = "wasm32")]
export!(OpenAiLlm);
