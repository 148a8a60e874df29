//! Entry point of the `mxharness` binary: parses the command line and maps the outcome to an exit code.

fn main() -> std::process::ExitCode {
    restore_sigpipe();
    mxharness::cli::main()
}

/// Rust ignores SIGPIPE, so `mxharness list | head` would panic on the closed pipe; like other
/// command-line tools, end quietly instead.
fn restore_sigpipe() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: called first thing in main, before any other thread exists; SIG_DFL installs no
    // Rust code as a handler.
    #[allow(unsafe_code)]
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}
