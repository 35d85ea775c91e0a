//! Shared by the tests that drive the real `host` binary: a data directory of their own (with
//! the compiled-plugin cache shared between tests), the counting test plugin installed with a
//! directory grant, and helpers to run commands and read histories back.

#![allow(dead_code)]

pub mod browser;
pub mod fake_http;
pub mod postgres;
pub mod server;
pub mod toolchains;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use host::engine::decode_history;
use host::history::{Durability, HistoryStore, SqliteStore};
use pipeline_core::replay::replay;
use pipeline_core::{Definition, Event, ExecutionState};
use postgres_store::PostgresStore;

pub const HOST: &str = env!("CARGO_BIN_EXE_host");
pub const COUNTER_WASM: &str = test_artifacts::COUNTER_WASM;

/// A data directory and workspace for one test. When it goes out of scope, every history in it
/// must replay against its pinned definition, unless the test damaged it on purpose.
pub struct Sandbox {
    pub directory: tempfile::TempDir,
    damaged_on_purpose: bool,
    /// The PostgreSQL database the sandbox's commands use, on the PostgreSQL run of a test;
    /// else its history is `<data>/history.db`.
    pub database: Option<String>,
}

impl Sandbox {
    /// A fresh data directory whose compiled-plugin cache is shared with other tests, on the
    /// store the running test was given (SQLite unless `on_both_stores!` runs it on PostgreSQL).
    pub fn new() -> Sandbox {
        let directory = tempfile::tempdir().expect("temporary directory");
        let shared_cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("shared-plugin-cache");
        std::fs::create_dir_all(&shared_cache).expect("shared cache directory");
        std::fs::create_dir_all(directory.path().join("data")).expect("data directory");
        std::os::unix::fs::symlink(&shared_cache, directory.path().join("data/cache"))
            .expect("cache link");
        let database = match postgres::current_store() {
            postgres::Store::Sqlite => None,
            postgres::Store::Postgres => Some(postgres::fresh_database()),
        };
        Sandbox {
            directory,
            damaged_on_purpose: false,
            database,
        }
    }

    /// Another data directory on the same database: a second host of a team.
    pub fn another_host(&self) -> Sandbox {
        let mut host = Sandbox::new();
        host.database = self.database.clone();
        host
    }

    /// The sandbox's history store, whichever database holds it.
    pub fn store(&self) -> Box<dyn HistoryStore> {
        match &self.database {
            Some(url) => Box::new(PostgresStore::connect(url).expect("PostgreSQL store opens")),
            None => Box::new(
                SqliteStore::open(&self.data().join("history.db"), Durability::Normal)
                    .expect("history opens"),
            ),
        }
    }

    /// For tests that corrupt the history: skips the replay check at the end.
    pub fn damaged_on_purpose(mut self) -> Sandbox {
        self.damaged_on_purpose = true;
        self
    }

    pub fn data(&self) -> PathBuf {
        self.directory.path().join("data")
    }

    /// Installs the counting plugin as `counter`, granted `<sandbox>/work` as `/work`.
    pub fn with_counter(self) -> Sandbox {
        let work = self.work();
        self.with_counter_writing_to(&work)
    }

    /// Installs the counting plugin as `counter`, granted `work` as `/work`: hosts of one
    /// team given the same directory write one call log.
    pub fn with_counter_writing_to(self, work: &Path) -> Sandbox {
        let plugins = self.data().join("plugins");
        std::fs::create_dir_all(&plugins).unwrap();
        std::fs::copy(COUNTER_WASM, plugins.join("counter.wasm")).unwrap();
        std::fs::create_dir_all(work).unwrap();
        let config = format!(
            "[plugins.counter]\n[[plugins.counter.directories]]\nhost = \"{}\"\nguest = \"/work\"\nwritable = true\n",
            work.display()
        );
        std::fs::write(self.data().join("config.toml"), config).unwrap();
        self
    }

    /// The directory the counting plugin writes its call log to.
    pub fn work(&self) -> PathBuf {
        self.directory.path().join("work")
    }

    /// Idempotency keys the counting plugin was called with, in order.
    pub fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.work().join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// A copy of a workflow directory from `tests/workflows/<name>` in the sandbox; returns the
    /// path of its `workflow.toml`.
    pub fn workflow(&self, name: &str) -> PathBuf {
        let source = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/workflows")
            .join(name);
        let target = self.directory.path().join("workflows").join(name);
        copy_dir(&source, &target);
        target.join("workflow.toml")
    }

    /// A copy of the repository's `workflows/` (prompts, schemas, shows) at `<sandbox>/<name>`,
    /// so that they resolve exactly as they do for a user; returns its path.
    pub fn repository_workflows(&self, name: &str) -> PathBuf {
        let target = self.directory.path().join(name);
        copy_dir(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../workflows"),
            &target,
        );
        target
    }

