//! The workflow host: a durable workflow engine whose stage services run as sandboxed
//! WebAssembly components.
//!
//! - [`blob_store`]: large results (audio, images) on disk, named by content.
//! - [`plugin`]: finding, compiling, sandboxing and calling plugin components.
//! - [`settings`]: where the host keeps its data and how it is configured.

pub mod blob_store;
pub mod plugin;
pub mod settings;
