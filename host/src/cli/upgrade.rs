//! `host upgrade --check|--apply <workflow>`: which executions that have not finished can move
//! to the edited workflow file (their history replays the same under it), and moving them.

use std::path::PathBuf;

use clap::Args;
use host::engine::{UpgradeReport, UpgradeVerdict};
use pipeline_core::text::printable;

use super::inspect::print_json;
use super::{Context, Failure, exit_code, runtime};

#[derive(Debug, Args)]
#[command(
    group(clap::ArgGroup::new("mode").required(true).args(["check", "apply"])),
    after_help = "Examples:\n  host upgrade --check workflows/podcast.toml\n  host upgrade --apply workflows/podcast.toml --json\n\nExit codes: 0 every execution that has not finished can move (or moved, or nothing to do),\n1 some stay pinned to their definition (the reason is listed), 2 invalid workflow file."
)]
pub struct UpgradeArguments {
    /// The edited workflow file; executions of the workflow with its name are considered.
    pub workflow: PathBuf,
    /// Replay each execution against the file and report; record nothing.
    #[arg(long)]
    pub check: bool,
    /// Move the executions that replay the same to the file's definition, recording it in
    /// their history; the others stay pinned.
    #[arg(long)]
    pub apply: bool,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(context: &Context, arguments: UpgradeArguments) -> Result<(), Failure> {
    let engine = context.engine()?;
    let report = if arguments.apply {
        runtime()?.block_on(engine.apply_upgrade(&arguments.workflow))?
    } else {
        engine.check_upgrade(&arguments.workflow)?
    };
    if arguments.json {
        print_json(&report)?;
    } else {
        print_text(&report);
    }
    if report.any_left_pinned() {
        let pinned = report
            .executions
            .iter()
            .filter(|entry| {
                matches!(
                    entry.verdict,
                    UpgradeVerdict::Incompatible | UpgradeVerdict::Busy
                )
            })
            .count();
        return Err(Failure::with_code(
            exit_code::EXECUTION_FAILED,
            format!("{pinned} execution(s) stay pinned to their definition"),
        ));
    }
    Ok(())
}

fn print_text(report: &UpgradeReport) {
    if report.executions.is_empty() {
        println!(
            "No execution of {} is waiting or running; nothing to upgrade.",
            report.workflow
        );
        return;
    }
    for entry in &report.executions {
        let verdict = match entry.verdict {
            UpgradeVerdict::Compatible => "can move: decides the same under the new definition",
            UpgradeVerdict::Upgraded => "moved to the new definition",
            UpgradeVerdict::Current => "already on this definition",
            UpgradeVerdict::Incompatible => "stays pinned",
            UpgradeVerdict::Busy => "stays pinned for now",
        };
        println!(
            "{}  {} at {}: {verdict}",
            entry.id,
            entry.status,
            entry.stage.as_deref().unwrap_or("-")
        );
        if let Some(reason) = &entry.reason {
            println!("    {}", printable(reason));
        }
    }
    println!("New definition: {}", report.definition_hash);
}
