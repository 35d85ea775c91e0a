//! `host plugins list`, `inspect`, `check` and `new`: which plugins exist, what they implement,
//! their digests and what they are allowed to reach; a sample call under the sandbox; a new
//! plugin project to start from.

mod check;
mod new;

use std::sync::Arc;

use std::path::PathBuf;

use clap::Subcommand;
use host::plugin::{
    Language, LoadedPlugin, PluginHost, PluginOrigin, PluginSource, Service, WIT_PACKAGE,
    WIT_VERSION,
};
use host::settings::DataDir;
use serde::Serialize;

use super::Failure;

#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// List every plugin available by name: files in the plugins directory and the built-ins.
    #[command(
        after_help = "Examples:\n  host plugins list\n  host plugins list --json | jq '.[].name'"
    )]
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one plugin: its world, digest, exports, imports and granted capabilities.
    #[command(
        after_help = "Examples:\n  host plugins inspect mock-tts\n  host plugins inspect ./my-llm.wasm --json"
    )]
    Inspect {
        /// A plugin name (looked up in the plugins directory, then the built-ins) or a path to a
        /// .wasm component.
        plugin: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Load a plugin, name the world it implements (or what it lacks), call it once with a
    /// sample request under its sandbox and grants, and show the result checks, usage, cost
    /// and timings.
    #[command(
        after_help = "Examples:\n  host plugins check mock-tts\n  host plugins check ./my-llm.wasm --service llm --json\n\nExit codes: 0 every sample call passed, 1 a sample call failed (the message says\nwhether a workflow would retry it), 2 the plugin cannot be loaded or lacks the service."
    )]
    Check {
        /// A plugin name (looked up in the plugins directory, then the built-ins) or a path to a
        /// .wasm component.
        plugin: String,
        /// Check only this service (llm, tts, mixer, image); by default every one it exports.
        #[arg(long, value_parser = parse_service)]
        service: Option<Service>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write a new plugin project for a service, in Rust, Python or JavaScript: its source, the
    /// WIT files, a build script and a README saying how to build, grant and check it.
    #[command(
        after_help = "Examples:\n  host plugins new my-llm --service llm --lang python\n  host plugins new my-tts --service tts --lang rust --directory plugins-src/my-tts"
    )]
    New {
        /// The plugin's name: lowercase letters, digits and dashes (the file is <name>.wasm).
        name: String,
        /// The service it provides.
        #[arg(long, value_parser = parse_service)]
        service: Service,
        /// The language to write it in: rust, python or js.
        #[arg(long, default_value = "rust", value_parser = parse_language)]
        lang: Language,
        /// Where to write the project [default: ./<name>]; it must not exist or be empty.
        #[arg(long)]
        directory: Option<PathBuf>,
    },
}

fn parse_service(name: &str) -> Result<Service, String> {
    Service::from_name(name)
        .ok_or_else(|| format!("`{name}` is not a service: use llm, tts, mixer or image"))
}

fn parse_language(name: &str) -> Result<Language, String> {
    Language::from_name(name)
        .ok_or_else(|| format!("`{name}` is not a plugin language: use rust, python or js"))
}

/// One import of a plugin and what the host gives it.
#[derive(Debug, Serialize)]
struct ImportAccess {
    import: String,
    gets: String,
}

/// What `--json` prints for one plugin. Field names are stable.
#[derive(Debug, Serialize)]
struct PluginReport {
    name: String,
    origin: PluginOrigin,
    digest: String,
    size_bytes: usize,
    /// Services implemented (`llm`, `tts`, `mixer`, `image`); empty when the plugin is unusable.
    services: Vec<String>,
    /// WIT worlds implemented, for example `pipeline:services/llm-provider@0.1.0`.
    worlds: Vec<String>,
    exports: Vec<String>,
    imports: Vec<String>,
    /// What each import gets under the plugin's grants, in the order of `imports`.
    access: Vec<ImportAccess>,
    grants: Option<host::plugin::PluginGrants>,
    /// Why the plugin cannot be used, when it cannot.
    error: Option<String>,
}

pub fn run(data_dir: &DataDir, command: PluginsCommand) -> Result<(), Failure> {
    let open_host = || -> Result<PluginHost, Failure> {
        let settings = data_dir
            .plugin_host_settings()
            .map_err(Failure::invalid_input)?;
        let mut host = PluginHost::new(settings).map_err(Failure::internal)?;
        super::announce_large_compiles(&mut host);
        Ok(host)
    };
    match command {
        PluginsCommand::List { json } => {
            let host = open_host()?;
            let listed = host.list().map_err(Failure::invalid_input)?;
            let reports: Vec<PluginReport> = listed
                .into_iter()
                .map(|entry| match entry.loaded {
                    Ok(plugin) => report_loaded(&plugin),
                    Err(error) => report_broken(&entry.source, error.to_string()),
                })
                .collect();
            if json {
                print_json(&reports)
            } else {
                print_table(&reports);
                Ok(())
            }
        }
        PluginsCommand::Inspect { plugin, json } => {
            let host = open_host()?;
            let loaded = host.load(&plugin).map_err(Failure::invalid_input)?;
            let report = report_loaded(&loaded);
            if json {
                print_json(&report)
            } else {
                print_details(&report);
                Ok(())
            }
        }
        PluginsCommand::Check {
            plugin,
            service,
            json,
        } => check::run(&open_host()?, &plugin, service, json),
        PluginsCommand::New {
            name,
            service,
            lang,
            directory,
        } => new::run(&name, service, lang, directory),
    }
}

