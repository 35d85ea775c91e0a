//! Commands that read executions and workflows: `status`, `list`, `history`, `replay`,
//! `validate`, `shows`, and the reports `run` prints.

use std::path::PathBuf;

use clap::Args;
use host::engine::{Amounts, CostFilter, EngineError, ListFilter, event_json, start_of_day};
use pipeline_core::duration::format_duration;
use pipeline_core::money::format_amount;
use pipeline_core::text::{abbreviate, printable};
use pipeline_core::workflow::load_bundle;
use pipeline_core::{Definition, Event};
use serde_json::{Value, json};

use super::{Context, Failure, exit_code, report};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  host status podcast-20261121-k3x9qa\n  host status podcast-20261121-k3x9qa --json | jq .cost"
)]
pub struct StatusArguments {
    /// The execution id.
    pub id: String,
    /// Print JSON (fields: id, workflow, status, stage, progress, cost, approval, artifacts, error).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  host list\n  host list --status waiting_for_approval --workflow podcast --json"
)]
pub struct ListArguments {
    /// Only executions with this status (running, waiting_for_approval, paused, completed, failed, rejected, cancelled).
    #[arg(long)]
    pub status: Option<String>,
    /// Only executions of this workflow.
    #[arg(long)]
    pub workflow: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  host history podcast-20261121-k3x9qa\n  host history podcast-20261121-k3x9qa --json | jq '.[] | .type'"
)]
pub struct HistoryArguments {
    /// The execution id.
    pub id: String,
    /// Print the events as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  host watch podcast-20261121-k3x9qa\n  host watch podcast-20261121-k3x9qa --json | jq -c 'select(.type == \"StageCompleted\")'"
)]
pub struct WatchArguments {
    /// The execution id.
    pub id: String,
    /// One JSON object per event instead of lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  host replay podcast-20261121-k3x9qa\n  host replay podcast-20261121-k3x9qa --definition workflows/podcast.toml"
)]
pub struct ReplayArguments {
    /// The execution id.
    pub id: String,
    /// Replay against this workflow file instead of the definition pinned in the history.
    #[arg(long)]
    pub definition: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  host validate workflows/podcast.toml\n  host validate workflows/story.toml --json"
)]
pub struct ValidateArguments {
    /// The workflow file.
    pub workflow: PathBuf,
    /// Print the problems as JSON (file, line, column, message).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  host shows\n  host shows --json")]
pub struct ShowsArguments {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn status(context: &Context, arguments: StatusArguments) -> Result<(), Failure> {
    let engine = context.engine()?;
    if arguments.json {
        report::print_status_json(&engine, &arguments.id)
    } else {
        report::print_status_text(&engine, &arguments.id)
    }
}

pub fn list(context: &Context, arguments: ListArguments) -> Result<(), Failure> {
    let engine = context.engine()?;
    let filter = ListFilter {
        status: arguments.status,
        workflow: arguments.workflow,
        show: None,
    };
    let listings = engine
        .matching_executions(&filter)?
        .iter()
        .map(|row| engine.listing(row))
        .collect::<Result<Vec<_>, _>>()?;
    if arguments.json {
        return print_json(&listings);
    }
    if listings.is_empty() {
        println!(
            "No executions yet. Start one with: host run workflows/podcast.toml --input topic=\"...\""
        );
    }
    let now_ms = engine.clock.now_ms();
    let mut table = vec![[
        "ID".to_string(),
        "WORKFLOW".into(),
        "STATUS".into(),
        "STAGE".into(),
        "AGE".into(),
        "COST".into(),
        "TOPIC".into(),
    ]];
    for listing in listings {
        let cost = listing.cost.map_or_else(
            || "-".to_string(),
            |cost| format!("{} {}", format_amount(cost.amount_micros), cost.currency),
        );
        table.push([
            listing.id,
            listing.workflow,
            if listing.interrupted {
                "interrupted"
            } else {
                listing.status
            }
            .to_string(),
            listing.stage.unwrap_or_else(|| "-".into()),
            age((now_ms - listing.created_at_ms).max(0) as u64),
            cost,
            printable(&abbreviate(listing.topic.as_deref().unwrap_or("-"), 40)).into_owned(),
        ]);
    }
    if table.len() > 1 {
        print_columns(&table);
    }
    Ok(())
}

/// How long ago, in its largest unit: `45s`, `12m`, `3h`, `6d`.
fn age(elapsed_ms: u64) -> String {
    let seconds = elapsed_ms / 1000;
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3_600 => format!("{}m", seconds / 60),
        3_600..86_400 => format!("{}h", seconds / 3_600),
        _ => format!("{}d", seconds / 86_400),
    }
}

/// Rows padded into aligned columns, the last one left unpadded.
fn print_columns<const N: usize>(rows: &[[String; N]]) {
    let widths: Vec<usize> = (0..N)
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(column, (cell, width))| {
                if column + 1 == N {
                    cell.clone()
                } else {
                    format!("{cell:<width$}")
                }
            })
            .collect();
        println!("{}", cells.join("  "));
    }
}

