//! What every command that runs something shares: how a run is stopped (signals, deadline)
//! and the append-only journal of results.
//!
//! A stop never loses what was measured: the runner stops starting work, gives what runs a
//! short grace, and the command writes every report from what finished (marked interrupted).

pub mod journal;
pub mod stop;

pub use stop::{Stop, StopReason};
