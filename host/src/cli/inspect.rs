//! Commands that read executions and workflows: `status`, `list`, `history`, `replay`,
//! `validate`, `shows`, and the reports `run` prints.

use std::path::PathBuf;

use clap::Args;
use host::engine::start::PreparedStart;
use host::engine::{Engine, EngineError};
use pipeline_core::duration::format_duration;
use pipeline_core::workflow::load_bundle;
use pipeline_core::{ActivityStatus, Definition, Event, StageKind, StageStatus, template};
use serde_json::{Value, json};

use super::{Context, Failure, exit_code};

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
    /// Only executions with this status (running, waiting_for_approval, completed, failed, rejected, cancelled).
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
        print_status_json(context, &engine, &arguments.id)
    } else {
        print_status_text(context, &engine, &arguments.id)
    }
}

pub fn list(context: &Context, arguments: ListArguments) -> Result<(), Failure> {
    let engine = context.engine()?;
    let rows: Vec<_> = engine
        .store
        .executions()
        .map_err(EngineError::from)?
        .into_iter()
        .filter(|row| {
            arguments
                .status
                .as_ref()
                .is_none_or(|status| &row.summary.status == status)
        })
        .filter(|row| {
            arguments
                .workflow
                .as_ref()
                .is_none_or(|workflow| &row.summary.workflow == workflow)
        })
        .collect();
    if arguments.json {
        let list: Vec<Value> = rows
            .iter()
            .map(|row| json!({ "id": row.execution_id, "workflow": row.summary.workflow, "status": row.summary.status, "stage": row.summary.stage, "show": row.summary.show, "created_at_ms": row.summary.created_at_ms, "updated_at_ms": row.summary.updated_at_ms }))
            .collect();
        return print_json(&list);
    }
    if rows.is_empty() {
        println!(
            "No executions yet. Start one with: host run workflows/podcast.toml --input topic=\"...\""
        );
    }
    for row in rows {
        println!(
            "{:<36} {:<10} {:<22} {}",
            row.execution_id,
            row.summary.workflow,
            row.summary.status,
            row.summary.stage.unwrap_or_default()
        );
    }
    Ok(())
}

