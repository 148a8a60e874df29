//! Every stop leaves the results measured so far: SIGTERM and `--deadline` in the middle of
//! a run against the spawned Synapse write every report (marked interrupted, the unfinished
//! scenarios listed as not run) and stop Synapse; SIGKILL leaves results.jsonl, which
//! `mxharness report` renders, and no Synapse behind; SIGTERM during `load` ends the attack
//! through Goose and writes the reports of what ran; SIGTERM between `capacity` steps writes
//! the search so far.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{cache_dir, root, tempdir};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Start `mxharness run scenarios/client-server` into `dir` with `extra` arguments.
fn start_run(dir: &Path, extra: &[&str]) -> Child {
    let log = std::fs::File::create(dir.join("harness.log")).expect("log file");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mxharness"));
    cmd.current_dir(root())
        .args([
            "run",
            "scenarios/client-server",
            "--jobs",
            "2",
            "--report-dir",
        ])
        .arg(dir)
        .args(extra)
        .env("MXH_CACHE_DIR", cache_dir())
        .env_remove("MXH_TARGET")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    cmd.spawn().expect("the mxharness binary starts")
}

fn harness_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("harness.log")).unwrap_or_default()
}

/// Wait until results.jsonl holds at least `scenarios` finished scenarios (bounded).
fn wait_for_results(child: &mut Child, dir: &Path, scenarios: usize) {
    let started = Instant::now();
    loop {
        let lines = std::fs::read_to_string(dir.join("results.jsonl"))
            .map(|t| t.lines().filter(|l| l.starts_with("{\"scenario\"")).count())
            .unwrap_or(0);
        if lines >= scenarios {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the run ended ({status}) before {scenarios} results:\n{}",
                harness_log(dir)
            );
        }
        if started.elapsed() > Duration::from_secs(600) {
            let _ = child.kill();
            panic!(
                "no {scenarios} results after 10 minutes:\n{}",
                harness_log(dir)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Wait for the child's exit (bounded; killed and failed past it).
fn wait_exit(child: &mut Child, dir: &Path, limit: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!(
                "the harness did not stop within {limit:?}:\n{}",
                harness_log(dir)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The processes whose parent chain leads to `pid` (Synapse and what it started).
fn descendants(pid: u32) -> Vec<u32> {
    let mut parent_of = std::collections::BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
                continue;
            };
            // "pid (comm) state ppid …": comm may hold spaces, so split after the last ')'.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|s| s.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                parent_of.insert(p, ppid);
            }
        }
    }
    parent_of
        .keys()
        .copied()
        .filter(|&p| {
            let mut at = p;
            for _ in 0..64 {
                match parent_of.get(&at) {
                    Some(&pp) if pp == pid => return true,
                    Some(&pp) if pp > 1 => at = pp,
                    _ => return false,
                }
            }
            false
        })
        .collect()
}

/// Whether `pid` still runs (a zombie does not count).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

fn assert_all_gone(pids: &[u32], dir: &Path) {
    let started = Instant::now();
    while pids.iter().any(|&p| alive(p)) && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let left: Vec<u32> = pids.iter().copied().filter(|&p| alive(p)).collect();
    for &p in &left {
        let _ = kill(Pid::from_raw(p as i32), Signal::SIGKILL);
    }
    assert!(
        left.is_empty(),
        "processes left behind: {left:?}\n{}",
        harness_log(dir)
    );
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("valid JSON")
}

/// report.json of a stopped run: interrupted, by `by`, some scenarios finished, the rest not run.
fn assert_interrupted(report: &serde_json::Value, by: &str) {
    assert_eq!(report["run"]["interrupted"], true, "{}", report["run"]);
    assert_eq!(report["run"]["stopped_by"].as_str(), Some(by));
    let scenarios = report["scenarios"].as_array().expect("scenarios");
    let not_run = scenarios
        .iter()
        .filter(|s| {
            s["skip_reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("not run: the run was stopped"))
        })
        .count();
    let passed = scenarios
        .iter()
        .filter(|s| s["outcome"] == "passed")
        .count();
    assert!(passed >= 1, "nothing that finished was kept");
    assert!(not_run >= 1, "no scenario listed as not run");
}

#[test]
fn sigterm_writes_every_report_and_stops_synapse() {
    let dir = tempdir();
    let mut child = start_run(dir.path(), &[]);
    wait_for_results(&mut child, dir.path(), 3);
    let spawned = descendants(child.id());
    assert!(!spawned.is_empty(), "no Synapse process found");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).expect("SIGTERM");
    let status = wait_exit(&mut child, dir.path(), Duration::from_secs(120));
    assert_eq!(status.code(), Some(143), "{}", harness_log(dir.path()));
    assert_interrupted(&read_json(&dir.path().join("report.json")), "SIGTERM");
    for name in ["junit.xml", "report.html", "report.md", "results.jsonl"] {
        assert!(dir.path().join(name).exists(), "{name} missing");
    }
    let journal = std::fs::read_to_string(dir.path().join("results.jsonl")).expect("journal");
    assert!(
        journal
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("{\"end\"")),
        "the journal ends with its end line"
    );
    assert_all_gone(&spawned, dir.path());
}

