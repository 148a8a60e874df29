//! The coverage map: per checklist area, the behaviours covered and the spec operations
//! exercised side by side; per spec version, the operations that version added and has, and
//! the behaviours scenarios written for it cover; and every spec operation no scenario
//! exercises, with the reason recorded for it. `mxharness coverage` prints it and the run
//! reports carry it (docs/decisions.md, "Coverage map").

use std::collections::{BTreeMap, BTreeSet};

use super::ScenarioPlan;
use super::coverage::Behaviour;
use crate::oracle::{self, Oracle, Version};

pub use crate::results::coverage::{AreaRow, CoverageMap, MissingOperation, Ratio, VersionRow};

/// What the map needs of one scenario.
#[derive(Debug, Clone, Default)]
pub struct ScenarioFacts {
    /// Tags (behaviour IDs among them).
    pub tags: Vec<String>,
    /// `since`, parsed; `None` for a scenario of an MSC only (kept out of the version view).
    pub since: Option<Version>,
    /// Oracle operation ids the scenario sends (`METHOD /path`).
    pub operations: BTreeSet<String>,
}

impl ScenarioFacts {
    /// The facts of a planned scenario.
    pub fn of(oracle: &Oracle, plan: &ScenarioPlan) -> Self {
        let since = match plan.spec_since.as_deref().and_then(oracle::parse) {
            Some(v) => Some(v),
            None if plan.msc.is_some() => None,
            None => Some((1, 1)),
        };
        Self {
            tags: plan.tags.clone(),
            since,
            operations: super::operations::exercised(oracle, plan),
        }
    }
}

/// The lookups the map uses: an operation's area and the reason it is left out.
#[derive(Clone, Copy)]
pub struct Tables<'a> {
    /// The checklist.
    pub checklist: &'a [Behaviour],
    /// Area of an operation id.
    pub area: fn(&str) -> Option<&'static str>,
    /// Reason an operation is not exercised.
    pub reason: fn(&str) -> Option<&'static str>,
}

impl Tables<'static> {
    /// The tables shipped with this build.
    pub fn shipped() -> Self {
        Self {
            checklist: super::coverage::checklist(),
            area: operation_area,
            reason: super::operations::reason,
        }
    }
}

/// The checklist area of an operation, from `operation_areas.tsv` (generated from the
/// checklist's endpoint tables by scripts/gen-operation-areas.py).
pub fn operation_area(id: &str) -> Option<&'static str> {
    include_str!("operation_areas.tsv")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .find(|(op, _)| *op == id)
        .map(|(_, area)| area.trim())
}

fn area_of(tables: &Tables<'_>, api: &str, id: &str) -> String {
    match (tables.area)(id) {
        Some(a) => a.to_owned(),
        None if api == "server-server" => "FED-OTHER".to_owned(),
        None => "CS-OTHER".to_owned(),
    }
}

impl CoverageMap {
    /// The map of the shipped tables for planned scenarios (None if the oracle is missing).
    pub fn of_plans(plans: &[ScenarioPlan]) -> Option<Self> {
        let oracle = oracle::get()?;
        let facts: Vec<ScenarioFacts> =
            plans.iter().map(|p| ScenarioFacts::of(oracle, p)).collect();
        Some(Self::build(oracle, Tables::shipped(), &facts))
    }

