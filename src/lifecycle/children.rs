//! The process groups the harness started (Synapse, nginx), so that a stop at once (a second
//! signal) can kill them before the process exits without running destructors.
//!
//! Each spawner registers its child's process group and keeps the returned guard; dropping
//! the guard (after the normal stop) unregisters it.

use std::collections::BTreeSet;
use std::sync::Mutex;

static GROUPS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// Keeps a process group registered while alive.
#[derive(Debug)]
pub struct Registered(i32);

impl Drop for Registered {
    fn drop(&mut self) {
        if let Ok(mut g) = GROUPS.lock() {
            g.remove(&self.0);
        }
    }
}

/// Register the process group `pgid` (a child started with `process_group(0)`, whose pgid is
/// its pid). Non-positive ids are ignored (never signal our own group or every process).
pub fn register(pgid: u32) -> Option<Registered> {
    let pgid = i32::try_from(pgid).ok().filter(|p| *p > 1)?;
    GROUPS.lock().ok()?.insert(pgid);
    Some(Registered(pgid))
}

/// The registered groups (for tests and diagnostics).
pub fn registered() -> Vec<i32> {
    GROUPS
        .lock()
        .map(|g| g.iter().copied().collect())
        .unwrap_or_default()
}

/// SIGKILL every registered process group.
pub fn kill_all() {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;
    for pgid in registered() {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guard_unregisters_its_group() {
        let guard = register(424_242);
        assert!(registered().contains(&424_242));
        drop(guard);
        assert!(!registered().contains(&424_242));
        assert!(register(0).is_none());
        assert!(register(1).is_none());
    }
}
