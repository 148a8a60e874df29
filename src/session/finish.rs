//! The end of every run, the one copy shared by `run`, gateway runs, `load`, `capacity` and
//! `merge`: when the run started ([`Started`]), the journal, the run and target facts, the
//! [`Outcome`] a command produced turned into its [`RunReport`] (tool, summary, area scores,
//! marked interrupted when stopped), and [`finish`]: print the summary, write every report
//! format, and return the exit code (the stop's own when a run was stopped).

use std::sync::Arc;
use std::time::Instant;

use crate::exit_codes;
use crate::expectations::{Expectations, LoadError};
use crate::lifecycle::{Stop, journal};
use crate::report;
use crate::results::load::LoadReport;
use crate::results::{
    self, EndpointCoverage, FailOn, ProfileResult, RunInfo, RunReport, ScenarioResult, TargetInfo,
    ToolInfo,
};
use crate::scenario::diagnostics;

/// When a run started: the wall-clock time its reports show and the clock of its duration.
#[derive(Debug, Clone, Copy)]
pub struct Started {
    /// Wall-clock start.
    pub at: time::OffsetDateTime,
    /// Monotonic start.
    pub clock: Instant,
}

impl Started {
    /// Now.
    pub fn now() -> Self {
        Self {
            at: time::OffsetDateTime::now_utc(),
            clock: Instant::now(),
        }
    }

    /// The run's facts for reports (duration so far).
    pub fn run_info(
        &self,
        paths: &[std::path::PathBuf],
        filter: Option<String>,
        jobs: usize,
        scenario_set_sha256: Option<String>,
    ) -> RunInfo {
        run_info(
            paths,
            filter,
            self.at,
            self.clock,
            jobs,
            scenario_set_sha256,
        )
    }

    /// `run` with its duration up to now.
    pub fn ended(&self, run: RunInfo) -> RunInfo {
        RunInfo {
            duration_ms: elapsed_ms(self.clock),
            ..run
        }
    }
}

/// What a command's run produced: the parts of a [`RunReport`] that differ between commands.
/// [`Outcome::report`] adds the rest the one way.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// What was run, when and how.
    pub run: RunInfo,
    /// What was tested.
    pub target: TargetInfo,
    /// The results (scenarios, gateway checks, load thresholds), expectations applied.
    pub results: Vec<ScenarioResult>,
    /// The level at or above which a failure fails the run.
    pub fail_on: FailOn,
    /// A conformance profile's score.
    pub profile: Option<ProfileResult>,
    /// Endpoint coverage.
    pub endpoints: Option<EndpointCoverage>,
    /// Behaviours and spec operations of the run's scenarios (the coverage map).
    pub coverage: Option<crate::plan::coverage_map::CoverageMap>,
    /// A load run's figures.
    pub load: Option<LoadReport>,
}

impl Outcome {
    /// The outcome of a run with only results (no profile, endpoints or load figures).
    pub fn new(run: RunInfo, target: TargetInfo, results: Vec<ScenarioResult>) -> Self {
        Self {
            run,
            target,
            results,
            fail_on: FailOn::default(),
            profile: None,
            endpoints: None,
            coverage: None,
            load: None,
        }
    }

    /// The run's report: this build as the tool, the summary at `fail_on`, the area scores,
    /// and the run marked interrupted when `stop` came.
    pub fn report(self, stop: Option<&Stop>) -> RunReport {
        let run = match stop {
            Some(stop) => stopped(self.run, stop),
            None => self.run,
        };
        RunReport {
            format_version: results::FORMAT_VERSION,
            tool: tool_info(),
            run,
            target: self.target,
            summary: results::score::summarize_at(&self.results, self.fail_on),
            profile: self.profile,
            endpoints: self.endpoints,
            coverage: self.coverage,
            areas: results::score::area_scores(&self.results),
            scenarios: self.results,
            load: self.load,
        }
    }
}

