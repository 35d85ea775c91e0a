//! An LLM plugin in Rust for any OpenAI-compatible chat server (OpenAI, Ollama, llama.cpp,
//! vLLM), reached over wasi:http through the host's network gate.
//!
//! Settings, read from the environment the host grants (see README.md): `LLM_BASE_URL` (the
//! API root, required), `LLM_API_KEY` (sent as a bearer token when set), `LLM_MODEL` (default
//! gpt-4o-mini), `LLM_INPUT_USD_PER_MILLION` and `LLM_OUTPUT_USD_PER_MILLION` (prices, for
//! the reported cost; default 0).

wit_bindgen::generate!({ path: "wit", world: "llm-provider" });

use exports::pipeline::services::llm::{
    FinishReason, GenerateRequest, GenerateResponse, Guest, Role,
};
use pipeline::services::types::{Cost, ErrorKind, ProviderError, Quantity, Usage, UsageUnit};
use serde_json::{Value, json};
use wstd::http::{Body, Client, Request};

struct Plugin;

impl Guest for Plugin {
    fn generate(request: GenerateRequest) -> Result<GenerateResponse, ProviderError> {
        let base_url = setting("LLM_BASE_URL").ok_or_else(|| {
            failure(
                ErrorKind::InvalidRequest,
                false,
                "LLM_BASE_URL is not granted",
            )
        })?;
        let model = request
            .model
            .clone()
            .or_else(|| setting("LLM_MODEL"))
            .unwrap_or_else(|| "gpt-4o-mini".into());
        let body = request_body(&request, &model)?;
        let url = format!("{}/chat/completions", base_url.trim_end_matches('/'));
        let (status, text) = wstd::runtime::block_on(post(&url, &request.idempotency_key, body))?;
        match status {
            200..=299 => {}
            // Rate limits and outages may pass; anything else will fail the same way again.
            408 | 429 | 500..=599 => {
                return Err(failure(
                    ErrorKind::Unavailable,
                    true,
                    &format!("HTTP {status}: {text}"),
                ));
            }
            401 | 403 => {
                return Err(failure(
                    ErrorKind::Unauthorized,
                    false,
                    &format!("HTTP {status}: {text}"),
                ));
            }
            _ => {
                return Err(failure(
                    ErrorKind::InvalidRequest,
                    false,
                    &format!("HTTP {status}: {text}"),
                ));
            }
        }
        read_answer(&text, &model)
    }
}

fn request_body(request: &GenerateRequest, model: &str) -> Result<String, ProviderError> {
    let messages: Vec<Value> = request
        .messages
        .iter()
        .map(|message| {
            let role = match message.role {
                Role::System => "system",
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            json!({"role": role, "content": message.content})
        })
        .collect();
    let mut body = json!({"model": model, "messages": messages});
    if let Some(schema) = &request.json_schema {
        let schema: Value = serde_json::from_str(schema).map_err(|error| {
            failure(
                ErrorKind::InvalidRequest,
                false,
                &format!("schema: {error}"),
            )
        })?;
        body["response_format"] =
            json!({"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}});
    }
    if let Some(temperature) = request.temperature {
        body["temperature"] = json!(temperature);
    }
    if let Some(max_tokens) = request.max_tokens {
        body["max_tokens"] = json!(max_tokens);
    }
    Ok(body.to_string())
}

async fn post(
    url: &str,
    idempotency_key: &str,
    body: String,
) -> Result<(u16, String), ProviderError> {
    let mut outgoing = Request::post(url)
        .header("content-type", "application/json")
        .header("idempotency-key", idempotency_key);
    if let Some(key) = setting("LLM_API_KEY") {
        outgoing = outgoing.header("authorization", format!("Bearer {key}"));
    }
    let outgoing = outgoing
        .body(Body::from(body))
        .map_err(|error| failure(ErrorKind::InvalidRequest, false, &error.to_string()))?;
    let unavailable =
        |error: &dyn std::fmt::Display| failure(ErrorKind::Unavailable, true, &error.to_string());
    let mut response = Client::new()
        .send(outgoing)
        .await
        .map_err(|error| unavailable(&error))?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .str_contents()
        .await
        .map_err(|error| unavailable(&error))?
        .to_string();
    Ok((status, text))
}

fn read_answer(text: &str, model: &str) -> Result<GenerateResponse, ProviderError> {
    // A truncated body or a provider glitch is usually gone on the next attempt.
    let malformed = |what: &str| {
        failure(
            ErrorKind::MalformedResponse,
            true,
            &format!("unreadable answer: {what}"),
        )
    };
    let answer: Value =
        serde_json::from_str(text).map_err(|error| malformed(&error.to_string()))?;
    let choice = &answer["choices"][0];
    let content = choice["message"]["content"]
        .as_str()
        .ok_or_else(|| malformed("no message content"))?;
    let tokens_in = answer["usage"]["prompt_tokens"].as_u64().unwrap_or(0);
    let tokens_out = answer["usage"]["completion_tokens"].as_u64().unwrap_or(0);
    let price = |name| {
        setting(name)
            .and_then(|value| value.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let micros = tokens_in as f64 * price("LLM_INPUT_USD_PER_MILLION")
        + tokens_out as f64 * price("LLM_OUTPUT_USD_PER_MILLION");
    let tokens = |amount| Quantity {
        amount,
        unit: UsageUnit::Tokens,
    };
    Ok(GenerateResponse {
        text: content.to_string(),
        model: answer["model"].as_str().unwrap_or(model).to_string(),
        finish_reason: match choice["finish_reason"].as_str() {
            Some("length") => FinishReason::Length,
            Some("content_filter") => FinishReason::ContentFilter,
            _ => FinishReason::Stop,
        },
        usage: Usage {
            input: tokens(tokens_in),
            output: tokens(tokens_out),
        },
        cost: Cost {
            amount_micros: micros.round() as u64,
            currency: "USD".into(),
        },
    })
}

/// A granted variable, when it is set and not empty.
fn setting(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

fn failure(kind: ErrorKind, retryable: bool, message: &str) -> ProviderError {
    ProviderError {
        kind,
        retryable,
        message: message.to_string(),
        retry_after_ms: None,
    }
}

export!(Plugin);
