//! One load run on a prepared target, the one implementation behind `load` and every
//! `capacity` step: the population drawn from the plan, its setup (not measured), the world,
//! the Goose attack (ended by a stop through Goose's killswitch), and the figures with the
//! threshold and baseline verdicts. The `load` command around it is
//! [`load_command`](super::load_command).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use super::Prepared;
use crate::lifecycle::{Stop, StopReason};
use crate::load::model::PersonaKind;
use crate::load::plan::{Action, LoadPlan};
use crate::load::population::{self, Population, Shard};
use crate::load::world::World;
use crate::load::{engine, finish, verdict};
use crate::results::ScenarioResult;
use crate::results::load::LoadReport;
use crate::target::users::Provision;

/// The population of a plan (or of one shard of it), with the users per persona.
#[derive(Debug, Clone)]
pub struct Drawn {
    /// The simulated users and rooms.
    pub population: Population,
    /// Users per persona, in the plan's order.
    pub counts: Vec<usize>,
    /// Users per persona name (for messages and the report).
    pub personas: BTreeMap<String, usize>,
}

/// Draw the seeded population of `plan`, only `shard`'s slice of it when given.
pub fn draw(plan: &LoadPlan, shard: Option<Shard>) -> Drawn {
    let whole = population::generate(plan);
    let population = match shard {
        Some(s) => whole.shard(s),
        None => whole,
    };
    let mut counts = vec![0usize; plan.personas.len()];
    for u in &population.users {
        if let Some(c) = counts.get_mut(u.persona) {
            *c += 1;
        }
    }
    let personas = plan
        .personas
        .iter()
        .zip(&counts)
        .map(|(p, c)| (p.name.clone(), *c))
        .collect();
    Drawn {
        population,
        counts,
        personas,
    }
}

/// `lurker 3, chatty 2`: users per persona, for messages.
pub fn persona_list(personas: &BTreeMap<String, usize>) -> String {
    personas
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An earlier load report to compare the figures with.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// Its `load` section.
    pub report: LoadReport,
    /// Its file, as the checks name it.
    pub file: String,
    /// Allowed regression, in percent.
    pub tolerance_pct: f64,
}

/// What one load run does, as plain data.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// The plan (for a capacity step: with that step's users and hold).
    pub plan: LoadPlan,
    /// The slice of the population this process runs.
    pub shard: Option<Shard>,
    /// Regression checks against an earlier run.
    pub baseline: Option<Baseline>,
    /// Appended to the random tag of the users' localparts (`s0` for shard 0, `c3` for
    /// capacity step 3), so runs on one server never collide.
    pub tag_suffix: String,
    /// Print the setup and start lines (a single run; capacity prints one line per step).
    pub announce: bool,
    /// A stopped attack still yields the figures of what ran (`load`); otherwise the run
    /// ends with [`RunError::Interrupted`] (a capacity step counts only whole holds).
    pub report_interrupted: bool,
    /// Notes for the report (what stayed idle, how federation went); a stop adds its own.
    pub notes: Vec<String>,
}

/// What one load run measured.
#[derive(Debug)]
pub struct Measured {
    /// The report's `load` section.
    pub load: LoadReport,
    /// The threshold verdicts, then the baseline ones.
    pub verdicts: Vec<ScenarioResult>,
    /// The attack was stopped before its end.
    pub interrupted: bool,
    /// What stopped it (a signal, the deadline, Goose's own Ctrl-C).
    pub stopped_by: Option<String>,
    /// Users set up on the target.
    pub users: usize,
}

/// Why a load run has no figures.
#[derive(Debug)]
pub enum RunError {
    /// A stop came before the attack: nothing was measured.
    StoppedInSetup(StopReason),
    /// The attack was stopped and the spec does not report interrupted runs.
    Interrupted,
    /// Making the users and rooms failed.
    Setup {
        /// Users that were to be made.
        users: usize,
        /// What failed.
        error: String,
    },
    /// Goose could not run the attack.
    Attack(String),
}

/// The notes of a run whose personas cannot all act on `prepared` (no second homeserver, no
/// sliding sync), printed as they are found, and how federation was routed.
pub fn target_notes(plan: &LoadPlan, counts: &[usize], prepared: &Prepared) -> Vec<String> {
    let mut notes = Vec::new();
    let has = |k: PersonaKind| {
        plan.personas
            .iter()
            .zip(counts)
            .any(|(p, c)| p.kind == k && *c > 0)
    };
    if has(PersonaKind::Federation) && second(prepared).is_none() {
        let note =
            "federation personas stayed idle: no second homeserver (--target2 URL)".to_owned();
        eprintln!("note: {note}");
        notes.push(note);
    }
    if let Some(nginx) = &prepared.gateway2 {
        notes.push(format!(
            "federation to the second homeserver went through an nginx border gateway on 127.0.0.1:{}",
            nginx.port()
        ));
    }
    if has(PersonaKind::SlidingSync) && prepared.ctx.sliding_sync.is_none() {
        let note = "sliding-sync personas stayed idle: the target speaks no sliding-sync dialect"
            .to_owned();
        eprintln!("note: {note}");
        notes.push(note);
    }
    notes
}

/// The second homeserver of the run (URL and its user provisioner), when it has one.
fn second(prepared: &Prepared) -> Option<(String, Arc<dyn Provision>)> {
    prepared
        .ctx
        .federation
        .as_ref()
        .and_then(|f| f.hs2.as_ref())
        .map(|p| (p.base_url.clone(), p.provisioner.clone()))
}

