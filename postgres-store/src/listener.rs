//! Hearing of other hosts' commits: one connection LISTENs on the changes channel and counts
//! notifications, so that the change token is a memory read and an idle host wakes within
//! milliseconds of a signal or a start recorded anywhere, without polling the tables.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt as _;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::writer::CHANGES_CHANNEL;

/// Listens until the store is dropped, reconnecting whenever the connection is lost. Every
/// (re)connection counts as a change: notifications sent while disconnected are lost.
pub(crate) async fn listen(config: tokio_postgres::Config, changes: Arc<AtomicU64>) {
    loop {
        if let Ok((client, mut connection)) = config.connect(NoTls).await {
            let counted = changes.clone();
            let messages = tokio::spawn(async move {
                let mut messages =
                    futures::stream::poll_fn(|context| connection.poll_message(context));
                while let Some(Ok(message)) = messages.next().await {
                    if let AsyncMessage::Notification(_) = message {
                        counted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
            if client
                .batch_execute(&format!("LISTEN {CHANGES_CHANNEL}"))
                .await
                .is_ok()
            {
                changes.fetch_add(1, Ordering::Relaxed);
                let _ = messages.await;
            } else {
                messages.abort();
            }
            changes.fetch_add(1, Ordering::Relaxed);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
