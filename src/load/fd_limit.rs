//! Raising this process's open-file limit before a load run: every simulated user holds at
//! least one connection, and the soft limit (often 1024) is far below what the hard limit allows.

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// Raise the soft `RLIMIT_NOFILE` to the hard limit. Returns the soft limit in force after
/// the call (the old one when it could not be raised), or `None` when it cannot be read.
pub fn raise_to_hard_limit() -> Option<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    if soft >= hard {
        return Some(soft);
    }
    match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
        Ok(()) => Some(hard),
        Err(_) => Some(soft),
    }
}

/// Sockets a run of `users` simulated users needs, with room for the harness's own files
/// (setup clients, reports, the spawned target's pipes).
pub fn needed_for(users: usize) -> u64 {
    // one keep-alive connection per user (all of them at once when every user is parked in
    // a long-poll), and a fixed margin
    (users as u64).saturating_add(256)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raising_never_lowers_the_limit() {
        let (before, _) = getrlimit(Resource::RLIMIT_NOFILE).expect("readable");
        let after = raise_to_hard_limit().expect("readable");
        assert!(after >= before);
    }

    #[test]
    fn needed_grows_with_users() {
        assert!(needed_for(10_000) > needed_for(1000));
        assert_eq!(needed_for(0), 256);
    }
}
