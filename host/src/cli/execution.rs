//! Commands that change executions: `run`, `signal`, `resume`, `worker`, `cancel`, `reset`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use host::engine::{
    BatchOptions, DriveOptions, DriveOutcome, Engine, EngineError, StartRequest, SystemClock,
    record_signal,
};
use pipeline_core::files::{self, limits};
use pipeline_core::money::parse_amount;
use pipeline_core::text::printable;
use pipeline_core::{ExecutionStatus, Signal};
use serde_json::{Value, json};
use tokio::sync::watch;

use super::progress::Progress;
use super::{Context, Failure, exit_code, report, runtime};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  host run workflows/podcast.toml --input topic=\"the history of tea\"\n  host run workflows/podcast.toml --input topic=tides --input show=tiny-histories --id tides-1\n  host run workflows/story.toml --input premise=\"a lighthouse keeper\" --provider llm=my-llm\n  host run workflows/podcast.toml --input topic=tides --dry-run\n  host run workflows/podcast.toml --input topic=tides --auto-approve\n  host run workflows/podcast.toml --input topic=tides --max-cost 2.50\n  host run workflows/podcast.toml --batch topics.txt --concurrency 4 --auto-approve"
)]
pub struct RunArguments {
    /// The workflow file, for example workflows/podcast.toml.
    pub workflow: PathBuf,
    /// An input as KEY=VALUE; repeat for several.
    #[arg(long = "input", value_name = "KEY=VALUE")]
    pub inputs: Vec<String>,
    /// A JSON object of inputs; --input values override it.
    #[arg(long = "inputs", value_name = "FILE.json")]
    pub inputs_file: Option<PathBuf>,
    /// The execution id [default: <workflow>-<date>-<random>].
    #[arg(long)]
    pub id: Option<String>,
    /// Use another plugin for a service, as SERVICE=PLUGIN.
    #[arg(long = "provider", value_name = "SERVICE=PLUGIN")]
    pub providers: Vec<String>,
    /// Pause before spending more than this (in the currency the plugins report, e.g. 2.50);
    /// overrides the workflow's `max_cost`.
    #[arg(long, value_name = "AMOUNT", value_parser = parse_amount)]
    pub max_cost: Option<u64>,
    /// `identical`: a plugin call identical to one already completed in this data directory
    /// (same call, request, plugin build and workflow definition) reuses its result at no
    /// cost instead of calling the provider.
    #[arg(long, value_name = "identical", value_parser = ["identical"])]
    pub reuse: Option<String>,
    /// Validate and print the plan; execute and record nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Start one execution per line of FILE, each line being the `topic` input.
    #[arg(long, value_name = "FILE")]
    pub batch: Option<PathBuf>,
    /// With --batch: how many executions run at once (at least 1).
    #[arg(long, default_value_t = 4, value_parser = at_least_one())]
    pub concurrency: usize,
    /// Approve every approval gate as it is reached (demos and tests); the approval is
    /// recorded like any other, with feedback saying it was automatic.
    #[arg(long)]
    pub auto_approve: bool,
    /// Print the outcome as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum SignalCommand {
    /// Approve the outline (optionally replaced by an edited one), or raise the budget of an
    /// execution paused at it, and continue.
    #[command(
        after_help = "Examples:\n  host signal approve podcast-20261121-k3x9qa\n  host signal approve podcast-20261121-k3x9qa --outline edited.json --feedback \"shorter intro\"\n  host signal approve podcast-20261121-k3x9qa --budget 5.00"
    )]
    Approve {
        /// The execution id.
        id: String,
        /// A JSON file replacing the outline; it must match the outline's schema.
        #[arg(long)]
        outline: Option<PathBuf>,
        /// A note recorded with the approval.
        #[arg(long)]
        feedback: Option<String>,
        /// At the budget: the new budget (more than what was spent), e.g. 5.00.
        #[arg(long, value_name = "AMOUNT", value_parser = parse_amount)]
        budget: Option<u64>,
        /// Only record the signal; do not drive the execution on.
        #[arg(long)]
        no_wait: bool,
        /// Print the outcome as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Reject the outline (or, at the budget, spending more); the execution ends as rejected.
    #[command(
        after_help = "Examples:\n  host signal reject podcast-20261121-k3x9qa --feedback \"off topic\""
    )]
    Reject {
        /// The execution id.
        id: String,
        /// Why, recorded in the history.
        #[arg(long)]
        feedback: String,
        /// Print the outcome as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Send the outline back with notes: the stage that wrote it answers again with them, and
    /// the execution returns to the gate. Reject stays final.
    #[command(
        after_help = "Examples:\n  host signal revise podcast-20261121-k3x9qa --feedback \"fewer segments\""
    )]
    Revise {
        /// The execution id.
        id: String,
        /// What to change, told to the model and recorded in the history.
        #[arg(long)]
        feedback: String,
        /// Print the outcome as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
}

