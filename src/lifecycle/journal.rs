//! `results.jsonl`: the append-only journal of a run, one JSON line per finished scenario,
//! written as each finishes, so even SIGKILL or an OOM kill loses nothing already measured.
//!
//! The first line says what runs (tool, run, target, the selected scenarios, `--fail-on`);
//! then one line per scenario result (redacted, expectations applied); a last line when the
//! run ended by itself or was stopped. [`read`] turns a journal back into a [`RunReport`]
//! (`mxharness report results.jsonl`); a journal without its last line is a run that was
//! killed, reported as interrupted with the unfinished scenarios not run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::results::{
    self, FailOn, Outcome, RunInfo, RunReport, ScenarioResult, TargetInfo, ToolInfo,
};

/// The journal's file name in the report folder.
pub const JOURNAL_FILE: &str = "results.jsonl";

/// A scenario the run selected, as the first line lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Planned {
    /// Scenario id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Area.
    pub area: String,
    /// File.
    pub file: String,
    /// must / should / may / policy.
    pub level: String,
}

/// The first line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Start {
    /// [`results::FORMAT_VERSION`] of the report the journal renders to.
    pub format_version: u32,
    /// Tool.
    pub tool: ToolInfo,
    /// The run (its duration is filled in at the end).
    pub run: RunInfo,
    /// What is tested.
    pub target: TargetInfo,
    /// What gates the exit code.
    pub fail_on: FailOn,
    /// Every selected scenario, so those without a result can be listed as not run.
    pub selected: Vec<Planned>,
}

/// The last line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct End {
    /// Wall time of the run.
    pub duration_ms: u64,
    /// Why the run stopped early (`SIGTERM`, `deadline 20s`), if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_by: Option<String>,
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Line {
    Start(Box<Start>),
    Scenario(Box<ScenarioResult>),
    End(End),
}

/// An open journal; each line is written whole and handed to the kernel at once.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: Mutex<Option<std::fs::File>>,
}

impl Journal {
    /// Create (truncate) `dir/results.jsonl` and write its first line.
    pub fn create(dir: &Path, start: Start) -> Result<Self, String> {
        let path = dir.join(JOURNAL_FILE);
        let file = std::fs::File::create(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        let journal = Self {
            path,
            file: Mutex::new(Some(file)),
        };
        journal.write(&Line::Start(Box::new(start)))?;
        Ok(journal)
    }

    /// Where it is written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one finished scenario. After a write error the journal is closed and every
    /// later call fails too (the reports at the end still carry everything).
    pub fn record(&self, result: &ScenarioResult) -> Result<(), String> {
        self.write(&Line::Scenario(Box::new(result.clone())))
    }

    /// Append the last line and close.
    pub fn end(&self, end: End) -> Result<(), String> {
        let written = self.write(&Line::End(end));
        if let Ok(mut f) = self.file.lock() {
            f.take();
        }
        written
    }

    fn write(&self, line: &Line) -> Result<(), String> {
        let mut guard = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(file) = guard.as_mut() else {
            return Err(format!("{} is closed", self.path.display()));
        };
        let mut text = serde_json::to_vec(line).map_err(|e| e.to_string())?;
        text.push(b'\n');
        file.write_all(&text).map_err(|e| {
            guard.take();
            format!(
                "cannot write {}: {e}; the journal stops here",
                self.path.display()
            )
        })
    }
}

/// A journal read back into a report; `problems` lists lines that could not be read.
#[derive(Debug)]
pub struct Read {
    /// The report.
    pub report: RunReport,
    /// `line N: why` for each unreadable line (a line cut by a kill is expected last).
    pub problems: Vec<String>,
}

/// Read a journal. Fails only without a readable first line.
pub fn read(text: &str) -> Result<Read, String> {
    let mut lines = text.lines().enumerate();
    let start = match lines.next().map(|(_, l)| serde_json::from_str::<Line>(l)) {
        Some(Ok(Line::Start(s))) => *s,
        Some(Ok(_)) => return Err("line 1: not the start of a journal".into()),
        Some(Err(e)) => return Err(format!("line 1: {e}")),
        None => return Err("empty journal".into()),
    };
    let mut scenarios: Vec<ScenarioResult> = Vec::new();
    let mut end = None;
    let mut problems = Vec::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Line>(line) {
            Ok(Line::Scenario(r)) => scenarios.push(*r),
            Ok(Line::End(e)) => end = Some(e),
            Ok(Line::Start(_)) => problems.push(format!("line {}: a second start", i + 1)),
            Err(e) => problems.push(format!("line {}: {e}", i + 1)),
        }
    }
    let stopped_by = match &end {
        Some(e) => e.stopped_by.clone(),
        None => Some("the harness ended before the run did (killed?)".into()),
    };
    let interrupted = stopped_by.is_some();
    if interrupted {
        let why = super::stop::not_run_because(stopped_by.as_deref().unwrap_or_default());
        for p in &start.selected {
            if !scenarios.iter().any(|s| s.id == p.id) {
                scenarios.push(ScenarioResult {
                    outcome: Outcome::Skipped,
                    skip_reason: Some(why.clone()),
                    level: p.level.clone(),
                    ..ScenarioResult::new(&p.id, &p.title, &p.area, &p.file)
                });
            }
        }
    }
    scenarios.sort_by(|a, b| a.id.cmp(&b.id));
    scenarios.dedup_by(|a, b| a.id == b.id);
    let mut run = start.run;
    run.duration_ms = end.as_ref().map_or(run.duration_ms, |e| e.duration_ms);
    run.interrupted = interrupted;
    run.stopped_by = stopped_by;
    let report = RunReport {
        format_version: start.format_version,
        tool: start.tool,
        run,
        target: start.target,
        summary: results::score::summarize_at(&scenarios, start.fail_on),
        areas: results::score::area_scores(&scenarios),
        profile: None,
        endpoints: None,
        coverage: None,
        scenarios,
        load: None,
    };
    Ok(Read { report, problems })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start() -> Start {
        let planned = |id: &str| Planned {
            id: id.into(),
            title: format!("title of {id}"),
            area: "a".into(),
            file: format!("{id}.yaml"),
            level: "must".into(),
        };
        Start {
            format_version: results::FORMAT_VERSION,
            tool: ToolInfo {
                name: "mxharness".into(),
                version: "0".into(),
            },
            run: RunInfo {
                started_at: "2026-12-03T00:00:00Z".into(),
                duration_ms: 0,
                paths: vec!["scenarios".into()],
                filter: None,
                jobs: 1,
                scenario_set_sha256: None,
                interrupted: false,
                stopped_by: None,
            },
            target: TargetInfo {
                kind: "url".into(),
                base_url: "http://127.0.0.1:1".into(),
                server_name: "localhost".into(),
                server_version: None,
                spec_versions: Vec::new(),
                registration: "none".into(),
                sliding_sync: None,
            },
            fail_on: FailOn::Must,
            selected: vec![planned("t/one"), planned("t/two"), planned("t/three")],
        }
    }

