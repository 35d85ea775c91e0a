//! A deliberately misbehaving LLM plugin for the sandbox tests. The first word of the last
//! message picks the misbehaviour: `loop`, `allocate`, `read-file <path>`, `read-env <name>`,
//! `connect <address>`,
//! `trap`, `not-json`, `invalid-utf8`, `say <text>` (answers the text exactly, to feed the host
//! a chosen answer); anything else is answered normally (`echo: ...`) to show the host still
//! serves calls after a bad one.

wit_bindgen::generate!({ path: "../../../wit", world: "llm-provider" });

use exports::pipeline::services::llm::{FinishReason, GenerateRequest, GenerateResponse, Guest};
use pipeline::services::types::{Cost, ErrorKind, ProviderError, Quantity, Usage, UsageUnit};

struct HostilePlugin;

impl Guest for HostilePlugin {
    fn generate(request: GenerateRequest) -> Result<GenerateResponse, ProviderError> {
        let prompt = request
            .messages
            .last()
            .map(|message| message.content.clone())
            .unwrap_or_default();
        let (command, argument) = prompt.split_once(' ').unwrap_or((prompt.as_str(), ""));
        let text = match command {
            "loop" => spin_forever(),
            "allocate" => allocate_forever(),
            "read-file" => std::fs::read_to_string(argument)
                .map_err(|error| refused(format!("cannot read {argument}: {error}")))?,
            "read-env" => std::env::var(argument)
                .map_err(|error| refused(format!("cannot read ${argument}: {error}")))?,
            "connect" => std::net::TcpStream::connect(argument)
                .map(|_| format!("connected to {argument}"))
                .map_err(|error| refused(format!("cannot connect to {argument}: {error}")))?,
            "trap" => panic!("hostile plugin panics on purpose"),
            "not-json" => "this is { not json".to_string(),
            "say" => argument.to_string(),
            // SAFETY: deliberately breaks the String invariant; the host must refuse to lift it.
            "invalid-utf8" => unsafe { String::from_utf8_unchecked(vec![0xff, 0xfe, 0x41]) },
            _ => format!("echo: {prompt}"),
        };
        Ok(GenerateResponse {
            text,
            model: "hostile".into(),
            finish_reason: FinishReason::Stop,
            usage: Usage {
                input: Quantity {
                    amount: 1,
                    unit: UsageUnit::Tokens,
                },
                output: Quantity {
                    amount: 1,
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

fn refused(message: String) -> ProviderError {
    ProviderError {
        kind: ErrorKind::Internal,
        retryable: false,
        message,
        retry_after_ms: None,
    }
}

fn spin_forever() -> String {
    let mut counter: u64 = 0;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
    }
}

fn allocate_forever() -> String {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        // Touch the memory so the allocation is real.
        hoard.push(vec![1; 16 * 1024 * 1024]);
        std::hint::black_box(&hoard);
    }
}

#[cfg(target_arch = "wasm32")]
export!(HostilePlugin);
