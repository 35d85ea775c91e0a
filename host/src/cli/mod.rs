//! Command-line definitions, exit codes and dispatch. Each command lives in its own module.

mod crash_test;
mod execution;
mod fork;
mod inspect;
mod maintenance;
mod plugins;
mod progress;
mod report;
mod resume;
mod schedule;
mod serve;
mod upgrade;
mod worker;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use host::engine::{Engine, EngineError, SharedByHosts};
use host::history::{Durability, SqliteStore};
use host::plugin::PluginHost;
use host::settings::DataDir;
use pipeline_core::store::{HistoryStore, ScheduleStore};
use postgres_store::PostgresStore;

/// Exit codes scripts can rely on (0 is success).
pub mod exit_code {
    /// The execution ended as failed or cancelled (or a replay found non-determinism).
    pub const EXECUTION_FAILED: u8 = 1;
    /// Bad input: arguments, workflow file, configuration, or a plugin that cannot be used.
    pub const INVALID_INPUT: u8 = 2;
    /// A signal was refused (unknown execution state, malformed outline); nothing was recorded.
    pub const SIGNAL_REFUSED: u8 = 3;
    /// Something went wrong inside the host (I/O, a corrupt history); worth reporting.
    pub const INTERNAL: u8 = 4;
    /// Another live process drives the execution.
    pub const BUSY: u8 = 5;
    /// Stopped by Ctrl-C or SIGTERM; the execution is resumable.
    pub const INTERRUPTED: u8 = 130;
}

/// The heading the options of every command are listed under, apart from a command's own, so
/// a subcommand's `--help` shows its own options first and the shared ones out of the way.
const GLOBAL_OPTIONS: &str = "Global options (every command)";

/// Durable workflows whose stages run as sandboxed WebAssembly plugins.
#[derive(Debug, Parser)]
#[command(name = "host", version, propagate_version = true)]
#[command(
    after_help = "Examples:\n  host run workflows/podcast.toml --input topic=\"the history of tea\"\n  host signal approve podcast-20261121-k3x9qa\n  host status podcast-20261121-k3x9qa\n  host plugins list\n\nExit codes: 0 ok (completed, waiting for approval, or paused), 1 execution failed or cancelled,\n2 invalid input or workflow, 3 signal refused, 4 internal error, 5 execution busy\nin another process, 130 interrupted (resumable)."
)]
pub struct Arguments {
    /// Directory for everything the host stores (history, blobs, caches, config.toml).
    #[arg(long, global = true, env = "HOST_DATA_DIR", default_value = "data", help_heading = GLOBAL_OPTIONS)]
    pub data_dir: PathBuf,
    /// Directory where plugins are dropped in as <name>.wasm [default: <data-dir>/plugins]
    #[arg(long, global = true, env = "HOST_PLUGINS_DIR", help_heading = GLOBAL_OPTIONS)]
    pub plugins_dir: Option<PathBuf>,
    /// More log output on stderr: -v for progress details, -vv for debugging.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = GLOBAL_OPTIONS)]
    pub verbose: u8,
    /// How commits reach the disk: `full` survives power loss, `normal` survives process
    /// crashes and is much faster.
    #[arg(long, global = true, env = "HOST_DURABILITY", default_value = "full", value_parser = ["full", "normal"], help_heading = GLOBAL_OPTIONS)]
    pub durability: String,
    /// A PostgreSQL database shared by several hosts (postgres://user:password@host/db),
    /// holding histories, leases and blobs [default: <data-dir>/history.db, SQLite]
    #[arg(long, global = true, env = "HOST_DATABASE_URL", help_heading = GLOBAL_OPTIONS)]
    pub database: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start an execution of a workflow and drive it until it completes or waits for approval.
    Run(execution::RunArguments),
    /// Start a new execution that takes another one's results up to a stage and runs the rest.
    Fork(fork::ForkArguments),
    /// Approve or reject an execution waiting at an approval gate.
    #[command(subcommand)]
    Signal(execution::SignalCommand),
    /// Continue an execution (after a crash, Ctrl-C, a reset or a pause).
    Resume(resume::ResumeArguments),
    /// Drive every execution that can make progress; with --follow, keep doing so.
    Worker(worker::WorkerArguments),
    /// Run the worker with an HTTP API, live events, webhooks and a web dashboard.
    Serve(serve::ServeArguments),
    /// Cancel an execution: interrupts what is in flight and records it as cancelled.
    #[command(after_help = "Examples:\n  host cancel podcast-20261121-k3x9qa")]
    Cancel {
        /// The execution id.
        id: String,
    },
    /// Run an execution again from a stage; earlier stages keep their results.
    #[command(
        after_help = "Examples:\n  host reset podcast-20261121-k3x9qa --to script_generation"
    )]
    Reset {
        /// The execution id.
        id: String,
        /// The stage to run again from.
        #[arg(long = "to")]
        stage: String,
    },
    /// Show an execution: status, stage, progress, cost, approval, artifacts, last error.
    Status(inspect::StatusArguments),
    /// List executions.
    List(inspect::ListArguments),
    /// Show an execution's history as a table of events.
    History(inspect::HistoryArguments),
    /// Follow an execution's events as they are recorded, until it ends or waits for approval.
    Watch(inspect::WatchArguments),
    /// Check that an execution's history replays against its definition (or another one).
    Replay(inspect::ReplayArguments),
    /// Move executions that have not finished to an edited workflow file, when their history
    /// replays the same under it.
    Upgrade(upgrade::UpgradeArguments),
    /// Check a workflow file and report every problem with its file, line and column.
    Validate(inspect::ValidateArguments),
    /// Check that a workflow survives a crash after any event: crash, resume, compare.
    CrashTest(crash_test::CrashTestArguments),
    /// List shows with their episodes and the concepts those covered.
    Shows(inspect::ShowsArguments),
    /// List and inspect plugins.
    #[command(subcommand)]
    Plugins(plugins::PluginsCommand),
    /// What was spent: totals per workflow, show, stage and provider.
    Costs(inspect::CostsArguments),
    /// Copy the data directory consistently, even while workers run.
    Backup(maintenance::BackupArguments),
    /// Verify every history and every blob it references; list blobs nothing references.
    Check(maintenance::CheckArguments),
    /// Remove blobs that no history references.
    Gc(maintenance::GcArguments),
    /// Bring the database's schema up to date (every command also does this on start).
    Migrate(maintenance::MigrateArguments),
    /// Start a workflow at the times of a cron expression: add, list, remove.
    #[command(subcommand)]
    Schedule(schedule::ScheduleCommand),
}

