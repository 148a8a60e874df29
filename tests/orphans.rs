//! No process the harness starts outlives it: a gateway run (Synapse and nginx) leaves no nginx
//! worker behind, a harness killed with SIGKILL takes Synapse and nginx (master and worker)
//! down with it, and the next start removes what the killed run could not (its temp dirs and
//! records).
//!
//! Each run gets its own TMPDIR, so every server it starts has that path in its command line
//! (Synapse's config, nginx's `-p` prefix); nginx's worker does not, so the processes in the
//! group of each such process are watched too.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{describe, root};

/// Upper bound for waiting on anything here (Synapse's start on a busy 2-core machine).
const WAIT: Duration = Duration::from_secs(180);
const POLL: Duration = Duration::from_millis(20);

/// A cache dir of its own (so the records of this run are not swept by a parallel test), with
/// the shared Synapse install linked in.
fn private_cache(dir: &Path) -> PathBuf {
    let cache = dir.join("cache");
    std::fs::create_dir_all(&cache).expect("cache dir");
    let shared = common::cache_dir();
    std::fs::create_dir_all(&shared).expect("shared cache dir");
    let version = mxharness::target::synapse::SYNAPSE_VERSION;
    let venv = shared.join(format!("synapse-{version}"));
    std::fs::create_dir_all(&venv).expect("venv dir");
    std::os::unix::fs::symlink(&venv, cache.join(format!("synapse-{version}"))).expect("symlink");
    cache
}

fn harness(args: &[&str], tmp: &Path, cache: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mxharness"));
    cmd.current_dir(root())
        .args(args)
        .env("TMPDIR", tmp)
        .env("MXH_CACHE_DIR", cache)
        .env_remove("MXH_TARGET")
        .env_remove("MXH_REGISTRATION_SHARED_SECRET")
        .env_remove("MXH_REGISTRATION_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Start a gateway run; its stdout and stderr go to files in `dir` (a pipe nobody reads
/// while the test polls could fill up and stall the harness).
fn gateway_run(tmp: &Path, cache: &Path, dir: &Path) -> Child {
    let reports = dir.join("reports");
    let reports = reports.to_str().expect("utf-8");
    let out = std::fs::File::create(dir.join("stdout.txt")).expect("stdout file");
    let err = std::fs::File::create(dir.join("stderr.txt")).expect("stderr file");
    harness(
        &[
            "run",
            "scenarios/gateway",
            "--gateway-kind",
            "nginx",
            "--report-dir",
            reports,
        ],
        tmp,
        cache,
    )
    .stdout(out)
    .stderr(err)
    .spawn()
    .expect("the harness starts")
}

/// What the run printed.
fn printed(dir: &Path) -> String {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        read("stdout.txt"),
        read("stderr.txt")
    )
}

/// `(pid, pgrp, is_zombie, cmdline, exe file name)` of every process.
fn processes() -> Vec<(i32, i32, bool, String, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let stat = mxharness::child::proc_stat::ProcStat::read(pid)?;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            let exe = mxharness::child::proc_stat::exe(pid)
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_default();
            Some((pid, stat.pgrp, stat.is_zombie(), cmdline, exe))
        })
        .collect()
}

/// Process groups of the live processes that name `tmp` in their command line, except the
/// test's own (the harness and its short-lived helpers, like Synapse's `--generate-config`,
/// run in it).
fn groups_naming(tmp: &str) -> BTreeSet<i32> {
    let own = nix::unistd::getpgrp().as_raw();
    processes()
        .into_iter()
        .filter(|(_, pgrp, zombie, cmdline, _)| !zombie && *pgrp != own && cmdline.contains(tmp))
        .map(|(_, pgrp, ..)| pgrp)
        .collect()
}

/// Live processes that name `tmp` or belong to one of `groups` (but not the test itself).
fn survivors(tmp: &str, groups: &BTreeSet<i32>) -> Vec<String> {
    let own = i32::try_from(std::process::id()).expect("pid fits");
    processes()
        .into_iter()
        .filter(|(pid, pgrp, zombie, cmdline, _)| {
            *pid != own && !zombie && (cmdline.contains(tmp) || groups.contains(pgrp))
        })
        .map(|(pid, pgrp, _, cmdline, _)| format!("{pid} (group {pgrp}): {cmdline}"))
        .collect()
}

