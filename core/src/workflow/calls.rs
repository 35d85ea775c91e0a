//! The functions a stage can call, with the input fields each one takes. Plugin services
//! mirror the WIT worlds; `episode.publish` is the host's own function that writes a finished
//! episode's files.

/// The service of the host's own functions; it needs no provider.
pub const BUILTIN_SERVICE: &str = "episode";

/// What a callable function accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallSpec {
    pub service: &'static str,
    pub function: &'static str,
    pub required: &'static [&'static str],
    pub optional: &'static [&'static str],
    /// LLM stages take a prompt template file (and optionally a system prompt and a schema).
    pub takes_prompt: bool,
}

const CALLS: &[CallSpec] = &[
    CallSpec {
        service: "llm",
        function: "generate",
        required: &[],
        optional: &["model", "temperature", "max_tokens"],
        takes_prompt: true,
    },
    CallSpec {
        service: "tts",
        function: "synthesize",
        required: &["text", "voice"],
        optional: &["style", "speed", "model"],
        takes_prompt: false,
    },
    CallSpec {
        service: "mixer",
        function: "mix",
        required: &["clips"],
        optional: &[
            "music",
            "music_gain_db",
            "duck_db",
            "gap_ms",
            "crossfade_ms",
            "padding_ms",
            "sample_rate",
            "channels",
            "loudness_lufs",
            "true_peak_dbtp",
        ],
        takes_prompt: false,
    },
    CallSpec {
        service: "image",
        function: "generate",
        required: &["prompt"],
        optional: &["title", "width", "height", "style", "model"],
        takes_prompt: false,
    },
    CallSpec {
        service: BUILTIN_SERVICE,
        function: "publish",
        required: &["title", "segments", "clips"],
        optional: &["show", "description", "mix", "cover"],
        takes_prompt: false,
    },
];

/// The function `service.function`, if there is one.
pub fn call_spec(service: &str, function: &str) -> Option<&'static CallSpec> {
    CALLS
        .iter()
        .find(|spec| spec.service == service && spec.function == function)
}

/// Every callable function, as `service.function`, for error messages.
pub(super) fn all_calls() -> Vec<String> {
    CALLS
        .iter()
        .map(|spec| format!("{}.{}", spec.service, spec.function))
        .collect()
}
