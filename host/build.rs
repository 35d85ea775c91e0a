//! Builds the guest components (the built-in mock and provider plugins and the test components) for
//! `wasm32-wasip2` with a nested cargo invocation, so that `cargo build`, `cargo run` and
//! `cargo test` need nothing typed first. The built-ins are embedded in the host binary; the test
//! components are only exposed to the tests as path constants.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

const GUEST_TARGET: &str = "wasm32-wasip2";

/// Guest crates built here: (package name, environment variable carrying its `.wasm` path).
const GUESTS: &[(&str, &str)] = &[
    ("mock-llm", "BUILTIN_MOCK_LLM_WASM"),
    ("mock-tts", "BUILTIN_MOCK_TTS_WASM"),
    ("mock-mixer", "BUILTIN_MOCK_MIXER_WASM"),
    ("mock-image", "BUILTIN_MOCK_IMAGE_WASM"),
    ("openai-llm", "BUILTIN_OPENAI_LLM_WASM"),
    ("openai-tts", "BUILTIN_OPENAI_TTS_WASM"),
    ("elevenlabs-tts", "BUILTIN_ELEVENLABS_TTS_WASM"),
    ("openai-image", "BUILTIN_OPENAI_IMAGE_WASM"),
    ("piper-tts", "BUILTIN_PIPER_TTS_WASM"),
    ("hostile-plugin", "TEST_COMPONENT_HOSTILE_WASM"),
    ("noop-plugin", "TEST_COMPONENT_NOOP_WASM"),
    ("counter-plugin", "TEST_COMPONENT_COUNTER_WASM"),
    ("fetcher-plugin", "TEST_COMPONENT_FETCHER_WASM"),
];

fn main() -> Result<()> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let workspace_root = manifest_dir
        .parent()
        .context("host crate has no parent directory")?
        .to_path_buf();
    for watched in ["plugins", "tests/components", "wit", "Cargo.lock"] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace_root.join(watched).display()
        );
    }

    ensure_guest_target_installed()?;
    let guest_target_dir = guest_target_dir()?;
    build_guests(&workspace_root, &guest_target_dir)?;

    let artifact_dir = guest_target_dir.join(GUEST_TARGET).join("release");
    for (package, variable) in GUESTS {
        let wasm = artifact_dir.join(format!("{}.wasm", package.replace('-', "_")));
        if !wasm.is_file() {
            bail!(
                "guest build reported success but {} is missing",
                wasm.display()
            );
        }
        println!("cargo:rustc-env={variable}={}", wasm.display());
    }
    Ok(())
}

/// The guests get their own target directory beside the host's: the outer cargo holds the lock
/// on its own build directory for as long as this script runs.
fn guest_target_dir() -> Result<PathBuf> {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    // OUT_DIR is <target>/<profile>/build/<crate>-<hash>/out.
    let target_dir = out_dir
        .ancestors()
        .nth(4)
        .context("OUT_DIR is not inside a cargo target directory")?;
    Ok(target_dir.join("guests"))
}

/// Installs the guest target through rustup when it is missing, so a fresh machine with only the
/// Rust toolchain builds without any set-up step.
fn ensure_guest_target_installed() -> Result<()> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .context("running rustc --print sysroot")?;
    let sysroot = PathBuf::from(String::from_utf8(sysroot.stdout)?.trim());
    if sysroot.join("lib/rustlib").join(GUEST_TARGET).is_dir() {
        return Ok(());
    }
    println!("cargo:warning=installing the {GUEST_TARGET} target with rustup");
    let status = Command::new("rustup")
        .args(["target", "add", GUEST_TARGET])
        .status()
        .context("running rustup to install the wasm32-wasip2 target (is rustup installed?)")?;
    if !status.success() {
        bail!("`rustup target add {GUEST_TARGET}` failed; install the target and build again");
    }
    Ok(())
}

fn build_guests(workspace_root: &Path, guest_target_dir: &Path) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace_root)
        .args([
            "build",
            "--release",
            "--target",
            GUEST_TARGET,
            "--target-dir",
        ])
        .arg(guest_target_dir);
    for (package, _) in GUESTS {
        command.args(["--package", package]);
    }
    // The outer build's flags and wrappers (clippy, coverage, host-only RUSTFLAGS) must not leak
    // into the guest build: they would change the artifacts or fail on the wasm target.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if (key.starts_with("CARGO_") && key != "CARGO_HOME")
            || key.starts_with("RUSTC")
            || key == "RUSTFLAGS"
            || key == "RUSTDOCFLAGS"
        {
            command.env_remove(key.as_ref());
        }
    }
    let status = command.status().context("running the nested guest build")?;
    if !status.success() {
        bail!("building the guest components for {GUEST_TARGET} failed (see the output above)");
    }
    Ok(())
}
