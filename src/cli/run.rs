//! `mxharness run`: load, select, prepare the target, run, write the reports, summarise.

use std::sync::Arc;

use super::args::RunArgs;
use super::inputs::load_or_report;
use super::paths::{default_paths, shipped};
use super::progress::Progress;
use crate::exit_codes;
use crate::plan::filter;
use crate::session::{self as setup, finish::*, interruptible_prepare};
use std::collections::BTreeSet;

use crate::lifecycle::{Stop, journal};
use crate::matrix::endpoints;
use crate::plan::profile::Profile;
use crate::results::{ProfileResult, score};
use crate::runner;

pub(super) async fn run(args: RunArgs) -> u8 {
    let stop = Stop::install(args.deadline);
    let inputs = match load_or_report(&args.paths) {
        Ok(i) => i,
        Err(code) => return code,
    };
    if let Some(code) = super::gateway::maybe_run(&args, &inputs, &stop).await {
        return code;
    }
    let profile = match args.profile.as_deref().map(Profile::parse).transpose() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_codes::USAGE;
        }
    };
    let outcome = inputs.outcome;

    let scenario_set_sha256 = crate::plan::lower::scenario_set_hash(&outcome.sources);
    let selected: Vec<_> = outcome
        .scenarios
        .into_iter()
        .filter(|s| filter::matches(args.filter.as_deref(), s))
        .filter(|s| profile.as_ref().is_none_or(|p| p.applies(s)))
        .collect();
    let mandatory: BTreeSet<String> = profile
        .as_ref()
        .map(|p| {
            selected
                .iter()
                .filter(|s| p.mandatory(s))
                .map(|s| s.id.clone())
                .collect()
        })
        .unwrap_or_default();
    if selected.is_empty() {
        eprintln!(
            "error: no scenario selected (filter: {})",
            args.filter.as_deref().unwrap_or("none")
        );
        return exit_codes::NOTHING_SELECTED;
    }
    let expectations = match setup::expectations::load(expectations_source(&args)) {
        Ok(e) => e,
        Err(code) => return code,
    };
    if let Some(e) = &expectations {
        let ids: Vec<&str> = outcome_ids(&selected);
        let unselected = e.unknown_ids(&ids);
        if !unselected.is_empty() {
            let shown: Vec<&str> = unselected.iter().take(3).copied().collect();
            let more = unselected.len().saturating_sub(shown.len());
            eprintln!(
                "note: {} entries of {} name scenarios not selected in this run ({}{})",
                unselected.len(),
                e.file,
                shown.join(", "),
                if more > 0 {
                    format!(", and {more} more")
                } else {
                    String::new()
                }
            );
        }
    }
    if let Err(e) = std::fs::create_dir_all(&args.report_dir) {
        eprintln!(
            "error: cannot create the report folder {}: {e}",
            args.report_dir.display()
        );
        return exit_codes::ENVIRONMENT;
    }
    let needs_sliding_sync = selected.iter().any(|s| s.uses_sliding_sync);
    let fed_needs = setup::FederationNeeds {
        any: selected.iter().any(|s| s.uses_federation()),
        second_server: selected.iter().any(|s| s.uses_second_server()),
        gateway: false,
    };
    let started = Started::now();

    let prepared = match interruptible_prepare(
        setup::prepare(
            &args.target_spec(),
            needs_sliding_sync,
            fed_needs,
            setup::CapabilityNeeds::of(&selected),
        ),
        "target",
        &stop,
    )
    .await
    {
        Ok(p) => p,
        Err(code) => return code,
    };
    eprintln!(
        "Running {} scenario{} against {} ({}), {} at a time",
        selected.len(),
        if selected.len() == 1 { "" } else { "s" },
        prepared.target.base_url,
        prepared.target.server_name,
        args.jobs
    );

    let run = started.run_info(
        &default_paths(&args.paths),
        args.filter.clone(),
        args.jobs,
        Some(scenario_set_sha256),
    );
    // Independent reporters of the run's events: live progress, the journal; the collector
    // (first) gathers the results the reports are built from.
    let target = target_info(&prepared);
    let planned = selected
        .iter()
        .map(|s| journal::Planned {
            id: s.id.clone(),
            title: s.title.clone(),
            area: s.area.clone(),
            file: s.file.clone(),
            level: s.level.as_str().to_owned(),
        })
        .collect();
    let progress = Progress::new(args.verbose, expectations.clone(), args.fail_on);
    let journal = JournalStart {
        dir: &args.report_dir,
        run: &run,
        target: target.clone(),
        fail_on: args.fail_on,
        planned,
    };
    let subscribed = subscribe(
        Box::new(progress),
        journal,
        expectations,
        args.strict,
        started.clock,
    );
    let coverage = crate::plan::coverage_map::CoverageMap::of_plans(&selected);
    runner::run(
        selected,
        Arc::clone(&prepared.ctx),
        args.jobs,
        &subscribed.events,
        &stop,
    )
    .await;
    let scenario_results = subscribed.results();
    let report = Outcome {
        fail_on: args.fail_on,
        profile: profile.as_ref().map(|p| ProfileResult {
            name: p.name.clone(),
            version: p.version_label(),
            mandatory: score::tally(&scenario_results, |s| mandatory.contains(&s.id)),
            optional: score::tally(&scenario_results, |s| !mandatory.contains(&s.id)),
        }),
        endpoints: Some(score::endpoint_coverage(
            &scenario_results,
            endpoints::CATALOGUE,
            &endpoints::all().iter().map(|e| e.id()).collect::<Vec<_>>(),
        )),
        coverage,
        ..Outcome::new(started.ended(run), target_info(&prepared), scenario_results)
    }
    .report(Some(&stop));
    prepared.stop().await;
    finish(&report, &args.report_dir, Some(&stop))
}

fn outcome_ids(selected: &[crate::plan::ScenarioPlan]) -> Vec<&str> {
    selected.iter().map(|s| s.id.as_str()).collect()
}

/// The expectations to apply: `--expectations FILE`; else, for the local Synapse, the shipped
/// file of the version being started (`synapse-<version>.yaml`, or `synapse.yaml` for the
/// pinned one) when it describes that version; else none.
fn expectations_source(args: &RunArgs) -> setup::ExpectationsSource {
    use setup::ExpectationsSource as Source;
    if args.no_expectations {
        return Source::Off;
    }
    match &args.expectations {
        Some(p) => Source::Given(p.clone()),
        None if args.target.is_none() => {
            let versioned = shipped(&format!(
                "fixtures/expectations/synapse-{}.yaml",
                args.synapse.synapse_version
            ));
            Source::Shipped {
                path: if versioned.exists() {
                    versioned
                } else {
                    shipped("fixtures/expectations/synapse.yaml")
                },
                implementation: Some(format!("Synapse {}", args.synapse.synapse_version)),
            }
        }
        None => Source::Off,
    }
}