/// A failed command: the message shown to the user and the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    message: String,
    code: u8,
}

impl Failure {
    pub fn invalid_input(message: impl fmt::Display) -> Failure {
        Failure {
            message: message.to_string(),
            code: exit_code::INVALID_INPUT,
        }
    }

    pub fn internal(message: impl fmt::Display) -> Failure {
        Failure {
            message: message.to_string(),
            code: exit_code::INTERNAL,
        }
    }

    pub fn with_code(code: u8, message: impl fmt::Display) -> Failure {
        Failure {
            message: message.to_string(),
            code,
        }
    }

    pub fn exit_code(&self) -> u8 {
        self.code
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Failure {
        Failure::internal(format!("{error:#}"))
    }
}

impl From<EngineError> for Failure {
    fn from(error: EngineError) -> Failure {
        let code = match &error {
            EngineError::SignalRefused(_) => exit_code::SIGNAL_REFUSED,
            EngineError::Owned { .. } => exit_code::BUSY,
            EngineError::Interrupted { .. } => exit_code::INTERRUPTED,
            EngineError::Replay { .. } => exit_code::EXECUTION_FAILED,
            other if other.is_user_error() => exit_code::INVALID_INPUT,
            _ => exit_code::INTERNAL,
        };
        Failure::with_code(code, error)
    }
}

pub fn run(arguments: Arguments) -> Result<(), Failure> {
    let data_dir = DataDir::new(arguments.data_dir, arguments.plugins_dir);
    let durability = match arguments.durability.as_str() {
        "normal" => Durability::Normal,
        _ => Durability::Full,
    };
    let context = Context {
        data_dir,
        durability,
        database: arguments.database,
        verbose: arguments.verbose,
    };
    match arguments.command {
        Command::Plugins(command) => plugins::run(&context.data_dir, command),
        Command::Run(run) => execution::run(&context, run),
        Command::Fork(fork) => fork::run(&context, fork),
        Command::Signal(signal) => execution::signal(&context, signal),
        Command::Resume(arguments) => resume::run(&context, arguments),
        Command::Worker(arguments) => worker::run(&context, arguments),
        Command::Serve(arguments) => serve::run(&context, arguments),
        Command::Cancel { id } => execution::cancel(&context, &id),
        Command::Reset { id, stage } => execution::reset(&context, &id, &stage),
        Command::Status(status) => inspect::status(&context, status),
        Command::List(list) => inspect::list(&context, list),
        Command::History(history) => inspect::history(&context, history),
        Command::Replay(replay) => inspect::replay(&context, replay),
        Command::Watch(watch) => inspect::watch(&context, watch),
        Command::Validate(validate) => inspect::validate(&context, validate),
        Command::Upgrade(upgrade) => upgrade::run(&context, upgrade),
        Command::Shows(shows) => inspect::shows(&context, shows),
        Command::CrashTest(test) => crash_test::run(&context, test),
        Command::Costs(costs) => inspect::costs(&context, costs),
        Command::Backup(backup) => maintenance::backup(&context, backup),
        Command::Check(check) => maintenance::check(&context, check),
        Command::Gc(gc) => maintenance::gc(&context, gc),
        Command::Migrate(migrate) => maintenance::migrate(&context, migrate),
        Command::Schedule(command) => schedule::run(&context, command),
    }
}

/// What every command needs to reach the data directory.
pub struct Context {
    pub data_dir: DataDir,
    pub durability: Durability,
    /// The shared PostgreSQL database, when one was given; else the SQLite file.
    pub database: Option<String>,
    /// How many `-v` were given: a worker shows its executions' stages from one on.
    pub verbose: u8,
}

impl Context {
    /// Opens the history, blobs and plugins of the data directory.
    pub fn engine(&self) -> Result<Engine, Failure> {
        let database = self.database()?;
        self.engine_over(database.history, database.shared)
    }

