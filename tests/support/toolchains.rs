//! The Python and JavaScript plugin toolchains (componentize-py, componentize-js) as
//! `tools/plugin-toolchains.sh` installs them, and plugin projects built with them: a project
//! is copied (its `wit` link resolved to the repository's `wit/`) and its own `build.sh` run,
//! exactly as an author would.
//!
//! A missing toolchain fails the test in CI (`CI` set); on a developer's machine the test says
//! why it skipped and passes.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where `tools/plugin-toolchains.sh` installs the toolchains.
pub fn toolchains_dir() -> PathBuf {
    if let Some(directory) = std::env::var_os("PLUGIN_TOOLCHAINS") {
        return PathBuf::from(directory);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache")
        });
    cache.join("pipeline-plugin-toolchains")
}

/// The directories to put first on `PATH` for a language's `build.sh` (none for Rust, whose
/// cargo is already there), or `None` (after saying why) when the toolchain is not installed
/// outside CI.
pub fn toolchain_path(language: &str) -> Option<Vec<PathBuf>> {
    let (bin, tool) = match language {
        "python" => (toolchains_dir().join("py/bin"), "componentize-py"),
        "js" => (
            toolchains_dir().join("js/node_modules/.bin"),
            "componentize-js",
        ),
        "rust" => return Some(Vec::new()),
        other => panic!("no toolchain for {other}"),
    };
    if bin.join(tool).is_file() {
        return Some(vec![bin]);
    }
    let reason = format!(
        "{tool} is not installed in {}; run tools/plugin-toolchains.sh",
        bin.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{reason}");
    }
    eprintln!("skipped: {reason}");
    None
}

/// Copies the project in `source` to `work` (following links, so the `wit` link becomes a real
/// folder) and runs its `build.sh` with the language's toolchain first on `PATH`. Returns the
/// path of the `.wasm` it built, `<work>/<wasm_name>`.
pub fn build_project(
    source: &Path,
    work: &Path,
    language: &str,
    wasm_name: &str,
) -> Option<PathBuf> {
    let first = toolchain_path(language)?;
    copy_following_links(source, work);
    let inherited = std::env::var_os("PATH").unwrap_or_default();
    let path = std::env::join_paths(first.into_iter().chain(std::env::split_paths(&inherited)))
        .expect("PATH joins");
    // Rust projects share one target directory, so their dependencies are compiled once.
    let output = Command::new("sh")
        .arg("build.sh")
        .current_dir(work)
        .env("PATH", path)
        .env(
            "CARGO_TARGET_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-projects"),
        )
        .output()
        .expect("build.sh runs");
    assert!(
        output.status.success(),
        "building {} failed:\n{}\n{}",
        source.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let wasm = work.join(wasm_name);
    assert!(wasm.is_file(), "build.sh did not write {}", wasm.display());
    Some(wasm)
}

fn copy_following_links(source: &Path, target: &Path) {
    std::fs::create_dir_all(target).expect("target directory");
    for entry in std::fs::read_dir(source).expect("readable project") {
        let entry = entry.expect("directory entry");
        let path = entry.path();
        let destination = target.join(entry.file_name());
        if path.is_dir() {
            copy_following_links(&path, &destination);
        } else {
            std::fs::copy(&path, &destination).expect("copy");
        }
    }
}
