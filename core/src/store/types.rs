//! The rows a history store keeps: events as appended and as stored, the executions table's
//! row, and who holds an execution's lease.

use crate::state::ExecutionStatus;

/// An event to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// The event's kind, for example `ActivityCompleted`.
    pub event_type: String,
    /// The event's body as JSON text; stored and hashed byte for byte.
    pub payload: String,
    /// When the event was recorded, in milliseconds since the Unix epoch (from the engine's
    /// injected clock, never read by a store).
    pub recorded_at_ms: i64,
}

/// An event as stored, with its place in the log and its chained hash.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub execution_id: String,
    /// 1 for the first event of an execution, then consecutive.
    pub sequence: u64,
    pub event_type: String,
    pub payload: String,
    pub recorded_at_ms: i64,
    /// SHA-256 over the previous event's hash and this event's fields.
    pub hash: [u8; 32],
}

/// What the executions table records about an execution after an append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionSummary {
    pub workflow: String,
    pub status: ExecutionStatus,
    pub stage: Option<String>,
    pub show: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// When a timer or deadline makes the execution able to progress again.
    pub wake_at_ms: Option<i64>,
}

/// One row of the executions table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionRow {
    pub execution_id: String,
    pub summary: ExecutionSummary,
    /// How many events were committed with this row; a shorter history was truncated.
    pub last_sequence: u64,
}

/// The process asking for a lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseOwner {
    /// Unique per process run, for example `host-1234-<random>`.
    pub id: String,
    pub pid: u32,
    pub hostname: String,
}

/// Who holds a lease someone else asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseHolder {
    pub owner: String,
    pub pid: u32,
    pub hostname: String,
    pub expires_at_ms: i64,
}

impl LeaseHolder {
    /// Whether this holder keeps `owner` from taking the lease at `now_ms`: it is someone
    /// else, its lease has not expired, and it may still be alive (on another machine, or a
    /// process on this one that still exists). Every store applies this same rule.
    pub fn keeps_out(&self, owner: &LeaseOwner, now_ms: i64) -> bool {
        self.owner != owner.id
            && self.expires_at_ms > now_ms
            && (self.hostname != owner.hostname || process_exists(self.pid))
    }
}

/// Whether a process with this id runs on this machine (Linux: it has a /proc entry).
fn process_exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

impl std::fmt::Display for LeaseHolder {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "process {} on {} ({})",
            self.pid, self.hostname, self.owner
        )
    }
}

impl ExecutionStatus {
    /// The status whose [`as_str`](Self::as_str) name is `name`, as a store reads back the
    /// status column it wrote.
    pub fn from_name(name: &str) -> Option<ExecutionStatus> {
        [
            ExecutionStatus::Running,
            ExecutionStatus::WaitingForApproval,
            ExecutionStatus::Completed,
            ExecutionStatus::Failed,
            ExecutionStatus::Rejected,
            ExecutionStatus::Cancelled,
        ]
        .into_iter()
        .find(|status| status.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_reads_back_from_its_name() {
        for name in [
            "running",
            "waiting_for_approval",
            "completed",
            "failed",
            "rejected",
            "cancelled",
        ] {
            let status = ExecutionStatus::from_name(name).unwrap();
            assert_eq!(status.as_str(), name);
        }
        assert_eq!(ExecutionStatus::from_name("Running"), None);
    }
}