/// Run `spec` over `drawn` on `prepared`: set up, attack, measure, judge.
pub async fn measure(
    spec: &RunSpec,
    drawn: Drawn,
    prepared: &Prepared,
    stop: &Stop,
) -> Result<Measured, RunError> {
    let plan = &spec.plan;
    let Drawn {
        population: pop,
        counts,
        personas,
    } = drawn;
    if let Some(reason) = stop.reason() {
        return Err(RunError::StoppedInSetup(reason));
    }
    let second = second(prepared);
    if spec.announce {
        eprintln!(
            "Setting up {} users and {} rooms on {} (not measured) ...",
            pop.users.len(),
            pop.rooms.len(),
            prepared.target.base_url
        );
    }
    let tag = format!(
        "{}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8],
        spec.tag_suffix
    );
    let setup_clock = Instant::now();
    let made = tokio::select! {
        m = crate::load::setup::make(
            plan,
            &pop,
            &prepared.target.base_url,
            Arc::clone(&prepared.ctx.provisioner),
            second.as_ref().map(|(u, p)| (u.as_str(), Arc::clone(p))),
            &tag,
        ) => m,
        reason = stop.stopped() => return Err(RunError::StoppedInSetup(reason)),
    };
    let made = made.map_err(|error| RunError::Setup {
        users: pop.users.len(),
        error,
    })?;
    let setup_time = setup_clock.elapsed();
    if let Some(reason) = stop.reason() {
        return Err(RunError::StoppedInSetup(reason));
    }
    if spec.announce {
        eprintln!(
            "Setup done in {:.1}s; running `{}` for {} ({})",
            setup_time.as_secs_f64(),
            plan.id,
            humantime::format_duration(plan.total()),
            persona_list(&personas)
        );
    }
    let world = world(spec, second.map(|(u, _)| u), made, prepared);
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
    let mut attacked = attacked.map_err(RunError::Attack)?;
    attacked.interrupted |= stop.is_stopped();
    if attacked.interrupted && !spec.report_interrupted {
        return Err(RunError::Interrupted);
    }
    let stopped_by = match stop.reason() {
        Some(r) => Some(r.describe()),
        None => attacked.interrupted.then(|| "SIGINT (Ctrl-C)".to_owned()),
    };
    let mut notes = spec.notes.clone();
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
        spec.shard.map(|s| format!("{}/{}", s.index, s.count)),
        personas,
        late_lost,
        notes,
    );
    let mut verdicts = verdict::thresholds(&plan.id, &plan.file, &plan.thresholds, &load);
    if let Some(base) = &spec.baseline {
        verdicts.extend(verdict::baseline(
            &plan.id,
            &plan.file,
            &base.file,
            &load,
            &base.report,
            base.tolerance_pct,
        ));
    }
    Ok(Measured {
        load,
        verdicts,
        interrupted: attacked.interrupted,
        stopped_by,
        users: world.accounts.len(),
    })
}

/// The world the personas act in: the made accounts and rooms, the shard's share of every
/// open-model rate, and the delivery tracker's readers (every persona that syncs).
fn world(
    spec: &RunSpec,
    second_url: Option<String>,
    made: crate::load::setup::Made,
    prepared: &Prepared,
) -> Arc<World> {
    let plan = &spec.plan;
    let personas = plan
        .personas
        .iter()
        .cloned()
        .map(|mut p| {
            if let (Some(a), Some(s)) = (&p.arrivals, spec.shard) {
                p.arrivals = Some(a.for_shard(s.index as u64, s.count as u64));
            }
            p
        })
        .collect();
    let world = Arc::new(World::new(
        prepared.target.base_url.clone(),
        second_url,
        personas,
        made.accounts,
        made.rooms,
        made.partners,
        prepared.ctx.sliding_sync.clone(),
        plan.seed,
    ));
    world.set_target(&prepared.ctx);
    for (i, a) in world.accounts.iter().enumerate() {
        let Some(p) = plan.personas.get(a.persona) else {
            continue;
        };
        let syncs = match p.kind {
            PersonaKind::Lurker => true,
            PersonaKind::SlidingSync => world.sliding_sync.is_some(),
            PersonaKind::Chatty => p.actions.iter().any(|(a, w)| *a == Action::Sync && *w > 0),
            _ => false,
        };
        if syncs {
            for room in &a.rooms {
                world.tracker.add_reader(room, i);
            }
        }
    }
    world
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smoke() -> LoadPlan {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/load/smoke.yaml");
        crate::load::plan::load_file(std::path::Path::new(path)).expect("the smoke plan is valid")
    }

    #[test]
    fn a_drawn_population_counts_every_user_once_per_persona() {
        let plan = smoke();
        let d = draw(&plan, None);
        assert_eq!(d.population.users.len(), plan.users);
        assert_eq!(d.counts.iter().sum::<usize>(), plan.users);
        assert_eq!(d.personas.values().sum::<usize>(), plan.users);
        assert_eq!(d.personas.len(), plan.personas.len());
    }

    #[test]
    fn the_shards_of_a_population_add_up_to_the_whole() {
        let plan = smoke();
        let whole = draw(&plan, None);
        let shards: Vec<Drawn> = (0..3)
            .map(|index| draw(&plan, Some(Shard { index, count: 3 })))
            .collect();
        for (i, c) in whole.counts.iter().enumerate() {
            let sum: usize = shards.iter().filter_map(|s| s.counts.get(i)).sum();
            assert_eq!(sum, *c, "persona {i}");
        }
    }

    #[test]
    fn persona_lists_are_sorted_by_name() {
        let m = BTreeMap::from([("lurker".to_owned(), 3), ("chatty".to_owned(), 2)]);
        assert_eq!(persona_list(&m), "chatty 2, lurker 3");
    }
}
