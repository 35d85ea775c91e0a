//! The plugins compiled into the host binary (the mocks, so demos and tests run with no plugin
//! files, and the real providers, which reach nothing until their hosts are granted).
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
    (
        "openai-llm",
        include_bytes!(env!("BUILTIN_OPENAI_LLM_WASM")),
    ),
    (
        "openai-tts",
        include_bytes!(env!("BUILTIN_OPENAI_TTS_WASM")),
    ),
    (
        "elevenlabs-tts",
        include_bytes!(env!("BUILTIN_ELEVENLABS_TTS_WASM")),
    ),
    (
        "openai-image",
        include_bytes!(env!("BUILTIN_OPENAI_IMAGE_WASM")),
    ),
    ("piper-tts", include_bytes!(env!("BUILTIN_PIPER_TTS_WASM"))),
];
