//! The engine's domain, free of storage and WebAssembly: workflow definitions and their
//! validation, the history's events, the fold of events into an execution's state, the pure
//! decision of what happens next, and the `HistoryStore` trait a history database implements.
//! The host crate stores events (in SQLite, or PostgreSQL through `postgres-store`) and runs
//! activities in plugins; everything that must replay identically lives here.

pub mod answers;
pub mod cost;
pub mod decide;
pub mod duration;
pub mod error_kind;
pub mod event;
pub mod files;
pub mod ids;
pub mod json_schema;
pub mod lineage;
pub mod money;
pub mod origin;
pub mod pause;
pub mod replay;
pub mod retry;
pub mod revise;
pub mod show;
pub mod signals;
pub mod state;
pub mod store;
pub mod tally;
pub mod template;
pub mod text;
pub mod workflow;

pub use decide::{Decision, WaitReason, decide};
pub use error_kind::ErrorKind;
pub use event::{ActivityError, BlobRef, Cost, Event, PluginPin, Signal, TimerPurpose};
pub use ids::{ActivityId, ExecutionId, StageId};
pub use state::{ActivityStatus, ExecutionState, ExecutionStatus, StageStatus};
pub use workflow::{Definition, DefinitionBundle, Diagnostic, Stage, StageKind};
