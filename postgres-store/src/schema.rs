//! The PostgreSQL schema: numbered migrations, applied in order inside one transaction that
//! holds an advisory lock, so that hosts starting together against a new database do not race.

use tokio_postgres::Client;

/// Migrations in order; `host_schema.version` says how many have run.
const MIGRATIONS: &[&str] = &[
    // 1: the event log, the executions table kept in step with it, and leases: the same
    // tables and meaning as the SQLite store's.
    "CREATE TABLE events (
        execution_id TEXT NOT NULL,
        sequence BIGINT NOT NULL CHECK (sequence >= 1),
        event_type TEXT NOT NULL,
        payload TEXT NOT NULL,
        recorded_at_ms BIGINT NOT NULL,
        hash BYTEA NOT NULL CHECK (length(hash) = 32),
        PRIMARY KEY (execution_id, sequence)
    );
    CREATE TABLE executions (
        execution_id TEXT PRIMARY KEY,
        workflow TEXT NOT NULL,
        status TEXT NOT NULL,
        stage TEXT,
        show TEXT,
        created_at_ms BIGINT NOT NULL,
        updated_at_ms BIGINT NOT NULL,
        wake_at_ms BIGINT,
        last_sequence BIGINT NOT NULL
    );
    CREATE INDEX executions_by_status_and_wake ON executions (status, wake_at_ms);
    CREATE INDEX executions_by_show ON executions (show) WHERE show IS NOT NULL;
    CREATE INDEX executions_by_creation ON executions (created_at_ms, execution_id);
    CREATE TABLE leases (
        execution_id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        pid BIGINT NOT NULL,
        hostname TEXT NOT NULL,
        expires_at_ms BIGINT NOT NULL
    );",
    // 2: blobs every host can read, in chunks; the `blobs` row is written last in the same
    // transaction, so a blob with a row is complete.
    "CREATE TABLE blob_chunks (
        digest TEXT NOT NULL,
        chunk INTEGER NOT NULL CHECK (chunk >= 0),
        data BYTEA NOT NULL,
        PRIMARY KEY (digest, chunk)
    );
    CREATE TABLE blobs (
        digest TEXT PRIMARY KEY,
        size_bytes BIGINT NOT NULL,
        chunks INTEGER NOT NULL
    );",
    // 3: the first completion recorded under each reuse key, for runs that reuse identical
    // calls (as in the SQLite store).
    "CREATE TABLE reusable_results (
        reuse_key TEXT PRIMARY KEY,
        execution_id TEXT NOT NULL,
        sequence BIGINT NOT NULL
    );",
    // 4: `host schedule`, as in the SQLite store: a handful of rows every worker reads whole;
    // next_due_ms is where each schedule stands, moved on only after its run was started.
    "CREATE TABLE schedules (
        name TEXT PRIMARY KEY,
        cron TEXT NOT NULL,
        workflow TEXT NOT NULL,
        request TEXT NOT NULL,
        created_at_ms BIGINT NOT NULL,
        next_due_ms BIGINT NOT NULL,
        last_execution TEXT
    );",
    // 5: the next allowed start of each rate-limited plugin, in microseconds of the
    // database's clock, so that a rate limit holds across every host.
    "CREATE TABLE flow_pacing (
        plugin TEXT PRIMARY KEY,
        next_start_us BIGINT NOT NULL
    );",
];

/// The advisory lock key migrations hold (any constant no other lock of ours uses).
const MIGRATION_LOCK: i64 = 0x686f_7374_5f6d_6967;

/// What a migration run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaVersions {
    /// The schema version found.
    pub before: u32,
    /// The schema version now (the newest this host knows).
    pub after: u32,
}

/// Why the schema could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MigrationError {
    #[error(transparent)]
    Database(#[from] tokio_postgres::Error),
    #[error(
        "schema version {found} is not one this host understands (it knows 0 to {known}); a newer host wrote it: upgrade the host"
    )]
    Newer { found: i64, known: usize },
}

/// Runs the migrations not yet applied.
pub(crate) async fn migrate(client: &mut Client) -> Result<SchemaVersions, MigrationError> {
    let transaction = client.transaction().await?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    transaction
        .batch_execute("CREATE TABLE IF NOT EXISTS host_schema (version INTEGER NOT NULL)")
        .await?;
    let found: i64 = transaction
        .query_opt("SELECT version::BIGINT FROM host_schema", &[])
        .await?
        .map_or(0, |row| row.get(0));
    if found < 0 || found as usize > MIGRATIONS.len() {
        return Err(MigrationError::Newer {
            found,
            known: MIGRATIONS.len(),
        });
    }
    for migration in &MIGRATIONS[found as usize..] {
        transaction.batch_execute(migration).await?;
    }
    let after = MIGRATIONS.len() as i32;
    transaction.execute("DELETE FROM host_schema", &[]).await?;
    transaction
        .execute("INSERT INTO host_schema (version) VALUES ($1)", &[&after])
        .await?;
    transaction.commit().await?;
    Ok(SchemaVersions {
        before: found as u32,
        after: after as u32,
    })
}
