//! Forks every child from one long-lived thread, with a parent-death signal set in the child.
//!
//! `prctl(PR_SET_PDEATHSIG)` fires when the *thread* that forked the child exits, not when the
//! process does (prctl(2)). tokio's `Command::spawn` forks on whichever thread calls it: a
//! runtime worker (which a `block_in_place` can retire), a blocking-pool thread (which exits
//! after idling) or a test's thread (which exits with the test). Any of those would kill a
//! healthy child early. So spawning is handed to one thread that is started on first use and
//! never exits: the signal then fires exactly when the harness process dies, including by
//! SIGKILL, where no destructor runs.

use std::io;
use std::process::{ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{Sender, channel};

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::unistd::{Pid, getpid, getppid};
use tokio::process::{Child, Command};

type Job = Box<dyn FnOnce() + Send>;

static SPAWNER: OnceLock<Option<Sender<Job>>> = OnceLock::new();

fn spawner() -> io::Result<&'static Sender<Job>> {
    SPAWNER
        .get_or_init(|| {
            let (tx, rx) = channel::<Job>();
            std::thread::Builder::new()
                .name("mxh-spawner".into())
                .spawn(move || {
                    // Runs until the process exits: the senders live in a static.
                    for job in rx {
                        job();
                    }
                })
                .ok()
                .map(|_| tx)
        })
        .as_ref()
        .ok_or_else(|| io::Error::other("cannot start the process-spawning thread"))
}

/// Start `cmd` so that the kernel sends it `death` when the harness dies. The caller picks
/// the rest (process group, `kill_on_drop`, stdio). Must be called inside a tokio runtime.
pub async fn spawn(mut cmd: Command, death: Signal) -> io::Result<Child> {
    let parent = getpid();
    // SAFETY: the closure runs between fork and exec, where only async-signal-safe calls are
    // allowed: prctl and getppid are plain system calls and the error path does not allocate.
    #[allow(unsafe_code)]
    unsafe {
        cmd.pre_exec(move || set_death_signal(death, parent));
    }
    let handle = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        // tokio registers the child with the runtime's process driver.
        let _runtime = handle.enter();
        let _ = tx.send(cmd.spawn());
    });
    spawner()?
        .send(job)
        .map_err(|_| io::Error::other("the process-spawning thread is gone"))?;
    rx.await
        .map_err(|_| io::Error::other("the process-spawning thread dropped the request"))?
}

/// In the child: ask for `death` when the parent thread dies, then make sure the parent did
/// not die before the request was in place (the child would then be adopted by another
/// process and never get the signal).
fn set_death_signal(death: Signal, parent: Pid) -> io::Result<()> {
    nix::sys::prctl::set_pdeathsig(death)?;
    if getppid() != parent {
        return Err(io::Error::from(Errno::ESRCH));
    }
    Ok(())
}

/// Like `Command::output`, through [`spawn`]: stdout and stderr captured, killed when the
/// future is dropped.
pub async fn output(mut cmd: Command, death: Signal) -> io::Result<Output> {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    spawn(cmd, death).await?.wait_with_output().await
}

/// Like `Command::status`, through [`spawn`]: killed when the future is dropped.
pub async fn status(mut cmd: Command, death: Signal) -> io::Result<ExitStatus> {
    cmd.kill_on_drop(true);
    spawn(cmd, death).await?.wait().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn output_is_captured_and_a_child_outlives_the_thread_that_asked() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo err >&2"]);
        let out = output(cmd, Signal::SIGKILL).await.expect("sh runs");
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");

        // A child that outlives its test thread: the signal follows the spawner thread, so
        // the child survives the thread that asked for it.
        let child = std::thread::spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let mut cmd = Command::new("sleep");
                cmd.arg("30").kill_on_drop(false);
                spawn(cmd, Signal::SIGKILL).await.expect("sleep runs")
            })
            .id()
        })
        .join()
        .expect("thread joins")
        .expect("a pid");
        std::thread::sleep(std::time::Duration::from_millis(200));
        let pid = i32::try_from(child).expect("pid fits");
        let stat = super::super::proc_stat::ProcStat::read(pid).expect("still there");
        assert!(
            !stat.is_zombie(),
            "the child died with the thread that asked for it"
        );
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}
