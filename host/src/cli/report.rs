//! What the commands print about one execution: the status report (text and `--json`), the
//! approval prompt with the outline and the commands to go on, and the `--dry-run` plan.

use host::engine::start::PreparedStart;
use host::engine::{Engine, StatusReport};
use host::settings::{Existing, open_private};
use pipeline_core::duration::format_duration;
use pipeline_core::money::format_amount;
use pipeline_core::text::{abbreviate, printable};
use pipeline_core::{Event, ExecutionStatus, Signal, StageKind, template};
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

/// What holds the execution back: a pause after its retries ran out, or attempts waiting for
/// their plugin's flow control.
fn print_holds(status: &StatusReport, id: &str, now_ms: i64) {
    if let Some(pause) = &status.pause {
        let since = format_duration(std::time::Duration::from_millis(
            (now_ms - pause.paused_at_ms).max(0) as u64,
        ));
        println!(
            "  Paused:   for {since} at stage {}: [{}] {}",
            pause.stage,
            pause.error.kind,
            printable(&abbreviate(&pause.error.message, 200))
        );
        if pause.resume_requested {
            println!("            a resume is recorded; a worker or `host resume {id}` acts on it");
        } else {
            println!("            once the provider is back: `host resume {id}`");
        }
    }
    for wait in &status.waiting_for_slot {
        println!(
            "  Waiting:  {} for a slot of {} ({})",
            wait.activity,
            wait.plugin,
            printable(&wait.reason)
        );
    }
}

/// `status --json` (and `run --json`): the library's report as it serializes.
pub fn print_status_json(engine: &Engine, id: &str) -> Result<(), Failure> {
    print_json(&engine.status_report(id)?)
}

pub fn print_status_text(engine: &Engine, id: &str) -> Result<(), Failure> {
    let loaded = engine.load(id)?;
    let now_ms = engine.clock.now_ms();
    let status = StatusReport::of(&loaded.definition, &loaded.state, now_ms);
    println!("Execution {} ({})", id, status.workflow);
    match (status.status, engine.driver_of(id, now_ms)?) {
        (ExecutionStatus::Running, None) => println!(
            "  Status:   interrupted: no process drives it; `host resume {id}` continues it"
        ),
        (ExecutionStatus::Running, Some(driver)) => {
            println!("  Status:   running, driven by {driver}")
        }
        (other, _) => println!("  Status:   {}", other.as_str()),
    }
    // What the execution is about: its inputs (the podcast's topic), one line.
    let inputs: Vec<String> = loaded
        .state
        .inputs
        .iter()
        .map(|(name, value)| {
            let value = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_string);
            format!("{name}={}", abbreviate(&value, 80))
        })
        .collect();
    if !inputs.is_empty() {
        println!("  Inputs:   {}", printable(&inputs.join(", ")));
    }
    if let Some(progress) = status
        .progress
        .as_ref()
        .filter(|_| !status.status.is_terminal())
    {
        // Counts only mean something for a stage that runs activities (not a gate).
        match progress.total {
            0 => println!("  Stage:    {}", printable(&progress.title)),
            total => println!(
                "  Stage:    {} ({}/{total})",
                printable(&progress.title),
                progress.completed
            ),
        }
    }
    print_holds(&status, id, now_ms);
    for feedback in &status.feedback {
        println!("  Feedback: {}", printable(feedback));
    }
    if let Some(approval) = &status.approval {
        let pending = format_duration(std::time::Duration::from_millis(
            approval.pending_ms.max(0) as u64
        ));
        match &approval.decision {
            Some(decision) => println!(
                "  Approval: {} after {pending}, recorded but not acted on yet; run `host resume {id}` to continue",
                match decision {
                    Signal::Reject { .. } => "rejected",
                    Signal::Revise { .. } => "sent back for revision",
                    _ => "approved",
                }
            ),
            None => println!(
                "  Approval: pending for {pending}{}",
                if approval.reminder {
                    " — WARNING: waiting longer than the reminder period"
                } else {
                    ""
                }
            ),
        }
    }
    let total: Vec<String> = status
        .cost
        .total_micros
        .iter()
        .map(|(currency, micros)| format!("{} {currency}", format_amount(*micros)))
        .collect();
    println!(
        "  Cost:     {}",
        if total.is_empty() {
            "none recorded".to_string()
        } else {
            total.join(", ")
        }
    );
    // Stages in the order they run, as the workflow lists them.
    for stage in &loaded.definition.stages {
        if let Some(cost) = status.cost.by_stage.get(&stage.id) {
            println!(
                "            {}: {} {}",
                stage.id,
                format_amount(cost.amount_micros),
                cost.currency
            );
        }
    }
    if let Some(budget) = &status.budget {
        let amount = |micros: u64| format_amount(micros);
        println!(
            "  Budget:   {} of {} {}{}",
            amount(budget.spent_micros),
            amount(budget.limit_micros),
            budget.currency.as_deref().unwrap_or_default(),
            if budget.paused {
                ", paused: nothing more is spent until the budget is raised"
            } else {
                ""
            }
        );
    }
    if let Some(directory) = status.episode_directory.as_ref().and_then(Value::as_str) {
        println!("  Episode:  {directory}");
        for artifact in status.artifacts.as_array().into_iter().flatten() {
            println!(
                "            {} ({} bytes)",
                artifact["name"].as_str().unwrap_or_default(),
                artifact["size_bytes"]
            );
        }
    }
    if let Some(error) = &status.error {
        println!(
            "  Last error: [{}] {}",
            error.stage.as_ref().map_or("-", |stage| stage.as_str()),
            printable(&error.message)
        );
    }
    if let Some(approval) = status
        .approval
        .as_ref()
        .filter(|approval| approval.decision.is_none())
    {
        println!("\n  Waiting for approval of:");
        print_outline(&approval.subject);
        println!("\n  Next: host signal approve {id}   (or --outline FILE with an edited copy)");
        println!("        host signal revise {id} --feedback \"what to change\"");
        println!("        host signal reject {id} --feedback \"why\"");
    } else if status.status == ExecutionStatus::Failed {
        let stage = status.error.as_ref().and_then(|error| error.stage.as_ref());
        println!(
            "\n  Next: host reset {id} --to {}   (runs again from that stage)",
            stage.map_or("<stage>", |stage| stage.as_str())
        );
    }
    Ok(())
}

