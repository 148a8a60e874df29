//! Writing to stdout: a closed stdout (`mxharness list | head -1`) ends the command quietly
//! with exit 0 instead of `println!`'s panic. SIGPIPE stays ignored (Rust's default), so a
//! peer closing a socket is an I/O error, never the death of the process.

use std::io::Write;

/// Write `args` to the locked stdout. On a closed pipe the process ends here with exit 0;
/// every caller prints results (listings, reports) when no child process or unsaved result
/// is left, so there is nothing to clean up. Any other write error ends it with exit 5.
pub fn write(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(i32::from(crate::exit_codes::SUCCESS));
        }
        eprintln!("error: cannot write to stdout: {e}");
        std::process::exit(i32::from(crate::exit_codes::ENVIRONMENT));
    }
}
