//! The `host` command line: parses arguments, sets up logging and hands over to the library.

mod cli;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    // `host history | head` must end quietly when head stops reading, as other Unix tools do,
    // instead of panicking on a failed write; Rust ignores SIGPIPE unless told otherwise.
    // SAFETY: called first thing, before any thread exists; restores the default disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let arguments = cli::Arguments::parse();
    cli::init_tracing(arguments.verbose);
    match cli::run(arguments) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            // Messages can quote plugin or provider text; escape its control characters.
            eprintln!(
                "error: {}",
                pipeline_core::text::printable_lines(&failure.to_string())
            );
            ExitCode::from(failure.exit_code())
        }
    }
}
