//! Plugin host benchmarks: loading a component cold (compiling) against warm (from the on-disk
//! cache), and one instantiate-and-call of a trivial component with on-demand against pooled
//! instance allocation. Prints a Markdown table; run with
//! `cargo bench -p host --bench plugin_calls`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use host::plugin::{
    CacheOutcome, HostConfig, InstanceAllocation, PluginHost, PluginHostSettings, Service, llm,
};

const NOOP_WASM: &str = env!("TEST_COMPONENT_NOOP_WASM");
const LOAD_ROUNDS: usize = 5;
const CALLS: usize = 5_000;

fn main() {
    let workspace = tempfile::tempdir().expect("temporary directory");
    let plugins_dir = workspace.path().join("plugins");
    std::fs::create_dir_all(&plugins_dir).expect("plugins directory");
    std::fs::copy(NOOP_WASM, plugins_dir.join("noop.wasm")).expect("copy noop plugin");

    println!("| measurement | median | p99 | rounds |");
    println!("|---|---|---|---|");
    for plugin in ["noop", "mock-llm", "mock-mixer"] {
        let cold = measure_loads(&plugins_dir, workspace.path(), plugin, true);
        let warm = measure_loads(&plugins_dir, workspace.path(), plugin, false);
        report(&format!("load `{plugin}` cold (compile)"), &cold);
        report(&format!("load `{plugin}` warm (cached)"), &warm);
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    for (label, allocation) in [
        ("on-demand", InstanceAllocation::OnDemand),
        (
            "pooling",
            InstanceAllocation::Pooling {
                max_instances: 64,
                max_memory_mib: 256,
            },
        ),
    ] {
        let host = new_host(
            &plugins_dir,
            &workspace.path().join("shared-cache"),
            allocation,
        );
        let timings = runtime.block_on(measure_calls(&host));
        report(&format!("instantiate + call `noop`, {label}"), &timings);
    }
}

fn new_host(plugins_dir: &Path, cache_dir: &Path, allocation: InstanceAllocation) -> PluginHost {
    PluginHost::new(PluginHostSettings {
        plugins_dir: plugins_dir.to_path_buf(),
        compile_cache_dir: Some(cache_dir.to_path_buf()),
        config: HostConfig {
            plugins: BTreeMap::new(),
            ..HostConfig::default()
        },
        allocation,
    })
    .expect("plugin host")
}

/// Each round starts a new host (as a new `host` process would); cold rounds also start with
/// an empty cache directory.
fn measure_loads(plugins_dir: &Path, root: &Path, plugin: &str, cold: bool) -> Vec<Duration> {
    let cache_dir = root.join(format!("cache-{plugin}"));
    let mut timings = Vec::new();
    for _ in 0..LOAD_ROUNDS {
        if cold {
            let _ = std::fs::remove_dir_all(&cache_dir);
        }
        let host = new_host(plugins_dir, &cache_dir, InstanceAllocation::OnDemand);
        let started = Instant::now();
        let loaded = host.load(plugin).expect("load plugin");
        timings.push(started.elapsed());
        let expected = if cold {
            CacheOutcome::Compiled
        } else {
            CacheOutcome::Hit
        };
        assert_eq!(loaded.cache, expected, "{plugin}");
    }
    timings
}

async fn measure_calls(host: &PluginHost) -> Vec<Duration> {
    let plugin = host.load_for("noop", Service::Llm).expect("load noop");
    let request = llm::GenerateRequest {
        idempotency_key: "bench".into(),
        model: None,
        messages: vec![llm::Message {
            role: llm::Role::User,
            content: "ping".into(),
        }],
        json_schema: None,
        temperature: None,
        max_tokens: None,
    };
    // Warm-up: first calls fault in code pages and fill allocator caches.
    for _ in 0..100 {
        host.generate_text(&plugin, &request).await.expect("call");
    }
    let mut timings = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let started = Instant::now();
        host.generate_text(&plugin, &request).await.expect("call");
        timings.push(started.elapsed());
    }
    timings
}

fn report(label: &str, timings: &[Duration]) {
    let mut sorted = timings.to_vec();
    sorted.sort();
    let percentile =
        |fraction: f64| sorted[((sorted.len() - 1) as f64 * fraction).round() as usize];
    println!(
        "| {label} | {} | {} | {} |",
        format_duration(percentile(0.5)),
        format_duration(percentile(0.99)),
        sorted.len()
    );
}

fn format_duration(duration: Duration) -> String {
    let micros = duration.as_secs_f64() * 1e6;
    if micros >= 10_000.0 {
        format!("{:.1} ms", micros / 1000.0)
    } else {
        format!("{micros:.1} µs")
    }
}
