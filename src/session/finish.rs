//! The end of every run, shared by `run`, gateway runs, `load` and `merge`: the journal,
//! the run and target facts for reports, the summary, writing every report format, and the
//! exit code (the stop's own when a run was stopped).

use std::sync::Arc;
use std::time::Instant;

use crate::exit_codes;
use crate::expectations::{Expectations, LoadError};
use crate::lifecycle::{Stop, journal};
use crate::report;
use crate::results::{self, RunInfo, RunReport, TargetInfo, ToolInfo};
use crate::scenario::diagnostics;

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

/// Print the summary, write every report, and return the run's exit code: the stop's own
/// code when the run was stopped, else whether it failed.
pub fn finish(report: &RunReport, dir: &std::path::Path, stop: &Stop) -> u8 {
    eprint!("\n{}", report::render_summary(report));
    let code = match report::write_all(report, dir) {
        Ok(paths) => {
            for p in paths {
                eprintln!("wrote {}", p.display());
            }
            None
        }
        Err(e) => {
            eprintln!("error: cannot write the reports: {e}");
            Some(exit_codes::ENVIRONMENT)
        }
    };
    code.unwrap_or_else(|| {
        if let Some(reason) = stop.reason() {
            eprintln!(
                "stopped by {}: the reports hold the {} scenarios that finished",
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
        } else if report.fails() {
            exit_codes::CHECKS_FAILED
        } else {
            exit_codes::SUCCESS
        }
    })
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

/// Print the summary, write every report format, and turn the outcome into an exit code.
pub fn write_and_judge(report: &RunReport, dir: &std::path::Path) -> u8 {
    if let Some(l) = &report.load {
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
    if report
        .scenarios
        .iter()
        .any(results::ScenarioResult::fails_run)
    {
        exit_codes::CHECKS_FAILED
    } else {
        exit_codes::SUCCESS
    }
}
