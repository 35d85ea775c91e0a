//! One chat completion against an OpenAI-compatible server (`POST {base}/chat/completions`):
//! the request body with JSON-schema structured output when a schema is given, the answer's
//! text, finish reason and token usage, and its cost from the price table.

use provider_support::config::{self, Environment, OpenAiEndpoint};
use provider_support::error;
use provider_support::http::{self, HttpRequest, Transport};
use provider_support::prices::{Price, PriceTable};
use provider_support::types::{Cost, ErrorKind, ProviderError};
use serde_json::{Value, json};

/// Names the service in error messages.
const PROVIDER: &str = "the chat completions server";
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";

/// List prices in USD per million tokens (input, output); override with `OPENAI_PRICES`.
const DEFAULT_PRICES: &[(&str, Price)] = &[
    ("gpt-4o-mini", price(0.15, 0.60)),
    ("gpt-4o", price(2.50, 10.00)),
    ("gpt-4.1-nano", price(0.10, 0.40)),
    ("gpt-4.1-mini", price(0.40, 1.60)),
    ("gpt-4.1", price(2.00, 8.00)),
    ("gpt-5-nano", price(0.05, 0.40)),
    ("gpt-5-mini", price(0.25, 2.00)),
    ("gpt-5", price(1.25, 10.00)),
];

const fn price(input: f64, output: f64) -> Price {
    Price {
        input_usd_per_million: input,
        output_usd_per_million: output,
    }
}

/// What the plugin reads from its granted environment.
pub struct Settings {
    /// None for a local server that needs no key.
    pub api_key: Option<String>,
    pub base_url: String,
    pub default_model: String,
    /// Whether to ask for strict schema adherence; OpenAI then refuses schemas outside its
    /// supported subset, so it is off unless `OPENAI_LLM_STRICT=true`.
    pub strict: bool,
    pub prices: PriceTable,
}

impl Settings {
    pub fn from_environment(environment: &dyn Environment) -> Result<Settings, ProviderError> {
        let OpenAiEndpoint { base_url, api_key } = OpenAiEndpoint::from_environment(environment)?;
        Ok(Settings {
            api_key,
            base_url,
            default_model: config::setting(environment, "OPENAI_LLM_MODEL", DEFAULT_MODEL),
            strict: config::setting(environment, "OPENAI_LLM_STRICT", "false") == "true",
            prices: PriceTable::from_environment(DEFAULT_PRICES, "OPENAI_PRICES", environment)?,
        })
    }
}

/// One message of the conversation, with the role as the API spells it.
pub struct Message {
    pub role: &'static str,
    pub content: String,
}

pub struct Chat {
    pub idempotency_key: String,
    pub model: Option<String>,
    pub messages: Vec<Message>,
    pub json_schema: Option<String>,
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    Stop,
    Length,
    ContentFilter,
}

#[derive(Debug, Clone)]
pub struct Answer {
    pub text: String,
    pub model: String,
    pub finish: Finish,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost: Cost,
}

pub fn generate(
    settings: &Settings,
    transport: &dyn Transport,
    chat: &Chat,
) -> Result<Answer, ProviderError> {
    let model = chat
        .model
        .clone()
        .unwrap_or_else(|| settings.default_model.clone());
    let body = request_body(&model, chat, settings.strict)?;
    let mut request =
        HttpRequest::post_json(format!("{}/chat/completions", settings.base_url), &body)
            .header("Idempotency-Key", chat.idempotency_key.clone());
    if let Some(key) = &settings.api_key {
        request = request.header("Authorization", format!("Bearer {key}"));
    }
    let response = http::exchange(transport, PROVIDER, request)?;
    let answer = http::json_body(PROVIDER, &response)?;
    read_answer(settings, &model, chat.json_schema.is_some(), &answer)
}

fn request_body(model: &str, chat: &Chat, strict: bool) -> Result<Value, ProviderError> {
    let messages: Vec<Value> = chat
        .messages
        .iter()
        .map(|message| json!({"role": message.role, "content": message.content}))
        .collect();
    let mut body = json!({"model": model, "messages": messages});
    if let Some(temperature) = chat.temperature {
        body["temperature"] = json!(temperature);
    }
    if let Some(max_tokens) = chat.max_tokens {
        // `max_tokens` rather than `max_completion_tokens`: every compatible server reads it.
        body["max_tokens"] = json!(max_tokens);
    }
    if let Some(schema_text) = &chat.json_schema {
        let schema: Value = serde_json::from_str(schema_text).map_err(|parse| {
            error::permanent(
                ErrorKind::InvalidRequest,
                format!("the requested JSON schema is not JSON: {parse}"),
            )
        })?;
        body["response_format"] = json!({
            "type": "json_schema",
            "json_schema": {"name": schema_name(&schema), "schema": schema, "strict": strict},
        });
    }
    Ok(body)
}