pub fn history(context: &Context, arguments: HistoryArguments) -> Result<(), Failure> {
    let engine = context.engine()?;
    let (events, _) = engine.load_history(&arguments.id)?;
    if arguments.json {
        let events: Vec<Value> = events
            .iter()
            .enumerate()
            .map(|(index, (event, at))| event_json(index as u64 + 1, event, *at))
            .collect();
        return print_json(&events);
    }
    println!("{:>5}  {:<13}  {:<20}  summary", "seq", "time", "type");
    let start = events.first().map_or(0, |(_, at)| *at);
    for (index, (event, at)) in events.iter().enumerate() {
        println!("{}", printable(&event_line(index + 1, start, event, *at)));
    }
    Ok(())
}

/// Follows an execution's history as it grows, until the execution ends or waits for a person.
pub fn watch(context: &Context, arguments: WatchArguments) -> Result<(), Failure> {
    let engine = context.engine()?;
    let mut printed = 0;
    loop {
        let (events, state) = engine.load_history(&arguments.id)?;
        let start = events.first().map_or(0, |(_, at)| *at);
        for (index, (event, at)) in events.iter().enumerate().skip(printed) {
            if arguments.json {
                println!("{}", event_json(index as u64 + 1, event, *at));
            } else {
                println!("{}", printable(&event_line(index + 1, start, event, *at)));
            }
        }
        printed = events.len();
        if state.status.is_terminal()
            || state.status == pipeline_core::ExecutionStatus::WaitingForApproval
            || state.status == pipeline_core::ExecutionStatus::Paused
        {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

pub fn replay(context: &Context, arguments: ReplayArguments) -> Result<(), Failure> {
    let engine = context.engine()?;
    let definition = match &arguments.definition {
        None => None,
        Some(path) => Some(load_definition(path)?),
    };
    let state = engine.replay(&arguments.id, definition.as_ref())?;
    println!(
        "{}: {} events replay cleanly (status {})",
        arguments.id,
        state.last_sequence,
        state.status.as_str()
    );
    // The process ends here: freeing a long history's state allocation by allocation would
    // cost a fifth of the replay.
    std::mem::forget(state);
    Ok(())
}

pub fn validate(_context: &Context, arguments: ValidateArguments) -> Result<(), Failure> {
    let outcome = load_bundle(&arguments.workflow, &|name| std::env::var(name).ok())
        .and_then(|bundle| Definition::from_bundle(&bundle));
    match outcome {
        Ok(definition) => {
            if arguments.json {
                print_json(
                    &json!({ "valid": true, "workflow": definition.name, "stages": definition.stages.len(), "problems": [] }),
                )?;
            } else {
                println!(
                    "{}: valid ({} stages)",
                    arguments.workflow.display(),
                    definition.stages.len()
                );
            }
            Ok(())
        }
        Err(diagnostics) => {
            if arguments.json {
                print_json(&json!({ "valid": false, "problems": diagnostics }))?;
                Err(Failure::with_code(
                    exit_code::INVALID_INPUT,
                    format!(
                        "{} problem{} in {}",
                        diagnostics.len(),
                        if diagnostics.len() == 1 { "" } else { "s" },
                        arguments.workflow.display()
                    ),
                ))
            } else {
                Err(EngineError::Workflow(diagnostics).into())
            }
        }
    }
}

pub fn shows(context: &Context, arguments: ShowsArguments) -> Result<(), Failure> {
    let engine = context.engine()?;
    let shows = engine.shows()?;
    if arguments.json {
        return print_json(&shows);
    }
    if shows.is_empty() {
        println!("No episodes yet.");
    }
    for overview in shows {
        // Only a completed run is an episode; the others are listed with their status.
        let completed = overview
            .episodes
            .iter()
            .filter(|episode| episode.status == "completed")
            .count();
        let others = overview.episodes.len() - completed;
        println!(
            "{}: {completed} episode(s){}",
            overview.show,
            if others > 0 {
                format!(", {others} other run(s) not completed")
            } else {
                String::new()
            }
        );
        for episode in overview.episodes {
            println!(
                "  {} {} — {}",
                episode.id,
                episode.status,
                if episode.covered_concepts.is_empty() {
                    "-".to_string()
                } else {
                    printable(&episode.covered_concepts.join(", ")).into_owned()
                }
            );
        }
    }
    Ok(())
}

fn summarize(event: &Event) -> String {
    let text = match event {
        Event::ExecutionStarted {
            workflow,
            definition_hash,
            inputs,
            ..
        } => format!(
            "{workflow} {} inputs {}",
            &definition_hash[..definition_hash.len().min(19)],
            serde_json::to_string(inputs).unwrap_or_default()
        ),
        Event::StageStarted { stage } | Event::StageCompleted { stage, .. } => stage.0.clone(),
        Event::StageSkipped { stage, reason } => format!("{stage}: {reason}"),
        Event::ActivityScheduled { activity, call, .. } => format!("{activity} {call}"),
        Event::ActivityStarted {
            activity, attempt, ..
        } => format!("{activity} attempt {attempt}"),
        Event::ActivityCompleted {
            activity,
            attempt,
            reused_from: Some(from),
            ..
        } => format!(
            "{activity} attempt {attempt} reused from {} event {}",
            from.execution_id, from.sequence
        ),
        Event::ActivityCompleted {
            activity,
            attempt,
            duration_ms,
            ..
        } => format!("{activity} attempt {attempt} in {duration_ms} ms"),
        Event::ActivityFailed {
            activity,
            attempt,
            error,
            ..
        } => format!(
            "{activity} attempt {attempt}: [{}] {}",
            error.kind, error.message
        ),
        Event::TimerStarted { timer, .. } | Event::TimerFired { timer } => timer.clone(),
        Event::ApprovalRequested { stage, .. } | Event::ApprovalReminder { stage, .. } => {
            stage.0.clone()
        }
        Event::SignalReceived { signal } => serde_json::to_string(signal).unwrap_or_default(),
        Event::BudgetReached {
            stage,
            spent,
            budget_micros,
        } => format!(
            "{stage}: spent {} of {} {}",
            format_amount(spent.amount_micros),
            format_amount(*budget_micros),
            spent.currency
        ),
        Event::BudgetRaised { budget_micros } => format!("to {}", format_amount(*budget_micros)),
        Event::StageFailed {
            stage,
            error,
            continued,
        } => format!(
            "{stage}: {}{}",
            error.message,
            if *continued { " (continued)" } else { "" }
        ),
        Event::ExecutionCompleted { covered_concepts } => {
            format!("covered: {}", covered_concepts.join(", "))
        }
        Event::ExecutionFailed { error, .. } => error.message.clone(),
        Event::ExecutionRejected { feedback, .. } => feedback.clone(),
        Event::ExecutionCancelled { reason } => reason.clone().unwrap_or_default(),
        Event::ExecutionReset { to_stage } => format!("to {to_stage}"),
        Event::StageForked {
            stage,
            source_execution,
            ..
        } => format!("{stage} from {source_execution}"),
        Event::ExecutionUpgraded {
            definition_hash, ..
        } => format!("to {}", &definition_hash[..definition_hash.len().min(19)]),
        Event::ExecutionPaused { stage, error } => {
            format!("{stage}: [{}] {}", error.kind, error.message)
        }
        Event::ExecutionResumed { stage } => stage.0.clone(),
        Event::ActivityWaiting {
            activity,
            attempt,
            reason,
            ..
        } => format!("{activity} attempt {attempt}: {reason}"),
        Event::ActivitySlotTaken { activity, attempt } => format!("{activity} attempt {attempt}"),
    };
    let mut text = text.replace('\n', " ");
    if text.chars().count() > 100 {
        text = text.chars().take(99).collect::<String>() + "…";
    }
    text
}

/// An event as `history --json` and `watch --json` print it: its fields plus `sequence` and
/// `recorded_at_ms` (the pinned definition left out of `ExecutionStarted`, it is long).
/// One row of the event table: sequence, time since the start, type, summary.
fn event_line(sequence: usize, start: i64, event: &Event, at: i64) -> String {
    let elapsed = format_duration(std::time::Duration::from_millis((at - start).max(0) as u64));
    format!(
        "{sequence:>5}  +{elapsed:<12}  {:<20}  {}",
        event.type_name(),
        summarize(event)
    )
}

fn load_definition(path: &std::path::Path) -> Result<Definition, Failure> {
    let bundle = load_bundle(path, &|name| std::env::var(name).ok())
        .map_err(|diagnostics| Failure::from(EngineError::Workflow(diagnostics)))?;
    Definition::from_bundle(&bundle)
        .map_err(|diagnostics| EngineError::Workflow(diagnostics).into())
}

pub fn print_json(value: &impl serde::Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|error| Failure::internal(format!("cannot encode JSON: {error}")))?;
    println!("{text}");
    Ok(())
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  host costs\n  host costs --since 2026-11-01 --show tiny-histories\n  host costs --json"
)]
pub struct CostsArguments {
    /// Only executions started on or after this day (YYYY-MM-DD, UTC).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Only the episodes of this show.
    #[arg(long)]
    pub show: Option<String>,
    /// Print the totals as JSON on stdout (amounts in millionths per currency).
    #[arg(long)]
    pub json: bool,
}

/// `host costs`: what was spent, per workflow, show, stage and provider.
pub fn costs(context: &Context, arguments: CostsArguments) -> Result<(), Failure> {
    let since_ms = match &arguments.since {
        None => None,
        Some(date) => Some(start_of_day(date).ok_or_else(|| {
            Failure::invalid_input(format!(
                "--since `{}` is not a date written YYYY-MM-DD",
                printable(&abbreviate(date, 40))
            ))
        })?),
    };
    let engine = context.engine()?;
    let rollup = engine.cost_rollup(&CostFilter {
        since_ms,
        show: arguments.show.clone(),
    })?;
    if arguments.json {
        return print_json(&rollup);
    }
    let amounts = |amounts: &Amounts| -> String {
        if amounts.is_empty() {
            return "nothing".to_string();
        }
        amounts
            .iter()
            .map(|(currency, micros)| format!("{} {currency}", format_amount(*micros)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "{} execution(s){}{}: {}",
        rollup.executions,
        arguments
            .since
            .as_ref()
            .map(|since| format!(" since {since}"))
            .unwrap_or_default(),
        arguments
            .show
            .as_ref()
            .map(|show| format!(" of show {show}"))
            .unwrap_or_default(),
        amounts(&rollup.total)
    );
    for (heading, map) in [
        ("workflow", &rollup.by_workflow),
        ("show", &rollup.by_show),
        ("stage", &rollup.by_stage),
        ("provider", &rollup.by_provider),
    ] {
        if map.is_empty() {
            continue;
        }
        println!("By {heading}:");
        for (name, total) in map {
            println!("  {:<24} {}", printable(name), amounts(total));
        }
    }
    Ok(())
}