/// Create `results.jsonl` in the report folder, as a reporter of the run's events (see
/// [`super::journal_writer`]); a failure is a warning (the reports at the end are still
/// written).
pub fn journal_reporter(
    dir: &std::path::Path,
    run: &RunInfo,
    target: TargetInfo,
    fail_on: results::FailOn,
    selected: Vec<journal::Planned>,
    expectations: (Option<Expectations>, bool),
    clock: Instant,
) -> Option<Box<dyn crate::runner::events::Reporter>> {
    let start = journal::Start {
        format_version: results::FORMAT_VERSION,
        tool: tool_info(),
        run: run.clone(),
        target,
        fail_on,
        selected,
    };
    match journal::Journal::create(dir, start) {
        Ok(j) => Some(Box::new(super::journal_writer::JournalWriter::new(
            Arc::new(j),
            expectations.0,
            expectations.1,
            clock,
        ))),
        Err(e) => {
            eprintln!("warning: {e}; results are kept only in the final reports");
            None
        }
    }
}

/// A run's event stream with its reporters subscribed, in order: the collector (whose results
/// become the report), the command line's live progress, and the journal (`results.jsonl`).
pub struct Subscribed {
    /// The bus the engine emits on.
    pub events: crate::runner::events::Events,
    collected: crate::runner::events::Collected,
    expectations: Option<Expectations>,
    strict: bool,
}

impl Subscribed {
    /// The results collected, the expectations applied (known failures, `--strict`).
    pub fn results(self) -> Vec<ScenarioResult> {
        let mut results = self.collected.take();
        if let Some(e) = &self.expectations {
            e.apply(&mut results, self.strict);
        }
        results
    }
}

/// What the journal of a run starts with: where, what ran, against what, and what is planned.
pub struct JournalStart<'a> {
    /// The report folder.
    pub dir: &'a std::path::Path,
    /// The run's facts.
    pub run: &'a RunInfo,
    /// What is tested.
    pub target: TargetInfo,
    /// The gating level.
    pub fail_on: FailOn,
    /// The checks selected, in order.
    pub planned: Vec<journal::Planned>,
}

/// Subscribe a run's reporters (see [`Subscribed`]); the journal, when it can be created,
/// judges each result by the same expectations as the final report.
pub fn subscribe(
    progress: Box<dyn crate::runner::events::Reporter>,
    journal: JournalStart<'_>,
    expectations: Option<Expectations>,
    strict: bool,
    clock: Instant,
) -> Subscribed {
    let mut reporters = vec![progress];
    reporters.extend(journal_reporter(
        journal.dir,
        journal.run,
        journal.target,
        journal.fail_on,
        journal.planned,
        (expectations.clone(), strict),
        clock,
    ));
    let (events, collected) = crate::runner::events::collecting(reporters);
    Subscribed {
        events,
        collected,
        expectations,
        strict,
    }
}

/// `run` marked interrupted when a stop came.
pub fn stopped(mut run: RunInfo, stop: &Stop) -> RunInfo {
    if let Some(reason) = stop.reason() {
        run.interrupted = true;
        run.stopped_by = Some(reason.describe());
    }
    run
}

