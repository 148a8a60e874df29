//! `mxharness capacity PLAN`: the largest population at which every threshold of a load plan
//! holds; each step is one ordinary load run (setup, Goose attack, thresholds) at that size.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;

use super::load::{LoadArgs, read_plan, target_spec};
use crate::exit_codes;
use crate::lifecycle::Stop;
use crate::load::capacity::{self, StepOutcome};
use crate::load::model::PersonaKind;
use crate::load::plan::LoadPlan;
use crate::load::world::World;
use crate::load::{self as engine_mod, engine, finish, population, threshold, verdict};
use crate::results::load::{CapacityMetric, CapacityStep, LoadReport};
use crate::results::{RunInfo, ScenarioResult};
use crate::session as setup;
use crate::session::finish::{Outcome, Started, finish};

/// Options of `capacity` (those of `load`; `--shard`, `--baseline` and `--check` aside).
#[derive(Debug, Args)]
pub struct CapacityArgs {
    #[command(flatten)]
    pub load: LoadArgs,
}

/// One step's measurement: the report and the threshold verdicts.
struct Measured {
    load: LoadReport,
    verdicts: Vec<ScenarioResult>,
}

fn step_plan(plan: &LoadPlan, users: usize, hold: Duration) -> LoadPlan {
    let mut p = plan.clone();
    p.users = users;
    p.hold = hold;
    p
}

/// Per threshold: observed value, and the p50/p95 of its subject.
fn metrics(plan: &LoadPlan, load: &LoadReport) -> Vec<CapacityMetric> {
    plan.thresholds
        .iter()
        .map(|(rule, _)| {
            let pct = |p: &str| {
                let text = match &rule.subject {
                    Some(s) => format!("{p} < 0ms for {s}"),
                    None => format!("{p} < 0ms"),
                };
                threshold::parse(&text).ok().and_then(|r| r.observe(load))
            };
            let latency = matches!(
                rule.metric,
                threshold::Metric::Percentile(_) | threshold::Metric::Max | threshold::Metric::Mean
            );
            let pct = |p: &str| if latency { pct(p) } else { None };
            CapacityMetric {
                threshold: rule.text.clone(),
                held: rule.judge(load).passed,
                observed: rule.observe(load),
                p50_ms: pct("p50"),
                p95_ms: pct("p95"),
            }
        })
        .collect()
}

async fn measure(
    plan: &LoadPlan,
    prepared: &setup::Prepared,
    step: usize,
    stop: &Stop,
) -> Result<Option<Measured>, String> {
    if stop.is_stopped() {
        return Ok(None);
    }
    let pop = population::generate(plan);
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
    let tag = format!("{}c{step}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let setup_clock = Instant::now();
    let made = crate::load::setup::make(
        plan,
        &pop,
        &prepared.target.base_url,
        Arc::clone(&prepared.ctx.provisioner),
        None,
        &tag,
    )
    .await
    .map_err(|e| format!("setting up {} users failed: {e}", pop.users.len()))?;
    let setup_time = setup_clock.elapsed();
    if stop.is_stopped() {
        return Ok(None);
    }
    let world = Arc::new(World::new(
        prepared.target.base_url.clone(),
        None,
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
    // A stop (SIGINT, SIGTERM, SIGHUP) ends the step's attack through Goose's killswitch.
    let killswitch = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let reason = stop.stopped().await;
            goose::trigger_killswitch(&reason.describe());
        })
    };
    let attacked = engine::attack(Arc::clone(&world), plan, &counts).await;
    killswitch.abort();
    let attacked = attacked?;
    if attacked.interrupted || stop.is_stopped() {
        return Ok(None);
    }
    let late_lost = finish::check_history(&world).await;
    let load = finish::assemble(
        plan,
        &world,
        &attacked,
        setup_time,
        None,
        personas,
        late_lost,
        Vec::new(),
    );
    let verdicts = verdict::thresholds(&plan.id, &plan.file, &plan.thresholds, &load);
    Ok(Some(Measured { load, verdicts }))
}

pub(super) async fn capacity(args: CapacityArgs) -> u8 {
    let args = args.load;
    let plan = match read_plan(&args.plan) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let Some(spec) = plan.capacity.clone() else {
        eprintln!(
            "error: {} has no `capacity:` section (start, factor or step, max_users, hold)",
            plan.file
        );
        return exit_codes::USAGE;
    };
    if args.shard.is_some() || args.baseline.is_some() {
        eprintln!("error: capacity runs whole populations: --shard and --baseline do not apply");
        return exit_codes::USAGE;
    }
    if plan
        .personas
        .iter()
        .any(|p| p.kind == PersonaKind::Federation)
    {
        eprintln!(
            "error: capacity does not drive federation personas yet; remove them from the plan"
        );
        return exit_codes::USAGE;
    }
    for url in [&args.target, &args.target2].into_iter().flatten() {
        if !args.allow_remote && !engine_mod::is_loopback(url) {
            eprintln!(
                "error: {url} is not on this machine: pass --allow-remote to load a remote server"
            );
            return exit_codes::USAGE;
        }
    }
    if spec.max_users > args.max_users {
        eprintln!(
            "error: capacity.max_users {} is above the cap of {}: raise it with --max-users",
            spec.max_users, args.max_users
        );
        return exit_codes::USAGE;
    }
    let per_step = plan.ramp_up + spec.hold + plan.ramp_down;
    if per_step > args.max_duration {
        eprintln!(
            "error: each step runs {}, above the cap of {}: raise it with --max-duration",
            humantime::format_duration(per_step),
            humantime::format_duration(args.max_duration)
        );
        return exit_codes::USAGE;
    }
    if args.check {
        outln!(
            "{}: valid capacity plan `{}`: from {} to at most {} users, {} per step, at most {} steps and {}",
            plan.file,
            plan.id,
            spec.start,
            spec.max_users,
            humantime::format_duration(per_step),
            spec.max_steps,
            humantime::format_duration(spec.max_time)
        );
        return exit_codes::SUCCESS;
    }
    if let Err(e) = std::fs::create_dir_all(&args.report_dir) {
        eprintln!("error: cannot create {}: {e}", args.report_dir.display());
        return exit_codes::ENVIRONMENT;
    }
    let needs_ss = plan
        .personas
        .iter()
        .any(|p| p.kind == PersonaKind::SlidingSync);
    let target = target_spec(&args);
    // One stop for the whole command: preparation, every step, and the reports after.
    let stop = Stop::install(None);
    let prepared = match setup::interruptible_prepare(
        setup::prepare(&target, needs_ss, Default::default(), Default::default()),
        "target",
        &stop,
    )
    .await
    {
        Ok(p) => p,
        Err(code) => return code,
    };
    let code = drive(&plan, &spec, &prepared, &args.report_dir, &stop);
    prepared.stop().await;
    code
}

