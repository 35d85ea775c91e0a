//! What the fake provider servers of `real_providers.rs` answer: OpenAI chat completions that
//! satisfy each podcast stage's schema, speech as raw 24 kHz PCM, a real PNG in base64, and the
//! environment that points the real plugins at a fake server.

use std::process::Command;

use serde_json::{Value, json};

use crate::support::fake_http::{FakeHttp, Response};

/// The API key the tests hand the plugins; it must never show up in a history or a log.
pub const API_KEY: &str = "sk-test-secret-4242-never-logged";
pub const CHAT: &str = "/v1/chat/completions";
pub const SPEECH: &str = "/v1/audio/speech";
pub const IMAGES: &str = "/v1/images/generations";
/// Prompt and completion tokens every fake chat answer reports.
pub const PROMPT_TOKENS: u64 = 1234;
pub const COMPLETION_TOKENS: u64 = 567;
/// What gpt-4o-mini's list price makes of them, in micro-dollars (0.15 and 0.60 per million).
pub const CHAT_COST_MICROS: u64 = 525;
/// Milliseconds of speech in every fake speech answer.
pub const SPEECH_MS: u64 = 400;

/// Points a `host` command at `server` for the OpenAI and ElevenLabs plugins, with nothing of
/// the developer's own provider settings leaking in.
pub fn provider_environment(command: &mut Command, server: &FakeHttp) {
    for (name, _) in std::env::vars() {
        if name.starts_with("OPENAI_") || name.starts_with("ELEVENLABS_") {
            command.env_remove(name);
        }
    }
    command
        .env("OPENAI_API_KEY", API_KEY)
        .env("OPENAI_BASE_URL", format!("{}/v1", server.url()))
        .env("ELEVENLABS_API_KEY", API_KEY)
        .env("ELEVENLABS_BASE_URL", server.url());
}

/// A chat completion whose message is `content` as JSON text.
pub fn chat_answer(content: &Value) -> Response {
    Response::json(
        200,
        json!({
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content.to_string(), "refusal": null},
                "finish_reason": "stop",
            }],
            "usage": {
                "prompt_tokens": PROMPT_TOKENS,
                "completion_tokens": COMPLETION_TOKENS,
                "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
            },
        })
        .to_string(),
    )
}

const SEGMENTS: [&str; 3] = ["Leaves", "Ships", "Cups"];

/// The answers of the podcast's LLM stages in the order they are asked: ideation, outline,
/// one per outline segment, script (whose speakers are the deep-dive show's hosts).
pub fn podcast_answers() -> Vec<Response> {
    let ideation = json!({
        "title": "Steeped in History",
        "hook": "How a leaf in hot water rearranged the world's trade routes.",
        "angle": "Tea as infrastructure rather than beverage.",
        "key_concepts": ["camellia sinensis", "tea clippers", "the tea bag"],
        "takeaway": "Every cup carries a map of empires.",
    });
    let outline = json!({
        "title": "Steeped in History",
        "summary": "From Chinese gardens to clipper races to the modern tea bag.",
        "segments": SEGMENTS.map(|title| json!({
            "title": title,
            "summary": format!("The story of {title}."),
            "key_points": ["where it began", "why it mattered"],
        })),
        "covered_concepts": ["camellia sinensis", "tea clippers"],
    });
    let segment = |title: &str| {
        json!({
            "title": title,
            "summary": format!("{title}, in depth."),
            "talking_points": ["a date", "a number", "a story"],
            "open_question": "What comes next?",
        })
    };
    let script = json!({
        "title": "Steeped in History",
        "segments": SEGMENTS.map(|title| json!({
            "title": title,
            "lines": [
                {"speaker": "Maya", "text": format!("Let's talk about {title}.")},
                {"speaker": "Theo", "text": "Go on, convince me."},
            ],
        })),
    });
    let mut answers = vec![chat_answer(&ideation), chat_answer(&outline)];
    answers.extend(SEGMENTS.map(|title| chat_answer(&segment(title))));
    answers.push(chat_answer(&script));
    answers
}

/// Script lines the podcast answers above make, so the number of speech requests.
pub const SCRIPT_LINES: usize = 6;

/// `SPEECH_MS` of a 220 Hz tone as raw signed 16-bit little-endian mono PCM at 24 kHz, which
/// is what OpenAI's `pcm` and ElevenLabs' `pcm_24000` send.
pub fn speech_pcm() -> Vec<u8> {
    let frames = 24 * SPEECH_MS as usize;
    (0..frames)
        .flat_map(|frame| {
            let phase = frame as f64 * 220.0 * std::f64::consts::TAU / 24_000.0;
            ((phase.sin() * 8000.0) as i16).to_le_bytes()
        })
        .collect()
}

/// An image generation answer carrying a real `width`x`height` PNG in base64.
pub fn image_answer(width: u32, height: u32) -> Response {
    let mut png = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().expect("PNG header");
        let pixels: Vec<u8> = (0..width * height * 3)
            .map(|index| (index % 251) as u8)
            .collect();
        writer.write_image_data(&pixels).expect("PNG data");
    }
    Response::json(
        200,
        json!({
            "created": 1_790_000_000,
            "data": [{"b64_json": base64(&png), "revised_prompt": "A teapot on a map."}],
        })
        .to_string(),
    )
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::new();
    for chunk in bytes.chunks(3) {
        let group = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for position in 0..4 {
            if position <= chunk.len() {
                text.push(ALPHABET[(group >> (18 - 6 * position) & 63) as usize] as char);
            } else {
                text.push('=');
            }
        }
    }
    text
}

/// A fake OpenAI: the podcast's chat answers in order, speech and images for every request.
pub fn fake_openai() -> FakeHttp {
    let server = FakeHttp::start();
    server.route(
        "POST",
        CHAT,
        podcast_answers(),
        Response::text(500, "no more scripted chat answers"),
    );
    server.route(
        "POST",
        SPEECH,
        [],
        Response::bytes(200, "audio/pcm", speech_pcm()),
    );
    server.route("POST", IMAGES, [], image_answer(64, 64));
    server
}
