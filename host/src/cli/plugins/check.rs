//! `host plugins check`: loads a plugin, names the world it implements (or what it lacks), calls
//! it once per service with a sample request under its sandbox and grants, and prints the
//! result checks, usage, cost and timings. Exit codes: 0 every sample call passed, 1 a call
//! failed, 2 the plugin cannot be loaded or does not implement the service asked for.

use std::time::{Duration, Instant};

use host::plugin::types::unit_name;
use host::plugin::{
    CacheOutcome, LoadError, PluginHost, SampleCall, Service, WIT_PACKAGE, WIT_VERSION,
};
use serde::Serialize;

use super::super::{Failure, exit_code};
use super::{ImportAccess, access_of, print_json};

/// What `--json` prints. Field names are stable.
#[derive(Debug, Serialize)]
struct CheckReport {
    plugin: String,
    /// Whether every sample call passed.
    passed: bool,
    /// Why the plugin cannot be used, when it cannot (then nothing was called).
    load_error: Option<String>,
    digest: Option<String>,
    size_bytes: Option<usize>,
    worlds: Vec<String>,
    access: Vec<ImportAccess>,
    /// Loading time, compilation (or reading the compiled-code cache) included.
    load_ms: Option<f64>,
    cache: Option<CacheOutcome>,
    calls: Vec<CallReport>,
}

#[derive(Debug, Serialize)]
struct CallReport {
    service: Service,
    request: String,
    passed: bool,
    /// Instantiation, the call and the host's checks of its result.
    call_ms: f64,
    answer: Option<String>,
    checks: Vec<String>,
    usage: Option<serde_json::Value>,
    cost_micros: Option<u64>,
    currency: Option<String>,
    error: Option<String>,
    /// Whether the same call could succeed if tried again (provider outages, timeouts).
    retryable: Option<bool>,
}

pub fn run(
    host: &PluginHost,
    reference: &str,
    service: Option<Service>,
    json: bool,
) -> Result<(), Failure> {
    let started = Instant::now();
    let loaded = match service {
        Some(service) => host.load_for(reference, service),
        None => host.load(reference),
    };
    let load_time = started.elapsed();
    let plugin = match loaded {
        Ok(plugin) => plugin,
        Err(error) => {
            let report = CheckReport {
                plugin: reference.to_string(),
                passed: false,
                load_error: Some(error.to_string()),
                digest: None,
                size_bytes: None,
                worlds: Vec::new(),
                access: Vec::new(),
                load_ms: None,
                cache: None,
                calls: Vec::new(),
            };
            if json {
                print_json(&report)?;
            } else {
                println!("✗ {error}");
                if let Some(hint) = load_hint(&error) {
                    println!("  {hint}");
                }
            }
            return Err(Failure::with_code(
                exit_code::INVALID_INPUT,
                format!("{reference} cannot be used as a plugin"),
            ));
        }
    };
    if !json {
        println!("plugin:   {} ({})", plugin.name, plugin.digest);
        println!(
            "loaded:   {} ({} bytes)",
            describe_load(load_time, plugin.cache),
            plugin.size_bytes
        );
    }
    let services = match service {
        Some(service) => vec![service],
        None => plugin.services.clone(),
    };
    let runtime = super::super::runtime()?;
    let mut calls = Vec::new();
    for service in services {
        if !json {
            println!("world:    {WIT_PACKAGE}/{}@{WIT_VERSION}", service.world());
        }
        let call = runtime.block_on(host.sample_call(&plugin, service));
        let report = call_report(call);
        if !json {
            print_call(&report);
        }
        calls.push(report);
    }
    let passed = calls.iter().all(|call| call.passed);
    if json {
        print_json(&CheckReport {
            plugin: plugin.name.clone(),
            passed,
            load_error: None,
            digest: Some(plugin.digest.clone()),
            size_bytes: Some(plugin.size_bytes),
            worlds: plugin
                .services
                .iter()
                .map(|service| format!("{WIT_PACKAGE}/{}@{WIT_VERSION}", service.world()))
                .collect(),
            access: access_of(&plugin),
            load_ms: Some(milliseconds(load_time)),
            cache: Some(plugin.cache),
            calls,
        })?;
    } else {
        println!("imports:");
        for access in access_of(&plugin) {
            println!("  {} — {}", access.import, access.gets);
        }
    }
    if passed {
        Ok(())
    } else {
        Err(Failure::with_code(
            exit_code::EXECUTION_FAILED,
            format!("plugin `{}` failed its check", plugin.name),
        ))
    }
}

