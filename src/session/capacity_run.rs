//! The `capacity` command once its flags are mapped: prepare the target once, search for the
//! largest population at which every threshold of the plan holds, each step one
//! [`load_run::measure`](super::load_run::measure) at that size, and report the step at the
//! found capacity with the search.

use std::time::{Duration, Instant};

use super::finish::{Outcome, Started};
use super::load_command::Caps;
use super::load_run::{self, Measured, RunError, RunSpec};
use super::{Prepared, TargetSpec};
use crate::exit_codes;
use crate::lifecycle::Stop;
use crate::load::capacity::{self, CapacitySpec, StepOutcome};
use crate::load::model::PersonaKind;
use crate::load::plan::LoadPlan;
use crate::load::threshold;
use crate::results::RunInfo;
use crate::results::load::{CapacityMetric, CapacityStep, LoadReport};

/// The capacity section of `plan`, once it and the target `urls` are checked against the
/// caps; `Err` says why the plan cannot be searched.
pub fn check(plan: &LoadPlan, caps: &Caps, urls: &[Option<&str>]) -> Result<CapacitySpec, String> {
    let Some(spec) = plan.capacity.clone() else {
        return Err(format!(
            "{} has no `capacity:` section (start, factor or step, max_users, hold)",
            plan.file
        ));
    };
    if plan
        .personas
        .iter()
        .any(|p| p.kind == PersonaKind::Federation)
    {
        return Err(
            "capacity does not drive federation personas yet; remove them from the plan".into(),
        );
    }
    caps.check_targets(urls)?;
    if spec.max_users > caps.max_users {
        return Err(format!(
            "capacity.max_users {} is above the cap of {}: raise it with --max-users",
            spec.max_users, caps.max_users
        ));
    }
    let per_step = per_step(plan, &spec);
    if per_step > caps.max_duration {
        return Err(format!(
            "each step runs {}, above the cap of {}: raise it with --max-duration",
            humantime::format_duration(per_step),
            humantime::format_duration(caps.max_duration)
        ));
    }
    Ok(spec)
}

/// Ramp up + the step's hold + ramp down.
pub fn per_step(plan: &LoadPlan, spec: &CapacitySpec) -> Duration {
    plan.ramp_up + spec.hold + plan.ramp_down
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

/// One step: the load run at `plan`'s size; `None` when a stop ended it.
async fn measure(
    plan: LoadPlan,
    prepared: &Prepared,
    step: usize,
    stop: &Stop,
) -> Result<Option<Measured>, String> {
    let drawn = load_run::draw(&plan, None);
    let spec = RunSpec {
        plan,
        shard: None,
        baseline: None,
        tag_suffix: format!("c{step}"),
        announce: false,
        report_interrupted: false,
        notes: Vec::new(),
    };
    match load_run::measure(&spec, drawn, prepared, stop).await {
        Ok(m) => Ok(Some(m)),
        Err(RunError::StoppedInSetup(_) | RunError::Interrupted) => Ok(None),
        Err(RunError::Setup { users, error }) => {
            Err(format!("setting up {users} users failed: {error}"))
        }
        Err(RunError::Attack(e)) => Err(e),
    }
}

/// How a capacity command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Searched {
    /// Its exit code.
    pub code: u8,
    /// The answer (`at least 40 users: ...`), for stdout, when the search ran.
    pub answer: Option<String>,
}

impl Searched {
    fn code(code: u8) -> Self {
        Self { code, answer: None }
    }
}

/// Prepare `target` (no federation: capacity refuses federation personas), search, report.
pub async fn run(plan: LoadPlan, spec: CapacitySpec, target: TargetSpec) -> Searched {
    if let Err(e) = std::fs::create_dir_all(&target.report_dir) {
        eprintln!("error: cannot create {}: {e}", target.report_dir.display());
        return Searched::code(exit_codes::ENVIRONMENT);
    }
    let needs_ss = plan
        .personas
        .iter()
        .any(|p| p.kind == PersonaKind::SlidingSync);
    // One stop for the whole command: preparation, every step, and the reports after.
    let stop = Stop::install(None);
    let prepared = match super::interruptible_prepare(
        super::prepare(&target, needs_ss, Default::default(), Default::default()),
        "target",
        &stop,
    )
    .await
    {
        Ok(p) => p,
        Err(code) => return Searched::code(code),
    };
    let searched = search(&plan, &spec, &prepared, &target.report_dir, &stop);
    prepared.stop().await;
    searched
}

fn search(
    plan: &LoadPlan,
    spec: &CapacitySpec,
    prepared: &Prepared,
    dir: &std::path::Path,
    stop: &Stop,
) -> Searched {
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
            handle.block_on(measure(p.clone(), prepared, measured.len(), stop))
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
            return Searched::code(exit_codes::ENVIRONMENT);
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
    let answer = Some(report_section.answer.clone());
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
            return Searched {
                code: stop_code(),
                answer,
            };
        }
        eprintln!("error: no step ran (max_steps or max_time is zero)");
        return Searched {
            code: exit_codes::CHECKS_FAILED,
            answer,
        };
    };
    if let Some(by) = &stopped_by
        && stop.reason().is_none()
    {
        eprintln!("stopped by {by}: writing the reports of the steps that finished");
    }
    let mut load = m.load;
    load.capacity = Some(report_section);
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
        ..Outcome::new(run, super::finish::target_info(prepared), m.verdicts)
    }
    .report(Some(stop));
    // A stop (or Goose's own Ctrl-C) ends with the stop's code, after the reports of what ran.
    let code = match super::finish::finish(&report, dir, Some(stop)) {
        exit_codes::SUCCESS if !searched.found() => exit_codes::CHECKS_FAILED,
        code => code,
    };
    Searched { code, answer }
}
