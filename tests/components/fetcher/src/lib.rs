//! A test LLM plugin that reaches the network through wasi-http (with `wstd`, as the real
//! provider plugins do), so tests can prove what the host lets through. The last message is
//! `METHOD URL` on its first line and the request body after it; the body is sent chunked,
//! which is what makes draining a refused request's body matter. The answer is the response body.
//! When `FETCHER_TOKEN` is granted it is sent as a bearer token. Errors are reported as the
//! plugin saw them: a refused request says `request denied by the host`, anything else the
//! transport error, and a non-2xx answer its status and body. All of them are marked
//! retryable on purpose, so a test can see that the host, not the plugin, makes a refusal
//! permanent.

wit_bindgen::generate!({ path: "../../../wit", world: "llm-provider" });

use exports::pipeline::services::llm::{FinishReason, GenerateRequest, GenerateResponse, Guest};
use pipeline::services::types::{Cost, ErrorKind, ProviderError, Quantity, Usage, UsageUnit};
use wstd::http::{Body, Client, ErrorCode, Request};

struct FetcherPlugin;

impl Guest for FetcherPlugin {
    fn generate(request: GenerateRequest) -> Result<GenerateResponse, ProviderError> {
        let prompt = request
            .messages
            .last()
            .map(|message| message.content.clone())
            .unwrap_or_default();
        let (head, body) = prompt.split_once('\n').unwrap_or((prompt.as_str(), ""));
        let mut words = head.split_whitespace();
        let (Some(method), Some(url)) = (words.next(), words.next()) else {
            return Err(failure(
                ErrorKind::InvalidRequest,
                false,
                format!("expected `METHOD URL` on the first line, got `{head}`"),
            ));
        };
        let text = wstd::runtime::block_on(fetch(method, url, body.to_string()))?;
        let tokens = Quantity {
            amount: text.len() as u64,
            unit: UsageUnit::Tokens,
        };
        Ok(GenerateResponse {
            text,
            model: "fetcher".into(),
            finish_reason: FinishReason::Stop,
            usage: Usage {
                input: tokens,
                output: tokens,
            },
            cost: Cost {
                amount_micros: 0,
                currency: "USD".into(),
            },
        })
    }
}

async fn fetch(method: &str, url: &str, body: String) -> Result<String, ProviderError> {
    let mut builder = Request::builder().method(method).uri(url);
    if let Ok(token) = std::env::var("FETCHER_TOKEN") {
        builder = builder.header("Authorization", format!("Bearer {token}"));
    }
    // wstd sends no Content-Length, so the body goes out chunked, as a real provider plugin's
    // does.
    let request = builder
        .body(Body::from(body))
        .map_err(|error| failure(ErrorKind::InvalidRequest, false, error.to_string()))?;
    let mut response = Client::new().send(request).await.map_err(transport)?;
    let status = response.status();
    let text = response
        .body_mut()
        .str_contents()
        .await
        .map_err(transport)?
        .to_string();
    if !status.is_success() {
        return Err(failure(
            ErrorKind::Unavailable,
            true,
            format!("status {}: {text}", status.as_u16()),
        ));
    }
    Ok(text)
}

fn transport(error: wstd::http::Error) -> ProviderError {
    let message = match error.downcast_ref::<ErrorCode>() {
        Some(ErrorCode::HttpRequestDenied) => "request denied by the host".to_string(),
        Some(code) => format!("transport error: {code:?}"),
        None => format!("transport error: {error:#}"),
    };
    failure(ErrorKind::Unavailable, true, message)
}

fn failure(kind: ErrorKind, retryable: bool, message: String) -> ProviderError {
    ProviderError {
        kind,
        retryable,
        message,
        retry_after_ms: None,
    }
}

#[cfg(target_arch = "wasm32")]
export!(FetcherPlugin);
