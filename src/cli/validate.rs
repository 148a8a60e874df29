//! `validate`, `list`, `schema` and `ops`: everything that plans without running.

use std::io::IsTerminal;
use std::path::PathBuf;

use super::args::{CoverageArgs, Format, ListArgs};
use super::paths::default_paths;
use crate::exit_codes;
use crate::plan::{self, LoadOutcome};
use crate::scenario::diagnostics;

/// Load scenarios, printing diagnostics; `Err(exit code)` when they are invalid.
pub(super) fn load_or_report(paths: &[PathBuf]) -> Result<LoadOutcome, u8> {
    let paths = default_paths(paths);
    let mut outcome = match plan::load(&paths) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return Err(exit_codes::USAGE);
        }
    };
    for file in &outcome.load_plans {
        crate::load::plan::lower(file, &mut outcome.problems);
    }
    outcome.sources.extend(outcome.load_plans.iter().cloned());
    if !outcome.problems.is_empty() {
        let color = std::io::stderr().is_terminal();
        eprint!(
            "{}",
            diagnostics::render(&outcome.problems, &outcome.sources, color)
        );
        let files: std::collections::BTreeSet<&str> =
            outcome.problems.iter().map(|p| p.file.as_str()).collect();
        eprintln!(
            "error: {} problem{} in {} file{}",
            outcome.problems.len(),
            plural(outcome.problems.len()),
            files.len(),
            plural(files.len())
        );
        return Err(exit_codes::INVALID_SCENARIO);
    }
    Ok(outcome)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

pub(super) fn validate(paths: &[PathBuf]) -> u8 {
    if let Some(code) = super::gateway::validate(paths) {
        return code;
    }
    match load_or_report(paths) {
        Ok(outcome) => {
            let plans = outcome.load_plans.len();
            let scenarios = outcome.sources.len() - plans;
            if plans == 0 {
                outln!("{scenarios} scenario file{} valid", plural(scenarios));
            } else {
                outln!(
                    "{scenarios} scenario file{} and {plans} load plan{} valid",
                    plural(scenarios),
                    plural(plans)
                );
            }
            exit_codes::SUCCESS
        }
        Err(code) => code,
    }
}

/// The scenarios of `paths` that `filter` selects; none is an error (exit 4).
fn select(paths: &[PathBuf], filter: Option<&str>) -> Result<Vec<plan::ScenarioPlan>, u8> {
    let outcome = load_or_report(paths)?;
    let selected: Vec<_> = outcome
        .scenarios
        .into_iter()
        .filter(|s| plan::filter::matches(filter, s))
        .collect();
    if selected.is_empty() {
        eprintln!("error: no scenario matches");
        return Err(exit_codes::NOTHING_SELECTED);
    }
    Ok(selected)
}

pub(super) fn list(args: &ListArgs) -> u8 {
    if let Some(code) = super::gateway::list(args) {
        return code;
    }
    let selected = match select(&args.paths, args.filter.as_deref()) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match args.format {
        Format::Human => {
            for s in &selected {
                outln!("{:<48} {:<14} {}", s.id, s.area, s.title);
            }
            eprintln!("{} scenarios", selected.len());
        }
        Format::Json => {
            let items: Vec<serde_json::Value> = selected
                .iter()
                .map(|s| {
                    serde_json::json!({
                        "id": s.id, "title": s.title, "area": s.area, "file": s.file,
                        "tags": s.tags, "spec_since": s.spec_since, "msc": s.msc,
                        "level": s.level.as_str(), "basis": s.basis,
                        "requires_capabilities": s.requires_capabilities.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
                        "steps": s.steps.len(),
                    })
                })
                .collect();
            outln!(
                "{}",
                serde_json::to_string_pretty(&items).unwrap_or_default()
            );
        }
    }
    exit_codes::SUCCESS
}

pub(super) fn coverage(args: &CoverageArgs) -> u8 {
    use crate::plan::coverage::{Coverage, checklist};
    let selected = match select(&args.paths, args.filter.as_deref()) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let list = checklist();
    let cov = Coverage::build(
        list,
        selected.iter().map(|s| (s.id.as_str(), s.tags.as_slice())),
    );
    let ops = crate::oracle::get()
        .map(|o| crate::plan::operations::OperationCoverage::build(o, &selected));
    let map = crate::plan::coverage_map::CoverageMap::of_plans(&selected);
    match args.format {
        Format::Json => {
            #[derive(serde::Serialize)]
            struct Both<'a> {
                #[serde(flatten)]
                behaviours: &'a Coverage,
                operations: Option<&'a crate::plan::operations::OperationCoverage>,
                map: Option<&'a crate::plan::coverage_map::CoverageMap>,
            }
            let both = Both {
                behaviours: &cov,
                operations: ops.as_ref(),
                map: map.as_ref(),
            };
            outln!(
                "{}",
                serde_json::to_string_pretty(&both).unwrap_or_default()
            )
        }
        Format::Human => {
            let text: std::collections::BTreeMap<&str, &str> = list
                .iter()
                .map(|b| (b.id.as_str(), b.text.as_str()))
                .collect();
            if let Some(map) = &map {
                out!("{}", crate::plan::coverage_map::render_text(map));
            }
            if args.uncovered {
                for a in cov.areas.iter().filter(|a| !a.uncovered.is_empty()) {
                    outln!("  {}", a.area);
                    for id in &a.uncovered {
                        outln!(
                            "    not covered: {id}  {}",
                            text.get(id.as_str()).unwrap_or(&"")
                        );
                    }
                }
            }
            outln!(
                "behaviours covered: {}/{} ({}%) by {} scenarios",
                cov.covered,
                cov.total,
                cov.covered * 100 / cov.total.max(1),
                selected.len()
            );
            if let Some(ops) = &ops {
                for api in &ops.apis {
                    outln!(
                        "operations {:<14} {:>3}/{:<3} {:>4}%  (spec {}{})",
                        api.api,
                        api.exercised,
                        api.total,
                        api.exercised * 100 / api.total.max(1),
                        ops.spec_version,
                        if api.api == "msc4186" {
                            ", MSC4186"
                        } else {
                            ""
                        }
                    );
                }
            }
        }
    }
    for (tag, scenarios) in &cov.unknown {
        eprintln!(
            "warning: tag {tag} looks like a behaviour ID but the checklist has none (in {})",
            scenarios.join(", ")
        );
    }
    exit_codes::SUCCESS
}

pub(super) fn schema(load: bool) -> u8 {
    let schema = if load {
        crate::load::model::json_schema()
    } else {
        crate::scenario::model::json_schema()
    };
    match serde_json::to_string_pretty(&schema) {
        Ok(s) => {
            outln!("{s}");
            exit_codes::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit_codes::ENVIRONMENT
        }
    }
}

pub(super) fn ops() -> u8 {
    for op in crate::matrix::ops::all() {
        let (method, path) = op.endpoint();
        outln!(
            "{:<22} {:<6} {}\n{:<22} {}",
            op.name(),
            method,
            path,
            "",
            op.summary()
        );
    }
    exit_codes::SUCCESS
}