    /// Opens the history database.
    pub fn store(&self) -> Result<Arc<dyn HistoryStore>, Failure> {
        Ok(self.database()?.history)
    }

    /// Opens the database: the shared PostgreSQL one when `--database` names it, else the data
    /// directory's SQLite file. Either way the schema is brought up to date first.
    pub fn database(&self) -> Result<Database, Failure> {
        std::fs::create_dir_all(self.data_dir.root()).map_err(|error| {
            Failure::invalid_input(format!(
                "cannot create data directory {}: {error}",
                self.data_dir.root().display()
            ))
        })?;
        let storage = |error| Failure::from(EngineError::from(error));
        match &self.database {
            Some(url) if postgres_store::is_postgres_url(url) => {
                let store = Arc::new(PostgresStore::connect(url).map_err(storage)?);
                Ok(Database {
                    description: store.database().to_string(),
                    schema: Some(store.schema_versions()),
                    history: store.clone(),
                    shared: Some(SharedByHosts {
                        blobs: store.clone(),
                        pacing: store.clone(),
                    }),
                    schedules: store,
                })
            }
            Some(other) => Err(Failure::invalid_input(format!(
                "--database `{other}` is not a PostgreSQL URL (postgres://user:password@host:port/database); leave it out to use {}",
                self.data_dir.history_file().display()
            ))),
            None => {
                let store = Arc::new(
                    SqliteStore::open(&self.data_dir.history_file(), self.durability)
                        .map_err(storage)?,
                );
                Ok(Database {
                    description: self.data_dir.history_file().display().to_string(),
                    schema: None,
                    history: store.clone(),
                    shared: None,
                    schedules: store,
                })
            }
        }
    }

    /// The engine over `store`, with the data directory's plugins and blobs (and what the hosts
    /// of a shared database share).
    pub fn engine_over(
        &self,
        store: Arc<dyn HistoryStore>,
        shared: Option<SharedByHosts>,
    ) -> Result<Engine, Failure> {
        let settings = self
            .data_dir
            .plugin_host_settings()
            .map_err(Failure::invalid_input)?;
        let mut plugins = PluginHost::new(settings).map_err(Failure::internal)?;
        announce_large_compiles(&mut plugins);
        let engine = Engine::open(&self.data_dir, store, plugins)?;
        Ok(match shared {
            Some(shared) => engine.shared_by_hosts(shared),
            None => engine,
        })
    }
}

/// An opened database: the histories, and what hosts share when they share it.
pub struct Database {
    /// The database as messages name it (a file, or a URL without its password).
    pub description: String,
    /// The PostgreSQL schema versions before and after opening it.
    pub schema: Option<postgres_store::SchemaVersions>,
    pub history: Arc<dyn HistoryStore>,
    /// The blobs and request pacing of a database several hosts share.
    pub shared: Option<SharedByHosts>,
    /// Where `host schedule` keeps schedules, in the same database.
    pub schedules: Arc<dyn ScheduleStore>,
}

/// Components at least this large (an interpreter inside: Python, JavaScript) take seconds
/// to compile, so their first load says so.
const ANNOUNCED_COMPILE_BYTES: usize = 8 << 20;

/// Prints a line on stderr before a large component is compiled, so the wait of its first
/// load is explained; later loads come from the compiled-code cache and print nothing.
pub fn announce_large_compiles(plugins: &mut PluginHost) {
    plugins.on_compile(|name, size| {
        if size >= ANNOUNCED_COMPILE_BYTES {
            eprintln!(
                "Compiling plugin {name} ({:.1} MB) to machine code, once: later loads use the cache",
                size as f64 / 1e6
            );
        }
    });
}

/// A multi-threaded runtime for the commands that drive executions.
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| Failure::internal(format!("cannot start the async runtime: {error}")))
}

/// Logs go to stderr so that stdout stays clean for `--json`. `RUST_LOG` overrides `-v`.
pub fn init_tracing(verbosity: u8) {
    let default_level = match verbosity {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in a file or a pipe.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
