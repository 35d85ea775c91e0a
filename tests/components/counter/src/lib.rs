//! A test LLM plugin whose side effects can be counted: every call appends its idempotency key
//! to `/work/calls.log`, in a directory the test grants. Words in the prompt steer it:
//! `fail-until-attempt=N` fails (retryably) every attempt before the N-th, `fail-always` fails
//! permanently, `sleep-ms=N` takes that long, and `count-calls` makes the answer depend on how
//! many calls came before (a non-deterministic plugin). The answer is `echo: <prompt>`, as a
//! JSON string when the request asks for JSON. Two more words imitate a careless model:
//! `not-json-until-attempt=N` answers plain text where JSON was asked for before the N-th
//! attempt, and `lines-by=A,B` answers `{"lines": [{"speaker": "A", "text": ...}, ...]}`, one
//! line per name, except that a name a later message of the conversation mentions (feedback on
//! an earlier answer) is replaced by the first name, as a model that listens would. Words are
//! read from the whole conversation; the prompt echoed is its last message.

wit_bindgen::generate!({ path: "../../../wit", world: "llm-provider" });

use std::io::Write as _;

use exports::pipeline::services::llm::{FinishReason, GenerateRequest, GenerateResponse, Guest};
use pipeline::services::types::{Cost, ErrorKind, ProviderError, Quantity, Usage, UsageUnit};

struct CounterPlugin;

impl Guest for CounterPlugin {
    fn generate(request: GenerateRequest) -> Result<GenerateResponse, ProviderError> {
        let prompt = request
            .messages
            .last()
            .map(|message| message.content.clone())
            .unwrap_or_default();
        let conversation: Vec<&str> = request
            .messages
            .iter()
            .map(|message| message.content.as_str())
            .collect();
        let words = conversation.join("\n");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open("/work/calls.log");
        match log {
            Ok(mut file) => {
                // One write per line, so concurrent calls never interleave inside a line.
                let _ = file.write_all(format!("{}\n", request.idempotency_key).as_bytes());
            }
            Err(error) => {
                return Err(failure(
                    ErrorKind::Internal,
                    false,
                    format!("cannot open /work/calls.log: {error}"),
                ));
            }
        }
        if let Some(milliseconds) = number_after(&words, "sleep-ms=") {
            std::thread::sleep(std::time::Duration::from_millis(milliseconds));
        }
        let attempt = request
            .idempotency_key
            .rsplit('/')
            .next()
            .and_then(|text| text.parse::<u64>().ok())
            .unwrap_or(1);
        if let Some(needed) = number_after(&words, "fail-until-attempt=")
            && attempt < needed
        {
            return Err(failure(
                ErrorKind::Unavailable,
                true,
                format!("attempt {attempt} fails on purpose"),
            ));
        }
        if words.contains("fail-always") {
            return Err(failure(
                ErrorKind::InvalidRequest,
                false,
                "this request always fails".into(),
            ));
        }
        let mut text = format!("echo: {}", prompt.trim());
        if words.contains("count-calls") {
            let calls = std::fs::read_to_string("/work/calls.log")
                .map(|log| log.lines().count())
                .unwrap_or(0);
            text.push_str(&format!(" after {calls} calls"));
        }
        let careless =
            number_after(&words, "not-json-until-attempt=").is_some_and(|needed| attempt < needed);
        if let Some(lines) = script_lines(&conversation, &text) {
            text = lines;
        } else if request.json_schema.is_some() && !careless {
            // Asked for JSON: the answer becomes a JSON string.
            text = format!("\"{}\"", escape(&text));
        }
        let tokens = Quantity {
            amount: prompt.len() as u64,
            unit: UsageUnit::Tokens,
        };
        Ok(GenerateResponse {
            text,
            model: "counter".into(),
            finish_reason: FinishReason::Stop,
            usage: Usage {
                input: tokens,
                output: tokens,
            },
            cost: Cost {
                amount_micros: 10,
                currency: "USD".into(),
            },
        })
    }
}

/// The `lines-by=A,B` answer, or none without that word. A name mentioned after the message
/// holding the word is replaced by the first name.
fn script_lines(conversation: &[&str], echo: &str) -> Option<String> {
    let marker = "lines-by=";
    let position = conversation
        .iter()
        .position(|message| message.contains(marker))?;
    let message = conversation[position];
    let names: Vec<&str> = message[message.find(marker)? + marker.len()..]
        .split(|character: char| character.is_whitespace())
        .next()
        .unwrap_or_default()
        .split(',')
        .filter(|name| !name.is_empty())
        .collect();
    let first = *names.first()?;
    let later = conversation[position + 1..].join("\n");
    let lines: Vec<String> = names
        .iter()
        .map(|name| {
            let speaker = if later.contains(name) { first } else { name };
            format!(
                "{{\"speaker\":\"{speaker}\",\"text\":\"{}\"}}",
                escape(echo)
            )
        })
        .collect();
    Some(format!("{{\"lines\":[{}]}}", lines.join(",")))
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number_after(text: &str, marker: &str) -> Option<u64> {
    let rest = &text[text.find(marker)? + marker.len()..];
    rest.chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()
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
export!(CounterPlugin);
