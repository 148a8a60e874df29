//! The process exit codes mxharness documents (see README.md).

/// Every selected scenario passed.
pub const SUCCESS: u8 = 0;
/// At least one check failed (or a scenario errored).
pub const CHECKS_FAILED: u8 = 1;
/// The command line was wrong.
pub const USAGE: u8 = 2;
/// A scenario file is invalid; diagnostics were printed.
pub const INVALID_SCENARIO: u8 = 3;
/// The filter or profile selected no scenario.
pub const NOTHING_SELECTED: u8 = 4;
/// The target or the environment failed (unreachable server, install failure, I/O).
pub const ENVIRONMENT: u8 = 5;
/// The whole-run `--deadline` passed; the reports of what finished were written (124, as
/// `timeout(1)` uses).
pub const DEADLINE: u8 = 124;
/// SIGHUP stopped the run (128 + 1); the reports of what finished were written.
pub const HANGUP: u8 = 129;
/// SIGINT (Ctrl-C) stopped the run (128 + 2); the reports of what finished were written and
/// the local servers stopped.
pub const INTERRUPTED: u8 = 130;
/// SIGTERM stopped the run (128 + 15); the reports of what finished were written.
pub const TERMINATED: u8 = 143;
