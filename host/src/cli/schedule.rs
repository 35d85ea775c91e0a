//! `host schedule add|list|remove`: workflows the worker (`host worker`, `host serve`) starts at
//! the times of a cron expression, each due time exactly once.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use host::engine::{EngineError, ScheduleSpec, rfc3339};
use pipeline_core::text::printable;
use serde_json::{Value, json};

use super::execution::{parse_inputs, parse_pairs};
use super::inspect::print_json;
use super::{Context, Failure};

/// What `--help` says about when runs start; the README says the same.
const TIMING: &str = "Times are UTC. A cron expression has five fields (minute hour day-of-month month day-of-week,\nnames like MON or JAN allowed) or six with seconds first. A running worker (`host worker\n--follow`, or `host serve`) starts each due run once: its id is <name>-<YYYYMMDD>T<HHMMSS> of the\ndue time, so a second start of the same time is refused by the database, across restarts and\ncrashes. Missed runs: when no worker ran at one or more due times, the next worker pass starts\nthe latest missed one once and skips the older ones. The workflow file is read again at each run.";

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Add a schedule: the workflow, with these inputs, at the times of a cron expression.
    #[command(after_help = format!("{TIMING}\n\nExamples:\n  host schedule add weekly-tea --cron \"0 6 * * MON\" workflows/podcast.toml --input topic=\"tea\"\n  host schedule add hourly --cron \"0 * * * *\" workflows/story.toml --input premise=\"a lighthouse\""))]
    Add(AddArguments),
    /// List the schedules with their next due time and last run.
    #[command(after_help = "Examples:\n  host schedule list\n  host schedule list --json")]
    List {
        /// Print JSON (fields: name, cron, workflow, inputs, providers, next_due, next_due_ms,
        /// last_execution, created_at_ms).
        #[arg(long)]
        json: bool,
    },
    /// Remove a schedule; the runs it started are kept.
    #[command(after_help = "Examples:\n  host schedule remove weekly-tea")]
    Remove {
        /// The schedule's name.
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct AddArguments {
    /// The schedule's name (letters, digits, `-`, `_`, `.`); its runs are named after it.
    pub name: String,
    /// When to start a run, as a cron expression in UTC, e.g. "0 6 * * MON".
    #[arg(long)]
    pub cron: String,
    /// The workflow file, for example workflows/podcast.toml.
    pub workflow: PathBuf,
    /// An input as KEY=VALUE; repeat for several.
    #[arg(long = "input", value_name = "KEY=VALUE")]
    pub inputs: Vec<String>,
    /// Use another plugin for a service, as SERVICE=PLUGIN.
    #[arg(long = "provider", value_name = "SERVICE=PLUGIN")]
    pub providers: Vec<String>,
}

pub fn run(context: &Context, command: ScheduleCommand) -> Result<(), Failure> {
    let database = context.database()?;
    let store = database.schedules.clone();
    match command {
        ScheduleCommand::Add(arguments) => {
            let engine = context.engine_over(database.history, database.shared)?;
            let spec = ScheduleSpec {
                name: arguments.name,
                cron: arguments.cron,
                workflow: arguments.workflow,
                inputs: parse_inputs(&arguments.inputs, None)?,
                providers: parse_pairs(&arguments.providers, "--provider", "SERVICE=PLUGIN")?
                    .into_iter()
                    .map(|(service, plugin)| {
                        (service, plugin.as_str().unwrap_or_default().to_string())
                    })
                    .collect(),
            };
            let added = engine.add_schedule(store.as_ref(), spec)?;
            println!(
                "Added schedule {}: first run at {} (a running worker starts it)",
                added.name,
                rfc3339(added.next_due_ms)
            );
            Ok(())
        }
        ScheduleCommand::List { json } => {
            let rows = store.schedules().map_err(EngineError::from)?;
            if json {
                let listed: Vec<Value> = rows
                    .iter()
                    .map(|row| {
                        let request: Value = serde_json::from_str(&row.request).unwrap_or_default();
                        json!({
                            "name": row.name,
                            "cron": row.cron,
                            "workflow": row.workflow,
                            "inputs": request["inputs"],
                            "providers": request["providers"],
                            "next_due": rfc3339(row.next_due_ms),
                            "next_due_ms": row.next_due_ms,
                            "last_execution": row.last_execution,
                            "created_at_ms": row.created_at_ms,
                        })
                    })
                    .collect();
                return print_json(&listed);
            }
            if rows.is_empty() {
                println!(
                    "No schedules. Add one with `host schedule add NAME --cron EXPR WORKFLOW`."
                );
            }
            for row in &rows {
                println!(
                    "{}  \"{}\"  {}  next {}  last {}",
                    row.name,
                    printable(&row.cron),
                    printable(&row.workflow),
                    rfc3339(row.next_due_ms),
                    row.last_execution.as_deref().unwrap_or("-")
                );
            }
            Ok(())
        }
        ScheduleCommand::Remove { name } => {
            if !store.remove_schedule(&name).map_err(EngineError::from)? {
                return Err(Failure::invalid_input(format!(
                    "no schedule is named `{}` (`host schedule list` shows them)",
                    printable(&name)
                )));
            }
            println!("Removed schedule {name}; the runs it started are kept");
            Ok(())
        }
    }
}
