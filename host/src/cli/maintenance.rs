//! Commands that look after a data directory: `backup` (a consistent copy while workers run),
//! `check` (every history and blob verified, unreferenced blobs listed), `gc` (unreferenced
//! blobs removed) and `migrate` (the database's schema brought up to date).

use std::path::PathBuf;

use clap::Args;
use host::maintenance::{self, MaintenanceError};
use pipeline_core::files::format_size;

use super::inspect::print_json;
use super::{Context, Failure, exit_code};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  host backup /srv/backups/host-2026-12-03\n  host backup /srv/backups/today --json\n\nSafe while workers run: the database is copied as one consistent snapshot, then the\nblobs it references, config.toml and the dropped-in plugins. To restore, stop every host\nprocess and use the backup directory as the data directory (or copy it into place)."
)]
pub struct BackupArguments {
    /// A new or empty directory to write the backup to.
    pub destination: PathBuf,
    /// Print what was copied as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  host check\n  host check --json\n\nExit codes: 0 when every history verifies and every referenced blob is intact, 4 otherwise."
)]
pub struct CheckArguments {
    /// Print the findings as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  host gc --dry-run\n  host gc --min-age 7d --json\n\nRemoves blobs (audio, images) that no history references: results of attempts a crash cut\nshort, or of stages a reset ran again. Refuses to run on a data directory `host check`\nfinds problems in. Published episodes are not touched."
)]
pub struct GcArguments {
    /// Only say what would be removed.
    #[arg(long)]
    pub dry_run: bool,
    /// Keep unreferenced blobs younger than this (an attempt in flight writes its result
    /// before the event that references it).
    #[arg(long, default_value = "1h", value_parser = parse_age)]
    pub min_age: std::time::Duration,
    /// Print what was removed as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  host migrate --database postgres://host@db.internal/podcasts\n  host migrate --json\n\nSafe to run while other hosts use the database: migrations run in one transaction under a\nlock, so hosts starting together apply each once. A database written by a newer host is\nrefused (exit 4) rather than changed."
)]
pub struct MigrateArguments {
    /// Print the schema versions as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

fn parse_age(text: &str) -> Result<std::time::Duration, String> {
    pipeline_core::duration::parse_duration(text)
}

pub fn gc(context: &Context, arguments: GcArguments) -> Result<(), Failure> {
    let engine = context.engine()?;
    let report = maintenance::collect_garbage(&engine, arguments.min_age, arguments.dry_run)
        .map_err(|error| Failure::internal(error.to_string()))?;
    if arguments.json {
        return print_json(&report);
    }
    println!(
        "{} {} unreferenced blob(s) ({}){}",
        if report.dry_run {
            "Would remove"
        } else {
            "Removed"
        },
        report.removed.len(),
        format_size(report.removed_bytes),
        match report.kept_recent {
            0 => String::new(),
            kept => format!("; kept {kept} younger than the minimum age"),
        }
    );
    Ok(())
}

pub fn migrate(context: &Context, arguments: MigrateArguments) -> Result<(), Failure> {
    let database = context.database()?;
    let (kind, before, after) = match database.schema {
        Some(versions) => ("postgres", Some(versions.before), Some(versions.after)),
        None => ("sqlite", None, None),
    };
    if arguments.json {
        return print_json(&serde_json::json!({
            "database": database.description,
            "kind": kind,
            "schema_before": before,
            "schema_after": after,
        }));
    }
    match (before, after) {
        (Some(before), Some(after)) if before != after => println!(
            "Migrated {} from schema version {before} to {after}",
            database.description
        ),
        (_, Some(after)) => println!(
            "{} is up to date (schema version {after})",
            database.description
        ),
        _ => println!("{} is up to date", database.description),
    }
    Ok(())
}

pub fn backup(context: &Context, arguments: BackupArguments) -> Result<(), Failure> {
    if context.database.is_some() {
        return Err(Failure::invalid_input(
            "`host backup` copies the SQLite database of a data directory; back up a shared PostgreSQL database with `pg_dump` (it holds the histories and the blobs)",
        ));
    }
    let report = maintenance::backup(&context.data_dir, &arguments.destination).map_err(
        |error| match error {
            MaintenanceError::DestinationNotEmpty(_) => Failure::invalid_input(error.to_string()),
            other => Failure::internal(other.to_string()),
        },
    )?;
    if arguments.json {
        return print_json(&report);
    }
    println!(
        "Backed up {} execution(s), {} blob(s) ({}) and {} plugin file(s) to {}",
        report.executions,
        report.blobs,
        format_size(report.blob_bytes),
        report.plugins,
        report.destination.display()
    );
    Ok(())
}

pub fn check(context: &Context, arguments: CheckArguments) -> Result<(), Failure> {
    let engine = context.engine()?;
    let report =
        maintenance::check(&engine).map_err(|error| Failure::internal(error.to_string()))?;
    if arguments.json {
        print_json(&report)?;
    } else {
        println!(
            "{} execution(s) with {} event(s) verified; {} referenced blob(s) checked",
            report.executions, report.events, report.blobs
        );
        for problem in &report.problems {
            println!("  problem: {}", pipeline_core::text::printable(problem));
        }
        if !report.unreferenced.is_empty() {
            let bytes: u64 = report.unreferenced.values().sum();
            println!(
                "{} blob(s) ({}) are referenced by no history (left by an attempt a crash cut short, or by a reset)",
                report.unreferenced.len(),
                format_size(bytes)
            );
        }
    }
    match report.problems.len() {
        0 => Ok(()),
        count => Err(Failure::with_code(
            exit_code::INTERNAL,
            format!("{count} problem(s) found in the data directory"),
        )),
    }
}
