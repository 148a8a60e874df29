//! A file per running child under `<cache dir>/running/`, so that a run killed before it
//! could stop its children (SIGKILL, OOM kill, power loss of a container) is cleaned up by the
//! next start: the record names the child (pid and start time, which together survive pid
//! reuse), its process group and executable, and the harness that owns it. A record whose
//! owner is gone but whose child is still the recorded process gets that child's group
//! killed and its throw-away dir removed.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::proc_stat::{self, ProcStat};

/// What is recorded about one running child.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// What it is (`synapse`, `nginx`).
    pub kind: String,
    /// Process id.
    pub pid: i32,
    /// Start time of `pid` (clock ticks after boot, `/proc/<pid>/stat` field 22).
    pub starttime: u64,
    /// Its process group when it leads one (then the whole group goes with it).
    pub pgid: Option<i32>,
    /// Its executable after `exec`, symlinks resolved: members of the group must match it.
    pub exe: PathBuf,
    /// The command line, for the note a sweep prints.
    pub cmdline: Vec<String>,
    /// The harness process that started it.
    pub owner_pid: i32,
    /// Start time of `owner_pid`.
    pub owner_starttime: u64,
    /// A throw-away dir to remove with it...
    pub dir: Option<PathBuf>,
    /// ...only if this file is in it (a guard against removing anything else).
    pub dir_marker: Option<String>,
}

impl Record {
    /// Describe a child just spawned from `program` with `args`. `None` when `/proc` cannot
    /// tell (the child already gone, or no `/proc`).
    pub fn new(
        kind: &str,
        pid: u32,
        own_group: bool,
        program: &Path,
        args: Vec<String>,
    ) -> Option<Record> {
        let pid = i32::try_from(pid).ok()?;
        let owner_pid = i32::try_from(std::process::id()).ok()?;
        let mut cmdline = vec![program.display().to_string()];
        cmdline.extend(args);
        Some(Record {
            kind: kind.to_owned(),
            pid,
            starttime: ProcStat::read(pid)?.starttime,
            pgid: own_group.then_some(pid),
            // The child may not have called exec yet: take the program, not /proc/<pid>/exe.
            exe: std::fs::canonicalize(program).unwrap_or_else(|_| program.to_owned()),
            cmdline,
            owner_pid,
            owner_starttime: proc_stat::own_starttime()?,
            dir: None,
            dir_marker: None,
        })
    }

    /// Remove `dir` with the child, if it still holds `marker`.
    pub fn with_dir(mut self, dir: &Path, marker: &str) -> Record {
        self.dir = Some(dir.to_owned());
        self.dir_marker = Some(marker.to_owned());
        self
    }

    /// Write the record into `state_dir` (first sweeping leftovers there, once per process).
    pub fn write(&self, state_dir: &Path) -> io::Result<RecordGuard> {
        sweep_once(state_dir);
        std::fs::create_dir_all(state_dir)?;
        let name = format!("{}-{}-{}.json", self.kind, self.owner_pid, self.pid);
        let path = state_dir.join(&name);
        let tmp = state_dir.join(format!(".{name}.tmp"));
        let json = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        std::fs::write(&tmp, json)?;
        std::fs::rename(&tmp, &path)?;
        Ok(RecordGuard { path: Some(path) })
    }

    fn owner_alive(&self) -> bool {
        proc_stat::live_starttime(self.owner_pid) == Some(self.owner_starttime)
    }

    /// Live processes that are this record's child or were forked into its group.
    fn survivors(&self) -> Vec<i32> {
        let leader = proc_stat::live_starttime(self.pid) == Some(self.starttime);
        let mut pids: Vec<i32> = Vec::new();
        if leader {
            pids.push(self.pid);
        }
        if let Some(pgid) = self.pgid {
            for pid in proc_stat::group_members(pgid) {
                let same_run = ProcStat::read(pid).is_some_and(|s| s.starttime >= self.starttime)
                    && proc_stat::exe(pid).as_deref() == Some(self.exe.as_path());
                if pid != self.pid && same_run {
                    pids.push(pid);
                }
            }
        }
        pids
    }
}

/// Removes its record when dropped (the owner stopped or killed the child itself).
#[derive(Debug)]
pub struct RecordGuard {
    path: Option<PathBuf>,
}

impl RecordGuard {
    /// Remove the record now.
    pub fn remove(mut self) {
        self.remove_file();
    }