/// A count that must be at least one, refused by the argument parser otherwise.
pub(super) fn at_least_one() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::new().range(1..)
}

pub fn run(context: &Context, arguments: RunArguments) -> Result<(), Failure> {
    let request = StartRequest {
        workflow: arguments.workflow.clone(),
        inputs: parse_inputs(&arguments.inputs, arguments.inputs_file.as_ref())?,
        execution_id: arguments.id.clone(),
        providers: parse_pairs(&arguments.providers, "--provider", "SERVICE=PLUGIN")?
            .into_iter()
            .map(|(service, plugin)| (service, plugin.as_str().unwrap_or_default().to_string()))
            .collect(),
        max_cost_micros: arguments.max_cost,
        reuse_identical: arguments.reuse.is_some(),
    };
    let engine = context.engine()?;
    if let Some(batch) = &arguments.batch {
        return run_batch(context, &engine, request, batch, &arguments);
    }
    let prepared = engine.prepare(&request)?;
    if arguments.dry_run {
        return report::print_plan(&prepared, arguments.json);
    }
    runtime()?.block_on(async {
        let state = engine.start(prepared).await?;
        let id = state.execution_id.0.clone();
        if !arguments.json {
            eprintln!("Started {id}");
        }
        let stop = ctrl_c_watch();
        if arguments.auto_approve {
            drive_approving(context, &engine, &id, &stop, arguments.json).await?;
        }
        drive_and_report(context, &engine, &id, &stop, arguments.json).await
    })
}

/// `--batch`: one execution per topic line, driven `--concurrency` at a time.
fn run_batch(
    context: &Context,
    engine: &Engine,
    request: StartRequest,
    batch: &Path,
    arguments: &RunArguments,
) -> Result<(), Failure> {
    let text = files::read_text(batch, limits::BATCH_FILE_BYTES)
        .map_err(|error| Failure::invalid_input(format!("cannot read the batch file: {error}")))?;
    let topics: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    if topics.is_empty() {
        return Err(Failure::invalid_input(format!(
            "batch file {} has no topics (one per line)",
            batch.display()
        )));
    }
    if arguments.id.is_some() {
        return Err(Failure::invalid_input(
            "--id names one execution; it cannot be used with --batch",
        ));
    }
    // Every topic is checked before anything starts, so a bad line does not leave half a batch.
    let each_inputs = topics
        .iter()
        .map(|topic| {
            let mut inputs = request.inputs.clone();
            inputs.insert("topic".into(), Value::String(topic.to_string()));
            inputs
        })
        .collect();
    let prepared = engine.prepare_each(&request, each_inputs)?;
    if arguments.dry_run {
        println!(
            "{} executions would start, one per topic of {}.",
            prepared.len(),
            batch.display()
        );
        return prepared
            .first()
            .map_or(Ok(()), |first| report::print_plan(first, arguments.json));
    }
    // Results name their topic: a list of ids alone does not say which episode is which.
    let topic_of: BTreeMap<String, String> = prepared
        .iter()
        .zip(&topics)
        .map(|(start, topic)| (start.execution_id.0.clone(), topic.to_string()))
        .collect();
    let topic = |id: &str| topic_of.get(id).map_or("", String::as_str);
    runtime()?.block_on(async {
        let options = BatchOptions {
            concurrency: arguments.concurrency,
            auto_approve: arguments.auto_approve,
            // As it always has, only an auto-approving batch listens for Ctrl-C and stops its
            // drives cleanly; otherwise Ctrl-C ends the process at once. Either way every
            // execution stays resumable.
            stop: arguments.auto_approve.then(ctrl_c_watch),
        };
        let progress = Progress::new(&context.data_dir.logs_dir(), true);
        let progress = Arc::new(if arguments.auto_approve {
            progress.approving_automatically()
        } else {
            progress
        });
        let results = engine
            .run_batch(prepared, options, progress, |driven| {
                match &driven.outcome {
                    Ok(outcome) if !arguments.json => {
                        println!(
                            "{} ({}): {}",
                            driven.execution_id,
                            printable(topic(&driven.execution_id)),
                            outcome.state().status.as_str()
                        );
                    }
                    Ok(_) => {}
                    Err(error) => eprintln!(
                        "error: {} ({}): {}",
                        driven.execution_id,
                        printable(topic(&driven.execution_id)),
                        printable(&error.to_string())
                    ),
                }
            })
            .await?;
        let failed = results
            .iter()
            .filter(|driven| match &driven.outcome {
                Ok(outcome) => matches!(
                    outcome.state().status,
                    ExecutionStatus::Failed | ExecutionStatus::Cancelled
                ),
                Err(_) => true,
            })
            .count();
        if arguments.json {
            let finished: Vec<Value> = results
                .iter()
                .filter_map(|driven| {
                    let status = driven.outcome.as_ref().ok()?.state().status;
                    Some(json!({ "id": driven.execution_id, "topic": topic(&driven.execution_id), "status": status.as_str() }))
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&finished).unwrap_or_default()
            );
        }
        if failed > 0 {
            return Err(Failure::with_code(
                exit_code::EXECUTION_FAILED,
                format!("{failed} of {} executions failed", topics.len()),
            ));
        }
        Ok(())
    })
}

