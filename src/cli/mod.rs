//! Command line (placeholder while the modules land).

/// Run the command line.
pub fn main() -> std::process::ExitCode {
    std::process::ExitCode::SUCCESS
}