/// What each import of `plugin` gets under its grants, in the order of its imports.
fn access_of(plugin: &LoadedPlugin) -> Vec<ImportAccess> {
    plugin
        .imports
        .iter()
        .map(|import| ImportAccess {
            import: import.clone(),
            gets: plugin.grants.access_for(import),
        })
        .collect()
}

fn report_loaded(plugin: &Arc<LoadedPlugin>) -> PluginReport {
    PluginReport {
        name: plugin.name.clone(),
        origin: plugin.origin.clone(),
        digest: plugin.digest.clone(),
        size_bytes: plugin.size_bytes,
        services: plugin
            .services
            .iter()
            .map(|service| service.name().to_string())
            .collect(),
        worlds: plugin
            .services
            .iter()
            .map(|service| format!("{WIT_PACKAGE}/{}@{WIT_VERSION}", service.world()))
            .collect(),
        exports: plugin.exports.clone(),
        imports: plugin.imports.clone(),
        access: access_of(plugin),
        grants: Some(plugin.grants.clone()),
        error: None,
    }
}

fn report_broken(source: &PluginSource, error: String) -> PluginReport {
    PluginReport {
        name: source.name.clone(),
        origin: source.origin.clone(),
        digest: source.digest.clone(),
        size_bytes: source.bytes.len(),
        services: Vec::new(),
        worlds: Vec::new(),
        exports: Vec::new(),
        imports: Vec::new(),
        access: Vec::new(),
        grants: None,
        error: Some(error),
    }
}

fn print_json(value: &impl Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(Failure::internal)?;
    println!("{text}");
    Ok(())
}

fn print_table(reports: &[PluginReport]) {
    let name_width = reports
        .iter()
        .map(|report| report.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!(
        "{:name_width$}  {:14}  {:8}  {:19}  GRANTS",
        "NAME", "WORLD", "ORIGIN", "DIGEST"
    );
    for report in reports {
        let world = match report.services.as_slice() {
            [] => "-".to_string(),
            services => services
                .iter()
                .map(|service| format!("{service}-provider"))
                .collect::<Vec<_>>()
                .join(","),
        };
        let detail = match (&report.error, &report.grants) {
            (Some(error), _) => format!("unusable: {error}"),
            (None, Some(grants)) => describe_grants(grants),
            (None, None) => String::new(),
        };
        println!(
            "{:name_width$}  {:14}  {:8}  {:19}  {detail}",
            report.name,
            world,
            origin_label(&report.origin),
            short_digest(&report.digest),
        );
    }
}

fn print_details(report: &PluginReport) {
    println!("name:     {}", report.name);
    match &report.origin {
        PluginOrigin::Builtin => println!("origin:   built-in"),
        PluginOrigin::File(path) => println!("origin:   {}", path.display()),
    }
    println!("digest:   {}", report.digest);
    println!("size:     {} bytes", report.size_bytes);
    println!("worlds:   {}", report.worlds.join(", "));
    println!("exports:  {}", report.exports.join(", "));
    if report.access.is_empty() {
        println!("imports:  none");
    }
    for (index, access) in report.access.iter().enumerate() {
        let label = if index == 0 { "imports:" } else { "" };
        println!("{label:<9} {} — {}", access.import, access.gets);
    }
    if let Some(grants) = &report.grants {
        println!("grants:   {}", describe_grants(grants));
    }
}

fn describe_grants(grants: &host::plugin::PluginGrants) -> String {
    let mut parts = vec![
        format!("memory {} MiB", grants.memory_limit_mib),
        format!("{} s per call", grants.call_timeout_secs),
    ];
    if grants.env.is_empty()
        && grants.env_if_set.is_empty()
        && grants.settings.is_empty()
        && grants.allowed_hosts.is_empty()
        && grants.directories.is_empty()
    {
        parts.push("no files, network or environment".to_string());
    }
    if !grants.env.is_empty() {
        parts.push(format!("env {}", grants.env.join(",")));
    }
    if !grants.env_if_set.is_empty() {
        parts.push(format!("env if set {}", grants.env_if_set.join(",")));
    }
    if !grants.settings.is_empty() {
        parts.push(format!("settings {}", grants.settings.join(",")));
    }
    if !grants.allowed_hosts.is_empty() {
        let hosts: Vec<String> = grants
            .allowed_hosts
            .iter()
            .map(ToString::to_string)
            .collect();
        parts.push(format!("hosts {}", hosts.join(",")));
    }
    for directory in &grants.directories {
        let mode = if directory.writable { "rw" } else { "ro" };
        parts.push(format!(
            "dir {}:{} ({mode})",
            directory.host.display(),
            directory.guest
        ));
    }
    parts.join(", ")
}

fn origin_label(origin: &PluginOrigin) -> &'static str {
    match origin {
        PluginOrigin::Builtin => "built-in",
        PluginOrigin::File(_) => "file",
    }
}

fn short_digest(digest: &str) -> String {
    digest.chars().take(19).collect()
}
