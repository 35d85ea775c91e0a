//! Builds guest crates for `wasm32-wasip2` from a build script, with a nested cargo into its
//! own target directory, so `cargo build` and `cargo test` need nothing typed first. Guests are
//! discovered rather than listed: every `cdylib` crate directly under a folder (`plugins/` for
//! the built-ins, `tests/components/` for the test components) is one.
//!
//! Guests build with the workspace's `guest` profile: stripped and linked with LTO
//! (BENCHMARKS.md has the sizes and the speed).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The target every guest is built for.
pub const GUEST_TARGET: &str = "wasm32-wasip2";
/// The cargo profile guests are built with (see the workspace's `Cargo.toml`).
pub const GUEST_PROFILE: &str = "guest";

/// A guest crate: its package name and its folder's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guest {
    pub package: String,
    pub folder: String,
    /// What the host grants it with no configuration, from `[package.metadata.host-grants]`.
    pub default_grants: Option<DefaultGrants>,
}

/// A real provider's grants with no configuration: every set variable starting with
/// `env_prefix`, its API's origin and the origin of `<env_prefix>BASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultGrants {
    pub env_prefix: String,
    pub api: String,
}

/// Why the guests could not be found or built.
#[derive(Debug, thiserror::Error)]
pub enum GuestBuildError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid Cargo.toml: {reason}")]
    Manifest { path: PathBuf, reason: String },
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("`rustup target add {GUEST_TARGET}` failed; install the target and build again")]
    TargetMissing,
    #[error("building the guest components for {GUEST_TARGET} failed (see the output above)")]
    BuildFailed,
    #[error("the guest build reported success but {0} is missing")]
    ArtifactMissing(PathBuf),
}

/// Every `cdylib` crate directly under `folder`, sorted by folder name.
pub fn discover(folder: &Path) -> Result<Vec<Guest>, GuestBuildError> {
    let read_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| GuestBuildError::Read { path, source }
    };
    let mut guests = Vec::new();
    for entry in std::fs::read_dir(folder).map_err(read_error(folder))? {
        let entry = entry.map_err(read_error(folder))?;
        let manifest_path = entry.path().join("Cargo.toml");
        if !manifest_path.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&manifest_path).map_err(read_error(&manifest_path))?;
        let manifest: toml::Table =
            text.parse()
                .map_err(|error: toml::de::Error| GuestBuildError::Manifest {
                    path: manifest_path.clone(),
                    reason: error.to_string(),
                })?;
        let is_cdylib = manifest
            .get("lib")
            .and_then(|lib| lib.get("crate-type"))
            .and_then(toml::Value::as_array)
            .is_some_and(|types| types.iter().any(|kind| kind.as_str() == Some("cdylib")));
        let package = manifest
            .get("package")
            .and_then(|package| package.get("name"))
            .and_then(toml::Value::as_str);
        let grants = manifest
            .get("package")
            .and_then(|package| package.get("metadata"))
            .and_then(|metadata| metadata.get("host-grants"));
        let text_of = |key: &str| {
            grants
                .and_then(|grants| grants.get(key))
                .and_then(toml::Value::as_str)
                .map(str::to_string)
        };
        let default_grants = match (grants, text_of("env-prefix"), text_of("api")) {
            (None, _, _) => None,
            (Some(_), Some(env_prefix), Some(api)) => Some(DefaultGrants { env_prefix, api }),
            (Some(_), _, _) => {
                return Err(GuestBuildError::Manifest {
                    path: manifest_path,
                    reason: "[package.metadata.host-grants] needs `env-prefix` and `api`".into(),
                });
            }
        };
        if let (true, Some(package)) = (is_cdylib, package) {
            guests.push(Guest {
                package: package.to_string(),
                folder: entry.file_name().to_string_lossy().into_owned(),
                default_grants,
            });
        }
    }
    guests.sort_by(|a, b| a.folder.cmp(&b.folder));
    Ok(guests)
}

/// The guests' target directory beside the outer build's: the outer cargo holds the lock on
/// its own build directory for as long as a build script runs. `out_dir` is the script's
/// `OUT_DIR`, `<target>/<profile>/build/<crate>-<hash>/out`.
pub fn target_dir(out_dir: &Path) -> PathBuf {
    out_dir.ancestors().nth(4).unwrap_or(out_dir).join("guests")
}

/// Builds `guests` of the workspace at `workspace_root` into `target_dir` and returns the path
/// of each one's `.wasm`, in the same order.
pub fn build(
    workspace_root: &Path,
    target_dir: &Path,
    guests: &[Guest],
) -> Result<Vec<PathBuf>, GuestBuildError> {
    ensure_target_installed()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(&cargo);
    command
        .current_dir(workspace_root)
        .args([
            "build",
            "--profile",
            GUEST_PROFILE,
            "--target",
            GUEST_TARGET,
            "--target-dir",
        ])
        .arg(target_dir);
    for guest in guests {
        command.args(["--package", &guest.package]);
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
    let status = command.status().map_err(|source| GuestBuildError::Spawn {
        program: cargo.clone(),
        source,
    })?;
    if !status.success() {
        return Err(GuestBuildError::BuildFailed);
    }
    let artifacts = target_dir.join(GUEST_TARGET).join(GUEST_PROFILE);
    guests
        .iter()
        .map(|guest| {
            let wasm = artifacts.join(format!("{}.wasm", guest.package.replace('-', "_")));
            if wasm.is_file() {
                Ok(wasm)
            } else {
                Err(GuestBuildError::ArtifactMissing(wasm))
            }
        })
        .collect()
}

/// Installs the guest target through rustup when it is missing, so a fresh machine with only
/// the Rust toolchain builds without any set-up step.
fn ensure_target_installed() -> Result<(), GuestBuildError> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let output = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|source| GuestBuildError::Spawn {
            program: rustc.clone(),
            source,
        })?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if sysroot.join("lib/rustlib").join(GUEST_TARGET).is_dir() {
        return Ok(());
    }
    println!("cargo:warning=installing the {GUEST_TARGET} target with rustup");
    let status = Command::new("rustup")
        .args(["target", "add", GUEST_TARGET])
        .status()
        .map_err(|source| GuestBuildError::Spawn {
            program: "rustup".into(),
            source,
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(GuestBuildError::TargetMissing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_cdylib_crates_are_guests() {
        let plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins");
        let guests = discover(&plugins).expect("plugins/ reads");
        let folders: Vec<&str> = guests.iter().map(|guest| guest.folder.as_str()).collect();
        assert!(
            folders.contains(&"mock-llm") && folders.contains(&"openai-llm"),
            "{folders:?}"
        );
        assert!(!folders.contains(&"guest-support") && !folders.contains(&"tts-kit"));
        assert!(
            !folders.contains(&"templates"),
            "templates are projects of their own"
        );
    }
}