    /// A `host` command with this sandbox's data directory and nothing inherited that matters.
    pub fn command(&self) -> Command {
        let mut command = Command::new(HOST);
        command
            .env("HOST_DATA_DIR", self.data())
            .env_remove("HOST_DATABASE_URL")
            .env_remove("HOST_CRASH_AFTER_EVENTS")
            .env_remove("HOST_PLUGINS_DIR")
            .env_remove("RUST_LOG")
            .env("COUNTING_BACKOFF", "200ms");
        if let Some(url) = &self.database {
            command.env("HOST_DATABASE_URL", url);
        }
        command
    }

    /// Runs `host <arguments>` to the end.
    pub fn host(&self, arguments: &[&str]) -> Output {
        self.command().args(arguments).output().expect("host runs")
    }

    /// Every stage's output of a completed execution, which must not depend on crashes.
    pub fn stage_outputs(&self, execution_id: &str) -> serde_json::Value {
        let history = self.history(execution_id);
        let state = ExecutionState::fold(history.iter().map(|(event, at)| (event, *at)))
            .expect("history folds");
        assert_eq!(
            state.status.as_str(),
            "completed",
            "execution {execution_id} did not complete"
        );
        serde_json::json!(
            state
                .stages
                .iter()
                .map(|(id, stage)| (id.0.clone(), stage.output.clone()))
                .collect::<std::collections::BTreeMap<_, _>>()
        )
    }

    /// Whether the history database has an execution with this id yet.
    pub fn execution_exists(&self, execution_id: &str) -> bool {
        self.store()
            .execution(execution_id)
            .expect("executions table reads")
            .is_some()
    }

    /// The decoded history of an execution, with recording times.
    pub fn history(&self, execution_id: &str) -> Vec<(Event, i64)> {
        let stored = self.store().read(execution_id).expect("history verifies");
        decode_history(execution_id, &stored).expect("history decodes")
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if self.damaged_on_purpose || std::thread::panicking() {
            return;
        }
        if self.database.is_none() && !self.data().join("history.db").exists() {
            return;
        }
        let store = self.store();
        for row in store.executions().expect("executions list") {
            let id = row.execution_id;
            let stored = store
                .read(&id)
                .unwrap_or_else(|error| panic!("history of {id} does not verify: {error}"));
            let events = decode_history(&id, &stored).expect("history decodes");
            let state = ExecutionState::fold(events.iter().map(|(event, at)| (event, *at)))
                .expect("history folds");
            let definition =
                Definition::from_bundle(&state.bundle).expect("pinned definition builds");
            if let Err(error) = replay(&definition, &events) {
                panic!("history of {id} does not replay: {error}");
            }
        }
    }
}

/// Asserts that a command succeeded, showing its output otherwise.
pub fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr)
    );
}

/// Asserts a command's exit code, showing its output otherwise.
pub fn assert_exit(output: &Output, expected: i32, what: &str) {
    assert_eq!(
        output.status.code(),
        Some(expected),
        "{what}: wrong exit code\nstdout:\n{}\nstderr:\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
}

/// Waits up to `limit` for a child to exit; kills it and fails the test otherwise.
pub fn exit_within(
    child: &mut std::process::Child,
    limit: std::time::Duration,
    what: &str,
) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: the process did not exit within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A sandbox path as the text a command line takes.
pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("sandbox paths are UTF-8")
}

/// `host run <workflow> --id <id> --input topic=... [--input extra...]`, which stops at the
/// approval gate for the podcast.
pub fn run_podcast(sandbox: &Sandbox, workflows: &Path, id: &str, extra_inputs: &[&str]) -> Output {
    let workflow = workflows.join("podcast.toml");
    let mut arguments = vec![
        "run",
        path_str(&workflow),
        "--id",
        id,
        "--input",
        "topic=the history of tea",
    ];
    for input in extra_inputs {
        arguments.extend(["--input", input]);
    }
    sandbox.host(&arguments)
}

/// `host status <id> --json`, parsed.
pub fn status_json(sandbox: &Sandbox, id: &str) -> Value {
    let output = sandbox.host(&["status", id, "--json"]);
    assert_success(&output);
    serde_json::from_slice(&output.stdout).expect("status --json prints JSON")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Idempotency keys of attempts whose completion is in the history.
pub fn completed_keys(history: &[(Event, i64)]) -> Vec<String> {
    let mut started = std::collections::HashMap::new();
    let mut keys = Vec::new();
    for (event, _) in history {
        match event {
            Event::ActivityStarted {
                activity,
                attempt,
                idempotency_key,
            } => {
                started.insert((activity.clone(), *attempt), idempotency_key.clone());
            }
            Event::ActivityCompleted {
                activity, attempt, ..
            }
            | Event::ActivityFailed {
                activity, attempt, ..
            } => {
                if let Some(key) = started.get(&(activity.clone(), *attempt)) {
                    keys.push(key.clone());
                }
            }
            _ => {}
        }
    }
    keys
}

fn copy_dir(source: &Path, target: &Path) {
    std::fs::create_dir_all(target).unwrap();
    for entry in std::fs::read_dir(source).unwrap() {
        let entry = entry.unwrap();
        let destination = target.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &destination);
        } else {
            std::fs::copy(entry.path(), destination).unwrap();
        }
    }
}