/// The schema's title as the API's name (letters, digits, `_` and `-`, at most 64).
fn schema_name(schema: &Value) -> String {
    let name: String = schema
        .get("title")
        .and_then(Value::as_str)
        .unwrap_or("answer")
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() || character == '-' {
                character
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if name.is_empty() {
        "answer".into()
    } else {
        name
    }
}

fn read_answer(
    settings: &Settings,
    requested_model: &str,
    structured: bool,
    answer: &Value,
) -> Result<Answer, ProviderError> {
    let choice = answer
        .pointer("/choices/0")
        .ok_or_else(|| error::malformed(PROVIDER, "no choices in the answer"))?;
    let message = choice
        .get("message")
        .ok_or_else(|| error::malformed(PROVIDER, "the choice has no message"))?;
    if let Some(refusal) = message.get("refusal").and_then(Value::as_str) {
        return Err(error::permanent(
            ErrorKind::ContentRefused,
            format!("the model refused: {refusal}"),
        ));
    }
    let content = message
        .get("content")
        .and_then(Value::as_str)
        .ok_or_else(|| error::malformed(PROVIDER, "the message has no text content"))?;
    let finish = match choice.get("finish_reason").and_then(Value::as_str) {
        Some("length") => Finish::Length,
        Some("content_filter") => Finish::ContentFilter,
        _ => Finish::Stop,
    };
    let model = answer
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or(requested_model)
        .to_string();
    let tokens = |name: &str| {
        answer
            .pointer(&format!("/usage/{name}"))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    let (prompt_tokens, completion_tokens) = (tokens("prompt_tokens"), tokens("completion_tokens"));
    Ok(Answer {
        text: if structured {
            strip_code_fence(content)
        } else {
            content.to_string()
        },
        cost: settings
            .prices
            .cost(&model, prompt_tokens, completion_tokens),
        model,
        finish,
        prompt_tokens,
        completion_tokens,
    })
}

/// Small local models often wrap JSON in a Markdown fence even when asked for a schema; the
/// fence is dropped so the document inside is what gets checked.
fn strip_code_fence(content: &str) -> String {
    let trimmed = content.trim();
    let Some(inner) = trimmed.strip_prefix("```") else {
        return trimmed.to_string();
    };
    let inner = inner.strip_prefix("json").unwrap_or(inner);
    inner
        .strip_suffix("```")
        .unwrap_or(inner)
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use provider_support::config::Variables;
    use provider_support::http::HttpResponse;
    use provider_support::http::scripted::Scripted;

    fn settings() -> Settings {
        Settings::from_environment(&Variables(&[
            ("OPENAI_API_KEY", "sk-test-secret"),
            ("OPENAI_BASE_URL", "http://127.0.0.1:1/v1/"),
        ]))
        .unwrap()
    }

    fn chat(schema: Option<&str>) -> Chat {
        Chat {
            idempotency_key: "podcast-1/ideation#0".into(),
            model: None,
            messages: vec![Message {
                role: "user",
                content: "Topic: tea".into(),
            }],
            json_schema: schema.map(str::to_string),
            temperature: Some(0.7),
            max_tokens: Some(100),
        }
    }

    fn ok(body: Value) -> HttpResponse {
        HttpResponse {
            status: 200,
            headers: Vec::new(),
            body: body.to_string().into_bytes(),
        }
    }

    #[test]
    fn a_schema_request_asks_for_structured_output_and_reports_real_usage() {
        let transport = Scripted::answering([ok(json!({
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"message": {"role": "assistant", "content": "```json\n{\"a\": 1}\n```"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 2000},
        }))]);
        let answer = generate(
            &settings(),
            &transport,
            &chat(Some(r#"{"title": "Episode concept", "type": "object"}"#)),
        )
        .unwrap();
        assert_eq!(answer.text, r#"{"a": 1}"#);
        assert_eq!(
            (answer.prompt_tokens, answer.completion_tokens),
            (1000, 2000)
        );
        assert_eq!(answer.cost.amount_micros, 150 + 1200);
        let sent = transport.sent.borrow();
        assert_eq!(sent[0].url, "http://127.0.0.1:1/v1/chat/completions");
        let body: Value = serde_json::from_slice(&sent[0].body).unwrap();
        assert_eq!(body["model"], "gpt-4o-mini");
        assert_eq!(body["response_format"]["type"], "json_schema");
        assert_eq!(
            body["response_format"]["json_schema"]["name"],
            "Episode_concept"
        );
        assert_eq!(body["max_tokens"], 100);
        assert!(
            sent[0]
                .headers
                .contains(&("Idempotency-Key".into(), "podcast-1/ideation#0".into()))
        );
        assert!(
            sent[0]
                .headers
                .contains(&("Authorization".into(), "Bearer sk-test-secret".into()))
        );
    }

    #[test]
    fn refusals_truncation_and_garbage_are_told_apart() {
        let transport = Scripted::answering([
            ok(
                json!({"choices": [{"message": {"content": null, "refusal": "I can't help with that."}}]}),
            ),
            ok(json!({"choices": [{"message": {"content": "cut"}, "finish_reason": "length"}]})),
            HttpResponse {
                status: 200,
                headers: Vec::new(),
                body: b"{\"choices\": [".to_vec(),
            },
        ]);
        let refused = generate(&settings(), &transport, &chat(None)).unwrap_err();
        assert_eq!(
            (refused.kind, refused.retryable),
            (ErrorKind::ContentRefused, false)
        );
        assert_eq!(
            generate(&settings(), &transport, &chat(None))
                .unwrap()
                .finish,
            Finish::Length
        );
        let garbage = generate(&settings(), &transport, &chat(None)).unwrap_err();
        assert_eq!(
            (garbage.kind, garbage.retryable),
            (ErrorKind::MalformedResponse, true)
        );
    }

    #[test]
    fn openai_itself_needs_a_key() {
        let error = Settings::from_environment(&Variables(&[])).err().unwrap();
        assert!(error.message.contains("OPENAI_API_KEY"));
        let local = Variables(&[("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")]);
        assert!(
            Settings::from_environment(&local)
                .unwrap()
                .api_key
                .is_none()
        );
    }
}
