//! [`PluginHost`]: the wasmtime engine, the linker with the sandboxed WASI surface, wasi-http
//! (gated per call by the plugin's allowed hosts) and the mixer's audio interfaces, the loaded
//! plugins, and one method per service call.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use wasmtime::component::{Component, HasSelf, InstancePre, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};

use pipeline_core::workflow::GrantSpec;

use super::audio_io::{AudioInput, MixerIo};
use super::bindings::types::ProviderError;
use super::bindings::{
    ImageProviderPre, LlmProviderPre, MixerProviderPre, TtsProviderPre, audio_sink, audio_source,
    image, llm, mixer, tts,
};
use super::catalog::{Catalog, PluginOrigin, PluginSource};
use super::compile_cache::{CacheOutcome, CompileCache};
use super::error::{CallError, LoadError};
use super::grants::{DEFAULT_MEMORY_LIMIT_MIB, HostConfig, Origin, PluginGrants};
use super::outcome::{malformed, require, settle};
use super::sandbox::{EpochTicker, StoreState, new_store};
use super::service::Service;
use super::validate;

/// Extra time the async timeout allows beyond a call's deadline; the epoch deadline inside the
/// plugin normally fires first, and this only catches time spent waiting in host calls.
const DEADLINE_GRACE: Duration = Duration::from_secs(1);

/// How instances get their memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceAllocation {
    /// Allocate memory for each instance when it is created.
    OnDemand,
    /// Keep pre-reserved slots for up to `max_instances` concurrent instances, each capped at
    /// `max_memory_mib`. Instantiation is about twice as fast (see `BENCHMARKS.md`) at the
    /// price of reserved, mostly untouched address space; calls beyond `max_instances` wait
    /// for a free slot.
    Pooling {
        max_instances: u32,
        max_memory_mib: u64,
    },
}

impl InstanceAllocation {
    /// Concurrent instances the default pool holds: far more than two cores keep busy, few
    /// enough that the reserved address space stays modest.
    pub const DEFAULT_POOL_SIZE: u32 = 128;

    /// Pooling sized so that every plugin's configured memory cap fits in a slot.
    pub fn pooling_for(config: &HostConfig) -> InstanceAllocation {
        let largest_grant = config
            .plugins
            .values()
            .map(|grants| grants.memory_limit_mib)
            .fold(DEFAULT_MEMORY_LIMIT_MIB, u64::max);
        InstanceAllocation::Pooling {
            max_instances: Self::DEFAULT_POOL_SIZE,
            max_memory_mib: largest_grant,
        }
    }
}

/// What the plugin host needs to start.
#[derive(Debug, Clone)]
pub struct PluginHostSettings {
    /// Where plugins are dropped in as `<name>.wasm`.
    pub plugins_dir: PathBuf,
    /// Where compiled components are cached; `None` compiles every time.
    pub compile_cache_dir: Option<PathBuf>,
    /// Grants per plugin.
    pub config: HostConfig,
    pub allocation: InstanceAllocation,
}

/// A plugin compiled, checked and ready to call.
#[derive(Clone)]
pub struct LoadedPlugin {
    pub name: String,
    pub origin: PluginOrigin,
    /// `sha256:<hex>` of the component bytes.
    pub digest: String,
    pub size_bytes: usize,
    /// The services it implements, from its exports.
    pub services: Vec<Service>,
    pub exports: Vec<String>,
    pub imports: Vec<String>,
    pub grants: PluginGrants,
    /// Whether loading it hit the compiled-code cache.
    pub cache: CacheOutcome,
    prepared: Prepared,
}

/// One entry of [`PluginHost::list`]: a plugin found by name, loaded or with the reason it
/// cannot be, so one broken file does not hide the others.
pub struct ListedPlugin {
    pub source: PluginSource,
    pub loaded: Result<Arc<LoadedPlugin>, LoadError>,
}

/// Pre-instantiated bindings per service, so each call only instantiates.
#[derive(Default, Clone)]
struct Prepared {
    llm: Option<LlmProviderPre<StoreState>>,
    tts: Option<TtsProviderPre<StoreState>>,
    mixer: Option<MixerProviderPre<StoreState>>,
    image: Option<ImageProviderPre<StoreState>>,
}

