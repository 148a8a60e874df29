//! `mxharness load PLAN`: check the plan and the safety caps, prepare the target (a URL or
//! the spawned Synapse), make the population, run the Goose attack, judge thresholds and the
//! baseline, and write the reports (also after Ctrl-C).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;

use super::args::SynapseArgs;
use crate::exit_codes;
use crate::lifecycle::Stop;
use crate::load::model::PersonaKind;
use crate::load::plan::{self, LoadPlan, PlanError};
use crate::load::population::{self, Shard};
use crate::load::world::World;
use crate::load::{self as engine_mod, engine, finish, verdict};
use crate::results::RunInfo;
use crate::runner::Provision;
use crate::scenario::diagnostics;
use crate::session::Registration;
use crate::session::finish::{Outcome, Started};
use crate::session::{self as setup, TargetSpec};

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
    /// Allow a target that is not on this machine (loopback).
    #[arg(long)]
    pub allow_remote: bool,
    /// Raise the cap on simulated users.
    #[arg(long, default_value_t = engine_mod::MAX_USERS)]
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

fn safety(args: &LoadArgs, plan: &LoadPlan) -> Result<(), String> {
    for url in [&args.target, &args.target2].into_iter().flatten() {
        if !args.allow_remote && !engine_mod::is_loopback(url) {
            return Err(format!(
                "{url} is not on this machine: pass --allow-remote to load a remote server"
            ));
        }
    }
    if plan.users > args.max_users {
        return Err(format!(
            "the plan has {} users, above the cap of {}: raise it with --max-users",
            plan.users, args.max_users
        ));
    }
    if plan.total() > args.max_duration {
        return Err(format!(
            "the plan runs {}, above the cap of {}: raise it with --max-duration",
            humantime::format_duration(plan.total()),
            humantime::format_duration(args.max_duration)
        ));
    }
    Ok(())
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
    let whole = population::generate(&plan);
    let pop = match shard {
        Some(s) => whole.shard(s),
        None => whole,
    };
    let mut counts = vec![0usize; plan.personas.len()];
    for u in &pop.users {
        if let Some(c) = counts.get_mut(u.persona) {
            *c += 1;
        }
    }
    let personas: BTreeMap<String, usize> = plan
        .personas
        .iter()
        .zip(&counts)
        .map(|(p, c)| (p.name.clone(), *c))
        .collect();
    if args.check {
        outln!(
            "{}: valid load plan `{}`: {} users ({}), {} rooms, {} thresholds, {} total",
            plan.file,
            plan.id,
            pop.users.len(),
            personas
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", "),
            pop.rooms.len(),
            plan.thresholds.len(),
            humantime::format_duration(plan.total())
        );
        return exit_codes::SUCCESS;
    }
    if let Err(e) = safety(&args, &plan) {
        eprintln!("error: {e}");
        return exit_codes::USAGE;
    }
    let baseline = match args.baseline.as_deref().map(read_baseline).transpose() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: --baseline: {e}");
            return exit_codes::USAGE;
        }
    };
    if let Err(e) = std::fs::create_dir_all(&args.report_dir) {
        eprintln!("error: cannot create {}: {e}", args.report_dir.display());
        return exit_codes::ENVIRONMENT;
    }
    let started = Started::now();
    let needs_ss = plan
        .personas
        .iter()
        .any(|p| p.kind == PersonaKind::SlidingSync);
    let spec = target_spec(&args);
    // Federation personas need a second homeserver: the one given with --target2, else a
    // second spawned Synapse federating with the spawned first one (a remote --target alone
    // cannot federate with a local Synapse, so then the personas stay idle).
    let needs_fed = plan
        .personas
        .iter()
        .any(|p| p.kind == PersonaKind::Federation)
        && (args.target.is_none() || args.target2.is_some());
    let fed_needs = setup::FederationNeeds {
        any: needs_fed,
        second_server: needs_fed,
    };
    let stop = Stop::install(None);
    let prepared = match setup::interruptible_prepare(
        setup::prepare(&spec, needs_ss, fed_needs, Default::default()),
        "target",
        &stop,
    )
    .await
    {
        Ok(p) => p,
        Err(code) => return code,
    };
    let code = drive(
        &args, &plan, &pop, counts, personas, shard, baseline, &prepared, started, &stop,
    )
    .await;
    prepared.stop().await;
    code
}

