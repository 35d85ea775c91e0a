//! The per-call sandbox: a fresh store whose WASI context holds only what the plugin's grants
//! allow, a network gate that lets HTTP requests through to granted origins only, a memory
//! limiter that remembers when it refused to grow, a capture of the plugin's stderr so a panic
//! message can be shown in the error, and the granted secrets to redact from what the host
//! keeps; and the ticker that advances the engine's epoch, which is what deadlines are measured
//! against.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{Engine, ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::audio_io::MixerIo;
use super::error::LoadError;
use super::grants::PluginGrants;
use super::network::NetworkGate;
use super::redact::Redactor;

/// How often the engine's epoch advances: the granularity of deadlines and of the moments a
/// busy plugin yields to other work.
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// How much of a plugin's stderr is kept per call; enough for a panic message and backtrace.
const STDERR_CAPTURE_BYTES: usize = 64 * 1024;

/// Everything a store holds for one call.
pub(crate) struct StoreState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    pub(crate) network: NetworkGate,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) stderr: MemoryOutputPipe,
    pub(crate) mixer_io: Option<MixerIo>,
    pub(crate) redactor: Redactor,
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for StoreState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.network,
        }
    }
}

/// Caps linear memory growth and records the refused request, so that the trap which follows
/// (usually an allocation failure inside the plugin) is reported as a memory-limit error.
pub(crate) struct MemoryLimiter {
    limit_bytes: usize,
    pub(crate) refused_request_bytes: Option<usize>,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit_bytes {
            self.refused_request_bytes = Some(desired);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold function references; a plugin needing a million of them is broken.
        Ok(desired <= 1_000_000)
    }
}

/// Raised from the epoch callback when a call's deadline has passed.
#[derive(Debug, thiserror::Error)]
#[error("call deadline reached")]
pub(crate) struct DeadlineReached;

/// Builds the store for one call of `plugin` under `grants`.
pub(crate) fn new_store(
    engine: &wasmtime::Engine,
    plugin: &str,
    grants: &PluginGrants,
    mixer_io: Option<MixerIo>,
) -> Result<Store<StoreState>, LoadError> {
    let stderr = MemoryOutputPipe::new(STDERR_CAPTURE_BYTES);
    let mut builder = WasiCtxBuilder::new();
    builder
        .stderr(stderr.clone())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    let mut redactor = Redactor::default();
    for variable in &grants.env {
        let value = std::env::var(variable).map_err(|_| LoadError::MissingGrantedVariable {
            plugin: plugin.to_string(),
            variable: variable.clone(),
        })?;
        redactor.add(variable, &value);
        builder.env(variable, value);
    }
    for variable in &grants.env_if_set {
        if let Ok(value) = std::env::var(variable) {
            redactor.add(variable, &value);
            builder.env(variable, value);
        }
    }
    for variable in &grants.settings {
        if let Ok(value) = std::env::var(variable) {
            builder.env(variable, value);
        }
    }
    for directory in &grants.directories {
        let perms = if directory.writable {
            FsPerms::ReadWrite
        } else {
            FsPerms::ReadOnly
        };
        builder
            .preopened_dir(&directory.host, &directory.guest, perms)
            .map_err(|error| LoadError::UnusableGrantedDirectory {
                plugin: plugin.to_string(),
                path: directory.host.clone(),
                reason: format!("{error:#}"),
            })?;
    }
    let deadline = Instant::now() + grants.call_timeout();
    let state = StoreState {
        wasi: builder.build(),
        http: WasiHttpCtx::new(),
        network: NetworkGate::new(plugin, &grants.allowed_hosts, deadline),
        table: ResourceTable::new(),
        limiter: MemoryLimiter {
            limit_bytes: grants.memory_limit_bytes(),
            refused_request_bytes: None,
        },
        stderr,
        mixer_io,
        redactor,
    };
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.limiter);

    // The engine's epoch advances every tick; at each tick the plugin yields to the scheduler
    // (so a busy plugin cannot starve other calls) and is stopped once its deadline has passed.
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline {
            Err(wasmtime::Error::new(DeadlineReached))
        } else {
            Ok(UpdateDeadline::Yield(1))
        }
    });
    Ok(store)
}

/// Advances the engine's epoch every [`EPOCH_TICK`] on a background thread, which stops when the
/// host is dropped.
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub(crate) fn start(engine: Engine) -> Result<EpochTicker, LoadError> {
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || {
                while !stop_flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .map_err(|error| {
                LoadError::Engine(format!("cannot start the epoch ticker: {error}"))
            })?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
