//! `mxharness run`: load, select, prepare the target, run, write the reports, summarise.

use std::sync::Arc;
use std::time::Instant;

use super::progress::Progress;
use super::validate::load_or_report;
use super::{RunArgs, setup};
use crate::exit_codes;
use crate::plan::filter;
use crate::report;
use crate::results::{self, Outcome, RunInfo, RunReport, TargetInfo, ToolInfo};
use crate::runner;

pub(super) async fn run(args: RunArgs) -> u8 {
    let outcome = match load_or_report(&args.paths) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let selected: Vec<_> = outcome
        .scenarios
        .into_iter()
        .filter(|s| filter::matches(args.filter.as_deref(), s))
        .collect();
    if selected.is_empty() {
        eprintln!(
            "error: no scenario selected (filter: {})",
            args.filter.as_deref().unwrap_or("none")
        );
        return exit_codes::NOTHING_SELECTED;
    }
    if let Err(e) = std::fs::create_dir_all(&args.report_dir) {
        eprintln!(
            "error: cannot create the report folder {}: {e}",
            args.report_dir.display()
        );
        return exit_codes::ENVIRONMENT;
    }
    let started_at = time::OffsetDateTime::now_utc();
    let clock = Instant::now();

    let prepared = tokio::select! {
        p = setup::prepare(&args) => p,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("interrupted while preparing the target");
            return exit_codes::INTERRUPTED;
        }
    };
    let prepared = match prepared {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: the target is not usable: {e}");
            return exit_codes::ENVIRONMENT;
        }
    };
    eprintln!(
        "Running {} scenario{} against {} ({}), {} at a time",
        selected.len(),
        if selected.len() == 1 { "" } else { "s" },
        prepared.target.base_url,
        prepared.target.server_name,
        args.jobs
    );

    let progress = Progress::new(selected.len(), args.verbose);
    let on_done = {
        let progress = Arc::clone(&progress);
        Arc::new(move |r: &results::ScenarioResult| progress.done(r))
    };
    let scenario_results = tokio::select! {
        r = runner::run(selected, Arc::clone(&prepared.ctx), args.jobs, on_done) => Some(r),
        _ = tokio::signal::ctrl_c() => None,
    };
    progress.finish();
    let Some(scenario_results) = scenario_results else {
        eprintln!("interrupted: stopping the target; no report written");
        if let Some(s) = prepared.spawned {
            let _ = s.stop().await;
        }
        return exit_codes::INTERRUPTED;
    };

    let target = &prepared.target;
    let report = RunReport {
        format_version: results::FORMAT_VERSION,
        tool: ToolInfo {
            name: "mxharness".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        run: RunInfo {
            started_at: started_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            duration_ms: u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX),
            paths: super::default_paths(&args.paths)
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            filter: args.filter.clone(),
            jobs: args.jobs,
        },
        target: TargetInfo {
            kind: target.kind.label().into(),
            base_url: target.base_url.clone(),
            server_name: target.server_name.clone(),
            server_version: target.server_version.clone(),
            spec_versions: target.spec_versions.clone(),
            registration: target.registration.label().into(),
        },
        summary: results::score::summarize(&scenario_results),
        areas: results::score::area_scores(&scenario_results),
        scenarios: scenario_results,
    };

    if let Some(s) = prepared.spawned
        && let Err(e) = s.stop().await
    {
        eprintln!("warning: stopping the local Synapse: {e}");
    }

    eprint!("\n{}", report::render_summary(&report));
    let code = match report::write_all(&report, &args.report_dir) {
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
        if report
            .scenarios
            .iter()
            .any(|s| matches!(s.outcome, Outcome::Failed | Outcome::Errored))
        {
            exit_codes::CHECKS_FAILED
        } else {
            exit_codes::SUCCESS
        }
    })
}