pub fn signal(context: &Context, command: SignalCommand) -> Result<(), Failure> {
    let (id, signal, wait, json) = match command {
        SignalCommand::Approve {
            id,
            outline,
            feedback,
            budget,
            no_wait,
            json,
        } => {
            let replacement = match outline {
                None => None,
                Some(path) => {
                    let text =
                        files::read_text(&path, limits::DOCUMENT_BYTES).map_err(|error| {
                            Failure::with_code(
                                exit_code::SIGNAL_REFUSED,
                                format!("signal refused: cannot read the outline file: {error}"),
                            )
                        })?;
                    Some(serde_json::from_str::<Value>(&text).map_err(|error| {
                        Failure::with_code(
                            exit_code::SIGNAL_REFUSED,
                            format!(
                                "signal refused: outline file {} is not valid JSON: {error}",
                                path.display()
                            ),
                        )
                    })?)
                }
            };
            (
                id,
                Signal::Approve {
                    replacement,
                    feedback,
                    budget_micros: budget,
                },
                !no_wait,
                json,
            )
        }
        SignalCommand::Reject { id, feedback, json } => {
            (id, Signal::Reject { feedback }, true, json)
        }
        SignalCommand::Revise { id, feedback, json } => {
            (id, Signal::Revise { feedback }, true, json)
        }
    };
    if !wait {
        // Only recording: the history store is all it takes, not the plugins.
        let store = context.store()?;
        runtime()?.block_on(record_signal(store.as_ref(), &SystemClock, &id, signal))?;
        report::forget_pending_outline(context, &id);
        if !json {
            eprintln!("Signal recorded for {id}");
        }
        return Ok(());
    }
    let engine = context.engine()?;
    runtime()?.block_on(async {
        engine.signal(&id, signal).await?;
        report::forget_pending_outline(context, &id);
        if !json {
            eprintln!("Signal recorded for {id}");
        }
        drive_and_report(context, &engine, &id, &ctrl_c_watch(), json).await
    })
}

