//! The JSON API: the command line's operations with the same rules, through the same engine
//! calls. A change (start, signal, cancel, reset) wakes the worker at once; the report it
//! returns is the one `host status --json` prints.

use std::collections::BTreeMap;
use std::path::PathBuf;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pipeline_core::money::parse_amount;
use pipeline_core::text::{abbreviate, printable};
use pipeline_core::workflow::{InputKind, load_bundle};
use pipeline_core::{Definition, Signal};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Shared;
use super::error::ApiError;
use crate::engine::start::PreparedStart;
use crate::engine::{ForkRequest, ListFilter, StartRequest, event_json};

/// The most executions one page of the list holds.
const MAX_PAGE: usize = 500;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    workflow: Option<String>,
    show: Option<String>,
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
}

/// `GET /api/executions`: newest first, one page, with a cursor for `/api/events?after=`.
pub async fn list(
    State(shared): State<Shared>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let engine = &shared.engine;
    // Read before the rows: an update between the two is sent again rather than missed.
    let cursor = engine.clock.now_ms();
    let filter = ListFilter {
        status: query.status,
        workflow: query.workflow,
        show: query.show,
    };
    let rows = engine.matching_executions(&filter)?;
    let limit = query.limit.unwrap_or(50).clamp(1, MAX_PAGE);
    let page = rows
        .iter()
        .skip(query.offset)
        .take(limit)
        .map(|row| engine.listing(row))
        .collect::<Result<Vec<_>, _>>()?;
    let next_offset = (query.offset + page.len() < rows.len()).then_some(query.offset + page.len());
    Ok(Json(json!({
        "executions": page,
        "total": rows.len(),
        "next_offset": next_offset,
        "cursor": cursor,
    })))
}

/// `GET /api/executions/{id}`.
pub async fn status(
    State(shared): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(shared.engine.status_report(&id)?)))
}