/// Loads plugins and runs their calls.
pub struct PluginHost {
    engine: Engine,
    linker: Linker<StoreState>,
    catalog: Catalog,
    compile_cache: Option<CompileCache>,
    config: HostConfig,
    /// Loaded plugins by name and digest. A std mutex: it guards a map lookup and is never held
    /// across an await or a compilation.
    loaded: Mutex<HashMap<(String, String), Arc<LoadedPlugin>>>,
    /// Free instance slots when pooling; a call holds one from instantiation to the end, so
    /// excess calls wait instead of failing on an exhausted pool.
    instance_slots: Option<Semaphore>,
    /// Told the name and size of a component about to be compiled (a cache miss), so a command
    /// can say why the first load of a large component takes seconds.
    compile_notice: Option<CompileNotice>,
    _ticker: EpochTicker,
}

/// See [`PluginHost::on_compile`].
type CompileNotice = Box<dyn Fn(&str, usize) + Send + Sync>;

impl PluginHost {
    pub fn new(settings: PluginHostSettings) -> Result<PluginHost, LoadError> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.wasm_component_model(true);
        if let InstanceAllocation::Pooling {
            max_instances,
            max_memory_mib,
        } = settings.allocation
        {
            let mut pool = PoolingAllocationConfig::default();
            pool.total_component_instances(max_instances)
                .total_core_instances(max_instances.saturating_mul(4))
                .total_memories(max_instances.saturating_mul(2))
                .total_tables(max_instances.saturating_mul(4))
                .total_stacks(max_instances)
                .max_memory_size(usize::try_from(max_memory_mib << 20).unwrap_or(usize::MAX));
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        let instance_slots = match settings.allocation {
            InstanceAllocation::Pooling { max_instances, .. } => {
                Some(Semaphore::new(max_instances as usize))
            }
            InstanceAllocation::OnDemand => None,
        };
        let engine =
            Engine::new(&config).map_err(|error| LoadError::Engine(format!("{error:#}")))?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            // One linker for every plugin: whether a plugin may use the network depends on
            // grants that a workflow can add after loading, so the gate is per call (see
            // `NetworkGate`), not in the pre-instantiated form.
            .and_then(|()| wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker))
            .and_then(|()| {
                audio_source::add_to_linker::<_, HasSelf<StoreState>>(&mut linker, |state| state)
            })
            .and_then(|()| {
                audio_sink::add_to_linker::<_, HasSelf<StoreState>>(&mut linker, |state| state)
            })
            .map_err(|error| LoadError::Engine(format!("{error:#}")))?;

