//! `validate`, `list`, `schema` and `ops`: everything that plans without running.

use std::path::PathBuf;

use super::args::{CoverageArgs, Format, ListArgs};
use super::inputs::{Inputs, load_or_report};
use crate::exit_codes;
use crate::plan;

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

pub(super) fn validate(paths: &[PathBuf]) -> u8 {
    match load_or_report(paths) {
        Ok(inputs) => {
            let outcome = &inputs.outcome;
            if inputs.check_files > 0 {
                outln!("{} gateway check file(s) valid", inputs.check_files);
            }
            let plans = outcome.load_plans.len();
            let scenarios = outcome.sources.len() - plans;
            if plans == 0 {
                if scenarios > 0 || inputs.check_files == 0 {
                    outln!("{scenarios} scenario file{} valid", plural(scenarios));
                }
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
fn select(inputs: Inputs, filter: Option<&str>) -> Result<Vec<plan::ScenarioPlan>, u8> {
    let selected: Vec<_> = inputs
        .outcome
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
    let inputs = match load_or_report(&args.paths) {
        Ok(i) => i,
        Err(code) => return code,
    };
    if inputs.only_gateway_checks() {
        return super::gateway::list(args, &inputs.checks);
    }
    if inputs.only_load_plans() {
        return list_plans(args, &inputs.plans);
    }
    // Gateway checks found beside the scenarios (the default `scenarios/` holds both) are
    // listed after them: every check the paths hold, under one filter.
    let checks: Vec<&crate::gateway::suite::Check> = inputs
        .checks
        .iter()
        .filter(|c| plan::filter::matches(args.filter.as_deref(), *c))
        .collect();
    let selected: Vec<_> = inputs
        .outcome
        .scenarios
        .into_iter()
        .filter(|s| plan::filter::matches(args.filter.as_deref(), s))
        .collect();
    if selected.is_empty() && checks.is_empty() {
        eprintln!("error: no scenario matches");
        return exit_codes::NOTHING_SELECTED;
    }
    match args.format {
        Format::Human => {
            for s in &selected {
                outln!("{:<48} {:<14} {}", s.id, s.area, s.title);
            }
            for c in &checks {
                outln!("{:<48} {:<14} {}", c.id, c.area, c.title);
            }
            if checks.is_empty() {
                eprintln!("{} scenarios", selected.len());
            } else {
                eprintln!(
                    "{} checks: {} scenarios, {} gateway checks",
                    selected.len() + checks.len(),
                    selected.len(),
                    checks.len()
                );
            }
        }
        Format::Json => {
            let mut items: Vec<serde_json::Value> = selected
                .iter()
                .map(|s| {
                    serde_json::json!({
                        "id": s.id, "kind": "scenario", "title": s.title, "area": s.area, "file": s.file,
                        "tags": s.tags, "spec_since": s.spec_since, "msc": s.msc,
                        "level": s.level.as_str(), "basis": s.basis,
                        "requires_capabilities": s.requires_capabilities.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
                        "steps": s.steps.len(),
                    })
                })
                .collect();
            items.extend(checks.iter().map(|c| super::gateway::list_item(c)));
            outln!(
                "{}",
                serde_json::to_string_pretty(&items).unwrap_or_default()
            );
        }
    }
    exit_codes::SUCCESS
}

/// A load plan as the filter sees it: its id, area `load`, no tags, no level.
struct PlanRow<'a>(&'a crate::load::plan::LoadPlan);

impl plan::filter::Selectable for PlanRow<'_> {
    fn id(&self) -> &str {
        &self.0.id
    }
    fn area(&self) -> &str {
        "load"
    }
    fn tags(&self) -> &[String] {
        &[]
    }
    fn level(&self) -> crate::scenario::model::Level {
        crate::scenario::model::Level::Policy
    }
    fn has_level(&self) -> bool {
        false
    }
}

/// `list` of load plans (every file given is one), selected by the same filter language.
fn list_plans(args: &ListArgs, plans: &[crate::load::plan::LoadPlan]) -> u8 {
    let selected: Vec<_> = plans
        .iter()
        .filter(|p| plan::filter::matches(args.filter.as_deref(), &PlanRow(p)))
        .collect();
    if selected.is_empty() {
        eprintln!("error: no load plan matches");
        return exit_codes::NOTHING_SELECTED;
    }
    match args.format {
        Format::Human => {
            for p in &selected {
                outln!("{:<48} {:<14} {}", p.id, "load", p.title);
            }
            eprintln!("{} load plans", selected.len());
        }
        Format::Json => {
            let items: Vec<serde_json::Value> = selected
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "id": p.id, "title": p.title, "area": "load", "file": p.file,
                        "users": p.users, "thresholds": p.thresholds.len(),
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
    let selected = match load_or_report(&args.paths).and_then(|i| select(i, args.filter.as_deref()))
    {
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
