//! What the commands print about one execution: the status report (text and `--json`), the
//! approval prompt with the outline and the commands to go on, and the `--dry-run` plan.

use host::engine::Engine;
use host::engine::start::PreparedStart;
use pipeline_core::duration::format_duration;
use pipeline_core::money::format_amount;
use pipeline_core::{Event, StageKind, StageStatus, template};
use serde_json::{Value, json};

use super::inspect::print_json;
use super::{Context, Failure};

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
    let current = pipeline_core::decide::current_stage(definition, state);
    let progress = current.map(|stage| {
        let (done, total) = state.stage_progress(&stage.id);
        json!({ "stage": stage.id, "title": stage.title, "completed": done, "total": total })
    });
    // A gate stays waiting in the fold when the execution ends there (rejected, cancelled);
    // only a live execution has a pending approval.
    let mut live_stages = definition
        .stages
        .iter()
        .filter(|_| !state.status.is_terminal());
    let approval = live_stages.find_map(|stage| match &state.stage(&stage.id).status {
        StageStatus::WaitingForApproval { subject, requested_at_ms, reminded } => {
            let (requested_at_ms, reminded) = (*requested_at_ms, *reminded);
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
    let by_stage = serde_json::to_value(&state.cost_by_stage).unwrap_or_default();
    // The last stage, in workflow order, whose output names them (the publishing stage).
    let published = |field: &str| {
        definition
            .stages
            .iter()
            .filter_map(|stage| state.stage(&stage.id).output.as_ref()?.get(field).cloned())
            .next_back()
    };
    let artifacts = published("artifacts").unwrap_or(json!([]));
    let directory = published("directory");
    let spent = state.spent();
    let budget = state.budget_micros.map(|limit| {
        json!({
            "limit_micros": limit,
            "spent_micros": spent.as_ref().map_or(0, |cost| cost.amount_micros),
            "currency": spent.as_ref().map(|cost| cost.currency.clone()),
            "paused": state.budget_gate.is_some() && !state.status.is_terminal(),
        })
    });
    let error = state.last_error.as_ref().map(|last| json!({ "stage": last.stage, "activity": last.activity, "attempt": last.attempt, "kind": last.error.kind, "message": last.error.message }));
    Ok(json!({
        "id": state.execution_id, "workflow": state.workflow, "status": state.status.as_str(),
        "stage": current.map(|stage| stage.id.clone()), "progress": progress,
        "cost": { "by_stage": by_stage, "total_micros": state.total_cost() }, "budget": budget,
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
    if let Some(budget) = status["budget"].as_object() {
        let amount = |field: &str| format_amount(budget[field].as_u64().unwrap_or(0));
        println!(
            "  Budget:   {} of {} {}{}",
            amount("spent_micros"),
            amount("limit_micros"),
            budget["currency"].as_str().unwrap_or_default(),
            if budget["paused"] == true {
                ", paused: nothing more is spent until the budget is raised"
            } else {
                ""
            }
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
    let budget = &status["budget"];
    if budget["paused"] == true {
        let amount = |field: &str| format_amount(budget[field].as_u64().unwrap_or(0));
        let currency = budget["currency"].as_str().unwrap_or_default();
        println!(
            "\nExecution {id} is paused: its cost ({} {currency}) reached its budget ({} {currency}).\nNothing more is spent until you decide.\n",
            amount("spent_micros"),
            amount("limit_micros")
        );
        println!("To go on with a higher budget: host signal approve {id} --budget AMOUNT");
        println!("To end it:                     host signal reject {id} --feedback \"why\"");
        return Ok(());
    }
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
