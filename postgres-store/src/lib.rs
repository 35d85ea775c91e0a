//! The history store on PostgreSQL, for a team whose hosts share one database: the same
//! events, hash chain, executions table and leases as the SQLite store, behind the same
//! `pipeline_core::store::HistoryStore` trait, plus what sharing needs. Appends from many
//! executions share transactions (group commit); each transaction takes per-execution advisory
//! locks, so writers on any number of hosts serialize per execution, and checks the lease
//! inside the transaction, so a host that lost its lease appends nothing. Commits are
//! announced with NOTIFY, which idle hosts LISTEN for. Blobs live in the database too, so any
//! host can publish what another produced. A restart of PostgreSQL or a dropped connection is
//! ridden out: operations reconnect and try again for up to a minute, and a write whose commit
//! went through unacknowledged is recognised rather than repeated.
//!
//! The store runs its connections on its own small runtime, so its blocking queries can be
//! called from any thread, async or not, as the trait allows.

mod blobs;
mod listener;
mod pacing;
mod retry;
mod rows;
mod schedules;
mod schema;
mod writer;

use std::future::Future;
use std::str::FromStr as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once};

use deadpool_postgres::{
    GenericClient as _, Manager, ManagerConfig, Object, Pool, RecyclingMethod,
};
use pipeline_core::ExecutionId;
use pipeline_core::event::ReusedFrom;
use pipeline_core::store::queue::{WriteQueue, WriteRequest};
use pipeline_core::store::{
    AppendFuture, ExecutionRow, ExecutionSummary, HistoryError, HistoryStore, LeaseFuture,
    LeaseHolder, LeaseOwner, NewEvent, ReleaseFuture, StoredEvent, chain,
};
use tokio::sync::mpsc;
use tokio_postgres::NoTls;

use retry::{CONNECT_FOR, Failure, RETRY_FOR, with_retries};
pub use schema::SchemaVersions;

/// Connections one store keeps open at most: the writers', the readers', and one spare.
const POOL_SIZE: usize = 12;

/// Whether `text` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_postgres_url(text: &str) -> bool {
    text.starts_with("postgres://") || text.starts_with("postgresql://")
}

/// Histories, leases and blobs in one PostgreSQL database.
pub struct PostgresStore {
    /// The database as messages name it: its URL without the password.
    database: String,
    config: tokio_postgres::Config,
    runtime: Option<tokio::runtime::Runtime>,
    pool: Pool,
    writes: Option<mpsc::UnboundedSender<WriteRequest>>,
    writer_task: Option<tokio::task::JoinHandle<()>>,
    changes: Arc<AtomicU64>,
    listening: Once,
    commits: Arc<AtomicU64>,
    schema: SchemaVersions,
}

impl PostgresStore {
    /// Connects to the database at `url`, brings its schema up to date, and starts the
    /// writers. Waits up to a minute for a database that is starting or unreachable.
    pub fn connect(url: &str) -> Result<PostgresStore, HistoryError> {
        let config =
            tokio_postgres::Config::from_str(url).map_err(|error| HistoryError::Database {
                database: "PostgreSQL".to_string(),
                message: format!("`{}` is not a usable PostgreSQL URL: {error}", redact(url)),
            })?;
        let database = describe_config(&config);
        let failed = |message: String| HistoryError::Database {
            database: database.clone(),
            message,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("postgres-store")
            .enable_all()
            .build()
            .map_err(|error| failed(format!("cannot start the store's runtime: {error}")))?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|error| failed(format!("cannot create the connection pool: {error}")))?;
        // Spawned and waited for rather than `block_on`, which would panic when the caller
        // is itself on a runtime's thread.
        let schema = {
            let (pool, database) = (pool.clone(), database.clone());
            let migration = runtime.spawn(async move {
                with_retries(&pool, &database, CONNECT_FOR, |mut client, _| async move {
                    schema::migrate(&mut client)
                        .await
                        .map_err(|error| match error {
                            schema::MigrationError::Database(error) => Failure::from(error),
                            newer => Failure::Permanent(newer.to_string()),
                        })
                })
                .await
            });
            futures::executor::block_on(migration)
                .map_err(|error| failed(format!("the migration stopped: {error}")))??
        };
        let changes = Arc::new(AtomicU64::new(0));
        let commits = Arc::new(AtomicU64::new(0));
        let (writes, requests) = mpsc::unbounded_channel();
        let writers = Arc::new(writer::Writers {
            pool: pool.clone(),
            database: database.clone(),
            commits: commits.clone(),
            changes: changes.clone(),
        });
        let writer_task = runtime.spawn(writer::run(writers, requests));
        Ok(PostgresStore {
            database,
            config,
            runtime: Some(runtime),
            pool,
            writes: Some(writes),
            writer_task: Some(writer_task),
            changes,
            listening: Once::new(),
            commits,
            schema,
        })
    }