pub fn history(context: &Context, arguments: HistoryArguments) -> Result<(), Failure> {
    let engine = context.engine()?;
    let loaded = engine.load(&arguments.id)?;
    if arguments.json {
        let events: Vec<Value> = loaded
            .events
            .iter()
            .enumerate()
            .map(|(index, (event, at))| {
                let mut value = serde_json::to_value(event).unwrap_or(Value::Null);
                if let Some(object) = value.as_object_mut() {
                    object.insert("sequence".into(), (index + 1).into());
                    object.insert("recorded_at_ms".into(), (*at).into());
                    if matches!(event, Event::ExecutionStarted { .. }) {
                        object.remove("definition");
                    }
                }
                value
            })
            .collect();
        return print_json(&events);
    }
    println!("{:>5}  {:<13}  {:<20}  summary", "seq", "time", "type");
    let start = loaded.events.first().map_or(0, |(_, at)| *at);
    for (index, (event, at)) in loaded.events.iter().enumerate() {
        println!(
            "{:>5}  +{:<12}  {:<20}  {}",
            index + 1,
            format_duration(std::time::Duration::from_millis((*at - start).max(0) as u64)),
            event.type_name(),
            summarize(event)
        );
    }
    Ok(())
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
                        "{} problem(s) in {}",
                        diagnostics.len(),
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
    let mut shows: std::collections::BTreeMap<String, Vec<Value>> =
        std::collections::BTreeMap::new();
    for row in engine
        .store
        .executions()
        .map_err(EngineError::from)?
        .into_iter()
        .rev()
    {
        let Some(show) = row.summary.show.clone() else {
            continue;
        };
        let state = engine.load(&row.execution_id)?.state;
        shows.entry(show).or_default().push(json!({ "id": row.execution_id, "status": row.summary.status, "covered_concepts": state.covered_concepts }));
    }
    if arguments.json {
        let list: Vec<Value> = shows
            .iter()
            .map(|(show, episodes)| json!({ "show": show, "episodes": episodes }))
            .collect();
        return print_json(&list);
    }
    if shows.is_empty() {
        println!("No episodes yet.");
    }
    for (show, episodes) in shows {
        println!("{show}: {} episode(s)", episodes.len());
        for episode in episodes {
            let concepts: Vec<&str> = episode["covered_concepts"]
                .as_array()
                .map(|list| list.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            println!(
                "  {} {} — {}",
                episode["id"].as_str().unwrap_or_default(),
                episode["status"].as_str().unwrap_or_default(),
                if concepts.is_empty() {
                    "-".to_string()
                } else {
                    concepts.join(", ")
                }
            );
        }
    }
    Ok(())
}

/// `--dry-run`: the resolved plan, with nothing executed or recorded.
pub fn print_plan(prepared: &PreparedStart, as_json: bool) -> Result<(), Failure> {
    let Event::ExecutionStarted {
        inputs, plugins, ..
    } = &prepared.started
    else {
        return Ok(());
    };
    let context = json!({ "inputs": inputs, "show": {}, "stages": {} });
    let stages: Vec<Value> = prepared
        .definition
        .stages
        .iter()
        .map(|stage| {
            let when = stage.when.as_ref().map(|condition| match template::evaluate(condition, &context) {
                Ok(value) if !template::is_truthy(&value) => "skipped".to_string(),
                Ok(_) => "runs".to_string(),
                Err(_) => "decided when the stage is reached".to_string(),
            });
            let (kind, plugin) = match &stage.kind {
                StageKind::Approval { subject, reminder_after_ms } => (format!("approval of {subject} (reminder after {})", format_duration(std::time::Duration::from_millis(*reminder_after_ms))), None),
                StageKind::Call(call) => (format!("{}.{}", call.service, call.function), plugins.get(&call.service).map(|pin| pin.name.clone())),
            };
            json!({
                "id": stage.id, "title": stage.title, "kind": kind, "plugin": plugin,
                "for_each": stage.for_each, "concurrency": stage.concurrency,
                "retry": { "max_attempts": stage.retry.max_attempts, "initial_interval_ms": stage.retry.initial_interval_ms, "maximum_interval_ms": stage.retry.maximum_interval_ms },
                "timeout_ms": stage.attempt_timeout_ms, "when": stage.when, "will_run": when.clone().unwrap_or_else(|| "runs".into()),
            })
        })
        .collect();
    if as_json {
        return print_json(
            &json!({ "workflow": prepared.definition.name, "inputs": inputs, "plugins": plugins, "stages": stages }),
        );
    }
    println!(
        "Dry run of {} — nothing will be executed or recorded.",
        prepared.definition.name
    );
    println!(
        "Inputs: {}",
        serde_json::to_string(inputs).unwrap_or_default()
    );
    for (service, pin) in plugins {
        println!(
            "Provider {service}: {} ({})",
            pin.name,
            &pin.digest[..pin.digest.len().min(19)]
        );
    }
    for (index, stage) in stages.iter().enumerate() {
        let mut line = format!(
            "{:>2}. {:<22} {}",
            index + 1,
            stage["title"].as_str().unwrap_or_default(),
            stage["kind"].as_str().unwrap_or_default()
        );
        if let Some(plugin) = stage["plugin"].as_str() {
            line.push_str(&format!(" via {plugin}"));
        }
        if let Some(for_each) = stage["for_each"].as_str() {
            line.push_str(&format!(
                ", for each of {for_each} ({} at a time)",
                stage["concurrency"]
            ));
        }
        line.push_str(&format!(
            ", up to {} attempts, {} per attempt",
            stage["retry"]["max_attempts"],
            format_duration(std::time::Duration::from_millis(
                stage["timeout_ms"].as_u64().unwrap_or(0)
            ))
        ));
        if stage["when"].is_string() {
            line.push_str(&format!(
                " — {}",
                stage["will_run"].as_str().unwrap_or_default()
            ));
        }
        println!("{line}");
    }
    Ok(())
}

/// What `status --json` (and `run --json`) prints. Field names are stable.
pub fn status_json(engine: &Engine, id: &str) -> Result<Value, Failure> {
    let loaded = engine.load(id)?;
    let (state, definition) = (&loaded.state, &loaded.definition);
    let now = engine.clock.now_ms();
    let current = definition.stages.iter().find(|stage| {
        !matches!(
            state.stage(&stage.id).status,
            StageStatus::Completed
                | StageStatus::Skipped { .. }
                | StageStatus::Failed {
                    continued: true,
                    ..
                }
        )
    });
    let progress = current.map(|stage| {
        let activities = state.stage(&stage.id).activities;
        let done = activities.iter().filter(|id| matches!(state.activities.get(*id).map(|activity| &activity.status), Some(ActivityStatus::Completed { .. }))).count();
        json!({ "stage": stage.id, "title": stage.title, "completed": done, "total": activities.len() })
    });
    let approval = definition.stages.iter().find_map(|stage| match state.stage(&stage.id).status {
        StageStatus::WaitingForApproval { subject, requested_at_ms, reminded } => {
            let reminder_after = match stage.kind {
                StageKind::Approval { reminder_after_ms, .. } => reminder_after_ms as i64,
                StageKind::Call(_) => i64::MAX,
            };
            Some(json!({
                "stage": stage.id, "pending_since_ms": requested_at_ms, "pending_ms": now - requested_at_ms,
                "reminder": reminded || now - requested_at_ms >= reminder_after, "subject": subject,
            }))
        }
        _ => None,
    });
    let by_stage: serde_json::Map<String, Value> = state
        .cost_by_stage
        .iter()
        .map(|(stage, cost)| {
            (
                stage.0.clone(),
                json!({ "amount_micros": cost.amount_micros, "currency": cost.currency }),
            )
        })
        .collect();
    let artifacts = state
        .stages
        .values()
        .filter_map(|stage| stage.output.as_ref()?.get("artifacts").cloned())
        .next_back()
        .unwrap_or(json!([]));
    let directory = state
        .stages
        .values()
        .filter_map(|stage| stage.output.as_ref()?.get("directory").cloned())
        .next_back();
    let error = state.last_error.as_ref().map(|last| json!({ "stage": last.stage, "activity": last.activity, "attempt": last.attempt, "kind": last.error.kind, "message": last.error.message }));
    Ok(json!({
        "id": state.execution_id, "workflow": state.workflow, "status": state.status.as_str(),
        "stage": current.map(|stage| stage.id.clone()), "progress": progress,
        "cost": { "by_stage": by_stage, "total_micros": state.total_cost() },
        "approval": approval, "artifacts": artifacts, "episode_directory": directory, "error": error,
        "feedback": state.feedback, "events": state.last_sequence,
    }))
}

pub fn print_status_json(_context: &Context, engine: &Engine, id: &str) -> Result<(), Failure> {
    print_json(&status_json(engine, id)?)
}

pub fn print_status_text(_context: &Context, engine: &Engine, id: &str) -> Result<(), Failure> {
    let status = status_json(engine, id)?;
    println!(
        "Execution {} ({})",
        id,
        status["workflow"].as_str().unwrap_or_default()
    );
    println!(
        "  Status:   {}",
        status["status"].as_str().unwrap_or_default()
    );
    if let Some(progress) = status["progress"].as_object() {
        println!(
            "  Stage:    {} ({}/{})",
            progress["title"].as_str().unwrap_or_default(),
            progress["completed"],
            progress["total"]
        );
    }
    if let Some(approval) = status["approval"].as_object() {
        let pending = format_duration(std::time::Duration::from_millis(
            approval["pending_ms"].as_i64().unwrap_or(0).max(0) as u64,
        ));
        println!(
            "  Approval: pending for {pending}{}",
            if approval["reminder"] == true {
                " — WARNING: waiting longer than the reminder period"
            } else {
                ""
            }
        );
    }
    let totals = status["cost"]["total_micros"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let total: Vec<String> = totals
        .iter()
        .map(|(currency, micros)| {
            format!(
                "{:.6} {currency}",
                micros.as_u64().unwrap_or(0) as f64 / 1e6
            )
        })
        .collect();
    println!(
        "  Cost:     {}",
        if total.is_empty() {
            "0".to_string()
        } else {
            total.join(", ")
        }
    );
    for (stage, cost) in status["cost"]["by_stage"]
        .as_object()
        .cloned()
        .unwrap_or_default()
    {
        println!(
            "            {stage}: {:.6} {}",
            cost["amount_micros"].as_u64().unwrap_or(0) as f64 / 1e6,
            cost["currency"].as_str().unwrap_or_default()
        );
    }
    if let Some(directory) = status["episode_directory"].as_str() {
        println!("  Episode:  {directory}");
        for artifact in status["artifacts"].as_array().cloned().unwrap_or_default() {
            println!(
                "            {} ({} bytes)",
                artifact["name"].as_str().unwrap_or_default(),
                artifact["size_bytes"]
            );
        }
    }
    if let Some(error) = status["error"].as_object() {
        println!(
            "  Last error: [{}] {}",
            error["stage"].as_str().unwrap_or("-"),
            error["message"].as_str().unwrap_or_default()
        );
    }
    Ok(())
}

/// At the approval gate: the outline in readable form, saved to a file for editing, and the
/// exact commands to go on.
pub fn print_approval_request(context: &Context, engine: &Engine, id: &str) -> Result<(), Failure> {
    let status = status_json(engine, id)?;
    let subject = &status["approval"]["subject"];
    println!("\nExecution {id} is waiting for approval of this outline:\n");
    print_outline(subject);
    let pending = context.data_dir.root().join("pending");
    let path = pending.join(format!("{id}-outline.json"));
    std::fs::create_dir_all(&pending)
        .and_then(|()| {
            std::fs::write(
                &path,
                serde_json::to_string_pretty(subject).unwrap_or_default(),
            )
        })
        .map_err(|error| {
            Failure::internal(format!(
                "cannot save the outline to {}: {error}",
                path.display()
            ))
        })?;
    println!("\nTo approve:           host signal approve {id}");
    println!("To edit, then approve: edit {} and run", path.display());
    println!(
        "                      host signal approve {id} --outline {}",
        path.display()
    );
    println!("To reject:            host signal reject {id} --feedback \"why\"");
    Ok(())
}

fn print_outline(subject: &Value) {
    if let Some(title) = subject["title"].as_str() {
        println!("  {title}");
    }
    if let Some(summary) = subject["summary"].as_str() {
        println!("  {summary}\n");
    }
    match subject["segments"].as_array() {
        Some(segments) => {
            for (index, segment) in segments.iter().enumerate() {
                println!(
                    "  {}. {}",
                    index + 1,
                    segment["title"].as_str().unwrap_or("(untitled)")
                );
                if let Some(summary) = segment["summary"].as_str() {
                    println!("     {summary}");
                }
                for point in segment["key_points"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                {
                    println!("     - {}", point.as_str().unwrap_or_default());
                }
            }
        }
        None => println!(
            "{}",
            serde_json::to_string_pretty(subject).unwrap_or_default()
        ),
    }
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
    };
    let mut text = text.replace('\n', " ");
    if text.chars().count() > 100 {
        text = text.chars().take(99).collect::<String>() + "…";
    }
    text
}

fn load_definition(path: &std::path::Path) -> Result<Definition, Failure> {
    let bundle = load_bundle(path, &|name| std::env::var(name).ok())
        .map_err(|diagnostics| Failure::from(EngineError::Workflow(diagnostics)))?;
    Definition::from_bundle(&bundle)
        .map_err(|diagnostics| EngineError::Workflow(diagnostics).into())
}

fn print_json(value: &impl serde::Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|error| Failure::internal(format!("cannot encode JSON: {error}")))?;
    println!("{text}");
    Ok(())
}