/// `GET /api/executions/{id}/history`.
pub async fn history(
    State(shared): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (events, _) = shared.engine.load_history(&id)?;
    let events: Vec<Value> = events
        .iter()
        .enumerate()
        .map(|(index, (event, at))| event_json(index as u64 + 1, event, *at))
        .collect();
    Ok(Json(Value::Array(events)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    /// A workflow of the server's workflows folder, by file name without `.toml`.
    workflow: String,
    #[serde(default)]
    inputs: BTreeMap<String, Value>,
    #[serde(default)]
    providers: BTreeMap<String, String>,
    id: Option<String>,
    /// The budget, as `host run --max-cost` takes it (`"2.50"`).
    max_cost: Option<String>,
}

/// `POST /api/executions`: starts an execution; the worker drives it.
pub async fn start(
    State(shared): State<Shared>,
    Json(body): Json<StartBody>,
) -> Result<Response, ApiError> {
    let request = StartRequest {
        workflow: shared.workflow_file(&body.workflow)?,
        inputs: body.inputs,
        execution_id: body.id,
        providers: body.providers,
        max_cost_micros: body
            .max_cost
            .map(|amount| parse_amount(&amount).map_err(ApiError::invalid_input))
            .transpose()?,
        reuse_identical: false,
    };
    let prepared = shared.engine.prepare(&request)?;
    record_start(&shared, prepared).await
}

/// Records a prepared start, wakes the worker and answers 201 with the new execution's report.
async fn record_start(shared: &Shared, prepared: PreparedStart) -> Result<Response, ApiError> {
    let state = shared.engine.start(prepared).await?;
    shared.changed();
    let report = shared.engine.status_report_of(&state)?;
    Ok((StatusCode::CREATED, Json(json!(report))).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    /// The edited subject (the outline), replacing the proposed one; checked against its schema.
    outline: Option<Value>,
    feedback: Option<String>,
    /// At the budget: the new budget (`"5.00"`).
    budget: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackBody {
    feedback: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelBody {
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetBody {
    stage: String,
}

/// `POST /api/executions/{id}/approve`.
pub async fn approve(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    body: Option<Json<ApproveBody>>,
) -> Result<Json<Value>, ApiError> {
    let body = body.map(|Json(body)| body).unwrap_or_default();
    let budget_micros = body
        .budget
        .map(|amount| parse_amount(&amount).map_err(ApiError::invalid_input))
        .transpose()?;
    let signal = Signal::Approve {
        replacement: body.outline,
        feedback: body.feedback,
        budget_micros,
    };
    record(&shared, &id, signal).await
}

/// `POST /api/executions/{id}/reject`.
pub async fn reject(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    Json(body): Json<FeedbackBody>,
) -> Result<Json<Value>, ApiError> {
    let signal = Signal::Reject {
        feedback: body.feedback,
    };
    record(&shared, &id, signal).await
}

/// `POST /api/executions/{id}/revise`.
pub async fn revise(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    Json(body): Json<FeedbackBody>,
) -> Result<Json<Value>, ApiError> {
    let signal = Signal::Revise {
        feedback: body.feedback,
    };
    record(&shared, &id, signal).await
}

/// `POST /api/executions/{id}/cancel`.
pub async fn cancel(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    body: Option<Json<CancelBody>>,
) -> Result<Json<Value>, ApiError> {
    let reason = body
        .and_then(|Json(body)| body.reason)
        .unwrap_or_else(|| "cancelled through the API".into());
    let signal = Signal::Cancel {
        reason: Some(reason),
    };
    record(&shared, &id, signal).await
}

/// `POST /api/executions/{id}/resume`: a paused execution gets a fresh round of attempts.
pub async fn resume(
    State(shared): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    record(&shared, &id, Signal::Resume).await
}

/// `POST /api/executions/{id}/reset`.
pub async fn reset(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    Json(body): Json<ResetBody>,
) -> Result<Json<Value>, ApiError> {
    let (state, _) = shared.engine.reset(&id, &body.stage).await?;
    shared.changed();
    Ok(Json(json!(shared.engine.status_report_of(&state)?)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForkBody {
    from: String,
    #[serde(default)]
    inputs: BTreeMap<String, Value>,
    #[serde(default)]
    providers: BTreeMap<String, String>,
    id: Option<String>,
    /// `"identical"`, as `host fork --reuse identical`.
    reuse: Option<String>,
}

/// `POST /api/executions/{id}/fork`: starts a new execution with this one's results up to a
/// stage; the worker drives it.
pub async fn fork(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    Json(body): Json<ForkBody>,
) -> Result<Response, ApiError> {
    let reuse_identical = match body.reuse.as_deref() {
        None => false,
        Some("identical") => true,
        Some(other) => {
            return Err(ApiError::invalid_input(format!(
                "reuse `{}` is not known; the one setting is \"identical\"",
                printable(&abbreviate(other, 40))
            )));
        }
    };
    let request = ForkRequest {
        source: id,
        from_stage: body.from,
        execution_id: body.id,
        inputs: body.inputs,
        providers: body.providers,
        reuse_identical,
    };
    let prepared = shared.engine.prepare_fork(&request)?;
    record_start(&shared, prepared).await
}

/// Records a signal (refused with nothing recorded when it does not fit) and wakes the worker.
async fn record(shared: &Shared, id: &str, signal: Signal) -> Result<Json<Value>, ApiError> {
    let state = shared.engine.signal(id, signal).await?;
    shared.changed();
    Ok(Json(json!(shared.engine.status_report_of(&state)?)))
}

/// `GET /api/workflows`: what can be started, with the inputs each takes.
pub async fn workflows(State(shared): State<Shared>) -> Result<Json<Value>, ApiError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(&shared.workflows_dir)
        .map_err(|error| {
            ApiError::internal(format!(
                "cannot read the workflows folder {}: {error}",
                shared.workflows_dir.display()
            ))
        })?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "toml")
        })
        .collect();
    files.sort();
    let mut listed = Vec::new();
    for file in files {
        let Some(name) = file.file_stem().and_then(|stem| stem.to_str()) else {
            continue;
        };
        // A file that does not load is listed with its problem rather than hidden.
        let loaded = load_bundle(&file, &|variable| std::env::var(variable).ok())
            .and_then(|bundle| Definition::from_bundle(&bundle));
        listed.push(match loaded {
            Ok(definition) => json!({
                "name": name,
                "workflow": definition.name,
                "description": definition.description,
                "inputs": definition.inputs.iter().map(|input| json!({
                    "name": input.name,
                    "type": kind_name(input.kind),
                    "description": input.description,
                    "default": input.default,
                    "required": input.default.is_none(),
                })).collect::<Vec<_>>(),
                "stages": definition.stages.iter().map(|stage| json!({"id": stage.id, "title": stage.title})).collect::<Vec<_>>(),
            }),
            Err(diagnostics) => json!({
                "name": name,
                "problems": diagnostics.iter().map(ToString::to_string).collect::<Vec<_>>(),
            }),
        });
    }
    Ok(Json(Value::Array(listed)))
}

/// `GET /api/shows`.
pub async fn shows(State(shared): State<Shared>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(shared.engine.shows()?)))
}

fn kind_name(kind: InputKind) -> &'static str {
    match kind {
        InputKind::String => "string",
        InputKind::Integer => "integer",
        InputKind::Number => "number",
        InputKind::Bool => "bool",
        InputKind::List => "list",
        InputKind::Object => "object",
    }
}
