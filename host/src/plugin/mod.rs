//! The plugin host: finds plugin components, compiles them once (with an on-disk cache), checks
//! that they implement the world they are used for, and runs each call in a fresh sandboxed
//! store with a memory cap and a deadline. Every failure of a call becomes a [`CallError`];
//! nothing a plugin does can take the host down.

mod audio_io;
mod bindings;
mod builtin;
mod catalog;
mod check;
mod compile_cache;
mod error;
mod grants;
mod network;
mod outcome;
mod redact;
mod runtime;
mod sandbox;
mod scaffold;
mod service;
pub mod validate;

pub use audio_io::AudioInput;
pub use bindings::{image, llm, mixer, tts, types};
pub use catalog::{Catalog, PluginBytes, PluginOrigin, PluginSource};
pub use check::{SampleAnswer, SampleCall};
pub use compile_cache::CacheOutcome;
pub use error::{CallError, LoadError};
pub use grants::{
    ConfigError, DEFAULT_CALL_TIMEOUT, DEFAULT_MEMORY_LIMIT_MIB, DirectoryGrant, HostConfig,
    InvalidOrigin, Origin, PluginGrants,
};
pub use runtime::{InstanceAllocation, ListedPlugin, LoadedPlugin, PluginHost, PluginHostSettings};
pub use scaffold::{Language, ProjectFile, ScaffoldError, project_files, write_project};
pub use service::{Service, WIT_PACKAGE, WIT_VERSION};