pub fn cancel(context: &Context, id: &str) -> Result<(), Failure> {
    let engine = context.engine()?;
    runtime()?.block_on(async {
        engine
            .signal(
                id,
                Signal::Cancel {
                    reason: Some("cancelled with host cancel".into()),
                },
            )
            .await?;
        report::forget_pending_outline(context, id);
        match engine
            .drive(
                id,
                &Progress::new(&context.data_dir.logs_dir(), true),
                DriveOptions::default(),
            )
            .await
        {
            Ok(_) => {}
            // A live owner sees the signal within a poll interval and records the cancellation.
            Err(EngineError::Owned { .. }) => {
                for _ in 0..200 {
                    if engine.load_state(id)?.status.is_terminal() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            Err(error) => return Err(error.into()),
        }
        let status = engine.load_state(id)?.status;
        println!("{id}: {}", status.as_str());
        Ok(())
    })
}

pub fn reset(context: &Context, id: &str, stage: &str) -> Result<(), Failure> {
    let engine = context.engine()?;
    runtime()?.block_on(async {
        let (_, take) = engine.reset(id, stage).await?;
        if let Some(take) = take {
            eprintln!("The previous take is kept in {}", take.display());
        }
        eprintln!("Reset {id} to stage {stage}");
        drive_and_report(context, &engine, id, &ctrl_c_watch(), false).await
    })
}

/// Drives an execution through every approval gate it reaches, saying so unless `json`.
pub(super) async fn drive_approving(
    context: &Context,
    engine: &Engine,
    id: &str,
    stop: &watch::Receiver<bool>,
    json: bool,
) -> Result<DriveOutcome, EngineError> {
    let options = DriveOptions {
        stop: Some(stop.clone()),
    };
    let progress = Progress::new(&context.data_dir.logs_dir(), json).approving_automatically();
    let mut announce = || {
        if !json {
            eprintln!("Approved automatically");
        }
    };
    engine
        .drive_approving(id, &progress, options, &mut announce)
        .await
}

/// Drives an execution with progress, prints where it ended, and maps that to an exit code.
pub(super) async fn drive_and_report(
    context: &Context,
    engine: &Engine,
    id: &str,
    stop: &watch::Receiver<bool>,
    json: bool,
) -> Result<(), Failure> {
    let options = DriveOptions {
        stop: Some(stop.clone()),
    };
    let outcome = engine
        .drive(
            id,
            &Progress::new(&context.data_dir.logs_dir(), json),
            options,
        )
        .await?;
    let state = outcome.state();
    if json {
        report::print_status_json(engine, id)?;
    } else if let DriveOutcome::WaitingForApproval(state) = &outcome
        && state.paused.is_none()
    {
        report::print_approval_request(context, engine, id)?;
    } else {
        report::print_status_text(engine, id)?;
    }
    match state.status {
        ExecutionStatus::Failed | ExecutionStatus::Cancelled => Err(Failure::with_code(
            exit_code::EXECUTION_FAILED,
            format!("execution {id} {}", state.status.as_str()),
        )),
        _ => Ok(()),
    }
}

/// A watch that turns true on Ctrl-C or SIGTERM (a service manager stopping the host), both of
/// which stop cleanly and leave the execution resumable. One listener per process, however
/// many drives ask for it, so the stop is announced once.
pub(super) fn ctrl_c_watch() -> watch::Receiver<bool> {
    static STOP: std::sync::OnceLock<watch::Receiver<bool>> = std::sync::OnceLock::new();
    STOP.get_or_init(|| {
        let (sender, receiver) = watch::channel(false);
        tokio::spawn(async move {
            let terminate = async {
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(mut terminate) => {
                        terminate.recv().await;
                    }
                    Err(_) => std::future::pending().await,
                }
            };
            tokio::select! {
                result = tokio::signal::ctrl_c() => {
                    if result.is_err() {
                        return;
                    }
                }
                () = terminate => {}
            }
            eprintln!("Stopping; the execution stays resumable");
            let _ = sender.send(true);
        });
        receiver
    })
    .clone()
}

pub(super) fn parse_inputs(
    pairs: &[String],
    file: Option<&PathBuf>,
) -> Result<BTreeMap<String, Value>, Failure> {
    let mut inputs = BTreeMap::new();
    if let Some(path) = file {
        let text = files::read_text(path, limits::DOCUMENT_BYTES).map_err(|error| {
            Failure::invalid_input(format!("cannot read the inputs file: {error}"))
        })?;
        let object: serde_json::Map<String, Value> =
            serde_json::from_str(&text).map_err(|error| {
                Failure::invalid_input(format!(
                    "inputs file {} must be a JSON object: {error}",
                    path.display()
                ))
            })?;
        inputs.extend(object);
    }
    inputs.extend(parse_pairs(pairs, "--input", "KEY=VALUE")?);
    Ok(inputs)
}

pub(super) fn parse_pairs(
    pairs: &[String],
    flag: &str,
    shape: &str,
) -> Result<BTreeMap<String, Value>, Failure> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                Ok((key.trim().to_string(), Value::String(value.to_string())))
            }
            _ => Err(Failure::invalid_input(format!(
                "{flag} `{pair}` must look like {shape}"
            ))),
        })
        .collect()
}
