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
/// The run was interrupted (Ctrl-C); the local server was stopped.
pub const INTERRUPTED: u8 = 130;
