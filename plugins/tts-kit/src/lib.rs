//! What a text-to-speech plugin needs besides its provider: canonical 16-bit PCM WAV written
//! and any common WAV read back ([`wav`]), and its usage and cost in the units the host
//! records ([`billing`]). Plain Rust with no WIT types, so a plugin outside this repository can
//! use it as it is (`host plugins new --service tts --lang rust` puts a copy in the project).

pub mod billing;
pub mod wav;
