//! What the real provider plugins share: one HTTP exchange over wasi-http and the mapping of
//! its failures to provider errors, configuration from granted environment variables, the price
//! table, voices for ids written for the mocks, and turning provider audio into the 16-bit PCM WAV the mixer accepts. The WIT types
//! and the WAV header come from `guest-support`, so every guest crate uses the same ones.

pub mod audio;
pub mod config;
pub mod error;
pub mod http;
pub mod prices;
pub mod voices;

pub use guest_support::types;