        let compile_cache = settings
            .compile_cache_dir
            .map(|directory| CompileCache::new(directory, &engine));
        let catalog = Catalog::new(settings.plugins_dir);
        // A misspelled section grants nothing to the plugin it was meant for, silently.
        for name in settings.config.plugins.keys() {
            if !catalog.knows(name) {
                tracing::warn!(
                    "config.toml has [plugins.{name}], but no plugin is named `{name}` (no {name}.wasm in the plugins directory and no built-in); check the spelling"
                );
            }
        }
        Ok(PluginHost {
            _ticker: EpochTicker::start(engine.clone())?,
            engine,
            linker,
            catalog,
            compile_cache,
            config: settings.config,
            loaded: Mutex::new(HashMap::new()),
            instance_slots,
            compile_notice: None,
        })
    }

    /// Calls `notice` with a plugin's name and size in bytes before its component is compiled
    /// to machine code, which happens once per component and engine configuration (then the
    /// compiled-code cache serves it) and takes seconds for an interpreter-sized component.
    pub fn on_compile(&mut self, notice: impl Fn(&str, usize) + Send + Sync + 'static) {
        self.compile_notice = Some(Box::new(notice));
    }

    /// Loads a plugin by name or path, whatever service it implements.
    pub fn load(&self, reference: &str) -> Result<Arc<LoadedPlugin>, LoadError> {
        let source = self.catalog.resolve(reference)?;
        self.load_source(source)
    }

    /// The same plugin with a workflow's grants on top of the host's: its secrets are passed as
    /// well, its allowed hosts are added to the host's, and its memory cap can only be lowered
    /// (the host's configuration is the ceiling, since the instance pool is sized from it).
    pub fn with_workflow_grants(
        plugin: &Arc<LoadedPlugin>,
        grants: &GrantSpec,
    ) -> Result<Arc<LoadedPlugin>, LoadError> {
        if grants.secrets.is_empty()
            && grants.allowed_hosts.is_empty()
            && grants.memory_limit_mib.is_none()
        {
            return Ok(plugin.clone());
        }
        let mut granted = LoadedPlugin::clone(plugin);
        for secret in &grants.secrets {
            if !granted.grants.env.contains(secret) {
                granted.grants.env.push(secret.clone());
            }
        }
        for entry in &grants.allowed_hosts {
            let origin = Origin::parse(entry).map_err(|problem| LoadError::InvalidAllowedHost {
                plugin: plugin.name.clone(),
                problem,
            })?;
            if !granted.grants.allowed_hosts.contains(&origin) {
                granted.grants.allowed_hosts.push(origin);
            }
        }
        if let Some(limit) = grants.memory_limit_mib {
            granted.grants.memory_limit_mib = granted.grants.memory_limit_mib.min(limit);
        }
        Ok(Arc::new(granted))
    }

    /// Loads a plugin that must implement `service`.
    pub fn load_for(
        &self,
        reference: &str,
        service: Service,
    ) -> Result<Arc<LoadedPlugin>, LoadError> {
        let plugin = self.load(reference)?;
        if !plugin.services.contains(&service) {
            return Err(LoadError::WrongWorld {
                plugin: plugin.name.clone(),
                expected: service.world(),
                missing: service.export_name(),
                found: plugin.exports.clone(),
            });
        }
        Ok(plugin)
    }

    /// The host configuration this plugin host was built from.
    pub fn config(&self) -> &HostConfig {
        &self.config
    }

    /// Whether a plugin of that name exists (a dropped-in file or a built-in).
    pub fn knows(&self, name: &str) -> bool {
        self.catalog.knows(name)
    }

    /// Every plugin available by name, each loaded or with the reason it cannot be.
    pub fn list(&self) -> Result<Vec<ListedPlugin>, LoadError> {
        Ok(self
            .catalog
            .list()?
            .into_iter()
            .map(|source| ListedPlugin {
                loaded: self.load_source(source.clone()),
                source,
            })
            .collect())
    }

    fn load_source(&self, source: PluginSource) -> Result<Arc<LoadedPlugin>, LoadError> {
        let key = (source.name.clone(), source.digest.clone());
        if let Some(plugin) = self.lock_loaded().get(&key) {
            return Ok(plugin.clone());
        }
        let plugin = Arc::new(self.prepare(source)?);
        self.lock_loaded().insert(key, plugin.clone());
        Ok(plugin)
    }

    fn lock_loaded(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<(String, String), Arc<LoadedPlugin>>> {
        // A panic while holding this lock cannot leave the map half-updated, so poisoning is
        // safe to ignore.
        self.loaded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn prepare(&self, source: PluginSource) -> Result<LoadedPlugin, LoadError> {
        let announce = || {
            if let Some(notice) = &self.compile_notice {
                notice(&source.name, source.bytes.len());
            }
        };
        let (component, cache) = match &self.compile_cache {
            Some(cache) => cache.load_or_compile(
                &self.engine,
                &source.name,
                &source.digest,
                &source.bytes,
                announce,
            )?,
            None => {
                announce();
                let component = Component::new(&self.engine, &source.bytes).map_err(|error| {
                    LoadError::NotAComponent {
                        plugin: source.name.clone(),
                        reason: format!("{error:#}"),
                    }
                })?;
                (component, CacheOutcome::Compiled)
            }
        };
        let component_type = component.component_type();
        let exports: Vec<String> = component_type
            .exports(&self.engine)
            .map(|(name, _)| name.to_string())
            .collect();
        let imports: Vec<String> = component_type
            .imports(&self.engine)
            .map(|(name, _)| name.to_string())
            .collect();
        let services: Vec<Service> = Service::ALL
            .into_iter()
            .filter(|service| exports.iter().any(|export| export == service.export_name()))
            .collect();
        if services.is_empty() {
            return Err(LoadError::NoServiceExported {
                plugin: source.name,
                found: exports,
            });
        }
        let unlinkable = |error: wasmtime::Error| LoadError::Unlinkable {
            plugin: source.name.clone(),
            reason: format!("{error:#}"),
        };
        let instance_pre: InstancePre<StoreState> = self
            .linker
            .instantiate_pre(&component)
            .map_err(unlinkable)?;
        let mut prepared = Prepared::default();
        for service in &services {
            match service {
                Service::Llm => {
                    prepared.llm =
                        Some(LlmProviderPre::new(instance_pre.clone()).map_err(unlinkable)?)
                }
                Service::Tts => {
                    prepared.tts =
                        Some(TtsProviderPre::new(instance_pre.clone()).map_err(unlinkable)?)
                }
                Service::Mixer => {
                    prepared.mixer =
                        Some(MixerProviderPre::new(instance_pre.clone()).map_err(unlinkable)?)
                }
                Service::Image => {
                    prepared.image =
                        Some(ImageProviderPre::new(instance_pre.clone()).map_err(unlinkable)?)
                }
            }
        }
        let grants = self.config.grants_for(&source.name);
        Ok(LoadedPlugin {
            size_bytes: source.bytes.len(),
            name: source.name,
            origin: source.origin,
            digest: source.digest,
            services,
            exports,
            imports,
            grants,
            cache,
            prepared,
        })
    }

    /// Asks an LLM plugin for the next message of a conversation.
    pub async fn generate_text(
        &self,
        plugin: &LoadedPlugin,
        request: &llm::GenerateRequest,
    ) -> Result<llm::GenerateResponse, CallError> {
        let pre = require(plugin, Service::Llm, plugin.prepared.llm.as_ref())?;
        let (mut response, store) = self
            .run_call(plugin, None, async |store| {
                let instance = pre.instantiate_async(&mut *store).await?;
                let llm = instance.pipeline_services_llm();
                llm.call_generate(store, request).await
            })
            .await?;
        // The answer is recorded in the history as the stage's output. A JSON answer is
        // checked first and redacted inside its strings, so redaction cannot break it.
        let redactor = &store.data().redactor;
        if request.json_schema.is_some() {
            validate::check_json(&response.text).map_err(|problem| CallError::MalformedAnswer {
                plugin: plugin.name.clone(),
                problem,
            })?;
            response.text = redactor.redact_json(&response.text);
        } else {
            response.text = redactor.redact(&response.text);
        }
        Ok(response)
    }

    /// Lists the voices a TTS plugin offers.
    pub async fn list_voices(&self, plugin: &LoadedPlugin) -> Result<Vec<tts::Voice>, CallError> {
        let pre = require(plugin, Service::Tts, plugin.prepared.tts.as_ref())?;
        let (voices, _) = self
            .run_call(plugin, None, async |store| {
                let instance = pre.instantiate_async(&mut *store).await?;
                instance
                    .pipeline_services_tts()
                    .call_list_voices(store)
                    .await
            })
            .await?;
        Ok(voices)
    }

    /// Speaks a piece of text with a TTS plugin; the audio is checked against its description.
    pub async fn synthesize_speech(
        &self,
        plugin: &LoadedPlugin,
        request: &tts::SynthesizeRequest,
    ) -> Result<tts::SynthesizeResponse, CallError> {
        let pre = require(plugin, Service::Tts, plugin.prepared.tts.as_ref())?;
        let (response, _) = self
            .run_call(plugin, None, async |store| {
                let instance = pre.instantiate_async(&mut *store).await?;
                let tts = instance.pipeline_services_tts();
                tts.call_synthesize(store, request).await
            })
            .await?;
        validate::check_audio(&response.audio, &response.format, response.duration_ms)
            .map_err(|problem| malformed(plugin, problem))?;
        Ok(response)
    }

    /// Generates an image; the PNG is checked against the stated and requested size.
    pub async fn generate_image(
        &self,
        plugin: &LoadedPlugin,
        request: &image::GenerateRequest,
    ) -> Result<image::GenerateResponse, CallError> {
        let pre = require(plugin, Service::Image, plugin.prepared.image.as_ref())?;
        let (mut response, store) = self
            .run_call(plugin, None, async |store| {
                let instance = pre.instantiate_async(&mut *store).await?;
                let image = instance.pipeline_services_image();
                image.call_generate(store, request).await
            })
            .await?;
        response.revised_prompt = response
            .revised_prompt
            .map(|prompt| store.data().redactor.redact(&prompt));
        if (response.width, response.height) != (request.width, request.height) {
            return Err(malformed(
                plugin,
                format!(
                    "asked for {}x{} but got {}x{}",
                    request.width, request.height, response.width, response.height
                ),
            ));
        }
        validate::check_png(&response.png, response.width, response.height)
            .map_err(|problem| malformed(plugin, problem))?;
        Ok(response)
    }

    /// Mixes `inputs` (referred to by index in the request) into a WAV episode written to
    /// `output`, which is synced before this returns. The plugin streams both ways, so neither
    /// the inputs nor the episode need to fit in its memory.
    pub async fn mix_audio(
        &self,
        plugin: &LoadedPlugin,
        request: &mixer::MixRequest,
        inputs: &[AudioInput],
        output: &Path,
    ) -> Result<mixer::MixResponse, CallError> {
        let pre = require(plugin, Service::Mixer, plugin.prepared.mixer.as_ref())?;
        let host_error = |reason| CallError::Host {
            plugin: plugin.name.clone(),
            reason,
        };
        let io = MixerIo::open(inputs, output).map_err(host_error)?;
        let (response, mut store) = self
            .run_call(plugin, Some(io), async |store| {
                let instance = pre.instantiate_async(&mut *store).await?;
                let mixer = instance.pipeline_services_mixer();
                mixer.call_mix(store, request).await
            })
            .await?;
        let written = match store.data_mut().mixer_io.take() {
            Some(io) => io.finish().map_err(host_error)?,
            None => 0,
        };
        let header = read_prefix(output, 4096).map_err(host_error)?;
        let facts = validate::read_wav_header(&header, written)
            .map_err(|problem| malformed(plugin, problem))?;
        validate::check_wav_facts(&facts, &response.format, response.duration_ms)
            .and_then(|()| validate::check_mix_format(&request.settings, &response.format))
            .map_err(|problem| malformed(plugin, problem))?;
        Ok(response)
    }

    /// Runs one call in a fresh sandboxed store under the plugin's deadline, and classifies its
    /// outcome. The store comes back with the result so the caller can collect what the call
    /// wrote through host interfaces.
    async fn run_call<T>(
        &self,
        plugin: &LoadedPlugin,
        mixer_io: Option<MixerIo>,
        call: impl AsyncFnOnce(&mut Store<StoreState>) -> wasmtime::Result<Result<T, ProviderError>>,
    ) -> Result<(T, Store<StoreState>), CallError> {
        let mut store =
            new_store(&self.engine, &plugin.name, &plugin.grants, mixer_io).map_err(|error| {
                CallError::Host {
                    plugin: plugin.name.clone(),
                    reason: error.to_string(),
                }
            })?;
        let _slot = match &self.instance_slots {
            Some(slots) => Some(slots.acquire().await.map_err(|error| CallError::Host {
                plugin: plugin.name.clone(),
                reason: format!("instance pool closed: {error}"),
            })?),
            None => None,
        };
        let limit = plugin.grants.call_timeout() + DEADLINE_GRACE;
        let outcome = tokio::time::timeout(limit, call(&mut store)).await;
        let value = settle(plugin, &store, outcome)?;
        Ok((value, store))
    }
}

fn read_prefix(path: &Path, length: usize) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    let mut buffer = Vec::with_capacity(length);
    std::fs::File::open(path)
        .and_then(|file| file.take(length as u64).read_to_end(&mut buffer))
        .map_err(|error| format!("cannot read back mixer output {}: {error}", path.display()))?;
    Ok(buffer)
}
