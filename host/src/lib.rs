//! The workflow host: a durable workflow engine whose stage services run as sandboxed
//! WebAssembly components.
//!
//! - [`blob_store`]: large results (audio, images) on disk, named by content (and in the
//!   shared database when hosts share one).
//! - [`engine`]: starting, driving and signalling durable executions.
//! - [`history`]: the append-only, hash-chained event log of every execution in SQLite, the
//!   default implementation of `pipeline_core::store::HistoryStore` the engine runs on (the
//!   `postgres-store` crate has the PostgreSQL one).
//! - [`maintenance`]: consistent backups of a data directory and checks of its histories and
//!   blobs.
//! - [`plugin`]: finding, compiling, sandboxing and calling plugin components.
//! - [`server`]: `host serve`: the worker behind an HTTP API, live events, webhooks, metrics
//!   and the web dashboard.
//! - [`settings`]: where the host keeps its data and how it is configured.

pub mod blob_store;
pub mod engine;
pub mod history;
pub mod maintenance;
pub mod plugin;
pub mod server;
pub mod settings;
