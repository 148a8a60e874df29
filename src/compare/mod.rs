//! `mxharness compare`: several `report.json` files side by side, for choosing between
//! implementations (procurement).
//!
//! [`Comparison::build`] is a pure function of the reports and the candidate names; the
//! renderers ([`render_markdown`], [`render_html`], [`render_terminal`]) are pure functions
//! of the comparison, so equal inputs give byte-identical outputs.

mod capacity;
mod html;
mod load_rows;
mod markdown;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

pub use html::render_html;
pub use markdown::{render_markdown, render_terminal};

use crate::report::area_display_name;
use crate::results::{
    ExpectationKind, Outcome, ProfileResult, RunReport, ScenarioResult, Tally, level,
};

/// Passed out of ran (skips excluded).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Score {
    /// Passed.
    pub passed: usize,
    /// Ran, or the size of the set for profile tallies and endpoint coverage.
    pub ran: usize,
}

impl Score {
    /// The share passed in percent, or `None` when nothing ran.
    pub fn percent(self) -> Option<f64> {
        (self.ran > 0).then(|| self.passed as f64 * 100.0 / self.ran as f64)
    }

    /// `7/8 (87.5%)`, or `0/0` when nothing ran.
    pub fn label(self) -> String {
        match self.percent() {
            Some(p) => format!("{}/{} ({})", self.passed, self.ran, format_percent(p)),
            None => format!("{}/{}", self.passed, self.ran),
        }
    }

    /// Compares shares exactly (cross-multiplied, no floating point).
    fn share_cmp(self, other: Score) -> std::cmp::Ordering {
        let lhs = self.passed as u128 * other.ran as u128;
        let rhs = other.passed as u128 * self.ran as u128;
        lhs.cmp(&rhs)
    }
}

impl From<Tally> for Score {
    fn from(t: Tally) -> Self {
        Score {
            passed: t.passed,
            ran: t.total,
        }
    }
}

/// `87.5%` (one decimal, trailing `.0` kept for alignment).
pub fn format_percent(p: f64) -> String {
    format!("{p:.1}%")
}

/// One implementation under comparison: one report.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The name shown in every table (unique within the comparison).
    pub name: String,
    /// The report file it was read from, as given.
    pub source: String,
    /// Base URL of the target.
    pub base_url: String,
    /// Server name of the target.
    pub server_name: String,
    /// Implementation and version, when the server said.
    pub server_version: Option<String>,
    /// Sliding-sync dialect, when the run probed for it.
    pub dialect: Option<String>,
    /// Spec versions the server advertises.
    pub spec_versions: Vec<String>,
    /// When the run started (RFC 3339).
    pub started_at: String,
    /// The mxharness version that wrote the report.
    pub tool_version: String,
    /// SHA-256 of the scenario set, when recorded.
    pub scenario_set_sha256: Option<String>,
    /// Counts over all scenarios of the report.
    pub totals: Totals,
    /// `matrix-v1.11: mandatory 7/8 (87.5%), optional 1/2 (50.0%)`, when judged against a profile.
    pub profile_line: Option<String>,
}

/// Counts by outcome of one report, MUST (and POLICY) requirements apart from SHOULD/MAY
/// recommendations. Counted from the scenarios, so reports written before
/// `summary.levels` compare alike.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Scenarios in the report.
    pub total: usize,
    /// Passed (every level).
    pub passed: usize,
    /// Failed at MUST or POLICY level (known failures included).
    pub failed: usize,
    /// Failed at SHOULD or MAY level: recommendations not met.
    pub recommendations_not_met: usize,
    /// Errored.
    pub errored: usize,
    /// Skipped.
    pub skipped: usize,
    /// Blocked by a failing set-up step.
    pub blocked: usize,
    /// An operation the scenario checks is not implemented.
    pub unsupported: usize,
    /// MUST/POLICY scenarios that passed.
    pub must_passed: usize,
    /// MUST/POLICY scenarios that ran (not skipped or blocked).
    pub must_ran: usize,
    /// SHOULD/MAY scenarios that passed.
    pub recommendations_passed: usize,
    /// SHOULD/MAY scenarios that ran (not skipped or blocked).
    pub recommendations_ran: usize,
}

