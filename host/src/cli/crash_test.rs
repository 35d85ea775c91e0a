//! `host crash-test`: proves that a workflow (with its plugins) survives a crash after any
//! event. It runs the workflow once to record a reference, then for each event boundary k runs
//! it in a child process that aborts right after its k-th event, resumes it in fresh processes,
//! and checks that it ends exactly like the reference.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Args;
use host::engine::{CRASH_AFTER_EVENTS_VARIABLE, decode_history};
use host::history::{Durability, HistoryStore, SqliteStore};
use pipeline_core::replay::replay;
use pipeline_core::{ActivityId, Definition, Event, ExecutionState};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::{Context, Failure, exit_code};

/// The execution id every run uses, so that its outputs can be compared byte for byte.
const EXECUTION_ID: &str = "crash-test";
/// Resumes allowed before a boundary counts as failed.
const MAX_RESUMES: usize = 3;

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  host crash-test workflows/podcast.toml --input topic=\"tides\" --auto-approve\n  host crash-test workflows/story.toml --input premise=\"a lighthouse\" --sample 10 --json\n\nEach run uses its own scratch data directory under <data-dir>/crash-tests/ (removed\nafterwards unless --keep) and the compiled-plugin cache of <data-dir>."
)]
pub struct CrashTestArguments {
    /// The workflow file.
    pub workflow: PathBuf,
    /// An input as KEY=VALUE; repeat for several.
    #[arg(long = "input", value_name = "KEY=VALUE")]
    pub inputs: Vec<String>,
    /// Use another plugin for a service, as SERVICE=PLUGIN.
    #[arg(long = "provider", value_name = "SERVICE=PLUGIN")]
    pub providers: Vec<String>,
    /// Approve every approval gate as it is reached (needed for workflows with a gate).
    #[arg(long)]
    pub auto_approve: bool,
    /// Test only N boundaries spread evenly over the run instead of every one.
    #[arg(long, value_name = "N")]
    pub sample: Option<usize>,
    /// Keep the scratch data directories for inspection.
    #[arg(long)]
    pub keep: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What one run ended with, compared across runs.
#[derive(Debug, Clone, PartialEq)]
struct Outcome {
    status: String,
    /// Every stage's output as JSON text, with the run's own data directory replaced by
    /// `<data>` (published episodes name their directory).
    outputs: BTreeMap<String, String>,
    /// Digests of every file of the published episode, by name.
    artifacts: BTreeMap<String, String>,
    events: usize,
}

/// The summary `--json` prints. Field names are stable.
#[derive(Debug, Serialize)]
struct Summary {
    workflow: String,
    reference_events: usize,
    boundaries_tested: usize,
    passed: usize,
    failed: usize,
    first_failure: Option<BoundaryFailure>,
}

#[derive(Debug, Clone, Serialize)]
struct BoundaryFailure {
    crash_after_events: usize,
    reason: String,
}

pub fn run(context: &Context, arguments: CrashTestArguments) -> Result<(), Failure> {
    let scratch = context
        .data_dir
        .root()
        .join("crash-tests")
        .join(format!("run-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(|error| {
        Failure::internal(format!("cannot create {}: {error}", scratch.display()))
    })?;
    let tester = Tester {
        context,
        arguments: &arguments,
        scratch: scratch.clone(),
    };
    let outcome = tester.sweep();
    if !arguments.keep {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    let summary = outcome?;
    if arguments.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).unwrap_or_default()
        );
    } else {
        println!(
            "{}: {} boundaries tested of {} events, {} passed, {} failed",
            summary.workflow,
            summary.boundaries_tested,
            summary.reference_events,
            summary.passed,
            summary.failed
        );
        if let Some(failure) = &summary.first_failure {
            println!(
                "first failure: crash after event {}: {}",
                failure.crash_after_events, failure.reason
            );
        }
    }
    if summary.failed > 0 {
        return Err(Failure::with_code(
            exit_code::EXECUTION_FAILED,
            format!(
                "{} of {} crash boundaries failed",
                summary.failed, summary.boundaries_tested
            ),
        ));
    }
    Ok(())
}

struct Tester<'t> {
    context: &'t Context,
    arguments: &'t CrashTestArguments,
    scratch: PathBuf,
}

