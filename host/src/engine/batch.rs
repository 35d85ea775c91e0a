//! Many executions at once, and executions driven through their approval gates: `host run
//! --batch` starts and drives a list of prepared starts a bounded number at a time, and
//! `--auto-approve` approves each gate as it is reached.

use std::sync::Arc;

use pipeline_core::Signal;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::start::PreparedStart;
use super::{DriveOptions, DriveOutcome, Engine, EngineError, Observer};

/// The feedback recorded with every automatic approval, so the history says it was automatic.
pub const AUTO_APPROVAL_FEEDBACK: &str = "approved automatically (--auto-approve)";

/// How a batch is driven.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    /// How many executions are started and driven at once (at least one).
    pub concurrency: usize,
    /// Approve every approval gate as it is reached, instead of leaving executions waiting.
    pub auto_approve: bool,
    /// Becomes true to stop: drives in flight end as interrupted and stay resumable.
    pub stop: Option<watch::Receiver<bool>>,
}

/// What one drive came to, for the execution it names.
#[derive(Debug)]
pub struct Driven {
    pub execution_id: String,
    pub outcome: Result<DriveOutcome, EngineError>,
}

impl Engine {
    /// Starts and drives every prepared start, `options.concurrency` at a time. Each result is
    /// passed to `on_driven` as it comes (in the order they finish) and returned, in the same
    /// order. A start or drive that fails is a result like any other; the others go on.
    pub async fn run_batch(
        &self,
        starts: Vec<PreparedStart>,
        options: BatchOptions,
        observer: Arc<dyn Observer>,
        mut on_driven: impl FnMut(&Driven),
    ) -> Result<Vec<Driven>, EngineError> {
        let limit = Arc::new(Semaphore::new(options.concurrency.max(1)));
        let mut tasks = JoinSet::new();
        for prepared in starts {
            let (engine, observer, limit) = (self.clone(), observer.clone(), limit.clone());
            let drive = DriveOptions {
                stop: options.stop.clone(),
            };
            let auto_approve = options.auto_approve;
            tasks.spawn(async move {
                let _slot = limit.acquire_owned().await;
                let execution_id = prepared.execution_id.0.clone();
                let outcome = engine
                    .start_and_drive(prepared, observer.as_ref(), drive.clone())
                    .await;
                let outcome = match outcome {
                    Ok(outcome) if auto_approve && awaits_a_gate(&outcome) => {
                        engine
                            .approve_and_drive_on(
                                &execution_id,
                                observer.as_ref(),
                                drive,
                                &mut || {},
                            )
                            .await
                    }
                    other => other,
                };
                Driven {
                    execution_id,
                    outcome,
                }
            });
        }
        let mut results = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let driven = joined.map_err(|error| EngineError::BatchTask(error.to_string()))?;
            on_driven(&driven);
            results.push(driven);
        }
        Ok(results)
    }

    /// Drives an execution until it ends, approving every gate it reaches with
    /// [`AUTO_APPROVAL_FEEDBACK`]; `on_approved` is called after each approval is recorded.
    pub async fn drive_approving(
        &self,
        execution_id: &str,
        observer: &dyn Observer,
        options: DriveOptions,
        on_approved: &mut (dyn FnMut() + Send),
    ) -> Result<DriveOutcome, EngineError> {
        let outcome = self.drive(execution_id, observer, options.clone()).await?;
        if !awaits_a_gate(&outcome) {
            return Ok(outcome);
        }
        self.approve_and_drive_on(execution_id, observer, options, on_approved)
            .await
    }

    /// Approves the gate an execution waits at and drives it on, approving every later gate.
    async fn approve_and_drive_on(
        &self,
        execution_id: &str,
        observer: &dyn Observer,
        options: DriveOptions,
        on_approved: &mut (dyn FnMut() + Send),
    ) -> Result<DriveOutcome, EngineError> {
        loop {
            let signal = Signal::Approve {
                replacement: None,
                feedback: Some(AUTO_APPROVAL_FEEDBACK.to_string()),
                budget_micros: None,
            };
            self.signal(execution_id, signal).await?;
            on_approved();
            let outcome = self.drive(execution_id, observer, options.clone()).await?;
            if !awaits_a_gate(&outcome) {
                return Ok(outcome);
            }
        }
    }
}

/// Whether a drive stopped at an approval gate that `--auto-approve` answers. Only a person
/// raises a budget or resumes after an outage: an execution paused is left waiting.
fn awaits_a_gate(outcome: &DriveOutcome) -> bool {
    matches!(outcome, DriveOutcome::WaitingForApproval(state)
        if state.budget_gate.is_none() && state.paused.is_none())
}