impl Totals {
    /// Counts the scenarios of one report.
    pub fn of(scenarios: &[ScenarioResult]) -> Totals {
        let mut t = Totals {
            total: scenarios.len(),
            ..Totals::default()
        };
        for s in scenarios {
            let requirement = level::is_requirement(&s.level);
            let ran = !matches!(s.outcome, Outcome::Skipped | Outcome::Blocked);
            let passed = s.outcome == Outcome::Passed;
            match s.outcome {
                Outcome::Passed => t.passed += 1,
                Outcome::Failed if requirement => t.failed += 1,
                Outcome::Failed => t.recommendations_not_met += 1,
                Outcome::Errored => t.errored += 1,
                Outcome::Skipped => t.skipped += 1,
                Outcome::Blocked => t.blocked += 1,
                Outcome::Unsupported => t.unsupported += 1,
            }
            let (p, r) = if requirement {
                (&mut t.must_passed, &mut t.must_ran)
            } else {
                (&mut t.recommendations_passed, &mut t.recommendations_ran)
            };
            *p += usize::from(passed);
            *r += usize::from(ran);
        }
        t
    }

    /// MUST (and POLICY) scenarios passed out of ran: the score.
    pub fn score(self) -> Score {
        Score {
            passed: self.must_passed,
            ran: self.must_ran,
        }
    }

    /// SHOULD/MAY scenarios passed out of ran, shown apart from the score.
    pub fn recommendations(self) -> Score {
        Score {
            passed: self.recommendations_passed,
            ran: self.recommendations_ran,
        }
    }
}

/// One row of figures, one cell per candidate (in candidate order), the best marked.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// What the row measures (an area id, `mandatory`, ...).
    pub key: String,
    /// The human label.
    pub label: String,
    /// Each candidate's figure, `None` when its report has none.
    pub cells: Vec<Option<Score>>,
    /// Whether each candidate's figure is the best of the row. Ties are all marked; when
    /// every candidate has the same figure, none is.
    pub best: Vec<bool>,
}

impl Row {
    fn new(key: String, label: String, cells: Vec<Option<Score>>) -> Self {
        let best = mark_best(&cells);
        Row {
            key,
            label,
            cells,
            best,
        }
    }
}

/// Marks the highest share(s) of passed; nothing when all present figures are equal or
/// fewer than two candidates have a figure.
fn mark_best(cells: &[Option<Score>]) -> Vec<bool> {
    let present: Vec<Score> = cells
        .iter()
        .flatten()
        .copied()
        .filter(|s| s.ran > 0)
        .collect();
    let Some(max) = present.iter().copied().max_by(|a, b| a.share_cmp(*b)) else {
        return vec![false; cells.len()];
    };
    let all_equal = present.iter().all(|s| s.share_cmp(max).is_eq());
    if present.len() < 2 || all_equal {
        return vec![false; cells.len()];
    }
    cells
        .iter()
        .map(|c| matches!(c, Some(s) if s.ran > 0 && s.share_cmp(max).is_eq()))
        .collect()
}

/// Endpoint coverage of one candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    /// Where the endpoint list comes from.
    pub catalogue: String,
    /// Endpoints exercised.
    pub exercised: usize,
    /// Endpoints in the catalogue.
    pub total: usize,
}

/// One candidate's result for a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioCell {
    /// Outcome.
    pub outcome: Outcome,
    /// Failure message (failed/errored) or skip reason (skipped).
    pub message: Option<String>,
    /// `known failure`, `unexpected pass` or `quarantined`, when an expectations file said so.
    pub expectation: Option<String>,
}

/// A scenario whose outcome differs between candidates, or that some reports lack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioDiff {
    /// Scenario id.
    pub id: String,
    /// Title (from the first report that has it).
    pub title: String,
    /// Area id.
    pub area: String,
    /// Each candidate's result, `None` when its report does not have the scenario.
    pub cells: Vec<Option<ScenarioCell>>,
}

/// One load figure across the candidates (percentiles and delivery latency), from the
/// reports' `load` sections; the renderers show the section only when some report has one.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadRow {
    /// What is measured, e.g. `send p95`.
    pub metric: String,
    /// Unit, e.g. `ms`.
    pub unit: String,
    /// Each candidate's figure; lower is better.
    pub values: Vec<Option<f64>>,
}

