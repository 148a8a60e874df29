//! `mxharness load PLAN`: check the plan and the safety caps, prepare the target (a URL or
//! the spawned Synapse), make the population, run the Goose attack, judge thresholds and the
//! baseline, and write the reports (also after Ctrl-C).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;

use super::{Registration, RunArgs, SynapseArgs, setup};
use crate::exit_codes;
use crate::load::model::PersonaKind;
use crate::load::plan::{self, LoadPlan, PlanError};
use crate::load::population::{self, Shard};
use crate::load::world::World;
use crate::load::{self as engine_mod, engine, finish, verdict};
use crate::report;
use crate::results::{self, RunInfo, RunReport, ToolInfo};
use crate::runner::Provision;
use crate::scenario::diagnostics;

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

pub(super) fn run_args(args: &LoadArgs) -> RunArgs {
    RunArgs {
        paths: vec![args.plan.clone()],
        target: args.target.clone(),
        sync_url: args.sync_url.clone(),
        sliding_sync_dialect: None,
        server_name: args.server_name.clone(),
        registration: args.registration,
        filter: None,
        jobs: 1,
        report_dir: args.report_dir.clone(),
        step_timeout: Duration::from_secs(30),
        profile: None,
        retries: 0,
        lenient_schema: false,
        expectations: None,
        no_expectations: true,
        strict: false,
        fail_on: crate::results::FailOn::Must,
        verbose: false,
        deadline: None,
        synapse: args.synapse.clone(),
        federation_server_name: None,
        federation_url: None,
        federation_ca: None,
        target2: args.target2.clone(),
        target2_server_name: None,
        target2_federation_url: None,
        gateway: super::gateway::GatewayArgs {
            gateway: None,
            gateway_kind: crate::gateway::topology::GatewayKind::Nginx,
            gateway_server_name: None,
            gateway_upstream: None,
            gateway_tap: None,
            gateway_allowed: Vec::new(),
            gateway_ca: None,
            gateway_denied: None,
            gateway_profile: None,
        },
        net: args.net.clone(),
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
    let started_at = time::OffsetDateTime::now_utc();
    let clock = Instant::now();
    let needs_ss = plan
        .personas
        .iter()
        .any(|p| p.kind == PersonaKind::SlidingSync);
    let ra = run_args(&args);
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
    let prepared = match super::run::interruptible_prepare(
        setup::prepare(&ra, needs_ss, fed_needs, Default::default()),
        "target",
        &crate::lifecycle::Stop::install(None),
    )
    .await
    {
        Ok(p) => p,
        Err(code) => return code,
    };
    let code = drive(
        &args, &plan, &pop, counts, personas, shard, baseline, &prepared, started_at, clock,
    )
    .await;
    for (s, which) in [
        (prepared.spawned, "local"),
        (prepared.spawned2, "second local"),
    ] {
        if let Some(s) = s
            && let Err(e) = s.stop().await
        {
            eprintln!("warning: stopping the {which} Synapse: {e}");
        }
    }
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
    started_at: time::OffsetDateTime,
    clock: Instant,
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
        _ = tokio::signal::ctrl_c() => {
            eprintln!("interrupted during setup; no report written");
            return exit_codes::INTERRUPTED;
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
    let world = Arc::new(World::new(
        prepared.target.base_url.clone(),
        second.as_ref().map(|(u, _)| u.clone()),
        plan.personas.clone(),
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
    let attacked = match engine::attack(Arc::clone(&world), plan, &counts).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_codes::ENVIRONMENT;
        }
    };
    if attacked.interrupted {
        eprintln!("interrupted: writing the reports of what ran");
        notes.push("stopped early by Ctrl-C".into());
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
            paths: vec![plan.file.clone()],
            filter: None,
            jobs: world.accounts.len(),
            scenario_set_sha256: None,
            interrupted: attacked.interrupted,
            stopped_by: attacked.interrupted.then(|| "SIGINT".to_owned()),
        },
        target: super::run::target_info(prepared),
        summary: results::score::summarize(&scenarios),
        profile: None,
        endpoints: None,
        areas: results::score::area_scores(&scenarios),
        scenarios,
        load: Some(load),
    };
    let code = write_and_judge(&report, &args.report_dir);
    if attacked.interrupted && code == exit_codes::SUCCESS {
        return exit_codes::INTERRUPTED;
    }
    code
}

/// Print the summary, write every report format, and turn the outcome into an exit code.
pub(super) fn write_and_judge(report: &RunReport, dir: &std::path::Path) -> u8 {
    if let Some(l) = &report.load {
        eprintln!(
            "\nall requests: {} in {:.1}s, p50 {:.1}ms p95 {:.1}ms p99 {:.1}ms, {:.2}% errors, {:.1} req/s",
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