fn call_report(call: SampleCall) -> CallReport {
    let call_ms = milliseconds(call.duration);
    match call.outcome {
        Ok(answer) => CallReport {
            service: call.service,
            request: call.request,
            passed: true,
            call_ms,
            answer: Some(answer.summary),
            checks: answer.checks,
            usage: Some(serde_json::json!({
                "input": {"amount": answer.usage.input.amount, "unit": unit_name(answer.usage.input.unit)},
                "output": {"amount": answer.usage.output.amount, "unit": unit_name(answer.usage.output.unit)},
            })),
            cost_micros: Some(answer.cost.amount_micros),
            currency: Some(answer.cost.currency),
            error: None,
            retryable: None,
        },
        Err(error) => CallReport {
            service: call.service,
            request: call.request,
            passed: false,
            call_ms,
            answer: None,
            checks: Vec::new(),
            usage: None,
            cost_micros: None,
            currency: None,
            retryable: Some(error.is_retryable()),
            error: Some(error.to_string()),
        },
    }
}

fn print_call(report: &CallReport) {
    println!("request:  {}", report.request);
    if let Some(error) = &report.error {
        let again = if report.retryable == Some(true) {
            "retryable: a workflow would try again"
        } else {
            "permanent: a workflow would not try again"
        };
        println!("✗ failed in {:.1} ms ({again})", report.call_ms);
        println!("  {error}");
        return;
    }
    println!("✓ answered in {:.1} ms", report.call_ms);
    if let Some(answer) = &report.answer {
        println!("  answer: {answer}");
    }
    for check in &report.checks {
        println!("  checked: {check}");
    }
    if let Some(usage) = &report.usage {
        println!(
            "  usage:  {} {} in, {} {} out",
            usage["input"]["amount"],
            usage["input"]["unit"].as_str().unwrap_or_default(),
            usage["output"]["amount"],
            usage["output"]["unit"].as_str().unwrap_or_default()
        );
    }
    if let (Some(micros), Some(currency)) = (report.cost_micros, &report.currency) {
        println!("  cost:   {:.6} {currency}", micros as f64 / 1e6);
    }
}

/// What to do about a plugin that cannot be loaded, when the error alone does not say.
fn load_hint(error: &LoadError) -> Option<String> {
    match error {
        LoadError::NoServiceExported { .. } | LoadError::WrongWorld { .. } => Some(format!(
            "a plugin exports one of {}; `host plugins new` writes a project that does",
            Service::ALL
                .iter()
                .map(|service| format!("{} (world {})", service.export_name(), service.world()))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        LoadError::NotAComponent { .. } => Some(
            "build it as a component: cargo build --target wasm32-wasip2, componentize-py or componentize-js (see plugins/README.md)"
                .to_string(),
        ),
        LoadError::Unlinkable { .. } => Some(
            "it imports something the host does not provide; the host provides WASI 0.2, wasi:http and the mixer's audio streams"
                .to_string(),
        ),
        _ => None,
    }
}

fn describe_load(time: Duration, cache: CacheOutcome) -> String {
    let how = match cache {
        CacheOutcome::Hit => "from the compiled-code cache",
        CacheOutcome::Compiled => "compiled (and cached for next time)",
    };
    format!("in {:.1} ms, {how}", milliseconds(time))
}

fn milliseconds(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1e5).round() / 100.0
}