    /// The schema versions found and left by [`connect`](Self::connect), which migrates.
    pub fn schema_versions(&self) -> SchemaVersions {
        self.schema
    }

    /// The database as messages name it: its URL without the password.
    pub fn database(&self) -> &str {
        &self.database
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime
            .as_ref()
            .expect("the runtime lives until the store is dropped")
    }

    /// Runs a read on the store's runtime, retrying across dropped connections, and blocks
    /// the calling thread until it is answered.
    fn query<T, F, Fut>(&self, attempt: F) -> Result<T, HistoryError>
    where
        T: Send + 'static,
        F: FnMut(Object, u32) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, Failure>> + Send,
    {
        let (pool, database) = (self.pool.clone(), self.database.clone());
        let task = self
            .runtime()
            .spawn(async move { with_retries(&pool, &database, RETRY_FOR, attempt).await });
        futures::executor::block_on(task).unwrap_or_else(|error| {
            Err(HistoryError::Database {
                database: self.database.clone(),
                message: format!("the query stopped: {error}"),
            })
        })
    }

    /// The rows of the executions table that `clause` selects, with one text parameter at most.
    fn executions_where(
        &self,
        clause: &'static str,
        parameter: Option<Parameter>,
    ) -> Result<Vec<ExecutionRow>, HistoryError> {
        self.query(move |client, _| {
            let parameter = parameter.clone();
            async move {
                match &parameter {
                    None => rows::executions(&client, clause, &[]).await,
                    Some(Parameter::Text(text)) => rows::executions(&client, clause, &[text]).await,
                    Some(Parameter::Number(number)) => {
                        rows::executions(&client, clause, &[number]).await
                    }
                }
            }
        })
    }
}

/// The one parameter of an executions query.
#[derive(Clone)]
enum Parameter {
    Text(String),
    Number(i64),
}

impl WriteQueue for PostgresStore {
    fn send(&self, request: WriteRequest) -> Result<(), HistoryError> {
        self.writes
            .as_ref()
            .ok_or(HistoryError::WriterStopped)?
            .send(request)
            .map_err(|_| HistoryError::WriterStopped)
    }
}

