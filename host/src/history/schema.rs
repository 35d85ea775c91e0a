//! The SQLite side: connection settings in one place, numbered migrations embedded at compile
//! time, and the read query.

use std::path::Path;

use rusqlite::Connection;

use super::{HistoryError, StoredEvent};

/// How hard each commit works to survive a power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=FULL`: a commit is on disk when it returns, even across power loss.
    #[default]
    Full,
    /// `synchronous=NORMAL`: survives a crash of the process; a power loss may lose the last
    /// commits (never corrupts). Much faster on slow disks.
    Normal,
}

/// Migrations in order; the database's `user_version` says how many have run.
const MIGRATIONS: &[&str] = &[
    // 1: the event log. WITHOUT ROWID: rows are looked up and scanned by their primary key
    // (an execution's events in order), never by rowid.
    "CREATE TABLE events (
        execution_id TEXT NOT NULL,
        sequence INTEGER NOT NULL CHECK (sequence >= 1),
        event_type TEXT NOT NULL,
        payload TEXT NOT NULL,
        recorded_at_ms INTEGER NOT NULL,
        hash BLOB NOT NULL CHECK (length(hash) = 32),
        PRIMARY KEY (execution_id, sequence)
    ) STRICT, WITHOUT ROWID;",
    // 2: one row per execution, written in the same transaction as its events. It answers
    // `host list` and "what can make progress" without scanning histories, and its
    // last_sequence reveals a history whose tail was cut off. Leases say which process drives
    // an execution.
    "CREATE TABLE executions (
        execution_id TEXT PRIMARY KEY,
        workflow TEXT NOT NULL,
        status TEXT NOT NULL,
        stage TEXT,
        show TEXT,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL,
        wake_at_ms INTEGER,
        last_sequence INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;
    -- `host worker`: executions that are running, or waiting with a timer due.
    CREATE INDEX executions_by_status_and_wake ON executions (status, wake_at_ms);
    -- `host shows`: the episodes of one show.
    CREATE INDEX executions_by_show ON executions (show) WHERE show IS NOT NULL;
    CREATE TABLE leases (
        execution_id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        pid INTEGER NOT NULL,
        hostname TEXT NOT NULL,
        expires_at_ms INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;",
    // 3: the first completion recorded under each reuse key (a digest of call, request,
    // plugin and definition), written with its event; its primary key answers "has an
    // identical call completed?" for runs that reuse results. Histories from before it are
    // not indexed: their completions carry no key.
    "CREATE TABLE reusable_results (
        reuse_key TEXT PRIMARY KEY,
        execution_id TEXT NOT NULL,
        sequence INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;",
    // 4: `host schedule`. A handful of rows, read whole by every worker's pass; next_due_ms
    // is where each schedule stands, moved on only after its run was started.
    "CREATE TABLE schedules (
        name TEXT PRIMARY KEY,
        cron TEXT NOT NULL,
        workflow TEXT NOT NULL,
        request TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        next_due_ms INTEGER NOT NULL,
        last_execution TEXT
    ) STRICT, WITHOUT ROWID;",
];

/// How often a connection tries again for a lock another connection holds: about 5 s.
const BUSY_RETRIES: i32 = 5_000;

/// Opens a connection with the store's settings and brings the schema up to date.
/// Environment variable setting how many WAL pages trigger a checkpoint (SQLite's default,
/// 1000, when unset); crash tests set it to 1.
pub const WAL_AUTOCHECKPOINT_VARIABLE: &str = "HOST_WAL_AUTOCHECKPOINT";

pub(super) fn open(path: &Path, durability: Durability) -> Result<Connection, HistoryError> {
    create_private(path).map_err(|error| HistoryError::Database {
        database: path.display().to_string(),
        message: format!("cannot create the database file: {error}{WRITABLE_HINT}"),
    })?;
    let mut connection = Connection::open(path).map_err(|error| HistoryError::Database {
        database: path.display().to_string(),
        message: with_hint(&error),
    })?;
    // Set before anything else: even switching to WAL can meet another process's lock (a
    // checkpoint), and must wait for it rather than fail. About 5 s in short sleeps: another
    // process's commit holds the lock for a millisecond or two, and SQLite's own timeout
    // sleeps ever longer (up to 100 ms a time), so a `host signal` next to a busy worker
    // waited long after the lock was free.
    connection
        .busy_handler(Some(|retries: i32| {
            if retries >= BUSY_RETRIES {
                return false;
            }
            let pause = if retries < 50 { 200 } else { 1_000 };
            std::thread::sleep(std::time::Duration::from_micros(pause));
            true
        }))
        .map_err(|error| HistoryError::Database {
            database: path.display().to_string(),
            message: with_hint(&error),
        })?;
    // WAL lets readers run beside the one writer; the busy handler covers the moments another
    // process holds the write lock; foreign keys are off by default in SQLite.
    let synchronous = match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    // Fault injection for crash tests: a small value makes SQLite checkpoint the WAL after
    // (almost) every commit, so that a kill often lands in the middle of a checkpoint.
    let autocheckpoint_pages = std::env::var(WAL_AUTOCHECKPOINT_VARIABLE)
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
        .unwrap_or(1000);
    connection
        .execute_batch(&format!(
            "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = {synchronous};
         PRAGMA foreign_keys = ON;
         PRAGMA wal_autocheckpoint = {autocheckpoint_pages};"
        ))
        .map_err(|error| HistoryError::Database {
            database: path.display().to_string(),
            message: with_hint(&error),
        })?;
    migrate(&mut connection).map_err(|message| HistoryError::Database {
        database: path.display().to_string(),
        message,
    })?;
    Ok(connection)
}

