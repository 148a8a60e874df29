//! The input files of a command: every file under the paths, classified once by its kind
//! ([`crate::scenario::kind::FileKind`]) and loaded by its kind's loader through the one
//! positioned parser; every problem of every file is printed with file:line:col.

use std::io::IsTerminal;
use std::path::PathBuf;

use super::paths::default_paths;
use crate::exit_codes;
use crate::plan::{self, LoadOutcome};
use crate::scenario::diagnostics;

/// Every input file under `paths`, classified once by its kind and loaded by its kind's
/// loader (all through the one positioned parser): scenarios, gateway checks and load plans.
pub(super) struct Inputs {
    /// Scenarios, load plans and their sources, as `plan::load` gives them.
    pub outcome: LoadOutcome,
    /// Valid gateway checks, sorted by id.
    pub checks: Vec<crate::gateway::suite::Check>,
    /// How many gateway check files there were.
    pub check_files: usize,
    /// Valid load plans, in file order.
    pub plans: Vec<crate::load::plan::LoadPlan>,
}

impl Inputs {
    /// Whether every file given is a gateway check (a gateway run or listing).
    pub fn only_gateway_checks(&self) -> bool {
        self.check_files > 0
            && self.outcome.sources.is_empty()
            && self.outcome.load_plans.is_empty()
    }

    /// Whether every file given is a load plan (a listing of plans).
    pub fn only_load_plans(&self) -> bool {
        !self.outcome.load_plans.is_empty()
            && self.check_files == 0
            && self.outcome.sources.len() == self.outcome.load_plans.len()
    }
}

/// Load every input file, printing diagnostics; `Err(exit code)` when any is invalid.
pub(super) fn load_or_report(paths: &[PathBuf]) -> Result<Inputs, u8> {
    let paths = default_paths(paths);
    let mut outcome = match plan::load(&paths) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return Err(exit_codes::USAGE);
        }
    };
    let plans: Vec<_> = outcome
        .load_plans
        .iter()
        .filter_map(|file| crate::load::plan::lower(file, &mut outcome.problems))
        .collect();
    let gateway_files = std::mem::take(&mut outcome.gateway_checks);
    let checks = crate::gateway::suite::load_sources(&gateway_files, &mut outcome.problems);
    outcome.sources.extend(outcome.load_plans.iter().cloned());
    if !outcome.problems.is_empty() {
        let color = std::io::stderr().is_terminal();
        let mut all = outcome.sources.clone();
        all.extend(gateway_files.iter().cloned());
        eprint!("{}", diagnostics::render(&outcome.problems, &all, color));
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
    Ok(Inputs {
        outcome,
        checks,
        check_files: gateway_files.len(),
        plans,
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
