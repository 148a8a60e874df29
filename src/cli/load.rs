//! `mxharness load PLAN`: the flags of `load`, the plan read (its problems printed) and
//! `--check`; the run itself (caps, target, population, attack, verdicts, reports) is
//! `session::load_run`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::args::SynapseArgs;
use crate::exit_codes;
use crate::load::plan::{self, LoadPlan, PlanError};
use crate::load::population::Shard;
use crate::scenario::diagnostics;
use crate::session::load_command::{self, Caps, LoadCommand};
use crate::session::load_run::{self, Baseline, RunSpec};
use crate::session::{Registration, TargetSpec};

/// Options of `load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The load plan (YAML).
    pub plan: PathBuf,
    /// Base URL of a running server; without it a local Synapse is installed and started.
    #[arg(long, env = "MXH_TARGET")]
    pub target: Option<String>,
    /// A second homeserver federating with the first, for `federation` personas. Users are
    /// registered there with MXH_TARGET2_REGISTRATION_SHARED_SECRET when set, else openly.
    #[arg(long)]
    pub target2: Option<String>,
    /// Server name of the target, when it cannot be read from the server.
    #[arg(long)]
    pub server_name: Option<String>,
    /// How to create users on the target.
    #[arg(long, value_enum, default_value_t = Registration::Auto)]
    pub registration: Registration,
    /// Base URL serving sliding sync, when it is not the homeserver.
    #[arg(long, env = "MXH_SYNC_URL")]
    pub sync_url: Option<String>,
    /// Where junit.xml, report.json, report.html and report.md go.
    #[arg(long, default_value = "reports/load")]
    pub report_dir: PathBuf,
    /// A report.json of an earlier load run of the same plan: fail when a figure regresses
    /// by more than the tolerance.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Allowed regression against `--baseline`, in percent (default: the plan's, else 20).
    #[arg(long)]
    pub tolerance: Option<f64>,
    /// Run shard I of N (0-based): a disjoint slice of the population.
    #[arg(long)]
    pub shard: Option<String>,
    /// Only check the plan and print what it would do.
    #[arg(long)]
    pub check: bool,
    /// Put the spawned second homeserver behind a local nginx border gateway (the strict
    /// config of `scenarios/gateway`), so the federation personas' traffic goes through it
    /// and its overhead shows in the federation figures (needs the spawned pair: no --target).
    #[arg(long)]
    pub federation_gateway: bool,
    /// Allow a target that is not on this machine (loopback).
    #[arg(long)]
    pub allow_remote: bool,
    /// Raise the cap on simulated users.
    #[arg(long, default_value_t = crate::load::MAX_USERS)]
    pub max_users: usize,
    /// Raise the cap on ramp up + hold + ramp down (e.g. 1h).
    #[arg(long, default_value = "15m", value_parser = humantime::parse_duration)]
    pub max_duration: Duration,
    #[command(flatten)]
    pub synapse: SynapseArgs,
    #[command(flatten)]
    pub net: super::net_args::NetArgs,
}

/// Read a plan, printing its problems; `Err(exit code)` when it is invalid.
pub(super) fn read_plan(path: &std::path::Path) -> Result<LoadPlan, u8> {
    match plan::load_file(path) {
        Ok(p) => Ok(p),
        Err(PlanError::Io(e)) => {
            eprintln!("error: {e}");
            Err(exit_codes::USAGE)
        }
        Err(PlanError::Invalid(problems, file)) => {
            let color = std::io::stderr().is_terminal();
            eprint!("{}", diagnostics::render(&problems, &[file], color));
            eprintln!(
                "error: the load plan is invalid ({} problems)",
                problems.len()
            );
            Err(exit_codes::INVALID_SCENARIO)
        }
    }
}

/// The safety caps the flags set.
pub(super) fn caps(args: &LoadArgs) -> Caps {
    Caps {
        allow_remote: args.allow_remote,
        max_users: args.max_users,
        max_duration: args.max_duration,
    }
}

/// The target a load run prepares: the flags `load` has, the rest at their defaults (no
/// federation overrides: a load run's federation is always the spawned pair or `--target2`).
pub(super) fn target_spec(args: &LoadArgs) -> TargetSpec {
    TargetSpec {
        target: args.target.clone(),
        sync_url: args.sync_url.clone(),
        sliding_sync_dialect: None,
        server_name: args.server_name.clone(),
        registration: args.registration,
        report_dir: args.report_dir.clone(),
        synapse: args.synapse.spec(),
        step_timeout: Duration::from_secs(30),
        scenario_timeout: Duration::from_secs(300),
        retries: 0,
        lenient_schema: false,
        federation_ca: None,
        federation_server_name: None,
        federation_url: None,
        target2: args.target2.clone(),
        target2_server_name: None,
        target2_federation_url: None,
        appservice_registration: None,
    }
}

fn read_baseline(path: &std::path::Path) -> Result<crate::results::load::LoadReport, String> {
    let report = crate::compare::load_report(path).map_err(|e| e.to_string())?;
    report
        .load
        .ok_or_else(|| format!("{} is not the report of a load run", path.display()))
}

pub(super) async fn load(args: LoadArgs) -> u8 {
    let plan = match read_plan(&args.plan) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let shard = match args.shard.as_deref().map(Shard::parse).transpose() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_codes::USAGE;
        }
    };
    let drawn = load_run::draw(&plan, shard);
    if args.check {
        outln!(
            "{}: valid load plan `{}`: {} users ({}), {} rooms, {} thresholds, {} total",
            plan.file,
            plan.id,
            drawn.population.users.len(),
            load_run::persona_list(&drawn.personas),
            drawn.population.rooms.len(),
            plan.thresholds.len(),
            humantime::format_duration(plan.total())
        );
        return exit_codes::SUCCESS;
    }
    let caps = caps(&args);
    if let Err(e) = caps
        .check_targets(&[args.target.as_deref(), args.target2.as_deref()])
        .and_then(|()| caps.check_plan(&plan))
    {
        eprintln!("error: {e}");
        return exit_codes::USAGE;
    }
    let baseline = match args.baseline.as_deref().map(read_baseline).transpose() {
        Ok(b) => b.map(|report| Baseline {
            report,
            file: args
                .baseline
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            tolerance_pct: args.tolerance.unwrap_or(plan.baseline_tolerance_pct),
        }),
        Err(e) => {
            eprintln!("error: --baseline: {e}");
            return exit_codes::USAGE;
        }
    };
    let target = target_spec(&args);
    load_command::run(LoadCommand {
        run: RunSpec {
            plan,
            shard,
            baseline,
            tag_suffix: shard.map(|s| format!("s{}", s.index)).unwrap_or_default(),
            announce: true,
            report_interrupted: true,
            notes: Vec::new(),
        },
        drawn,
        target,
        federation_gateway: args.federation_gateway,
    })
    .await
}