fn drive(
    plan: &LoadPlan,
    spec: &capacity::CapacitySpec,
    prepared: &setup::Prepared,
    dir: &std::path::Path,
    stop: &Stop,
) -> u8 {
    let started = Started::now();
    eprintln!(
        "Capacity of {} for `{}`: from {} users, at most {} users, {} steps, {}",
        prepared.target.base_url,
        plan.id,
        spec.start,
        spec.max_users,
        spec.max_steps,
        humantime::format_duration(spec.max_time)
    );
    // Each step's report, by run index, to pick the one at the found capacity.
    let mut measured: Vec<Measured> = Vec::new();
    let handle = tokio::runtime::Handle::current();
    let searched = capacity::search(spec, |users, attempt| {
        let p = step_plan(plan, users, spec.hold);
        let step_clock = Instant::now();
        let m = tokio::task::block_in_place(|| {
            handle.block_on(measure(&p, prepared, measured.len(), stop))
        })?;
        let Some(m) = m else {
            return Ok(StepOutcome {
                stopped: true,
                ..StepOutcome::default()
            });
        };
        let failures: Vec<String> = m
            .verdicts
            .iter()
            .zip(&plan.thresholds)
            .filter_map(|(v, (rule, _))| {
                v.failure
                    .as_ref()
                    .map(|f| format!("{}: {}", rule.text, f.message))
            })
            .collect();
        let duration = step_clock.elapsed();
        let record = CapacityStep {
            users,
            attempt,
            held: failures.is_empty(),
            duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
            errors: m.load.all.errors,
            metrics: metrics(&p, &m.load),
        };
        eprintln!("{}", capacity::progress_line(&record));
        measured.push(m);
        Ok::<_, String>(StepOutcome {
            held: failures.is_empty(),
            duration,
            failures,
            record,
            stopped: false,
        })
    });
    let searched = match searched {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_codes::ENVIRONMENT;
        }
    };
    // The reported figures and JUnit cases: the last holding run at the found capacity, else
    // the first run.
    let at = searched
        .low
        .and_then(|lo| {
            searched
                .steps
                .iter()
                .rposition(|s| s.record.users == lo && s.held)
        })
        .unwrap_or(0);
    let limiting_observed = searched.high.as_ref().and_then(|(hi, _)| {
        let i = searched.steps.iter().rposition(|s| s.record.users == *hi)?;
        let m = searched.steps.get(i)?;
        m.record.metrics.iter().find(|x| !x.held)?.observed
    });
    let report_section = searched.report(spec.max_users, limiting_observed);
    outln!("\ncapacity: {}", report_section.answer);
    // A stop (or Goose's own Ctrl-C) ends with the stop's code, after the reports of what ran.
    let stopped_by = match stop.reason() {
        Some(r) => Some(r.describe()),
        None => {
            (searched.ending == capacity::Ending::Stopped).then(|| "SIGINT (Ctrl-C)".to_owned())
        }
    };
    let stop_code = || match stop.reason() {
        Some(r) => r.exit_code(),
        None => exit_codes::INTERRUPTED,
    };
    let Some(m) = measured.into_iter().nth(at) else {
        if stopped_by.is_some() {
            eprintln!("stopped before any step finished: no report written");
            return stop_code();
        }
        eprintln!("error: no step ran (max_steps or max_time is zero)");
        return exit_codes::CHECKS_FAILED;
    };
    if let Some(by) = &stopped_by
        && stop.reason().is_none()
    {
        eprintln!("stopped by {by}: writing the reports of the steps that finished");
    }
    let mut load = m.load;
    load.capacity = Some(report_section);
    let scenarios = m.verdicts;
    let run = RunInfo {
        interrupted: stopped_by.is_some(),
        stopped_by: stopped_by.clone(),
        ..started.run_info(
            &[std::path::PathBuf::from(&plan.file)],
            None,
            load.users,
            None,
        )
    };
    let report = Outcome {
        load: Some(load),
        ..Outcome::new(run, setup::finish::target_info(prepared), scenarios)
    }
    .report(Some(stop));
    // A stop (or Goose's own Ctrl-C) ends with the stop's code, after the reports of what ran.
    let code = finish(&report, dir, Some(stop));
    if !searched.found() && code == exit_codes::SUCCESS {
        return exit_codes::CHECKS_FAILED;
    }
    code
}
