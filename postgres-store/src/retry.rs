//! Riding out a restart of PostgreSQL or a dropped connection: which failures are worth trying
//! again, and the loop that tries again with a fresh connection for a bounded time.

use std::future::Future;
use std::time::{Duration, Instant};

use deadpool_postgres::{Object, Pool, PoolError};
use pipeline_core::store::HistoryError;

/// How long an operation keeps trying while the database is unreachable: long enough for a
/// restart of PostgreSQL, short enough that a host whose database is gone says so.
pub(crate) const RETRY_FOR: Duration = Duration::from_secs(60);

/// How long opening the store keeps trying: a mistyped URL should not cost a minute.
pub(crate) const CONNECT_FOR: Duration = Duration::from_secs(10);

/// What an attempt came to when it did not succeed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The connection or the server went away (or a transaction lost a deadlock): try again.
    Transient(String),
    /// The database refused the operation for good.
    Permanent(String),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(error: tokio_postgres::Error) -> Failure {
        let transient = match error.code() {
            // No SQLSTATE: the connection broke or could not be made.
            None => true,
            Some(state) => {
                let code = state.code();
                // 08: connection exceptions; 57P01-3: the server shuts down or starts; 40001 and
                // 40P01: serialization failure and deadlock; 53300: too many connections.
                code.starts_with("08")
                    || matches!(
                        code,
                        "57P01" | "57P02" | "57P03" | "40001" | "40P01" | "53300"
                    )
            }
        };
        let message = describe(&error);
        if transient {
            Failure::Transient(message)
        } else {
            Failure::Permanent(message)
        }
    }
}

impl From<PoolError> for Failure {
    fn from(error: PoolError) -> Failure {
        match error {
            PoolError::Backend(error) => Failure::from(error),
            PoolError::Timeout(_) => {
                Failure::Transient("timed out waiting for a connection".into())
            }
            other => Failure::Permanent(other.to_string()),
        }
    }
}

/// The server's own message when it sent one (tokio-postgres's `Display` says only "db error").
pub(crate) fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(database) => format!("{}: {}", database.severity(), database.message()),
        None => match std::error::Error::source(error) {
            Some(source) => format!("{error}: {source}"),
            None => error.to_string(),
        },
    }
}

/// Runs `attempt` with a pooled connection until it succeeds, fails for good, or the database
/// has been unreachable for `patience`. `attempt` gets the number of earlier tries, so that
/// a write can tell it may be repeating one whose commit went through unacknowledged.
pub(crate) async fn with_retries<T, F, Fut>(
    pool: &Pool,
    database: &str,
    patience: Duration,
    mut attempt: F,
) -> Result<T, HistoryError>
where
    F: FnMut(Object, u32) -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let started = Instant::now();
    let mut pause = Duration::from_millis(50);
    let mut tries = 0;
    loop {
        let outcome = match pool.get().await {
            Ok(client) => attempt(client, tries).await,
            Err(error) => Err(Failure::from(error)),
        };
        match outcome {
            Ok(value) => return Ok(value),
            Err(Failure::Transient(message)) if started.elapsed() < patience => {
                if tries == 0 {
                    tracing::warn!(database, %message, "the history database is unreachable; trying again");
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
                tries += 1;
            }
            Err(Failure::Transient(message)) => {
                return Err(HistoryError::Database {
                    database: database.to_string(),
                    message: format!(
                        "unreachable for {} s ({message}); check that PostgreSQL runs and that the URL's host, port, user and database are right",
                        patience.as_secs()
                    ),
                });
            }
            Err(Failure::Permanent(message)) => {
                return Err(HistoryError::Database {
                    database: database.to_string(),
                    message,
                });
            }
        }
    }
}
