//! What can go wrong in the engine, grouped by what the caller must do about it.

use pipeline_core::Diagnostic;
use pipeline_core::replay::ReplayError;
use pipeline_core::show::ShowError;
use pipeline_core::state::FoldError;
use pipeline_core::store::{HistoryError, LeaseHolder};
use pipeline_core::text::{abbreviate, printable};

use crate::blob_store::BlobError;
use crate::plugin::LoadError;

/// Why the engine could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The workflow file has problems; each diagnostic names its place.
    #[error("{}", describe_diagnostics(.0))]
    Workflow(Vec<Diagnostic>),
    /// The request does not fit (bad inputs, unknown service, bad id).
    #[error("{0}")]
    InvalidRequest(String),
    #[error("no execution with id `{}`; `host list` shows the executions", printable(&abbreviate(.0, 80)))]
    UnknownExecution(String),
    /// A signal that does not fit the execution; nothing was recorded.
    #[error("signal refused: {0}")]
    SignalRefused(String),
    /// Another live process drives the execution.
    #[error(
        "execution {execution_id} is being driven by {holder}; wait for it, or stop that process"
    )]
    Owned {
        execution_id: String,
        holder: LeaseHolder,
    },
    #[error(transparent)]
    Plugin(#[from] LoadError),
    #[error(transparent)]
    Show(#[from] ShowError),
    #[error(transparent)]
    History(#[from] HistoryError),
    /// The history decodes but does not fold: it cannot be trusted.
    #[error("history of execution {execution_id} cannot be replayed: {source}")]
    Fold {
        execution_id: String,
        source: FoldError,
    },
    #[error("execution {execution_id}: {source}")]
    Replay {
        execution_id: String,
        source: ReplayError,
    },
    /// The pinned definition no longer builds (a host older than the execution, say).
    #[error("execution {execution_id}: its pinned workflow definition no longer loads:\n{}", diagnostics.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    PinnedDefinition {
        execution_id: String,
        diagnostics: Vec<Diagnostic>,
    },
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    /// The host's own storage failed while keeping an activity's result (a full disk, a
    /// permission); nothing was recorded and the execution is resumable once it is fixed.
    #[error(
        "execution {execution_id} stopped: the host could not store the result of {activity}: {message}; nothing was recorded, so once the disk has space (or the permissions are fixed) `host resume {execution_id}` runs that step again"
    )]
    Storage {
        execution_id: String,
        activity: String,
        message: String,
    },
    /// A task of a batch panicked (a bug in the host); its execution stays resumable.
    #[error("a batch task stopped: {0}")]
    BatchTask(String),
    /// Stopped on request (Ctrl-C, SIGTERM); the execution is resumable.
    #[error(
        "interrupted; execution {execution_id} stays resumable: `host resume {execution_id}` continues it"
    )]
    Interrupted { execution_id: String },
}

impl EngineError {
    /// Whether the problem is in what the user gave (exit code 2) rather than in the host.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            EngineError::Workflow(_)
                | EngineError::InvalidRequest(_)
                | EngineError::UnknownExecution(_)
                | EngineError::Plugin(_)
                | EngineError::Show(_)
        )
    }
}

/// One problem on one line; several under a count, one per line.
fn describe_diagnostics(diagnostics: &[Diagnostic]) -> String {
    match diagnostics {
        [only] => only.to_string(),
        many => format!(
            "{} problems in the workflow:\n{}",
            many.len(),
            many.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}