/// Writes a consistent copy of the database at `source` to the new file `destination`, while
/// other processes may be appending: `VACUUM INTO` reads one snapshot (WAL readers never block
/// writers) and writes it compacted into the empty file, created readable by its owner only.
pub fn snapshot(source: &Path, destination: &Path) -> Result<(), HistoryError> {
    let failed = |message: String| HistoryError::Database {
        database: source.display().to_string(),
        message,
    };
    create_private(destination)
        .map_err(|error| failed(format!("cannot create {}: {error}", destination.display())))?;
    let connection = Connection::open_with_flags(
        source,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|error| failed(with_hint(&error)))?;
    // A reader can meet a writer's checkpoint for a moment; it waits rather than fails.
    connection
        .busy_timeout(std::time::Duration::from_secs(5))
        .map_err(|error| failed(with_hint(&error)))?;
    connection
        .execute("VACUUM INTO ?1", [destination.display().to_string()])
        .map_err(|error| {
            failed(format!(
                "cannot copy it to {}: {error}",
                destination.display()
            ))
        })?;
    Ok(())
}

/// Added to the messages of failures to open or write the database, which SQLite words without
/// saying what to check.
const WRITABLE_HINT: &str =
    " (check that the data directory exists and that this user may write to it and its files)";

/// SQLite's message, with what to check when the file cannot be opened or written.
fn with_hint(error: &rusqlite::Error) -> String {
    use rusqlite::ErrorCode::{CannotOpen, PermissionDenied, ReadOnly};
    match error.sqlite_error_code() {
        Some(CannotOpen | PermissionDenied | ReadOnly) => format!("{error}{WRITABLE_HINT}"),
        _ => error.to_string(),
    }
}

/// Creates the database file readable and writable by its owner only, since histories hold
/// inputs and answers; SQLite gives its WAL and shared-memory files the same permissions.
fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

/// Runs the migrations not yet applied, refusing a database written by a newer host and one
/// whose recorded schema version contradicts its tables.
fn migrate(connection: &mut Connection) -> Result<(), String> {
    let sqlite = |error: rusqlite::Error| with_hint(&error);
    let transaction = connection
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(sqlite)?;
    let applied: i64 = transaction
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(sqlite)?;
    if applied < 0 || applied as usize > MIGRATIONS.len() {
        return Err(format!(
            "schema version {applied} is not one this host understands (it knows 0 to {}); a newer host wrote it, or it was edited: upgrade the host or restore the database from a backup",
            MIGRATIONS.len()
        ));
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
        transaction.execute_batch(migration).map_err(|error| {
            // SQLite's own wording without the migration's SQL, which means nothing to a user.
            let reason = match &error {
                rusqlite::Error::SqlInputError { msg, .. } => msg.clone(),
                rusqlite::Error::SqliteFailure(_, Some(message)) => message.clone(),
                other => other.to_string(),
            };
            format!(
                "schema version {applied} says migration {} has not run, but it cannot run ({reason}); the version was edited or the file is damaged: restore the database from a backup",
                index + 1
            )
        })?;
        transaction
            .execute_batch(&format!("PRAGMA user_version = {}", index + 1))
            .map_err(sqlite)?;
    }
    transaction.commit().map_err(sqlite)
}

/// Every stored event of one execution, in sequence order, unverified.
pub(super) fn read_events(
    connection: &Connection,
    execution_id: &str,
) -> rusqlite::Result<Vec<StoredEvent>> {
    let mut statement = connection.prepare_cached(
        "SELECT sequence, event_type, payload, recorded_at_ms, hash
         FROM events WHERE execution_id = ?1 ORDER BY sequence",
    )?;
    // Text is read as bytes and decoded leniently: a damaged byte that breaks UTF-8 then fails
    // the hash check of its own event, which names the execution and the sequence, instead of
    // failing the whole query.
    let text = |row: &rusqlite::Row<'_>, column| -> rusqlite::Result<String> {
        Ok(String::from_utf8_lossy(row.get_ref(column)?.as_bytes()?).into_owned())
    };
    let rows = statement.query_map([execution_id], |row| {
        let hash: Vec<u8> = row.get(4)?;
        Ok(StoredEvent {
            execution_id: execution_id.to_string(),
            sequence: row.get::<_, i64>(0)? as u64,
            event_type: text(row, 1)?,
            payload: text(row, 2)?,
            recorded_at_ms: row.get(3)?,
            hash: hash.try_into().unwrap_or([0; 32]),
        })
    })?;
    rows.collect()
}
