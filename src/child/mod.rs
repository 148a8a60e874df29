//! Processes the harness starts (Synapse, nginx, the venv installer's python): they die with
//! the harness, even when it is killed with SIGKILL, and a later start cleans up after a run
//! that was killed anyway.
//!
//! Three layers, each in its own file:
//! - [`spawner`]: every child is forked from one long-lived thread with
//!   `prctl(PR_SET_PDEATHSIG)` set in the child, so the kernel signals it when the harness
//!   dies (the signal follows the *thread* that forked, hence one thread that never exits
//!   instead of tokio's worker threads).
//! - [`group`]: a bounded, graceful stop of a child and its whole process group.
//! - [`record`]: a small file per running child (pid, process group, start time, executable,
//!   owner) under the cache dir; removed on a clean stop, swept at the next start when its
//!   owner is gone and the recorded process is still the same one.

pub mod group;
pub mod proc_stat;
pub mod record;
pub mod spawner;

pub use group::stop_group;
pub use record::{Record, RecordGuard};
pub use spawner::spawn;
