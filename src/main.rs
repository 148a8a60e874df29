//! Entry point of the `mxharness` binary: parses the command line and maps the outcome to an exit code.
//!
//! SIGPIPE stays ignored (Rust's default): a server closing a socket mid-write is an I/O error
//! the harness reports, never a signal that kills it. A closed stdout is handled where the
//! commands print (`cli::stdout`).

fn main() -> std::process::ExitCode {
    mxharness::cli::main()
}
