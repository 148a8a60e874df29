//! `mxharness merge SHARD_REPORTS... --report-dir DIR`: combine the report.json files of a
//! sharded load run exactly, judge the plan's thresholds on the merged figures, and write
//! every report format.

use std::path::PathBuf;

use clap::Args;

use crate::exit_codes;
use crate::load::{merge, verdict};
use crate::results::RunReport;

/// Options of `merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// report.json files written by `mxharness load --shard I/N`.
    #[arg(required = true)]
    pub reports: Vec<PathBuf>,
    /// The load plan whose thresholds to judge (default: the plan file the reports name).
    #[arg(long)]
    pub plan: Option<PathBuf>,
    /// Where the merged reports go.
    #[arg(long, default_value = "reports/merged")]
    pub report_dir: PathBuf,
}

pub(super) fn merge(args: &MergeArgs) -> u8 {
    let mut reports: Vec<RunReport> = Vec::new();
    for path in &args.reports {
        match crate::compare::load_report(path) {
            Ok(r) if r.load.is_some() => reports.push(r),
            Ok(_) => {
                eprintln!("error: {} is not the report of a load run", path.display());
                return exit_codes::USAGE;
            }
            Err(e) => {
                eprintln!("error: {e}");
                return exit_codes::USAGE;
            }
        }
    }
    let loads: Vec<_> = reports.iter().filter_map(|r| r.load.clone()).collect();
    let merged = match merge::merge(&loads) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: cannot merge: {e}");
            return exit_codes::USAGE;
        }
    };
    let plan_path = args
        .plan
        .clone()
        .unwrap_or_else(|| PathBuf::from(&merged.plan_file));
    let scenarios = if plan_path.exists() {
        match super::load::read_plan(&plan_path) {
            Ok(plan) => verdict::thresholds(&plan.id, &plan.file, &plan.thresholds, &merged),
            Err(code) => return code,
        }
    } else {
        eprintln!(
            "note: the plan {} is not here: no thresholds judged (pass --plan)",
            plan_path.display()
        );
        Vec::new()
    };
    let Some(first) = reports.first() else {
        return exit_codes::USAGE;
    };
    let mut run = first.run.clone();
    run.duration_ms = reports.iter().map(|r| r.run.duration_ms).max().unwrap_or(0);
    run.jobs = merged.users;
    let report = crate::session::finish::Outcome {
        load: Some(merged),
        ..crate::session::finish::Outcome::new(run, first.target.clone(), scenarios)
    }
    .report(None);
    crate::session::finish::finish(&report, &args.report_dir, None)
}
