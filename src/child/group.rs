//! Stopping a child that leads its own process group: a graceful signal to the leader, a
//! bounded wait, then SIGKILL for the whole group, so nothing it forked (nginx's workers)
//! outlives it.

use std::io;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use tokio::process::Child;

use super::proc_stat::group_members;

/// How long stragglers of a group may take to disappear after SIGKILL.
const KILL_WAIT: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(20);

/// Send `first` to the leader `child` (process group `pgid`), wait up to `grace` for it to
/// exit, then SIGKILL the group; finally SIGKILL whatever is still in the group and wait
/// (bounded) until it is empty.
pub async fn stop_group(
    child: &mut Child,
    pgid: u32,
    first: Signal,
    grace: Duration,
) -> io::Result<ExitStatus> {
    let Ok(pgid) = i32::try_from(pgid) else {
        child.start_kill()?;
        return child.wait().await;
    };
    if pgid <= 1 {
        child.start_kill()?;
        return child.wait().await;
    }
    // ESRCH means it is gone already, which is what we want.
    let _ = kill(Pid::from_raw(pgid), first);
    let status = match tokio::time::timeout(grace, child.wait()).await {
        Ok(status) => status?,
        Err(_) => {
            kill_group_now(pgid);
            child.wait().await?
        }
    };
    reap_group(pgid).await;
    Ok(status)
}

/// SIGKILL the whole group at once (every member dies, none is left without its leader).
/// For `Drop`, where nothing can be awaited.
pub fn kill_group_now(pgid: i32) {
    if pgid > 1 {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    }
}

/// After the leader has exited: SIGKILL the members left in its group and wait until they
/// are gone (zombies waiting for their new parent to reap them count as gone).
async fn reap_group(pgid: i32) {
    let deadline = Instant::now() + KILL_WAIT;
    loop {
        let left = group_members(pgid);
        if left.is_empty() || Instant::now() >= deadline {
            return;
        }
        kill_group_now(pgid);
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_leader_that_ignores_the_first_signal_is_killed_with_its_group() {
        // The leader ignores SIGTERM and forks a grandchild that would outlive it.
        let mut cmd = tokio::process::Command::new("sh");
        cmd.args(["-c", "trap '' TERM; sleep 30 & wait"])
            .process_group(0)
            .kill_on_drop(true);
        let mut child = super::super::spawn(cmd, Signal::SIGKILL)
            .await
            .expect("sh runs");
        let pgid = child.id().expect("a pid");
        let pg = i32::try_from(pgid).expect("fits");
        let deadline = Instant::now() + Duration::from_secs(5);
        while group_members(pg).len() < 2 && Instant::now() < deadline {
            tokio::time::sleep(POLL).await;
        }
        assert_eq!(group_members(pg).len(), 2, "sh and its sleep");
        let status = stop_group(
            &mut child,
            pgid,
            Signal::SIGTERM,
            Duration::from_millis(300),
        )
        .await
        .expect("stopped");
        assert!(!status.success());
        assert!(group_members(pg).is_empty(), "{:?}", group_members(pg));
    }
}