/// At the approval gate: the outline in readable form, saved to a file for editing, and the
/// exact commands to go on.
pub fn print_approval_request(context: &Context, engine: &Engine, id: &str) -> Result<(), Failure> {
    // One read of the history serves the report, the subject's title and its schema.
    let loaded = engine.load(id)?;
    let status = StatusReport::of(&loaded.definition, &loaded.state, engine.clock.now_ms());
    if let Some(budget) = status.budget.as_ref().filter(|budget| budget.paused) {
        let currency = budget.currency.as_deref().unwrap_or_default();
        println!(
            "\nExecution {id} is paused: its cost ({} {currency}) reached its budget ({} {currency}).\nNothing more is spent until you decide.\n",
            format_amount(budget.spent_micros),
            format_amount(budget.limit_micros)
        );
        println!("To go on with a higher budget: host signal approve {id} --budget AMOUNT");
        println!("To end it:                     host signal reject {id} --feedback \"why\"");
        return Ok(());
    }
    let Some(approval) = status.approval else {
        return Ok(());
    };
    // The gate names what it approves by the title of the stage that produced it.
    let definition = &loaded.definition;
    let subject_stage = match definition.stage(&approval.stage).map(|gate| &gate.kind) {
        Some(StageKind::Approval { subject, .. }) => Some(subject),
        _ => None,
    };
    let subject_title = subject_stage.map_or_else(
        || approval.stage.0.clone(),
        |subject| {
            definition
                .stage(subject)
                .map_or_else(|| subject.0.clone(), |stage| stage.title.clone())
        },
    );
    // Fields in the order the subject's schema lists them (title before key points), as a
    // person reads and edits them, whatever order the provider answered in.
    let recorded_schema = subject_stage
        .and_then(|subject| loaded.state.stage(subject).activities.first())
        .and_then(|activity| loaded.state.activities.get(activity))
        .and_then(|activity| activity.input.get("json_schema"))
        .cloned()
        .unwrap_or(Value::Null);
    let subject = in_schema_order(approval.subject, &recorded_schema);
    println!(
        "\nExecution {id} is waiting for approval of the {} result:\n",
        printable(&subject_title)
    );
    // Audio is to be listened to: its stored file plays as it is.
    if let Some(audio) = subject
        .get("audio")
        .and_then(|audio| serde_json::from_value::<pipeline_core::BlobRef>(audio.clone()).ok())
        && let Ok(file) = engine.blobs.path_of(&audio.digest)
    {
        println!("  Listen: {}\n", file.display());
    }
    print_outline(&subject);
    let editable = matches!(
        definition.stage(&approval.stage).map(|gate| &gate.kind),
        Some(StageKind::Approval { subject, .. })
            if definition.stage(subject).is_some_and(|stage| {
                matches!(&stage.kind, StageKind::Call(call) if call.schema.is_some())
            })
    );
    if !editable {
        println!("\nTo approve:           host signal approve {id}");
        println!("To reject:            host signal reject {id} --feedback \"why\"");
        return Ok(());
    }
    let pending = context.data_dir.pending_dir();
    let path = pending.join(format!("{id}-outline.json"));
    std::fs::create_dir_all(&pending)
        .and_then(|()| open_private(&path, Existing::Replace))
        .and_then(|mut file| {
            use std::io::Write as _;
            file.write_all(
                serde_json::to_string_pretty(&subject)
                    .unwrap_or_default()
                    .as_bytes(),
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
    println!("To ask for changes:   host signal revise {id} --feedback \"what to change\"");
    println!("To reject:            host signal reject {id} --feedback \"why\"");
    Ok(())
}

/// `value` with the fields of every object in the order `schema`'s `properties` list them
/// (fields the schema does not name keep their place after those), into arrays through
/// `items`.
fn in_schema_order(value: Value, schema: &Value) -> Value {
    match value {
        Value::Object(mut fields) => {
            let mut ordered = serde_json::Map::new();
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (name, property) in properties {
                    if let Some(field) = fields.remove(name) {
                        ordered.insert(name.clone(), in_schema_order(field, property));
                    }
                }
            }
            ordered.extend(fields);
            Value::Object(ordered)
        }
        Value::Array(items) => {
            let item_schema = schema.get("items").unwrap_or(&Value::Null);
            Value::Array(
                items
                    .into_iter()
                    .map(|item| in_schema_order(item, item_schema))
                    .collect(),
            )
        }
        other => other,
    }
}

/// Removes the outline saved for editing once the gate has its decision (or the execution is
/// cancelled): a stale file would invite an edit that can no longer be sent. A file that is
/// already gone is fine.
pub fn forget_pending_outline(context: &Context, id: &str) {
    let path = context
        .data_dir
        .pending_dir()
        .join(format!("{id}-outline.json"));
    if let Err(error) = std::fs::remove_file(&path)
        && error.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(%error, path = %path.display(), "cannot remove the saved outline");
    }
}

fn print_outline(subject: &Value) {
    if let Some(title) = subject["title"].as_str() {
        println!("  {}", printable(title));
    }
    if let Some(summary) = subject["summary"].as_str() {
        println!("  {}\n", printable(summary));
    }
    match subject["segments"].as_array() {
        Some(segments) => {
            for (index, segment) in segments.iter().enumerate() {
                println!(
                    "  {}. {}",
                    index + 1,
                    printable(segment["title"].as_str().unwrap_or("(untitled)"))
                );
                if let Some(summary) = segment["summary"].as_str() {
                    println!("     {}", printable(summary));
                }
                for point in segment["key_points"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                {
                    println!("     - {}", printable(point.as_str().unwrap_or_default()));
                }
                // A script's segments: who says what, as the producer reviews it.
                for line in segment["lines"].as_array().cloned().unwrap_or_default() {
                    println!(
                        "     {}: {}",
                        printable(line["speaker"].as_str().unwrap_or("?")),
                        printable(line["text"].as_str().unwrap_or_default())
                    );
                }
            }
        }
        None => println!(
            "{}",
            serde_json::to_string_pretty(subject).unwrap_or_default()
        ),
    }
}
