//! Builds every test component under `tests/components/` for `wasm32-wasip2` (see
//! `guest-build`) and writes a path constant for each: `tests/components/counter` becomes
//! `COUNTER_WASM`, so a test naming a component that does not exist fails to compile.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result};

fn main() -> Result<()> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let workspace_root = manifest_dir
        .ancestors()
        .nth(2)
        .context("tests/artifacts is not inside the workspace")?
        .to_path_buf();
    for watched in ["tests/components", "wit", "Cargo.lock"] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace_root.join(watched).display()
        );
    }
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let guests = guest_build::discover(&workspace_root.join("tests/components"))?;
    let artifacts =
        guest_build::build(&workspace_root, &guest_build::target_dir(&out_dir), &guests)?;
    let mut constants = String::new();
    for (guest, wasm) in guests.iter().zip(&artifacts) {
        let name = guest.folder.to_uppercase().replace('-', "_");
        writeln!(
            constants,
            "/// The `{}` test component.\npub const {name}_WASM: &str = {:?};",
            guest.folder, wasm
        )?;
    }
    std::fs::write(out_dir.join("components.rs"), constants)?;
    Ok(())
}
