//! Answers one request: JSON generated from the schema when there is one, prose otherwise,
//! with token usage estimated from character counts.

use serde_json::Value;

use crate::context::Context;
use crate::draft::find_draft;
use crate::generator::Generator;
use crate::hash::StableHasher;
use crate::prose;
use crate::request::{Failure, Finish, Request, Response, Role};
use crate::theme::{Flavor, Theme, flavor_of};
use crate::words::{char_count, truncate_words};

/// Model name reported when the request names none.
pub const DEFAULT_MODEL: &str = "mock-llm-1";
/// Characters per token, the usual rough rule for English text.
const CHARS_PER_TOKEN: usize = 4;

pub fn respond(request: &Request) -> Result<Response, Failure> {
    if request.messages.is_empty() {
        return Err(Failure::invalid("messages are empty"));
    }
    let seed = request_seed(request);
    let context = Context::from_messages(&request.messages);
    let (text, finish) = match &request.json_schema {
        Some(schema) => (json_answer(schema, &context, seed)?, Finish::Stop),
        None => prose_answer(&context, seed, request.max_tokens),
    };
    let input_chars: usize = request
        .messages
        .iter()
        .map(|message| char_count(&message.content))
        .sum();
    Ok(Response {
        model: request
            .model
            .clone()
            .unwrap_or_else(|| DEFAULT_MODEL.to_string()),
        finish,
        input_tokens: tokens(input_chars),
        output_tokens: tokens(char_count(&text)),
        text,
    })
}

fn tokens(chars: usize) -> u64 {
    chars.div_ceil(CHARS_PER_TOKEN).max(1) as u64
}

/// Seed from everything that shapes the answer; the idempotency key is not part of
/// `Request`, so retries of one step see the same seed as any identical request.
fn request_seed(request: &Request) -> u64 {
    let mut hasher = StableHasher::default();
    hasher.field(request.model.as_deref().unwrap_or("\u{0}none").as_bytes());
    for message in &request.messages {
        let role: &[u8] = match message.role {
            Role::System => b"system",
            Role::User => b"user",
            Role::Assistant => b"assistant",
        };
        hasher.field(role).field(message.content.as_bytes());
    }
    hasher.field(request.json_schema.as_deref().unwrap_or("").as_bytes());
    hasher.field(
        &request
            .temperature
            .map_or(u32::MAX, f32::to_bits)
            .to_le_bytes(),
    );
    hasher.field(&request.max_tokens.map_or(u64::MAX, u64::from).to_le_bytes());
    hasher.finish()
}

/// The schema-driven answer. It is never cut at `max-tokens`: a cut document would not parse.
fn json_answer(schema: &str, context: &Context, seed: u64) -> Result<String, Failure> {
    let schema: Value = serde_json::from_str(schema)
        .map_err(|error| Failure::invalid(format!("json schema is not valid json: {error}")))?;
    let mut names = Vec::new();
    collect_property_names(&schema, &mut names);
    let theme = Theme::new(context, flavor_of(&names), seed);
    let generator = Generator::new(&schema, &theme);
    let root = generator.resolve_root()?;
    let draft = find_draft(context, &root).map(Value::Object);
    let document = generator.document(draft.as_ref())?;
    serde_json::to_string_pretty(&document)
        .map_err(|error| Failure::internal(format!("answer could not be serialised: {error}")))
}

fn collect_property_names(schema: &Value, names: &mut Vec<String>) {
    match schema {
        Value::Object(object) => {
            if let Some(Value::Object(properties)) = object.get("properties") {
                names.extend(properties.keys().cloned());
            }
            object
                .values()
                .for_each(|inner| collect_property_names(inner, names));
        }
        Value::Array(items) => items
            .iter()
            .for_each(|inner| collect_property_names(inner, names)),
        _ => {}
    }
}

fn prose_answer(context: &Context, seed: u64, max_tokens: Option<u32>) -> (String, Finish) {
    let words: Vec<&str> = context
        .instructions
        .split(|ch: char| !ch.is_alphanumeric())
        .collect();
    let mentions = |candidates: &[&str]| words.iter().any(|word| candidates.contains(word));
    let asks_story = mentions(&["story", "stories", "tale", "fiction"])
        && !mentions(&["podcast", "episode", "show"]);
    let flavor = if asks_story {
        Flavor::Story
    } else {
        Flavor::Podcast
    };
    let text = prose::write(&Theme::new(context, flavor, seed));
    let Some(limit) = max_tokens.map(|tokens| tokens as usize * CHARS_PER_TOKEN) else {
        return (text, Finish::Stop);
    };
    if char_count(&text) <= limit {
        return (text, Finish::Stop);
    }
    (truncate_words(&text, limit), Finish::Length)
}
