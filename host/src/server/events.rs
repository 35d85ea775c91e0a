//! Live events as Server-Sent Events.
//!
//! - `/api/executions/{id}/events`: the execution's recorded events, each with its sequence as
//!   the SSE id, then a `status` message (the report) after each batch. A browser that
//!   reconnects sends `Last-Event-ID` and gets every event after it from the store first, so it
//!   misses nothing even when it was away while they committed.
//! - `/api/events`: a `listing` message (the list row) for every execution that changed, with
//!   the time of the change as the id. A reconnect gets every execution updated since then
//!   again (rows are whole states, so a repeat is harmless); `?after=` does the same for the
//!   cursor of `GET /api/executions`.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::Stream;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::Shared;
use super::error::ApiError;
use super::feed::FeedItem;
use crate::engine::{ListFilter, event_json};

#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    /// Resume after this point, as `Last-Event-ID` does (for clients that cannot set it).
    after: Option<String>,
}

fn resume_point(headers: &HeaderMap, query: &EventsQuery) -> Option<i64> {
    headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
        .or_else(|| query.after.clone())
        .and_then(|text| text.trim().parse().ok())
}

/// `GET /api/executions/{id}/events`.
pub async fn execution(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    // Subscribed before reading the store, so nothing committed in between is lost.
    let mut items = shared.feed.subscribe();
    let after = resume_point(&headers, &query).unwrap_or(0).max(0) as u64;
    let (events, state) = shared.engine.load_history(&id)?;
    // The report of the history just read, sent once its events have gone out.
    let report = shared.engine.status_report_of(&state)?;
    let engine = shared.engine.clone();
    let stream = async_stream(move |sender| async move {
        let mut sent = after;
        if !send_after(&sender, &events, &mut sent).await {
            return;
        }
        if !sender.send(status_message(&json!(report))).await {
            return;
        }
        loop {
            match items.recv().await {
                Ok(FeedItem::Event {
                    execution_id,
                    sequence,
                    event,
                }) if execution_id == id => {
                    if sequence > sent {
                        if !sender.send(event_message(sequence, &event)).await {
                            return;
                        }
                        sent = sequence;
                    }
                }
                Ok(FeedItem::Changed { report, .. }) if report.id.0 == id => {
                    if !sender.send(status_message(&json!(*report))).await {
                        return;
                    }
                }
                Ok(_) => {}
                // Fell behind the feed: catch up from the store, where everything is.
                Err(RecvError::Lagged(_)) => {
                    let Ok((events, _)) = engine.load_history(&id) else {
                        return;
                    };
                    if !send_after(&sender, &events, &mut sent).await {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// `GET /api/events`.
pub async fn all(
    State(shared): State<Shared>,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let mut items = shared.feed.subscribe();
    let after = resume_point(&headers, &query);
    let mut missed = Vec::new();
    if let Some(after) = after {
        for row in shared.engine.matching_executions(&ListFilter::default())? {
            if row.summary.updated_at_ms >= after {
                missed.push(shared.engine.listing(&row)?);
            }
        }
    }
    let stream = async_stream(move |sender| async move {
        for listing in missed.iter().rev() {
            if !sender
                .send(listing_message(listing.updated_at_ms, &json!(listing)))
                .await
            {
                return;
            }
        }
        loop {
            match items.recv().await {
                Ok(FeedItem::Changed { listing, .. }) => {
                    if !sender
                        .send(listing_message(listing.updated_at_ms, &json!(*listing)))
                        .await
                    {
                        return;
                    }
                }
                Ok(FeedItem::Event { .. }) => {}
                // The page reloads its list when told it fell behind.
                Err(RecvError::Lagged(_)) => {
                    if !sender
                        .send(SseEvent::default().event("resync").data("{}"))
                        .await
                    {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Sends the events after `sent` from a history read from the store, moving `sent` on; false
/// once the client has gone.
async fn send_after(
    sender: &Sender,
    events: &[(pipeline_core::Event, i64)],
    sent: &mut u64,
) -> bool {
    for (index, (event, at)) in events.iter().enumerate().skip(*sent as usize) {
        let sequence = index as u64 + 1;
        if !sender
            .send(event_message(sequence, &event_json(sequence, event, *at)))
            .await
        {
            return false;
        }
        *sent = sequence;
    }
    true
}

fn event_message(sequence: u64, event: &serde_json::Value) -> SseEvent {
    SseEvent::default()
        .id(sequence.to_string())
        .event("event")
        .data(event.to_string())
}

fn status_message(report: &serde_json::Value) -> SseEvent {
    SseEvent::default().event("status").data(report.to_string())
}

fn listing_message(updated_at_ms: i64, listing: &serde_json::Value) -> SseEvent {
    SseEvent::default()
        .id(updated_at_ms.to_string())
        .event("listing")
        .data(listing.to_string())
}

/// Sends messages from a task into the response, ending when the client goes away.
struct Sender(tokio::sync::mpsc::Sender<SseEvent>);

impl Sender {
    /// False once the client has gone.
    async fn send(&self, message: SseEvent) -> bool {
        self.0.send(message).await.is_ok()
    }
}

fn async_stream<F, Fut>(produce: F) -> impl Stream<Item = Result<SseEvent, Infallible>>
where
    F: FnOnce(Sender) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (sender, receiver) = tokio::sync::mpsc::channel(64);
    tokio::spawn(produce(Sender(sender)));
    futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|message| (Ok(message), receiver))
    })
}
