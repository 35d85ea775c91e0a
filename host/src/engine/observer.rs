//! Lifecycle hooks: whoever drives an execution can follow every event as it is recorded
//! (the CLI prints progress from them; `host watch` follows the history instead).

use pipeline_core::store::LeaseHolder;
use pipeline_core::{Definition, Event, ExecutionState};

/// Told about each event right after it is committed.
pub trait Observer: Send + Sync {
    /// `state` already includes `event` and the rest of the transaction it was committed in.
    fn recorded(&self, definition: &Definition, state: &ExecutionState, event: &Event);

    /// A drive took the execution's lease; `taken_over_from` is the process that held it and
    /// stopped without releasing it (a crash), whose attempt in flight now runs again.
    fn drive_started(&self, _execution_id: &str, _taken_over_from: Option<&LeaseHolder>) {}
}

/// Follows nothing.
pub struct NoObserver;

impl Observer for NoObserver {
    fn recorded(&self, _: &Definition, _: &ExecutionState, _: &Event) {}
}
