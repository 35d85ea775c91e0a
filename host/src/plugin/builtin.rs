//! The mock plugins compiled into the host binary, so demos and tests run with no plugin files.
//! `build.rs` builds them for `wasm32-wasip2` and passes their paths in.

/// Name and component bytes of each built-in plugin.
pub(crate) const BUILTIN_PLUGINS: &[(&str, &[u8])] = &[
    ("mock-llm", include_bytes!(env!("BUILTIN_MOCK_LLM_WASM"))),
    ("mock-tts", include_bytes!(env!("BUILTIN_MOCK_TTS_WASM"))),
    (
        "mock-mixer",
        include_bytes!(env!("BUILTIN_MOCK_MIXER_WASM")),
    ),
    (
        "mock-image",
        include_bytes!(env!("BUILTIN_MOCK_IMAGE_WASM")),
    ),
];
