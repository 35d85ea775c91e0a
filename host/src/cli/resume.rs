//! `host resume`: continue one execution (after a crash, Ctrl-C, a reset), or one paused after
//! its retries ran out (`on_exhausted = "pause"`), or every paused one at once after an outage.

use clap::Args;
use host::engine::{DriveOptions, Engine, EngineError};
use pipeline_core::text::printable;
use pipeline_core::{ExecutionStatus, Signal};
use tokio::task::JoinSet;

use super::execution::{ctrl_c_watch, drive_and_report, drive_approving};
use super::progress::Progress;
use super::{Context, Failure, exit_code, runtime};

#[derive(Debug, Args)]
#[command(
    after_help = "A paused execution (its retries ran out on an error worth retrying, and its retry policy says\non_exhausted = \"pause\") gets a fresh round of attempts. Paused executions are never picked\nup by a worker until resumed; `host list --status paused` lists them.\n\nExamples:\n  host resume podcast-20261121-k3x9qa\n  host resume podcast-20261121-k3x9qa --auto-approve --json\n  host resume --all-paused               # after a provider's outage\n  host resume --all-paused --no-wait     # only record the resumes; a running worker drives them"
)]
pub struct ResumeArguments {
    /// The execution id.
    #[arg(required_unless_present = "all_paused", conflicts_with = "all_paused")]
    pub id: Option<String>,
    /// Resume every paused execution.
    #[arg(long)]
    pub all_paused: bool,
    /// With --all-paused: record the resumes and return; a worker (`host worker`, `host serve`)
    /// drives them.
    #[arg(long, requires = "all_paused")]
    pub no_wait: bool,
    /// Approve every approval gate as it is reached (demos and crash tests).
    #[arg(long, conflicts_with = "all_paused")]
    pub auto_approve: bool,
    /// Print the outcome as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(context: &Context, arguments: ResumeArguments) -> Result<(), Failure> {
    let engine = context.engine()?;
    runtime()?.block_on(async {
        match &arguments.id {
            Some(id) => {
                resume_if_paused(&engine, id).await?;
                let stop = ctrl_c_watch();
                if arguments.auto_approve {
                    drive_approving(context, &engine, id, &stop, arguments.json).await?;
                }
                drive_and_report(context, &engine, id, &stop, arguments.json).await
            }
            None => resume_all_paused(context, &engine, &arguments).await,
        }
    })
}

/// Records a resume when the execution is paused; any other execution is driven as it is.
async fn resume_if_paused(engine: &Engine, id: &str) -> Result<(), Failure> {
    if engine.load_state(id)?.status == ExecutionStatus::Paused {
        engine.signal(id, Signal::Resume).await?;
    }
    Ok(())
}

/// Records a resume for every paused execution, then drives them together (unless
/// `--no-wait`), printing one line per execution (a JSON object with `--json`).
async fn resume_all_paused(
    context: &Context,
    engine: &Engine,
    arguments: &ResumeArguments,
) -> Result<(), Failure> {
    let paused: Vec<String> = engine
        .store
        .executions()
        .map_err(EngineError::from)?
        .into_iter()
        .filter(|row| row.summary.status == ExecutionStatus::Paused)
        .map(|row| row.execution_id)
        .collect();
    for id in &paused {
        engine.signal(id, Signal::Resume).await?;
    }
    if paused.is_empty() && !arguments.json {
        println!("No execution is paused.");
    }
    if arguments.no_wait {
        for id in &paused {
            report(arguments.json, id, "resume recorded");
        }
        return Ok(());
    }
    let progress = std::sync::Arc::new(Progress::new(&context.data_dir.logs_dir(), true));
    let mut drives = JoinSet::new();
    for id in paused {
        let (engine, progress) = (engine.clone(), progress.clone());
        let options = DriveOptions {
            stop: Some(ctrl_c_watch()),
        };
        drives.spawn(async move {
            let outcome = engine.drive(&id, progress.as_ref(), options).await;
            (id, outcome)
        });
    }
    let mut failed = false;
    while let Some(joined) = drives.join_next().await {
        let Ok((id, outcome)) = joined else { continue };
        match outcome {
            Ok(outcome) => {
                let status = outcome.state().status;
                failed |= matches!(status, ExecutionStatus::Failed | ExecutionStatus::Cancelled);
                report(arguments.json, &id, status.as_str());
            }
            Err(error) => {
                failed = true;
                report(arguments.json, &id, &format!("not driven: {error}"));
            }
        }
    }
    if failed {
        return Err(Failure::with_code(
            exit_code::EXECUTION_FAILED,
            "some resumed executions failed or could not be driven (listed above)",
        ));
    }
    Ok(())
}

fn report(json: bool, id: &str, outcome: &str) {
    if json {
        println!("{}", serde_json::json!({ "id": id, "outcome": outcome }));
    } else {
        println!("{id}: {}", printable(outcome));
    }
}
