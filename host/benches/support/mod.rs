//! Shared by the benchmarks: generated workflows, an engine over a scratch data directory, the
//! bare rusqlite commit loop every durable-step figure is compared with, and percentiles.

// Each bench binary compiles this module and uses a different part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use host::engine::Engine;
use host::history::{Durability, SqliteStore};
use host::plugin::PluginHost;
use host::settings::DataDir;

/// The trivial LLM component: answers "ok" to everything.
pub const NOOP_WASM: &str = test_artifacts::NOOP_WASM;
/// The counting component: understands `sleep-ms=N` in its prompt.
pub const COUNTER_WASM: &str = test_artifacts::COUNTER_WASM;

/// A scratch data directory with the test components dropped in as `noop` and `counter`.
pub struct Scratch {
    pub directory: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        let directory = tempfile::tempdir().expect("temporary directory");
        let plugins = directory.path().join("data").join("plugins");
        std::fs::create_dir_all(&plugins).expect("plugins directory");
        std::fs::copy(NOOP_WASM, plugins.join("noop.wasm")).expect("copy noop plugin");
        std::fs::copy(COUNTER_WASM, plugins.join("counter.wasm")).expect("copy counter plugin");
        // The counting plugin logs each call into the directory it sees as /work.
        let counter_work = directory.path().join("counter-work");
        std::fs::create_dir_all(&counter_work).expect("counter directory");
        std::fs::write(
            directory.path().join("data").join("config.toml"),
            format!(
                "[[plugins.counter.directories]]\nhost = \"{}\"\nguest = \"/work\"\nwritable = true\n",
                counter_work.display()
            ),
        )
        .expect("configuration file");
        Scratch { directory }
    }

    pub fn data_dir(&self) -> DataDir {
        DataDir::new(self.directory.path().join("data"), None)
    }

    /// An engine over this data directory, as `host --durability <durability>` opens one.
    pub fn engine(&self, durability: Durability) -> Engine {
        let data = self.data_dir();
        std::fs::create_dir_all(data.root()).expect("data directory");
        let store = SqliteStore::open(&data.history_file(), durability).expect("history store");
        Engine::open(&data, Arc::new(store), Scratch::plugin_host_at(data.root())).expect("engine")
    }

    /// A plugin host over the data directory `root`, as the `host` binary opens one.
    pub fn plugin_host_at(root: &Path) -> PluginHost {
        let data = DataDir::new(root.to_path_buf(), None);
        let settings = data.plugin_host_settings().expect("plugin settings");
        PluginHost::new(settings).expect("plugin host")
    }

    /// Writes a workflow of `steps` sequential LLM stages on `plugin`, each sending `prompt`,
    /// and returns its path.
    pub fn sequential_workflow(&self, steps: usize, plugin: &str, prompt: &str) -> PathBuf {
        let directory = self
            .directory
            .path()
            .join(format!("steps-{steps}-{plugin}"));
        std::fs::create_dir_all(&directory).expect("workflow directory");
        std::fs::write(directory.join("step.md"), prompt).expect("prompt file");
        let mut text = format!(
            "name = \"steps-{steps}\"\n\n[inputs.topic]\ntype = \"string\"\ndefault = \"-\"\n\n\
             [providers]\nllm = \"{plugin}\"\n"
        );
        for step in 1..=steps {
            text.push_str(&format!(
                "\n[[stages]]\nid = \"step_{step:05}\"\ncall = \"llm.generate\"\nprompt = \"step.md\"\n"
            ));
        }
        let path = directory.join("workflow.toml");
        std::fs::write(&path, text).expect("workflow file");
        path
    }

    /// Writes a workflow of `stages` stages, each calling `plugin` once per item of the `items`
    /// input, `concurrency` at a time, each sending `prompt`, and returns its path.
    pub fn fan_out_workflow(
        &self,
        plugin: &str,
        prompt: &str,
        concurrency: usize,
        stages: usize,
    ) -> PathBuf {
        let directory = self
            .directory
            .path()
            .join(format!("fan-out-{plugin}-{concurrency}-{stages}"));
        std::fs::create_dir_all(&directory).expect("workflow directory");
        std::fs::write(directory.join("item.md"), prompt).expect("prompt file");
        let mut text = format!(
            "name = \"fan-out\"\n\n[inputs.items]\ntype = \"list\"\n\n\
             [providers]\nllm = \"{plugin}\"\n"
        );
        for stage in 1..=stages {
            text.push_str(&format!(
                "\n[[stages]]\nid = \"each_{stage:03}\"\ncall = \"llm.generate\"\n\
                 for_each = \"inputs.items\"\nconcurrency = {concurrency}\nprompt = \"item.md\"\n"
            ));
        }
        let path = directory.join("workflow.toml");
        std::fs::write(&path, text).expect("workflow file");
        path
    }
}

/// Inserts `rows` rows, one transaction each, with the given `synchronous` setting: the
/// physical limit of a durable step on this disk. Returns the time it took.
pub fn bare_commit_loop(path: &Path, synchronous: &str, rows: u64) -> Duration {
    let connection = rusqlite::Connection::open(path).expect("open");
    connection
        .execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous};
             CREATE TABLE steps (id INTEGER PRIMARY KEY, payload TEXT NOT NULL) STRICT;"
        ))
        .expect("schema");
    let started = Instant::now();
    for sequence in 0..rows {
        connection
            .execute(
                "INSERT INTO steps (id, payload) VALUES (?1, ?2)",
                rusqlite::params![sequence as i64, format!(r#"{{"step":{sequence}}}"#)],
            )
            .expect("insert");
    }
    started.elapsed()
}

/// The value at `fraction` (0.5 for the median) of `samples`, which it sorts.
pub fn percentile(samples: &mut [Duration], fraction: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * fraction).round() as usize]
}

/// A duration as people read it: microseconds below 10 ms, milliseconds above.
pub fn format_duration(duration: Duration) -> String {
    let micros = duration.as_secs_f64() * 1e6;
    if micros >= 10_000.0 {
        format!("{:.1} ms", micros / 1000.0)
    } else {
        format!("{micros:.0} µs")
    }
}

/// A multi-threaded runtime, as the `host` binary uses.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Asserts that a drive ended with the execution completed, not failed.
pub fn assert_completed(outcome: &host::engine::DriveOutcome) {
    let status = outcome.state().status;
    assert_eq!(
        status,
        pipeline_core::ExecutionStatus::Completed,
        "the benchmark execution ended {status:?}: {:?}",
        outcome.state().last_error
    );
}