    fn failed(id: &str) -> ScenarioResult {
        ScenarioResult {
            outcome: Outcome::Failed,
            ..ScenarioResult::new(id, "t", "a", "f")
        }
    }

    #[test]
    fn a_killed_run_keeps_what_finished_and_lists_the_rest_as_not_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let journal = Journal::create(dir.path(), start()).expect("create");
        journal.record(&failed("t/two")).expect("record");
        // No end line: the process was killed. A line cut in the middle comes last.
        let mut text = std::fs::read_to_string(journal.path()).expect("read");
        text.push_str("{\"scenario\":{\"id\":\"t/thr");
        let read = read(&text).expect("readable");
        assert_eq!(read.problems.len(), 1, "{:?}", read.problems);
        let r = &read.report;
        assert!(r.run.interrupted);
        assert_eq!(r.summary.total, 3);
        assert_eq!(r.summary.failed, 1);
        assert_eq!(r.summary.skipped, 2);
        let not_run = r
            .scenarios
            .iter()
            .find(|s| s.id == "t/one")
            .expect("listed");
        assert!(
            not_run
                .skip_reason
                .as_deref()
                .is_some_and(super::super::stop::is_not_run_reason),
            "{not_run:?}"
        );
        assert!(r.fails());
    }

    #[test]
    fn a_finished_run_reads_back_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let journal = Journal::create(dir.path(), start()).expect("create");
        for id in ["t/one", "t/two", "t/three"] {
            journal
                .record(&ScenarioResult::new(id, "t", "a", "f"))
                .expect("record");
        }
        journal
            .end(End {
                duration_ms: 1234,
                stopped_by: None,
            })
            .expect("end");
        assert!(journal.record(&failed("t/late")).is_err(), "closed");
        let text = std::fs::read_to_string(journal.path()).expect("read");
        let read = read(&text).expect("readable");
        assert!(read.problems.is_empty());
        assert!(!read.report.run.interrupted);
        assert_eq!(read.report.run.duration_ms, 1234);
        assert_eq!(read.report.summary.passed, 3);
        assert!(!read.report.fails());
    }

    #[test]
    fn a_file_that_is_not_a_journal_is_refused() {
        assert!(read("").is_err());
        assert!(read("{\"end\":{\"duration_ms\":1}}").is_err());
        assert!(read("not json").is_err());
    }
}