pub fn elapsed_ms(clock: Instant) -> u64 {
    u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// What was tested, for reports.
pub fn target_info(prepared: &super::Prepared) -> TargetInfo {
    let target = &prepared.target;
    TargetInfo {
        kind: target.kind.label().into(),
        base_url: target.base_url.clone(),
        server_name: target.server_name.clone(),
        server_version: target.server_version.clone(),
        spec_versions: target.spec_versions.clone(),
        registration: target.registration.label().into(),
        sliding_sync: prepared.ctx.sliding_sync.as_ref().map(|t| t.describe()),
    }
}

/// This build of the harness, for reports.
pub fn tool_info() -> ToolInfo {
    ToolInfo {
        name: "mxharness".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    }
}

/// Print the summary, write every report, and return the run's exit code: the environment's
/// when the reports cannot be written, the stop's own when the run was stopped (or
/// interrupted some other way, e.g. the load engine's own Ctrl-C), else whether it failed.
/// The one end of every command that runs.
pub fn finish(report: &RunReport, dir: &std::path::Path, stop: Option<&Stop>) -> u8 {
    if let Some(l) = &report.load {
        print_load(report, l);
    }
    eprint!("\n{}", report::render_summary(report));
    match report::write_all(report, dir) {
        Ok(paths) => {
            for p in paths {
                eprintln!("wrote {}", p.display());
            }
        }
        Err(e) => {
            eprintln!("error: cannot write the reports: {e}");
            return exit_codes::ENVIRONMENT;
        }
    }
    if let Some(reason) = stop.and_then(Stop::reason) {
        eprintln!(
            "stopped by {}: the reports hold the {} results that finished",
            reason.describe(),
            report
                .scenarios
                .iter()
                .filter(|s| !s
                    .skip_reason
                    .as_deref()
                    .is_some_and(crate::lifecycle::stop::is_not_run_reason))
                .count()
        );
        reason.exit_code()
    } else if report.run.interrupted {
        exit_codes::INTERRUPTED
    } else if report.fails() {
        exit_codes::CHECKS_FAILED
    } else {
        exit_codes::SUCCESS
    }
}

/// Say which expectations are applied.
pub fn announce_expectations(e: &Expectations) {
    eprintln!(
        "Applying expectations for {} from {} ({} entries; --no-expectations for raw results)",
        e.implementation,
        e.file,
        e.len()
    );
}

/// Report an expectations file that cannot be used; returns the exit code.
pub fn expectations_error(error: LoadError) -> u8 {
    match error {
        LoadError::Io(message) => {
            eprintln!("error: cannot read the expectations file: {message}");
            crate::exit_codes::USAGE
        }
        LoadError::Invalid(problems, file) => {
            eprint!("{}", diagnostics::render(&problems, &[file], false));
            eprintln!("error: the expectations file is invalid");
            crate::exit_codes::INVALID_SCENARIO
        }
    }
}

/// What was run, when and how, for reports.
pub fn run_info(
    paths: &[std::path::PathBuf],
    filter: Option<String>,
    started_at: time::OffsetDateTime,
    clock: Instant,
    jobs: usize,
    scenario_set_sha256: Option<String>,
) -> RunInfo {
    RunInfo {
        started_at: started_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        duration_ms: elapsed_ms(clock),
        paths: paths.iter().map(|p| p.display().to_string()).collect(),
        filter,
        jobs,
        scenario_set_sha256,
        interrupted: false,
        stopped_by: None,
    }
}

/// A load run's headline figures, before the summary.
fn print_load(report: &RunReport, l: &LoadReport) {
    eprintln!(
        "\nall requests ({} model): {} in {:.1}s, p50 {:.1}ms p95 {:.1}ms p99 {:.1}ms, {:.2}% errors, {:.1} req/s",
        l.all.model.as_str(),
        l.all.latency.count,
        l.duration_ms as f64 / 1000.0,
        l.all.latency.p50_ms,
        l.all.latency.p95_ms,
        l.all.latency.p99_ms,
        l.all.error_rate_pct,
        l.all.rps
    );
    eprintln!(
        "delivery: {} sent, {} seen (p50 {:.1}ms p95 {:.1}ms), {} late, {} lost; sync wake-up p95 {:.1}ms",
        l.delivery.sent,
        l.delivery.delivered,
        l.delivery.latency.p50_ms,
        l.delivery.latency.p95_ms,
        l.delivery.late,
        l.delivery.lost,
        l.sync_wakeup.p95_ms
    );
    for a in &l.arrivals {
        eprintln!(
            "arrivals {}{}: intended {:.2}/s, achieved {:.2}/s, {} scheduled, {} dropped (max delay {}ms)",
            a.persona,
            a.action
                .as_deref()
                .map(|x| format!(" {x}"))
                .unwrap_or_default(),
            a.intended_rps,
            a.achieved_rps,
            a.scheduled,
            a.dropped,
            a.max_delay_ms
        );
    }
    for a in &l.scenario_actions {
        let errors: Vec<String> = a.errors.iter().map(|(k, n)| format!("{k} {n}")).collect();
        eprintln!(
            "{} ({}): {} iterations, {} passed{}",
            a.action,
            a.persona,
            a.iterations,
            a.passed,
            if errors.is_empty() {
                String::new()
            } else {
                format!(", errors: {}", errors.join(", "))
            }
        );
    }
    for s in report.scenarios.iter().filter(|s| s.failure.is_some()) {
        if let Some(f) = &s.failure {
            eprintln!("FAILED {}: {}", s.title, f.message);
        }
    }
}