#[test]
fn a_deadline_ends_the_run_with_its_reports() {
    let dir = tempdir();
    let mut child = start_run(dir.path(), &["--deadline", "40s"]);
    let status = wait_exit(&mut child, dir.path(), Duration::from_secs(600));
    let log = harness_log(dir.path());
    assert_eq!(status.code(), Some(124), "{log}");
    // The deadline may pass while Synapse is still being installed on a cold cache: then
    // nothing ran and no report is written. Otherwise the reports hold what finished.
    if dir.path().join("report.json").exists() {
        assert_interrupted(&read_json(&dir.path().join("report.json")), "deadline 40s");
    } else {
        assert!(log.contains("while preparing"), "{log}");
    }
}

#[test]
fn sigkill_leaves_the_journal_and_no_synapse() {
    let dir = tempdir();
    let mut child = start_run(dir.path(), &[]);
    wait_for_results(&mut child, dir.path(), 3);
    let spawned = descendants(child.id());
    assert!(!spawned.is_empty(), "no Synapse process found");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).expect("SIGKILL");
    let _ = wait_exit(&mut child, dir.path(), Duration::from_secs(30));
    assert_all_gone(&spawned, dir.path());

    let rendered = dir.path().join("rendered.json");
    let out = common::mxharness(
        &[
            "report",
            &dir.path().join("results.jsonl").display().to_string(),
            "--json",
            &rendered.display().to_string(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", common::describe(&out));
    let report = read_json(&rendered);
    assert_interrupted(&report, "the harness ended before the run did (killed?)");
}

#[test]
fn sigterm_during_load_writes_the_reports_of_what_ran() {
    let dir = tempdir();
    let log = std::fs::File::create(dir.path().join("harness.log")).expect("log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mxharness"))
        .current_dir(root())
        .args(["load", "scenarios/load/smoke.yaml", "--report-dir"])
        .arg(dir.path())
        .env("MXH_CACHE_DIR", cache_dir())
        .env_remove("MXH_TARGET")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("the mxharness binary starts");
    let started = Instant::now();
    while !harness_log(dir.path()).contains("Setup done in") {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "load ended ({status}) before its attack:\n{}",
                harness_log(dir.path())
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "no attack after 10 minutes:\n{}",
            harness_log(dir.path())
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(3));
    let spawned = descendants(child.id());
    assert!(!spawned.is_empty(), "no Synapse process found");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).expect("SIGTERM");
    let status = wait_exit(&mut child, dir.path(), Duration::from_secs(120));
    assert_eq!(status.code(), Some(143), "{}", harness_log(dir.path()));
    let report = read_json(&dir.path().join("report.json"));
    assert_eq!(report["run"]["interrupted"], true, "{}", report["run"]);
    assert_eq!(report["run"]["stopped_by"].as_str(), Some("SIGTERM"));
    assert!(
        report["load"]["all"]["latency"]["count"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "the requests measured before the stop are kept"
    );
    assert_all_gone(&spawned, dir.path());
}

#[test]
fn sigterm_during_capacity_writes_the_search_so_far() {
    let dir = tempdir();
    let log = std::fs::File::create(dir.path().join("harness.log")).expect("log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mxharness"))
        .current_dir(root())
        .args([
            "capacity",
            "scenarios/load/capacity-smoke.yaml",
            "--report-dir",
        ])
        .arg(dir.path())
        .env("MXH_CACHE_DIR", cache_dir())
        .env_remove("MXH_TARGET")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("the mxharness binary starts");
    let started = Instant::now();
    // After the first step's verdict line, the second step is under way.
    while !harness_log(dir.path()).contains("step ") {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "capacity ended ({status}) before a step finished:\n{}",
                harness_log(dir.path())
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "no step after 10 minutes:\n{}",
            harness_log(dir.path())
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    let spawned = descendants(child.id());
    assert!(!spawned.is_empty(), "no Synapse process found");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).expect("SIGTERM");
    let status = wait_exit(&mut child, dir.path(), Duration::from_secs(120));
    assert_eq!(status.code(), Some(143), "{}", harness_log(dir.path()));
    let report = read_json(&dir.path().join("report.json"));
    assert_eq!(report["run"]["interrupted"], true, "{}", report["run"]);
    assert_eq!(report["run"]["stopped_by"].as_str(), Some("SIGTERM"));
    let cap = &report["load"]["capacity"];
    assert_eq!(cap["ending"].as_str(), Some("stopped"), "{cap}");
    assert!(
        cap["steps"].as_array().is_some_and(|s| !s.is_empty()),
        "the finished steps are kept: {cap}"
    );
    assert_all_gone(&spawned, dir.path());
}