impl HistoryStore for PostgresStore {
    fn append_with<'a>(
        &'a self,
        execution_id: &'a str,
        first_sequence: u64,
        events: Vec<NewEvent>,
        summary: Option<ExecutionSummary>,
        owner: Option<String>,
    ) -> AppendFuture<'a> {
        self.queue_append(execution_id, first_sequence, events, summary, owner)
    }

    fn start_owned<'a>(
        &'a self,
        execution_id: &'a str,
        events: Vec<NewEvent>,
        summary: ExecutionSummary,
        owner: &'a LeaseOwner,
        now_ms: i64,
        ttl_ms: i64,
    ) -> AppendFuture<'a> {
        self.queue_start_owned(execution_id, events, summary, owner, now_ms, ttl_ms)
    }

    fn read(&self, execution_id: &str) -> Result<Vec<StoredEvent>, HistoryError> {
        let id = execution_id.to_string();
        let (committed, events) = self.query(move |client, _| {
            let id = id.clone();
            async move {
                // The committed count is read first: a commit landing between the two reads
                // can only add events, never hide them.
                let committed = client
                    .query_opt(
                        "SELECT last_sequence FROM executions WHERE execution_id = $1",
                        &[&id],
                    )
                    .await?
                    .map(|row| row.get::<_, i64>(0) as u64);
                let events = rows::events_from(&client, &id, 1).await?;
                Ok((committed, events))
            }
        })?;
        chain::verify(execution_id, &events, committed)?;
        Ok(events)
    }

    fn last_sequence(&self, execution_id: &str) -> Result<u64, HistoryError> {
        let id = execution_id.to_string();
        self.query(move |client, _| {
            let id = id.clone();
            async move {
                let row = client
                    .query_one(
                        "SELECT max(sequence) FROM events WHERE execution_id = $1",
                        &[&id],
                    )
                    .await?;
                Ok(row.get::<_, Option<i64>>(0).unwrap_or(0) as u64)
            }
        })
    }

    /// Queued for the writers like an append, so many drives' leases share commits.
    fn acquire_lease<'a>(
        &'a self,
        execution_id: &'a str,
        owner: &'a LeaseOwner,
        now_ms: i64,
        ttl_ms: i64,
    ) -> LeaseFuture<'a> {
        self.queue_acquire_lease(execution_id, owner, now_ms, ttl_ms)
    }

    fn release_lease<'a>(
        &'a self,
        execution_id: &'a str,
        owner: &'a LeaseOwner,
    ) -> ReleaseFuture<'a> {
        self.queue_release_lease(execution_id, owner)
    }

    fn lease_holder(
        &self,
        execution_id: &str,
        now_ms: i64,
    ) -> Result<Option<LeaseHolder>, HistoryError> {
        let id = execution_id.to_string();
        let holder = self.query(move |client, _| {
            let id = id.clone();
            async move { Ok(rows::read_lease(&client, &id).await?) }
        })?;
        Ok(holder.filter(|holder| holder.expires_at_ms > now_ms))
    }

    fn execution(&self, execution_id: &str) -> Result<Option<ExecutionRow>, HistoryError> {
        Ok(self
            .executions_where(
                "WHERE execution_id = $1",
                Some(Parameter::Text(execution_id.to_string())),
            )?
            .into_iter()
            .next())
    }

    fn executions(&self) -> Result<Vec<ExecutionRow>, HistoryError> {
        self.executions_where("ORDER BY created_at_ms DESC, execution_id", None)
    }

    fn runnable(&self, now_ms: i64) -> Result<Vec<ExecutionRow>, HistoryError> {
        self.executions_where(
            "WHERE status = 'running' OR (status IN ('waiting_for_approval', 'paused') AND wake_at_ms <= $1)
             ORDER BY created_at_ms, execution_id",
            Some(Parameter::Number(now_ms)),
        )
    }

    fn due(&self, now_ms: i64) -> Result<Vec<ExecutionRow>, HistoryError> {
        self.executions_where(
            "WHERE status IN ('waiting_for_approval', 'paused') AND wake_at_ms <= $1
             ORDER BY created_at_ms, execution_id",
            Some(Parameter::Number(now_ms)),
        )
    }

    fn executions_of_show(&self, show: &str) -> Result<Vec<ExecutionRow>, HistoryError> {
        self.executions_where(
            "WHERE show = $1 ORDER BY created_at_ms, execution_id",
            Some(Parameter::Text(show.to_string())),
        )
    }

    /// Counts the commits every host announces (NOTIFY), heard on a connection opened on
    /// first use: only a following worker or a server asks.
    fn change_token(&self) -> Result<u64, HistoryError> {
        self.listening.call_once(|| {
            self.runtime()
                .spawn(listener::listen(self.config.clone(), self.changes.clone()));
        });
        Ok(self.changes.load(Ordering::Relaxed))
    }

    fn commit_count(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    fn reusable_result(&self, reuse_key: &str) -> Result<Option<ReusedFrom>, HistoryError> {
        let key = reuse_key.to_string();
        self.query(move |client, _| {
            let key = key.clone();
            async move {
                Ok(client
                    .query_opt(
                        "SELECT execution_id, sequence FROM reusable_results WHERE reuse_key = $1",
                        &[&key],
                    )
                    .await?
                    .map(|row| ReusedFrom {
                        execution_id: ExecutionId(row.get(0)),
                        sequence: row.get::<_, i64>(1) as u64,
                    }))
            }
        })
    }
}

impl Drop for PostgresStore {
    /// Closing the request channel lets the writers commit what is queued and stop; then the
    /// runtime is let go without blocking, as a drop may happen on an async thread.
    fn drop(&mut self) {
        drop(self.writes.take());
        if let Some(task) = self.writer_task.take() {
            let _ = futures::executor::block_on(task);
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// `postgres://user@host:port/database`, without the password, for messages.
fn describe_config(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(name)) => name.clone(),
        Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{host}:{port}/{}",
        config.get_user().unwrap_or(""),
        config.get_dbname().unwrap_or("")
    )
}

/// `url` with any password replaced, for a message about a URL that did not parse.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}