impl Tester<'_> {
    fn sweep(&self) -> Result<Summary, Failure> {
        let reference_dir = self.prepare_data_dir("reference")?;
        let started = self.host(&reference_dir, None, &self.run_arguments())?;
        if !started.status.success() {
            return Err(Failure::invalid_input(format!(
                "the reference run (without faults) did not succeed:\n{}",
                String::from_utf8_lossy(&started.stderr).trim_end()
            )));
        }
        let reference = self.outcome(&reference_dir).map_err(Failure::internal)?;
        let boundaries = boundaries(reference.events, self.arguments.sample);
        let mut summary = Summary {
            workflow: self.arguments.workflow.display().to_string(),
            reference_events: reference.events,
            boundaries_tested: boundaries.len(),
            passed: 0,
            failed: 0,
            first_failure: None,
        };
        for (index, crash_after) in boundaries.iter().enumerate() {
            let result = self.boundary(*crash_after, &reference);
            match result {
                Ok(()) => summary.passed += 1,
                Err(reason) => {
                    summary.failed += 1;
                    if summary.first_failure.is_none() {
                        summary.first_failure = Some(BoundaryFailure {
                            crash_after_events: *crash_after,
                            reason: reason.clone(),
                        });
                    }
                    if !self.arguments.json {
                        eprintln!("  crash after event {crash_after}: FAILED: {reason}");
                    }
                }
            }
            if !self.arguments.json {
                eprintln!(
                    "  {}/{} boundaries ({} failed)",
                    index + 1,
                    boundaries.len(),
                    summary.failed
                );
            }
        }
        Ok(summary)
    }

    /// One boundary: crash after `crash_after` events, resume, compare with the reference.
    fn boundary(&self, crash_after: usize, reference: &Outcome) -> Result<(), String> {
        let data = self
            .prepare_data_dir(&format!("k{crash_after}"))
            .map_err(|failure| failure.to_string())?;
        let crashed = self
            .host(&data, Some(crash_after), &self.run_arguments())
            .map_err(|failure| failure.to_string())?;
        if crashed.status.success() && crash_after < reference.events {
            return Err("the process did not stop at the injected crash".to_string());
        }
        let (before, _) = self.history(&data)?;
        let completed_before: BTreeSet<ActivityId> = before
            .iter()
            .filter_map(|(event, _)| match event {
                Event::ActivityCompleted { activity, .. } => Some(activity.clone()),
                _ => None,
            })
            .collect();
        let mut resume = vec![
            "resume".to_string(),
            EXECUTION_ID.to_string(),
            "--json".to_string(),
        ];
        if self.arguments.auto_approve {
            resume.push("--auto-approve".to_string());
        }
        let mut finished = false;
        for _ in 0..MAX_RESUMES {
            let resumed = self
                .host(&data, None, &resume)
                .map_err(|failure| failure.to_string())?;
            let status = serde_json::from_slice::<serde_json::Value>(&resumed.stdout)
                .ok()
                .and_then(|status| status["status"].as_str().map(str::to_string));
            if status.as_deref() == Some(reference.status.as_str()) {
                finished = true;
                break;
            }
        }
        if !finished {
            return Err(format!(
                "after {MAX_RESUMES} resumes the execution did not reach {}",
                reference.status
            ));
        }
        let (after, _) = self.history(&data)?;
        for (event, _) in &after[before.len()..] {
            if let Event::ActivityStarted { activity, .. } = event
                && completed_before.contains(activity)
            {
                return Err(format!(
                    "activity {activity} had completed before the crash and ran again"
                ));
            }
        }
        let outcome = self.outcome(&data)?;
        if let Some(stage) = reference
            .outputs
            .keys()
            .chain(outcome.outputs.keys())
            .find(|stage| reference.outputs.get(*stage) != outcome.outputs.get(*stage))
        {
            return Err(format!(
                "stage {stage} produced a different output than in the reference run"
            ));
        }
        if outcome.artifacts != reference.artifacts {
            let differing: Vec<&String> = reference
                .artifacts
                .keys()
                .chain(outcome.artifacts.keys())
                .filter(|name| reference.artifacts.get(*name) != outcome.artifacts.get(*name))
                .collect();
            return Err(format!(
                "artifacts differ from the reference: {differing:?}"
            ));
        }
        if !self.arguments.keep {
            let _ = std::fs::remove_dir_all(data.parent().unwrap_or(&data));
        }
        Ok(())
    }

    fn run_arguments(&self) -> Vec<String> {
        let mut arguments = vec![
            "run".to_string(),
            self.arguments.workflow.display().to_string(),
            "--id".into(),
            EXECUTION_ID.into(),
            "--json".into(),
        ];
        for input in &self.arguments.inputs {
            arguments.extend(["--input".to_string(), input.clone()]);
        }
        for provider in &self.arguments.providers {
            arguments.extend(["--provider".to_string(), provider.clone()]);
        }
        if self.arguments.auto_approve {
            arguments.push("--auto-approve".into());
        }
        arguments
    }

    /// A scratch data directory that shares the configuration, plugins and compiled-plugin
    /// cache of the real one.
    fn prepare_data_dir(&self, name: &str) -> Result<PathBuf, Failure> {
        let data = self.scratch.join(name).join("data");
        let io = |error: std::io::Error| {
            Failure::internal(format!("cannot prepare {}: {error}", data.display()))
        };
        std::fs::create_dir_all(&data).map_err(io)?;
        let root = self.context.data_dir.root();
        let cache = root.join("cache");
        std::fs::create_dir_all(&cache).map_err(io)?;
        let absolute =
            |path: &Path| std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if !data.join("cache").exists() {
            std::os::unix::fs::symlink(absolute(&cache), data.join("cache")).map_err(io)?;
        }
        if root.join("config.toml").exists() {
            std::fs::copy(root.join("config.toml"), data.join("config.toml")).map_err(io)?;
        }
        Ok(data)
    }

    /// Runs this binary as a child on `data`, optionally aborting after `crash_after` events.
    fn host(
        &self,
        data: &Path,
        crash_after: Option<usize>,
        arguments: &[String],
    ) -> Result<std::process::Output, Failure> {
        let executable = std::env::current_exe()
            .map_err(|error| Failure::internal(format!("cannot find this program: {error}")))?;
        let mut command = Command::new(executable);
        command
            .arg("--data-dir")
            .arg(data)
            .arg("--plugins-dir")
            .arg(self.context.data_dir.plugins_dir())
            .args(["--durability", "normal"])
            .args(arguments)
            .env_remove(CRASH_AFTER_EVENTS_VARIABLE);
        if let Some(limit) = crash_after {
            command.env(CRASH_AFTER_EVENTS_VARIABLE, limit.to_string());
        }
        command
            .output()
            .map_err(|error| Failure::internal(format!("cannot run a child process: {error}")))
    }

    /// The verified, decoded history of the execution in `data`, checked to replay.
    fn history(&self, data: &Path) -> Result<(Vec<(Event, i64)>, ExecutionState), String> {
        let store = SqliteStore::open(&data.join("history.db"), Durability::Normal)
            .map_err(|error| error.to_string())?;
        let stored = store
            .read(EXECUTION_ID)
            .map_err(|error| error.to_string())?;
        let events = decode_history(EXECUTION_ID, &stored).map_err(|error| error.to_string())?;
        let state = ExecutionState::fold(events.iter().map(|(event, at)| (event, *at)))
            .map_err(|error| error.to_string())?;
        let definition = Definition::from_bundle(&state.bundle)
            .map_err(|_| "the pinned definition does not build".to_string())?;
        replay(&definition, &events).map_err(|error| format!("replay fails: {error}"))?;
        Ok((events, state))
    }

    fn outcome(&self, data: &Path) -> Result<Outcome, String> {
        let (events, state) = self.history(data)?;
        let mut artifacts = BTreeMap::new();
        let episode = data.join("episodes").join(EXECUTION_ID);
        if let Ok(entries) = std::fs::read_dir(&episode) {
            for entry in entries.flatten() {
                let bytes = std::fs::read(entry.path())
                    .map_err(|error| format!("cannot read {}: {error}", entry.path().display()))?;
                artifacts.insert(
                    entry.file_name().to_string_lossy().into_owned(),
                    format!("sha256:{}", hex::encode(Sha256::digest(&bytes))),
                );
            }
        }
        let data_text = data.display().to_string();
        let outputs = state
            .stages
            .iter()
            .map(|(stage, result)| {
                let text = serde_json::to_string(&result.output).unwrap_or_default();
                (stage.0.clone(), text.replace(&data_text, "<data>"))
            })
            .collect();
        Ok(Outcome {
            status: state.status.as_str().to_string(),
            outputs,
            artifacts,
            events: events.len(),
        })
    }
}

/// Which boundaries to test: all of 1..=events, or `sample` of them spread evenly (the first
/// and the last always included).
fn boundaries(events: usize, sample: Option<usize>) -> Vec<usize> {
    match sample {
        Some(count) if count > 0 && count < events => {
            let mut picked: Vec<usize> = (0..count)
                .map(|index| 1 + index * (events - 1) / (count - 1).max(1))
                .collect();
            picked.dedup();
            picked
        }
        _ => (1..=events).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_spread_over_the_run_from_the_first_to_the_last_event() {
        assert_eq!(boundaries(5, None), [1, 2, 3, 4, 5]);
        assert_eq!(boundaries(100, Some(4)), [1, 34, 67, 100]);
        assert_eq!(boundaries(3, Some(10)), [1, 2, 3]);
    }
}