    fn remove_file(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for RecordGuard {
    fn drop(&mut self) {
        self.remove_file();
    }
}

/// `<cache dir>/running`.
pub fn state_dir(cache_dir: &Path) -> PathBuf {
    cache_dir.join("running")
}

/// What a sweep cleaned up.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    /// `kind pid` of each process killed.
    pub killed: Vec<String>,
    /// Throw-away dirs removed.
    pub dirs: Vec<PathBuf>,
}

/// Clean up after every record in `state_dir` whose owner is gone: kill its surviving
/// processes, remove its dir and the record. Records of live owners (parallel runs) are left.
pub fn sweep(state_dir: &Path) -> Swept {
    let mut swept = Swept::default();
    let Ok(entries) = std::fs::read_dir(state_dir) else {
        return swept;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let Some(record) = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Record>(&b).ok())
        else {
            // Not ours, or unreadable: records are written whole (rename), so drop it.
            let _ = std::fs::remove_file(&path);
            continue;
        };
        if record.owner_alive() {
            continue;
        }
        for pid in record.survivors() {
            if kill(Pid::from_raw(pid), Signal::SIGKILL).is_ok() {
                swept.killed.push(format!("{} {pid}", record.kind));
            }
        }
        if let (Some(dir), Some(marker)) = (&record.dir, &record.dir_marker)
            && dir.join(marker).is_file()
            && std::fs::remove_dir_all(dir).is_ok()
        {
            swept.dirs.push(dir.clone());
        }
        let _ = std::fs::remove_file(&path);
    }
    swept
}

static SWEPT_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// [`sweep`] `state_dir` the first time this process asks, printing one note if it found
/// leftovers.
pub fn sweep_once(state_dir: &Path) {
    {
        let Ok(mut done) = SWEPT_DIRS.lock() else {
            return;
        };
        if done.iter().any(|d| d == state_dir) {
            return;
        }
        done.push(state_dir.to_owned());
    }
    if let Some(note) = sweep(state_dir).note() {
        eprintln!("{note}");
    }
}

impl Swept {
    /// One line for the user, `None` when there was nothing to clean up.
    pub fn note(&self) -> Option<String> {
        let mut parts = Vec::new();
        if !self.killed.is_empty() {
            parts.push(format!("stopped {}", self.killed.join(", ")));
        }
        if !self.dirs.is_empty() {
            parts.push(format!("removed {} temp dir(s)", self.dirs.len()));
        }
        (!parts.is_empty()).then(|| {
            format!(
                "note: cleaned up after an earlier mxharness run that was killed before it \
                 stopped its servers: {}",
                parts.join("; ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sleeper() -> std::process::Child {
        let mut cmd = std::process::Command::new("sleep");
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd.arg("30").spawn().expect("sleep runs")
    }

    #[test]
    fn a_record_of_a_dead_owner_is_swept_and_a_live_one_is_kept() {
        let state = tempfile::tempdir().expect("temp dir");
        let leftovers = tempfile::tempdir().expect("temp dir");
        std::fs::write(leftovers.path().join("marker"), "").expect("marker");

        let mut orphan = sleeper();
        let mut record = Record::new(
            "sleep",
            orphan.id(),
            true,
            Path::new("/bin/sleep"),
            vec!["30".into()],
        )
        .expect("a record")
        .with_dir(leftovers.path(), "marker");
        // An owner that is gone: this pid with another start time.
        record.owner_starttime += 1;
        let guard = record.write(state.path()).expect("written");
        std::mem::forget(guard);

        let mut kept = sleeper();
        let live = Record::new("sleep", kept.id(), true, Path::new("/bin/sleep"), vec![])
            .expect("a record");
        let _live_guard = live.write(state.path()).expect("written");

        let swept = sweep(state.path());
        assert_eq!(swept.killed, vec![format!("sleep {}", orphan.id())]);
        assert_eq!(
            swept.note().as_deref(),
            Some(
                format!(
                    "note: cleaned up after an earlier mxharness run that was killed before it \
                     stopped its servers: stopped sleep {}; removed 1 temp dir(s)",
                    orphan.id()
                )
                .as_str()
            )
        );
        assert_eq!(swept.dirs, vec![leftovers.path().to_owned()]);
        assert!(orphan.wait().is_ok_and(|s| !s.success()));
        assert!(!leftovers.path().exists());
        let left: Vec<_> = std::fs::read_dir(state.path())
            .expect("dir")
            .flatten()
            .collect();
        assert_eq!(left.len(), 1, "the live owner's record stays");
        assert!(kept.try_wait().is_ok_and(|s| s.is_none()), "still running");
        let _ = kept.kill();
        let _ = kept.wait();
    }

    #[test]
    fn a_reused_pid_is_not_killed() {
        let state = tempfile::tempdir().expect("temp dir");
        let mut other = sleeper();
        let mut record = Record::new("sleep", other.id(), true, Path::new("/bin/sleep"), vec![])
            .expect("a record");
        record.owner_starttime += 1;
        // The recorded process started at another time: this pid now names someone else.
        record.starttime += 1;
        std::mem::forget(record.write(state.path()).expect("written"));
        let swept = sweep(state.path());
        assert!(swept.killed.is_empty(), "{swept:?}");
        assert_eq!(swept.note(), None);
        assert!(other.try_wait().is_ok_and(|s| s.is_none()), "still running");
        let _ = other.kill();
        let _ = other.wait();
    }
}