/// Several reports side by side.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// One per report, in the order given.
    pub candidates: Vec<Candidate>,
    /// MUST (and POLICY) scenarios passed out of ran, per candidate: the score.
    pub totals: Row,
    /// SHOULD/MAY scenarios passed out of ran, per candidate (not part of the score).
    pub recommendations: Row,
    /// Per area (sorted by area id).
    pub areas: Vec<Row>,
    /// Profile name per candidate and the mandatory and optional rows, when any report was
    /// judged against a profile.
    pub profile: Option<ProfileComparison>,
    /// Endpoint coverage per candidate, when any report has it.
    pub endpoints: Option<Vec<Option<Coverage>>>,
    /// Endpoint coverage as a row (exercised out of catalogue), best marked.
    pub endpoints_row: Option<Row>,
    /// Load percentiles and delivery latency; empty when no report is of a load run.
    pub load: Vec<LoadRow>,
    /// Each candidate's capacity search, when every report has one.
    pub capacity: Option<Vec<crate::results::load::CapacityReport>>,
    /// Scenarios present in every report whose outcome differs, sorted by id.
    pub differences: Vec<ScenarioDiff>,
    /// Scenarios present in some reports but missing from others, sorted by id.
    pub missing: Vec<ScenarioDiff>,
    /// Caveats a reader should know (different suites, profiles, tool versions).
    pub notes: Vec<String>,
}

/// The profile part of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileComparison {
    /// Each candidate's profile name, `None` when its run had no `--profile`.
    pub names: Vec<Option<String>>,
    /// Mandatory (MUST) tallies.
    pub mandatory: Row,
    /// Optional (SHOULD/MAY/MSC) tallies.
    pub optional: Row,
}

/// The default name of a report's candidate: the server version, else the base URL.
pub fn default_name(report: &RunReport) -> String {
    match &report.target.server_version {
        Some(v) if !v.trim().is_empty() => v.trim().to_owned(),
        _ => report.target.base_url.clone(),
    }
}

/// Makes names unique by suffixing ` (2)`, ` (3)`, ... to later duplicates.
pub fn unique_names(names: Vec<String>) -> Vec<String> {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let mut candidate = name.clone();
        let mut n = 2;
        while seen.contains(&candidate) {
            candidate = format!("{name} ({n})");
            n += 1;
        }
        seen.insert(candidate.clone());
        out.push(candidate);
    }
    out
}

fn profile_line(p: &ProfileResult) -> String {
    format!(
        "{}: mandatory {}, optional {}",
        p.name,
        Score::from(p.mandatory).label(),
        Score::from(p.optional).label()
    )
}

fn expectation_label(kind: ExpectationKind) -> &'static str {
    match kind {
        ExpectationKind::KnownFailure => "known failure",
        ExpectationKind::UnexpectedPass => "unexpected pass",
        ExpectationKind::Quarantined => "quarantined",
    }
}

/// The word for an outcome.
pub fn outcome_word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "passed",
        Outcome::Failed => "failed",
        Outcome::Errored => "errored",
        Outcome::Skipped => "skipped",
        Outcome::Blocked => "blocked",
        Outcome::Unsupported => "unsupported",
    }
}

fn scenario_cell(s: &ScenarioResult) -> ScenarioCell {
    let message = match s.outcome {
        Outcome::Failed | Outcome::Errored | Outcome::Blocked | Outcome::Unsupported => {
            s.failure.as_ref().map(|f| f.message.clone())
        }
        Outcome::Skipped => s.skip_reason.clone(),
        Outcome::Passed => None,
    };
    ScenarioCell {
        outcome: s.outcome,
        message,
        expectation: s
            .expectation
            .as_ref()
            .map(|e| expectation_label(e.kind).to_owned()),
    }
}

