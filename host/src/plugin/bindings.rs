//! Host-side bindings for the service worlds in `wit/`. The `bindgen!` output stays private to
//! this module; callers see the re-exported request and response types.

mod generated {
    pub mod llm {
        wasmtime::component::bindgen!({
            path: "../wit",
            world: "llm-provider",
            exports: { default: async },
        });
    }

    pub mod tts {
        wasmtime::component::bindgen!({
            path: "../wit",
            world: "tts-provider",
            exports: { default: async },
            with: { "pipeline:services/types": super::llm::pipeline::services::types },
        });
    }

    pub mod mixer {
        wasmtime::component::bindgen!({
            path: "../wit",
            world: "mixer-provider",
            exports: { default: async },
            with: { "pipeline:services/types": super::llm::pipeline::services::types },
        });
    }

    pub mod image {
        wasmtime::component::bindgen!({
            path: "../wit",
            world: "image-provider",
            exports: { default: async },
            with: { "pipeline:services/types": super::llm::pipeline::services::types },
        });
    }
}

pub(crate) use generated::image::ImageProviderPre;
pub(crate) use generated::llm::LlmProviderPre;
pub(crate) use generated::mixer::MixerProviderPre;
pub(crate) use generated::mixer::pipeline::services::{audio_sink, audio_source};
pub(crate) use generated::tts::TtsProviderPre;

/// Types shared by every service.
pub mod types {
    pub use super::generated::llm::pipeline::services::types::{
        AudioEncoding, AudioFormat, Cost, ErrorKind, ProviderError, Quantity, Usage, UsageUnit,
    };

    /// The unit as the WIT spells it, which is how histories and reports name it.
    pub fn unit_name(unit: UsageUnit) -> &'static str {
        match unit {
            UsageUnit::Tokens => "tokens",
            UsageUnit::Characters => "characters",
            UsageUnit::AudioMilliseconds => "audio-milliseconds",
            UsageUnit::Images => "images",
        }
    }
}

/// Chat-style text generation.
pub mod llm {
    pub use super::generated::llm::exports::pipeline::services::llm::{
        FinishReason, GenerateRequest, GenerateResponse, Message, Role,
    };
}

/// Text to speech.
pub mod tts {
    pub use super::generated::tts::exports::pipeline::services::tts::{
        SynthesizeRequest, SynthesizeResponse, Voice,
    };
}

/// Mixing speech clips into an episode.
pub mod mixer {
    pub use super::generated::mixer::exports::pipeline::services::mixer::{
        Clip, MixRequest, MixResponse, MixSettings, MusicBed, Placement,
    };

    /// The episode's sample rate when a workflow names none (the podcast's).
    pub const DEFAULT_SAMPLE_RATE: u32 = 44_100;
    /// The episode's channels when a workflow names none: stereo.
    pub const DEFAULT_CHANNELS: u8 = 2;
}

/// Image generation.
pub mod image {
    pub use super::generated::image::exports::pipeline::services::image::{
        GenerateRequest, GenerateResponse,
    };
}
