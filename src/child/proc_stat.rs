//! What `/proc/<pid>` says about a process: state, parent, process group, start time (clock
//! ticks since boot, which together with the pid names one process even when pids are reused)
//! and its executable.

use std::path::PathBuf;

/// The fields of `/proc/<pid>/stat` the harness needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// One-letter state (`R`, `S`, `Z`, ...).
    pub state: char,
    /// Parent process id.
    pub ppid: i32,
    /// Process group id.
    pub pgrp: i32,
    /// Start time in clock ticks after boot (field 22).
    pub starttime: u64,
}

impl ProcStat {
    /// Read `/proc/<pid>/stat`; `None` when the process is gone or the file is unreadable.
    pub fn read(pid: i32) -> Option<ProcStat> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        parse(&text)
    }

    /// Whether it has exited and only waits to be reaped.
    pub fn is_zombie(&self) -> bool {
        matches!(self.state, 'Z' | 'X')
    }
}

/// Parse the text of a stat file. The command name (field 2) is in parentheses and may itself
/// contain spaces and parentheses, so fields are counted after the last `)`.
pub fn parse(text: &str) -> Option<ProcStat> {
    let (_, rest) = text.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): field N is fields[N - 3].
    Some(ProcStat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        pgrp: fields.get(2)?.parse().ok()?,
        starttime: fields.get(19)?.parse().ok()?,
    })
}

/// The start time of a live (not zombie) process, `None` when it is gone.
pub fn live_starttime(pid: i32) -> Option<u64> {
    ProcStat::read(pid)
        .filter(|s| !s.is_zombie())
        .map(|s| s.starttime)
}

/// The executable of a process (`/proc/<pid>/exe`).
pub fn exe(pid: i32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/exe")).ok()
}

/// Every pid in `/proc`.
pub fn all_pids() -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// Live processes in process group `pgrp`.
pub fn group_members(pgrp: i32) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|pid| ProcStat::read(*pid).is_some_and(|s| s.pgrp == pgrp && !s.is_zombie()))
        .collect()
}

/// This process's own start time.
pub fn own_starttime() -> Option<u64> {
    live_starttime(i32::try_from(std::process::id()).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_stat_line_with_a_tricky_name() {
        let line = "4242 (nginx: a) b) S 1 4240 4240 0 -1 4194624 95 0 0 0 0 0 0 0 20 0 1 0 \
                    987654 11055104 420 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0";
        let s = parse(line).expect("parses");
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 1);
        assert_eq!(s.pgrp, 4240);
        assert_eq!(s.starttime, 987654);
        assert!(parse("garbage").is_none());
        assert!(parse("1 (x) S 1").is_none());
    }

    #[test]
    fn reads_itself() {
        let me = i32::try_from(std::process::id()).expect("pid fits");
        let s = ProcStat::read(me).expect("own stat");
        assert!(!s.is_zombie());
        assert_eq!(own_starttime(), Some(s.starttime));
        assert!(exe(me).is_some());
    }
}