impl Comparison {
    /// Builds the comparison of `reports`, each with its source path and candidate name
    /// (`names` must be as long as `reports`; use [`default_name`] and [`unique_names`]).
    pub fn build(reports: &[(String, RunReport)], names: &[String]) -> Comparison {
        let n = reports.len();
        let candidates: Vec<Candidate> = reports
            .iter()
            .zip(names)
            .map(|((source, r), name)| Candidate {
                name: name.clone(),
                source: source.clone(),
                base_url: r.target.base_url.clone(),
                server_name: r.target.server_name.clone(),
                server_version: r.target.server_version.clone(),
                // the dialect label only; the full description (URL, how found) is in each report
                dialect: r
                    .target
                    .sliding_sync
                    .as_deref()
                    .and_then(|s| s.split_whitespace().next())
                    .map(str::to_owned),
                spec_versions: r.target.spec_versions.clone(),
                started_at: r.run.started_at.clone(),
                tool_version: r.tool.version.clone(),
                scenario_set_sha256: r.run.scenario_set_sha256.clone(),
                totals: Totals::of(&r.scenarios),
                profile_line: r.profile.as_ref().map(profile_line),
            })
            .collect();

        let totals = Row::new(
            "total".to_owned(),
            "MUST scenarios (score)".to_owned(),
            candidates.iter().map(|c| Some(c.totals.score())).collect(),
        );
        let recommendations = Row::new(
            "recommendations".to_owned(),
            "SHOULD/MAY recommendations met".to_owned(),
            candidates
                .iter()
                .map(|c| Some(c.totals.recommendations()))
                .collect(),
        );

        let mut area_cells: BTreeMap<&str, Vec<Option<Score>>> = BTreeMap::new();
        for (i, (_, r)) in reports.iter().enumerate() {
            for a in &r.areas {
                area_cells
                    .entry(a.area.as_str())
                    .or_insert_with(|| vec![None; n])[i] = Some(Score {
                    passed: a.passed,
                    ran: a.ran,
                });
            }
        }
        let areas = area_cells
            .into_iter()
            .map(|(area, cells)| Row::new(area.to_owned(), area_display_name(area), cells))
            .collect();

        let profile = reports.iter().any(|(_, r)| r.profile.is_some()).then(|| {
            let get = |f: fn(&ProfileResult) -> Tally| {
                reports
                    .iter()
                    .map(|(_, r)| r.profile.as_ref().map(|p| Score::from(f(p))))
                    .collect::<Vec<_>>()
            };
            ProfileComparison {
                names: reports
                    .iter()
                    .map(|(_, r)| r.profile.as_ref().map(|p| p.name.clone()))
                    .collect(),
                mandatory: Row::new(
                    "mandatory".to_owned(),
                    "Mandatory (MUST)".to_owned(),
                    get(|p| p.mandatory),
                ),
                optional: Row::new(
                    "optional".to_owned(),
                    "Optional (SHOULD/MAY/MSC)".to_owned(),
                    get(|p| p.optional),
                ),
            }
        });

        let endpoints = reports.iter().any(|(_, r)| r.endpoints.is_some()).then(|| {
            reports
                .iter()
                .map(|(_, r)| {
                    r.endpoints.as_ref().map(|e| Coverage {
                        catalogue: e.catalogue.clone(),
                        exercised: e.exercised.len(),
                        total: e.total,
                    })
                })
                .collect::<Vec<_>>()
        });
        let endpoints_row = endpoints.as_ref().map(|cov| {
            Row::new(
                "endpoints".to_owned(),
                "Endpoints exercised".to_owned(),
                cov.iter()
                    .map(|c| {
                        c.as_ref().map(|c| Score {
                            passed: c.exercised,
                            ran: c.total,
                        })
                    })
                    .collect(),
            )
        });

        let mut by_id: BTreeMap<&str, Vec<Option<&ScenarioResult>>> = BTreeMap::new();
        for (i, (_, r)) in reports.iter().enumerate() {
            for s in &r.scenarios {
                by_id.entry(s.id.as_str()).or_insert_with(|| vec![None; n])[i] = Some(s);
            }
        }
        let mut differences = Vec::new();
        let mut missing = Vec::new();
        for (id, results) in by_id {
            let Some(first) = results.iter().flatten().next() else {
                continue;
            };
            let diff = ScenarioDiff {
                id: id.to_owned(),
                title: first.title.clone(),
                area: first.area.clone(),
                cells: results.iter().map(|s| s.map(scenario_cell)).collect(),
            };
            if results.iter().any(Option::is_none) {
                missing.push(diff);
            } else if results.iter().flatten().any(|s| s.outcome != first.outcome) {
                differences.push(diff);
            }
        }

        let mut notes = Vec::new();
        let suites: BTreeSet<&str> = candidates
            .iter()
            .filter_map(|c| c.scenario_set_sha256.as_deref())
            .collect();
        if suites.len() > 1 {
            notes.push(
                "The reports ran different scenario sets (their scenario_set_sha256 differ); \
                 compare figures with care."
                    .to_owned(),
            );
        }
        if let Some(p) = &profile {
            let names: BTreeSet<Option<&str>> = p.names.iter().map(|n| n.as_deref()).collect();
            if names.len() > 1 {
                notes.push("The reports were not all judged against the same profile.".to_owned());
            }
        }
        let tools: BTreeSet<&str> = candidates.iter().map(|c| c.tool_version.as_str()).collect();
        if tools.len() > 1 {
            notes.push(format!(
                "The reports were written by different mxharness versions ({}).",
                tools.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
        if !missing.is_empty() {
            notes.push(format!(
                "{} scenario(s) are missing from some reports; per-area figures cover \
                 different sets there.",
                missing.len()
            ));
        }

        Comparison {
            candidates,
            totals,
            recommendations,
            areas,
            profile,
            endpoints,
            endpoints_row,
            load: load_rows::rows(reports),
            capacity: capacity::cells(reports),
            differences,
            missing,
            notes,
        }
    }
}

/// Why a report could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read report {path}: {source}")]
    Io {
        /// The file, as given.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a readable `report.json`.
    #[error("invalid report {path}: {source}")]
    Invalid {
        /// The file, as given.
        path: String,
        /// What is wrong with it.
        #[source]
        source: crate::report::ReportError,
    },
}

/// Reads one `report.json`, naming the file in any error.
pub fn load_report(path: &Path) -> Result<RunReport, LoadError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: shown.clone(),
        source,
    })?;
    crate::report::read_json(&text).map_err(|source| LoadError::Invalid {
        path: shown,
        source,
    })
}

