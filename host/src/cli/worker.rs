//! `host worker`: drives every execution that can make progress, once or following, with a
//! timestamped line as it starts, picks up an execution and as each ends.

use std::sync::Arc;

use clap::Args;
use host::engine::{DEFAULT_CONCURRENCY, Driven, Worker, rfc3339};
use pipeline_core::ExecutionStatus;
use pipeline_core::text::printable;

use super::execution::{at_least_one, ctrl_c_watch};
use super::progress::Progress;
use super::{Context, Failure, runtime};

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  host worker\n  host worker --follow --concurrency 8")]
pub struct WorkerArguments {
    /// Keep polling for signals and due timers until stopped (Ctrl-C).
    #[arg(long)]
    pub follow: bool,
    /// How many executions to drive at once (at least 1).
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY, value_parser = at_least_one())]
    pub concurrency: usize,
}

pub fn run(context: &Context, arguments: WorkerArguments) -> Result<(), Failure> {
    let database = context.database()?;
    let schedules = database.schedules.clone();
    let engine = context.engine_over(database.history, database.shared)?;
    runtime()?.block_on(async {
        // Stages are shown with -v; the timestamped lines below always.
        let progress = Arc::new(
            Progress::new(&context.data_dir.logs_dir(), context.verbose == 0).announcing_drives(),
        );
        let owner = engine.owner().clone();
        let now = || rfc3339(engine.clock.now_ms());
        println!(
            "{} worker started: process {} on {}, {} at a time{}",
            now(),
            owner.pid,
            owner.hostname,
            arguments.concurrency,
            if arguments.follow {
                ", following until stopped"
            } else {
                ""
            }
        );
        let worker = Worker::new(engine.clone())
            .with_concurrency(arguments.concurrency)
            .with_observer(progress.clone())
            .with_stop(ctrl_c_watch())
            .with_schedules(schedules);
        // Executions that could not be driven (a corrupt history, say): the others still run.
        let mut print = |driven: Driven| {
            progress.close_log(&driven.execution_id);
            let id = &driven.execution_id;
            match driven.outcome {
                Ok(outcome) => {
                    let state = outcome.state();
                    let what = match state.status {
                        ExecutionStatus::Failed => format!(
                            "failed: {}",
                            state
                                .last_error
                                .as_ref()
                                .map_or("(no error recorded)", |last| last.error.message.as_str())
                        ),
                        ExecutionStatus::WaitingForApproval => format!(
                            "waiting_for_approval (`host status {id}` shows what it waits for)"
                        ),
                        ExecutionStatus::Paused => format!(
                            "paused after its retries ran out (`host resume {id}` once the provider is back)"
                        ),
                        other => other.as_str().to_string(),
                    };
                    println!("{} {id}: {}", now(), printable(&what));
                }
                Err(error) => eprintln!("{} {id}: {}", now(), printable(&error.to_string())),
            }
        };
        let summary = if arguments.follow {
            worker.follow(&mut print).await?
        } else {
            worker.drive_runnable(&mut print).await?
        };
        match summary.errors {
            0 => Ok(()),
            count => Err(Failure::internal(format!(
                "{count} execution(s) could not be driven; see the errors above"
            ))),
        }
    })
}
