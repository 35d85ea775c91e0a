//! `host plugins new`: writes a buildable plugin project for a service in Rust, Python or
//! JavaScript, and says what to do next.

use std::path::PathBuf;

use host::plugin::{Language, Service, project_files, write_project};

use super::super::Failure;

pub fn run(
    name: &str,
    service: Service,
    language: Language,
    directory: Option<PathBuf>,
) -> Result<(), Failure> {
    let files = project_files(name, service, language).map_err(Failure::invalid_input)?;
    let directory = directory.unwrap_or_else(|| PathBuf::from(name));
    write_project(&directory, &files).map_err(Failure::invalid_input)?;
    println!(
        "Wrote a {} {service} plugin in {} ({} files).",
        language.name(),
        directory.display(),
        files.len()
    );
    println!("Next:");
    let check = format!("host plugins check ./{name}.wasm");
    let width = check.len();
    println!("  cd {}", directory.display());
    println!(
        "  {:<width$}  # writes {name}.wasm (README.md: the toolchain)",
        "./build.sh"
    );
    println!("  {check}  # a sample call under the sandbox");
    Ok(())
}