    /// The map of `scenarios` against `oracle` and `tables`.
    pub fn build(oracle: &Oracle, tables: Tables<'_>, scenarios: &[ScenarioFacts]) -> Self {
        let latest = oracle.latest();
        let hit: BTreeSet<&str> = scenarios
            .iter()
            .flat_map(|s| s.operations.iter().map(String::as_str))
            .collect();
        let known: BTreeMap<&str, &str> = tables
            .checklist
            .iter()
            .map(|b| (b.id.as_str(), b.area.as_str()))
            .collect();
        let covered_by = |keep: &dyn Fn(&ScenarioFacts) -> bool| -> BTreeSet<&str> {
            scenarios
                .iter()
                .filter(|s| keep(s))
                .flat_map(|s| s.tags.iter())
                .filter_map(|t| known.get_key_value(t.as_str()).map(|(k, _)| *k))
                .collect()
        };
        let tagged = covered_by(&|_| true);

        let mut areas: BTreeMap<String, AreaRow> = BTreeMap::new();
        for b in tables.checklist {
            area_row(&mut areas, &b.area)
                .behaviours
                .add(tagged.contains(b.id.as_str()));
        }

        // Each operation id once (the table may hold an id twice, e.g. per API).
        let mut seen = BTreeSet::new();
        let unique: Vec<&oracle::Operation> = oracle
            .operations
            .iter()
            .filter(|op| seen.insert(op.id()))
            .collect();
        let mut operations = Ratio::default();
        let mut missing = Vec::new();
        for op in &unique {
            let current = op.msc.is_none() && op.exists_at(latest);
            let id = op.id();
            let exercised = hit.contains(id.as_str());
            if current {
                operations.add(exercised);
                area_row(&mut areas, &area_of(&tables, &op.api, &id))
                    .operations
                    .add(exercised);
            }
            if (current || op.msc.is_some()) && !exercised {
                missing.push(MissingOperation {
                    area: area_of(&tables, &op.api, &id),
                    reason: (tables.reason)(&id).map(str::to_owned),
                    api: op.api.clone(),
                    since: op.since.clone(),
                    id,
                });
            }
        }
        missing.sort_by(|a, b| (&a.area, &a.id).cmp(&(&b.area, &b.id)));

        let mut versions: Vec<Version> = oracle
            .versions
            .iter()
            .filter_map(|v| oracle::parse(v))
            .collect();
        versions.sort();
        let versions = versions
            .into_iter()
            .map(|v| {
                let mut added = Ratio::default();
                let mut current = Ratio::default();
                for op in unique.iter().filter(|op| op.msc.is_none()) {
                    let exercised = hit.contains(op.id().as_str());
                    if op.first_version() == Some(v) {
                        added.add(exercised);
                    }
                    if op.exists_at(v) {
                        current.add(exercised);
                    }
                }
                let within = |s: &ScenarioFacts| s.since.is_some_and(|since| since <= v);
                VersionRow {
                    version: format!("v{}", oracle::show(v)),
                    operations_added: added,
                    operations_current: current,
                    scenarios: scenarios.iter().filter(|s| within(s)).count(),
                    behaviours: Ratio {
                        covered: covered_by(&within).len(),
                        total: tables.checklist.len(),
                    },
                }
            })
            .collect();

        Self {
            spec_version: format!("v{}", oracle::show(latest)),
            scenarios: scenarios.len(),
            behaviours: Ratio {
                covered: tagged.len(),
                total: tables.checklist.len(),
            },
            operations,
            areas: areas.into_values().collect(),
            versions,
            missing,
        }
    }
}

fn area_row<'m>(areas: &'m mut BTreeMap<String, AreaRow>, area: &str) -> &'m mut AreaRow {
    areas.entry(area.to_owned()).or_insert_with(|| AreaRow {
        area: area.to_owned(),
        behaviours: Ratio::default(),
        operations: Ratio::default(),
    })
}

/// Scenarios counted in no spec version (those of an MSC only), if any.
pub fn msc_only(map: &CoverageMap) -> Option<usize> {
    let versioned = map.versions.last().map_or(0, |v| v.scenarios);
    (map.scenarios > versioned).then(|| map.scenarios - versioned)
}

/// The map as text: the area table, the version table and the missing operations.
pub fn render_text(map: &CoverageMap) -> String {
    use std::fmt::Write as _;
    let pct = |r: &Ratio| {
        r.percent()
            .map_or_else(|| "-".to_owned(), |p| format!("{p}%"))
    };
    let cell = |r: &Ratio| {
        if r.total == 0 {
            format!("{:>7} {:>4}", "-", "")
        } else {
            format!("{:>3}/{:<3} {:>4}", r.covered, r.total, pct(r))
        }
    };
    let mut out = String::new();
    let _ = writeln!(out, "{:<14} {:<12}  operations", "area", "behaviours");
    for a in &map.areas {
        let _ = writeln!(
            out,
            "{:<14} {}  {}",
            a.area,
            cell(&a.behaviours),
            cell(&a.operations)
        );
    }
    let _ = writeln!(
        out,
        "{:<14} {}  {}",
        "all",
        cell(&map.behaviours),
        cell(&map.operations)
    );
    let _ = writeln!(
        out,
        "\nby spec version (operations: added in the version, and all it has; scenarios and \
         behaviours: cumulative, scenarios whose `since` is at most the version)"
    );
    let _ = writeln!(
        out,
        "{:<8} {:<12}  {:<12}  {:>9}  behaviours",
        "version", "ops added", "ops in spec", "scenarios"
    );
    for v in &map.versions {
        let _ = writeln!(
            out,
            "{:<8} {}  {}  {:>9}  {}",
            v.version,
            cell(&v.operations_added),
            cell(&v.operations_current),
            v.scenarios,
            cell(&v.behaviours)
        );
    }
    if let Some(msc_only) = msc_only(map) {
        let _ = writeln!(
            out,
            "({msc_only} scenarios of an MSC only are in no version)"
        );
    }
    let _ = writeln!(
        out,
        "\noperations not exercised ({}, spec {}):",
        map.missing.len(),
        map.spec_version
    );
    let mut area = "";
    for m in &map.missing {
        if m.area != area {
            area = &m.area;
            let _ = writeln!(out, "  {area}");
        }
        match &m.reason {
            Some(why) => {
                let _ = writeln!(out, "    not exercised: {}  ({why})", m.id);
            }
            None => {
                let _ = writeln!(out, "    not exercised: {}  - no reason recorded", m.id);
            }
        }
    }
    out.lines().map(|l| format!("{}\n", l.trim_end())).collect()
}

#[cfg(test)]
#[path = "coverage_map_tests.rs"]
pub(crate) mod tests;