#[cfg(test)]
mod tests;

/// Spec versions in a few words: the stable range plus how many legacy `r0` versions,
/// e.g. `v1.1 – v1.15 (and 8 r0)`.
pub fn spec_summary(versions: &[String]) -> String {
    let mut stable: Vec<(u32, u32, &str)> = versions
        .iter()
        .filter_map(|v| crate::plan::lower::parse_version(v).map(|(a, b)| (a, b, v.as_str())))
        .collect();
    stable.sort();
    let legacy = versions.len() - stable.len();
    let range = match (stable.first(), stable.last()) {
        (Some(first), Some(last)) if first != last => format!("{} – {}", first.2, last.2),
        (Some(only), _) => only.2.to_owned(),
        _ => "none".to_owned(),
    };
    if legacy > 0 {
        format!("{range} (and {legacy} r0)")
    } else {
        range
    }
}

/// Reads one count out of a candidate's totals.
pub(crate) type Count = fn(&Totals) -> usize;

/// The rows of the outcome-count table that both renderers show: label and the count.
pub(crate) const OUTCOME_ROWS: [(&str, Count); 8] = [
    ("Passed", |t| t.passed),
    ("Failed (MUST)", |t| t.failed),
    ("Recommendations not met (SHOULD/MAY)", |t| {
        t.recommendations_not_met
    }),
    ("Errored", |t| t.errored),
    ("Blocked", |t| t.blocked),
    ("Unsupported", |t| t.unsupported),
    ("Skipped", |t| t.skipped),
    ("Total", |t| t.total),
];

/// Capacity rows `(candidate, holds at, fails at, limiting)` for the renderers.
fn capacity_rows(c: &Comparison) -> Option<Vec<[String; 4]>> {
    let names: Vec<String> = c.candidates.iter().map(|c| c.name.clone()).collect();
    c.capacity.as_ref().map(|caps| capacity::rows(&names, caps))
}

/// Terminal lines of the capacity searches, empty without them.
fn capacity_terminal(c: &Comparison) -> String {
    let names: Vec<String> = c.candidates.iter().map(|c| c.name.clone()).collect();
    c.capacity
        .as_ref()
        .map(|caps| capacity::terminal(&names, caps))
        .unwrap_or_default()
}