#[allow(clippy::too_many_arguments)]
async fn drive(
    args: &LoadArgs,
    plan: &LoadPlan,
    pop: &population::Population,
    counts: Vec<usize>,
    personas: BTreeMap<String, usize>,
    shard: Option<Shard>,
    baseline: Option<crate::results::load::LoadReport>,
    prepared: &setup::Prepared,
    started: Started,
    stop: &Stop,
) -> u8 {
    let mut notes = Vec::new();
    let has = |k: PersonaKind| {
        plan.personas
            .iter()
            .zip(&counts)
            .any(|(p, c)| p.kind == k && *c > 0)
    };
    let second: Option<(String, Arc<dyn Provision>)> = prepared
        .ctx
        .federation
        .as_ref()
        .and_then(|f| f.hs2.as_ref())
        .map(|p| (p.base_url.clone(), p.provisioner.clone()));
    if has(PersonaKind::Federation) && second.is_none() {
        let note =
            "federation personas stayed idle: no second homeserver (--target2 URL)".to_owned();
        eprintln!("note: {note}");
        notes.push(note);
    }
    if has(PersonaKind::SlidingSync) && prepared.ctx.sliding_sync.is_none() {
        let note = "sliding-sync personas stayed idle: the target speaks no sliding-sync dialect"
            .to_owned();
        eprintln!("note: {note}");
        notes.push(note);
    }
    eprintln!(
        "Setting up {} users and {} rooms on {} (not measured) ...",
        pop.users.len(),
        pop.rooms.len(),
        prepared.target.base_url
    );
    let tag = format!(
        "{}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8],
        shard.map(|s| format!("s{}", s.index)).unwrap_or_default()
    );
    let setup_clock = Instant::now();
    let made = tokio::select! {
        m = crate::load::setup::make(
            plan,
            pop,
            &prepared.target.base_url,
            Arc::clone(&prepared.ctx.provisioner),
            second.as_ref().map(|(u, p)| (u.as_str(), Arc::clone(p))),
            &tag,
        ) => m,
        reason = stop.stopped() => {
            eprintln!("{} during setup: nothing was measured, no report written", reason.describe());
            return reason.exit_code();
        }
    };
    let made = match made {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: setting up the population failed: {e}");
            return exit_codes::ENVIRONMENT;
        }
    };
    let setup_time = setup_clock.elapsed();
    eprintln!(
        "Setup done in {:.1}s; running `{}` for {} ({})",
        setup_time.as_secs_f64(),
        plan.id,
        humantime::format_duration(plan.total()),
        personas
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // A shard runs its share of every open-model rate.
    let shard_personas = plan
        .personas
        .iter()
        .cloned()
        .map(|mut p| {
            if let (Some(a), Some(s)) = (&p.arrivals, shard) {
                p.arrivals = Some(a.for_shard(s.index as u64, s.count as u64));
            }
            p
        })
        .collect();
    let world = Arc::new(World::new(
        prepared.target.base_url.clone(),
        second.as_ref().map(|(u, _)| u.clone()),
        shard_personas,
        made.accounts,
        made.rooms,
        made.partners,
        prepared.ctx.sliding_sync.clone(),
        plan.seed,
    ));
    for (i, a) in world.accounts.iter().enumerate() {
        let Some(p) = plan.personas.get(a.persona) else {
            continue;
        };
        let syncs = match p.kind {
            PersonaKind::Lurker => true,
            PersonaKind::SlidingSync => world.sliding_sync.is_some(),
            PersonaKind::Chatty => p
                .actions
                .iter()
                .any(|(a, w)| *a == crate::load::plan::Action::Sync && *w > 0),
            _ => false,
        };
        if syncs {
            for room in &a.rooms {
                world.tracker.add_reader(room, i);
            }
        }
    }
    // A stop (SIGINT, SIGTERM, SIGHUP) ends the attack through Goose's killswitch, so Goose
    // shuts its users down and what was measured is reported.
    let killswitch = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let reason = stop.stopped().await;
            goose::trigger_killswitch(&reason.describe());
        })
    };
    let attacked = engine::attack(Arc::clone(&world), plan, &counts).await;
    killswitch.abort();
    let mut attacked = match attacked {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_codes::ENVIRONMENT;
        }
    };
    attacked.interrupted |= stop.is_stopped();
    let stopped_by = match stop.reason() {
        Some(r) => Some(r.describe()),
        None => attacked.interrupted.then(|| "SIGINT (Ctrl-C)".to_owned()),
    };
    if let Some(by) = &stopped_by {
        if stop.reason().is_none() {
            eprintln!("stopped by {by}: writing the reports of what ran");
        }
        notes.push(format!("stopped early by {by}"));
    }
    let late_lost = finish::check_history(&world).await;
    let load = finish::assemble(
        plan,
        &world,
        &attacked,
        setup_time,
        shard.map(|s| format!("{}/{}", s.index, s.count)),
        personas,
        late_lost,
        notes,
    );
    let mut scenarios = verdict::thresholds(&plan.id, &plan.file, &plan.thresholds, &load);
    if let Some(base) = &baseline {
        let tolerance = args.tolerance.unwrap_or(plan.baseline_tolerance_pct);
        let file = args
            .baseline
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        scenarios.extend(verdict::baseline(
            &plan.id, &plan.file, &file, &load, base, tolerance,
        ));
    }
    let run = RunInfo {
        interrupted: attacked.interrupted,
        stopped_by,
        ..started.run_info(
            &[PathBuf::from(&plan.file)],
            None,
            world.accounts.len(),
            None,
        )
    };
    let report = Outcome {
        load: Some(load),
        ..Outcome::new(run, setup::finish::target_info(prepared), scenarios)
    }
    .report(Some(stop));
    // A stopped run ends with the stop's code (as `run` does), whatever its thresholds said.
    setup::finish::finish(&report, &args.report_dir, Some(stop))
}