/// Wait (bounded) until `tmp`'s servers are gone; returns what is still there.
fn wait_for_none(tmp: &str, groups: &BTreeSet<i32>) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = survivors(tmp, groups);
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(POLL);
    }
}

/// The groups seen so far, and whether nginx's master and a worker both run in one of them.
fn nginx_up(tmp: &str, seen: &mut BTreeSet<i32>) -> bool {
    seen.extend(groups_naming(tmp));
    let procs = processes();
    seen.iter().any(|g| {
        let in_group = |needle: &str| {
            procs.iter().any(|(_, pgrp, zombie, cmdline, _)| {
                pgrp == g && !zombie && cmdline.contains(needle)
            })
        };
        in_group("nginx: master") && in_group("nginx: worker")
    })
}

fn kill_and_collect(mut child: Child, dir: &Path) -> String {
    let _ = child.kill();
    let _ = child.wait();
    printed(dir)
}

#[test]
fn a_gateway_run_leaves_no_nginx_worker() {
    let dir = common::tempdir();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).expect("tmp");
    let cache = private_cache(dir.path());
    let tmp_text = tmp.to_str().expect("utf-8").to_owned();
    let mut child = gateway_run(&tmp, &cache, dir.path());
    let mut groups = BTreeSet::new();
    let mut saw_nginx = false;
    let deadline = Instant::now() + WAIT;
    while child.try_wait().ok().flatten().is_none() {
        saw_nginx |= nginx_up(&tmp_text, &mut groups);
        if Instant::now() > deadline {
            panic!(
                "the run did not finish: {}",
                kill_and_collect(child, dir.path())
            );
        }
        std::thread::sleep(POLL);
    }
    let status = child.wait().expect("reaped");
    let text = printed(dir.path());
    assert!(saw_nginx, "never saw nginx's master and worker: {text}");
    // The expectations file covers nginx's known gaps: the run passes.
    assert_eq!(status.code(), Some(0), "{text}");
    let left = wait_for_none(&tmp_text, &groups);
    assert!(left.is_empty(), "left running: {left:#?}\n{text}");
    let records: Vec<_> = std::fs::read_dir(cache.join("running"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(records.is_empty(), "records left: {records:?}");
}

#[test]
fn a_harness_killed_with_sigkill_takes_its_servers_along() {
    let dir = common::tempdir();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).expect("tmp");
    let cache = private_cache(dir.path());
    let tmp_text = tmp.to_str().expect("utf-8").to_owned();
    let mut child = gateway_run(&tmp, &cache, dir.path());
    let mut groups = BTreeSet::new();
    let deadline = Instant::now() + WAIT;
    // Synapse and nginx (master and worker) are running once nginx's worker is.
    while !nginx_up(&tmp_text, &mut groups) {
        if child.try_wait().ok().flatten().is_some() || Instant::now() > deadline {
            panic!("nginx never ran: {}", kill_and_collect(child, dir.path()));
        }
        std::thread::sleep(POLL);
    }
    assert!(
        survivors(&tmp_text, &groups)
            .iter()
            .any(|p| p.contains("synapse.app.homeserver")),
        "Synapse runs: {:#?}",
        survivors(&tmp_text, &groups)
    );
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("reaped");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    let left = wait_for_none(&tmp_text, &groups);
    assert!(left.is_empty(), "left running: {left:#?}");

    // SIGKILL left the servers' dirs and records behind; the next start removes them (here
    // `down`, which sweeps before it looks for an `up` server, and finds none).
    let leftover_dirs = || -> Vec<PathBuf> {
        std::fs::read_dir(&tmp)
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| {
                        p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                            n.starts_with("mxh-nginx-") || n.starts_with("mxh-synapse-")
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(leftover_dirs().len(), 2, "{:?}", leftover_dirs());
    let records = std::fs::read_dir(cache.join("running"))
        .map(|d| d.flatten().count())
        .unwrap_or_default();
    assert_eq!(records, 2, "a record for Synapse and one for nginx");
    let down = harness(&["down"], &tmp, &cache)
        .output()
        .expect("down runs");
    let text = describe(&down);
    assert!(text.contains("removed 2 temp dir(s)"), "{text}");
    assert!(leftover_dirs().is_empty(), "{:?}", leftover_dirs());
    let records = std::fs::read_dir(cache.join("running"))
        .map(|d| d.flatten().count())
        .unwrap_or_default();
    assert_eq!(records, 0);
}
