//! Command-line definitions, exit codes and dispatch. Each command lives in its own module.

mod plugins;

use std::fmt;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use host::settings::DataDir;

/// Exit codes scripts can rely on (0 is success).
pub mod exit_code {
    /// Bad input: arguments, workflow file, configuration, or a plugin that cannot be used.
    pub const INVALID_INPUT: u8 = 2;
    /// Something went wrong inside the host (I/O, the engine); worth reporting as a bug.
    pub const INTERNAL: u8 = 4;
}

/// Durable workflows whose stages run as sandboxed WebAssembly plugins.
#[derive(Debug, Parser)]
#[command(name = "host", version, propagate_version = true)]
#[command(
    after_help = "Examples:\n  host plugins list\n  host --data-dir /srv/podcasts plugins inspect mock-llm --json"
)]
pub struct Arguments {
    /// Directory for everything the host stores (history, blobs, caches, config.toml).
    #[arg(long, global = true, env = "HOST_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Directory where plugins are dropped in as <name>.wasm [default: <data-dir>/plugins]
    #[arg(long, global = true, env = "HOST_PLUGINS_DIR")]
    pub plugins_dir: Option<PathBuf>,
    /// More log output on stderr: -v for progress details, -vv for debugging.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List and inspect plugins.
    #[command(subcommand)]
    Plugins(plugins::PluginsCommand),
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

pub fn run(arguments: Arguments) -> Result<(), Failure> {
    let data_dir = DataDir::new(arguments.data_dir, arguments.plugins_dir);
    match arguments.command {
        Command::Plugins(command) => plugins::run(&data_dir, command),
    }
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
        .init();
}
