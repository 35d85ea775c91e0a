//! Conventions checked mechanically: every Rust source file opens with a `//!` line saying what
//! it is for, and no module grows past the size where it should be split.

use std::path::{Path, PathBuf};

/// Lines past which a file is asking to be split (see STYLE: small files with one purpose).
const MAX_LINES: usize = 600;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn rust_files(directory: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(directory).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                rust_files(&path, found);
            }
        } else if name.ends_with(".rs") {
            found.push(path);
        }
    }
}

#[test]
fn every_source_file_says_what_it_is_for_and_stays_small() {
    let root = workspace_root();
    let mut files = Vec::new();
    for folder in ["host", "core", "publish", "plugins", "tests"] {
        rust_files(&root.join(folder), &mut files);
    }
    assert!(files.len() > 20, "found only {} files", files.len());
    let mut problems = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let relative = file.strip_prefix(&root).unwrap().display();
        if !text.starts_with("//!") {
            problems.push(format!("{relative}: does not open with a `//!` module doc"));
        }
        let lines = text.lines().count();
        if lines > MAX_LINES {
            problems.push(format!(
                "{relative}: {lines} lines (split it below {MAX_LINES})"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
