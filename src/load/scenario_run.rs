//! One iteration of a persona's `scenario:` action: the conformance scenario's steps, built
//! by the same typed operations and judged by the same expectations as in `mxharness run`,
//! but played by population users in a population room (see [`map`]); every request is timed
//! into the recorder, and a failed expectation is an error of the action with one sample
//! transcript kept.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use goose::prelude::GooseUser;
use rand::Rng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand_chacha::ChaCha8Rng;
use ruma::api::SupportedVersions;
use serde_json::Value;

use super::plan::Persona;
use super::scenario_ref::ScenarioAction;
use super::world::World;
use crate::check::{self, Observed};
use crate::matrix::http_client::HttpClient;
use crate::matrix::ops::OpContext;
use crate::plan::template::Vars;
use crate::plan::{Action, StepPlan};
use crate::results::load::ScenarioActionFigures;
use crate::results::redact::Redactor;
use crate::results::{CheckFailure, Failure};

/// Error kind of a failed expectation (status, errcode, body, headers, schema).
pub const EXPECTATION: &str = "expectation";

/// What scenario actions need of the target, and what they found.
pub struct Conformance {
    /// `/versions` of the target (chooses endpoint paths, as in a conformance run).
    pub versions: SupportedVersions,
    /// The conformance run's HTTP client (same network policy, body cap and transcript).
    pub http: Option<HttpClient>,
    /// Scenario actions the target would skip in a conformance run, with the reason.
    pub skips: BTreeMap<String, String>,
    stats: Mutex<BTreeMap<(String, String), Stats>>,
}

impl Default for Conformance {
    fn default() -> Self {
        Self {
            versions: SupportedVersions::from_parts(&["v1.1".to_owned()], &BTreeMap::new()),
            http: HttpClient::new().ok(),
            skips: BTreeMap::new(),
            stats: Mutex::new(BTreeMap::new()),
        }
    }
}

impl Conformance {
    /// As the conformance run on `ctx` sees the target.
    pub fn for_target(personas: &[Persona], ctx: &crate::runner::RunContext) -> Self {
        let mut skips = BTreeMap::new();
        for s in personas.iter().flat_map(|p| &p.scenarios) {
            if let Some(reason) = crate::runner::skip_reason(&s.plan, ctx) {
                skips.insert(s.name.clone(), reason);
            }
        }
        Self {
            versions: ctx.versions.clone(),
            http: Some(ctx.http.clone()),
            skips,
            stats: Mutex::new(BTreeMap::new()),
        }
    }

    fn count(&self, persona: &str, action: &ScenarioAction, outcome: Result<(), Failure>) {
        let Ok(mut stats) = self.stats.lock() else {
            return;
        };
        let entry = stats
            .entry((persona.to_owned(), action.name.clone()))
            .or_insert_with(Stats::new);
        entry.iterations += 1;
        match outcome {
            Ok(()) => entry.passed += 1,
            Err(f) => {
                *entry
                    .errors
                    .entry(error_kind(&f.kind).to_owned())
                    .or_insert(0) += 1;
                entry.sample.get_or_insert(f);
            }
        }
    }

    /// The report rows: one per persona and scenario action (skipped and idle ones too).
    pub fn figures(&self, personas: &[Persona]) -> Vec<ScenarioActionFigures> {
        let stats = self.stats.lock().map(|s| s.clone()).unwrap_or_default();
        let mut out = Vec::new();
        for p in personas {
            for a in &p.scenarios {
                let s = stats
                    .get(&(p.name.clone(), a.name.clone()))
                    .cloned()
                    .unwrap_or_else(Stats::new);
                out.push(ScenarioActionFigures {
                    persona: p.name.clone(),
                    action: a.name.clone(),
                    scenario: a.plan.id.clone(),
                    file: a.plan.file.clone(),
                    step: a.step.map(|i| i + 1),
                    iterations: s.iterations,
                    passed: s.passed,
                    errors: s.errors,
                    skipped: self.skips.get(&a.name).cloned(),
                    sample: s.sample,
                });
            }
        }
        out
    }
}

#[derive(Clone)]
struct Stats {
    iterations: u64,
    passed: u64,
    errors: BTreeMap<String, u64>,
    sample: Option<Failure>,
}

impl Stats {
    fn new() -> Self {
        Self {
            iterations: 0,
            passed: 0,
            errors: BTreeMap::new(),
            sample: None,
        }
    }
}

/// The load error kind of a failure kind: what the scenario expected did not hold
/// (`expectation`), or the exchange itself failed (`transport`, `timeout`), a capture found
/// nothing (`capture`), the step could not be built (`scenario`), or no room or users
/// could play it (`mapping`).
pub fn error_kind(kind: &str) -> &str {
    match kind {
        "transport" | "timeout" | "capture" | "scenario" | "mapping" => kind,
        _ => EXPECTATION,
    }
}

/// What a user keeps between iterations of a `scenario: ID#STEP` action: the variables and
/// actors its set-up steps (those before STEP) left, so they run once.
#[derive(Clone)]
pub struct Prepared {
    vars: Vars,
    actors: BTreeMap<String, usize>,
    rooms: Vec<String>,
}

/// Why a step did not pass: its failure, or `None` when the plan's end cut it short.
type StepError = Option<Box<Failure>>;

/// Who plays the scenario and where.
struct Mapping {
    /// Actor name -> account position.
    actors: BTreeMap<String, usize>,
    /// Population rooms standing in for the scenario's `create_room` steps, in order.
    rooms: Vec<String>,
}

/// The mapping rule. Rooms: each `create_room` step of the scenario is served by one of the
/// user's population rooms instead of being sent (its `/room_id` capture gets that room):
/// the first by a room the user created, if it has one, else any of its rooms; further ones
/// by other rooms of the user. Actors: the first actor (the one creating the first room,
/// else the one acting first) is the persona's own user; the others are other members of
/// the first room, then other population users, picked by the user's seeded RNG.
fn map(
    world: &World,
    me: usize,
    action: &ScenarioAction,
    rng: &mut ChaCha8Rng,
) -> Result<Mapping, String> {
    let account = world
        .accounts
        .get(me)
        .ok_or_else(|| "the user has no account".to_owned())?;
    let needed = action.room_steps.len();
    let mut rooms = Vec::new();
    if needed > 0 {
        let first = account
            .created
            .choose(rng)
            .or_else(|| account.rooms.choose(rng))
            .cloned()
            .ok_or_else(|| {
                "the scenario creates a room and the user is in no population room".to_owned()
            })?;
        rooms.push(first);
        let mut others: Vec<&String> = account
            .rooms
            .iter()
            .filter(|r| !rooms.contains(r))
            .collect();
        others.shuffle(rng);
        rooms.extend(others.into_iter().take(needed - 1).cloned());
        if rooms.len() < needed {
            return Err(format!(
                "the scenario creates {needed} rooms and the user is in {} population rooms",
                account.rooms.len()
            ));
        }
    }
    let mut actors = BTreeMap::new();
    let mut taken = vec![me];
    let mut candidates: Vec<usize> = rooms
        .first()
        .and_then(|r| world.members.get(r))
        .map(|m| m.iter().copied().filter(|i| *i != me).collect())
        .unwrap_or_default();
    candidates.shuffle(rng);
    for (k, name) in action.actors.iter().enumerate() {
        let who = if k == 0 {
            Some(me)
        } else {
            candidates.pop().or_else(|| {
                let rest: Vec<usize> = (0..world.accounts.len())
                    .filter(|i| !taken.contains(i))
                    .collect();
                (!rest.is_empty()).then(|| rest[rng.random_range(0..rest.len())])
            })
        };
        let who = who.ok_or_else(|| {
            format!(
                "the scenario has {} actors and the population {} users",
                action.actors.len(),
                world.accounts.len()
            )
        })?;
        candidates.retain(|c| *c != who);
        taken.push(who);
        actors.insert(name.clone(), who);
    }
    Ok(Mapping { actors, rooms })
}

fn actor_vars(world: &World, actors: &BTreeMap<String, usize>) -> Vars {
    let mut vars = Vars::default();
    let me = actors.values().next().and_then(|i| world.accounts.get(*i));
    if let Some(server) = me.and_then(|a| a.user_id.split_once(':')).map(|(_, s)| s) {
        vars.set("server_name", Value::String(server.to_owned()));
    }
    for (name, i) in actors {
        let Some(a) = world.accounts.get(*i) else {
            continue;
        };
        for (field, value) in [
            ("user_id", &a.user_id),
            ("localpart", &a.localpart),
            ("password", &a.password),
            ("access_token", &a.access_token),
            ("device_id", &a.device_id),
        ] {
            vars.set(format!("{name}.{field}"), Value::String(value.clone()));
        }
    }
    vars
}

/// One iteration of scenario action `index` of `persona` by account `me`. An iteration the
/// plan's end cuts short is not counted.
pub(super) async fn iterate(
    user: &mut GooseUser,
    world: &World,
    persona: &Persona,
    index: u16,
    me: usize,
    rng: &mut ChaCha8Rng,
    prepared: &mut BTreeMap<u16, Prepared>,
) {
    let Some(action) = persona.scenarios.get(usize::from(index)) else {
        return;
    };
    if world.conformance().skips.contains_key(&action.name) {
        // The conformance run would skip it on this target: stay idle (the report says why).
        tokio::time::sleep(Duration::from_millis(200)).await;
        return;
    }
    let (mut state, from) = match (action.step, prepared.get(&index)) {
        (Some(step), Some(p)) => (p.clone(), step),
        _ => match map(world, me, action, rng) {
            Ok(m) => {
                let mut vars = actor_vars(world, &m.actors);
                let mut broken = None;
                for (name, value) in &action.plan.vars {
                    match vars.value_of(value) {
                        Ok(v) => vars.set(name.clone(), v),
                        Err(e) => broken = Some(format!("variable `{name}`: {e}")),
                    }
                }
                if let Some(message) = broken {
                    let f = Failure {
                        kind: "scenario".into(),
                        ..Failure::setup(action.plan.location.clone(), message)
                    };
                    world.conformance().count(&persona.name, action, Err(f));
                    return;
                }
                let state = Prepared {
                    vars,
                    actors: m.actors,
                    rooms: m.rooms,
                };
                (state, 0)
            }
            Err(message) => {
                let f = Failure {
                    kind: "mapping".into(),
                    ..Failure::setup(action.plan.location.clone(), message)
                };
                world.conformance().count(&persona.name, action, Err(f));
                tokio::time::sleep(Duration::from_millis(200)).await;
                return;
            }
        },
    };
    let last = action
        .step
        .unwrap_or(action.plan.steps.len().saturating_sub(1));
    for i in from..=last {
        let Some(step) = action.plan.steps.get(i) else {
            break;
        };
        if world.plan_over() {
            return;
        }
        if let Some(k) = action.step
            && i == k
            && from == 0
        {
            // The set-up steps held: later iterations start at the measured step.
            prepared.insert(index, state.clone());
        }
        let outcome = if action.room_steps.contains(&i) {
            let nth = action.room_steps.range(..i).count();
            serve_room(step, state.rooms.get(nth), &mut state.vars)
        } else {
            run_step(user, world, action, i, &state.actors, &mut state.vars).await
        };
        match outcome {
            Ok(()) => {}
            Err(None) => return,
            Err(Some(f)) => {
                world.conformance().count(
                    &persona.name,
                    action,
                    Err(redacted(world, &state.actors, *f)),
                );
                return;
            }
        }
    }
    world.conformance().count(&persona.name, action, Ok(()));
}

/// A `create_room` step served by a population room: its `/room_id` captures get the room.
fn serve_room(step: &StepPlan, room: Option<&String>, vars: &mut Vars) -> Result<(), StepError> {
    let Some(room) = room else {
        return Err(Some(Box::new(Failure {
            step: step.index,
            kind: "mapping".into(),
            ..Failure::setup(
                step.location.clone(),
                "no population room for this create_room step",
            )
        })));
    };
    for c in &step.captures {
        vars.set(c.name.clone(), Value::String(room.clone()));
    }
    Ok(())
}

fn redacted(world: &World, actors: &BTreeMap<String, usize>, mut f: Failure) -> Failure {
    let mut r = Redactor::new();
    for a in actors.values().filter_map(|i| world.accounts.get(*i)) {
        r.add_secret(a.access_token.clone());
        r.add_secret(a.password.clone());
    }
    for e in &mut f.transcript {
        r.redact_exchange(e);
    }
    f.message = r.redact_text(&f.message);
    f.expected = f.expected.as_deref().map(|t| r.redact_text(t));
    f.actual = f.actual.as_deref().map(|t| r.redact_text(t));
    for c in &mut f.checks {
        c.message = r.redact_text(&c.message);
        c.expected = c.expected.as_deref().map(|t| r.redact_text(t));
        c.actual = c.actual.as_deref().map(|t| r.redact_text(t));
    }
    f
}

fn endpoint_of(step: &StepPlan) -> String {
    match &step.action {
        Action::Call { op, .. } => {
            let (m, p) = op.endpoint();
            format!("{m} {p}")
        }
        Action::Request(r) => format!("{} {}", r.method, r.path),
        _ => String::new(),
    }
}

/// Send one step (again, under `eventually`, until it holds or its deadline passes), judge it
/// as a conformance run does and capture its variables. `Err(None)`: the plan ended first.
async fn run_step(
    user: &mut GooseUser,
    world: &World,
    action: &ScenarioAction,
    i: usize,
    actors: &BTreeMap<String, usize>,
    vars: &mut Vars,
) -> Result<(), StepError> {
    let Some(step) = action.plan.steps.get(i) else {
        return Ok(());
    };
    let Some(http) = world.conformance().http.as_ref() else {
        return Err(Some(Box::new(Failure {
            step: step.index,
            kind: "scenario".into(),
            ..Failure::setup(step.location.clone(), "no HTTP client")
        })));
    };
    let name = action.request_name(i);
    let endpoint = endpoint_of(step);
    let account = step
        .actor
        .as_deref()
        .and_then(|a| actors.get(a))
        .and_then(|i| world.accounts.get(*i));
    let fail = |kind: &str, message: String| Failure {
        step: step.index,
        kind: kind.into(),
        ..Failure::setup(step.location.clone(), message)
    };
    let token = match &step.token {
        Some(t) => Some(
            vars.text_of(t)
                .map_err(|e| Some(Box::new(fail("scenario", format!("token: {e}")))))?,
        ),
        None => account.map(|a| a.access_token.clone()),
    };
    let started = Instant::now();
    let deadline = step.eventually.map(|e| started + e.within);
    let timeout = step.timeout.unwrap_or(world.request_timeout);
    loop {
        if world.plan_over() {
            return Err(None);
        }
        let op_ctx = OpContext {
            base_url: &world.base_url,
            access_token: token.as_deref(),
            user_id: account.map(|a| a.user_id.as_str()),
            versions: &world.conformance().versions,
            sliding_sync: world.sliding_sync.as_ref(),
        };
        let request = crate::runner::request::build_in(&step.action, &op_ctx, vars)
            .map_err(|m| Some(Box::new(fail("scenario", m))))?;
        let (open, intended) = super::personas::take_arrival(user);
        let sent = Instant::now();
        let (exchange, received) = http.send(request, timeout).await;
        let took = intended.map_or(sent, |t| t.min(sent)).elapsed();
        let (checks, json) = judge(step, &op_ctx, received.as_ref(), &exchange, vars);
        let retry = !checks.is_empty()
            && step
                .eventually
                .is_some_and(|ev| deadline.is_some_and(|d| Instant::now() + ev.interval < d));
        let ok = checks.is_empty() || retry;
        let status = exchange.status;
        if open {
            world
                .recorder
                .open_request(&name, &endpoint, took, status, ok);
        } else {
            world
                .recorder
                .request(&name, &endpoint, false, took, status, ok);
        }
        if retry {
            if let Some(ev) = step.eventually {
                tokio::time::sleep(ev.interval).await;
            }
            continue;
        }
        if let Some(first) = checks.first().cloned() {
            return Err(Some(Box::new(Failure {
                step: step.index,
                location: first.location.clone(),
                kind: first.kind.clone(),
                message: first.message.clone(),
                expected: first.expected.clone(),
                actual: first.actual.clone(),
                checks,
                transcript: vec![exchange],
            })));
        }
        return crate::runner::step::capture(step, json.as_ref(), vars).map_err(|c| {
            Some(Box::new(Failure {
                step: step.index,
                location: c.location.clone(),
                kind: c.kind.clone(),
                message: c.message.clone(),
                expected: None,
                actual: None,
                checks: vec![c],
                transcript: vec![exchange],
            }))
        });
    }
}

/// The step's expectations on a response, as `mxharness run` judges them (the typed
/// operation's schema included); the body as scenarios see it.
fn judge(
    step: &StepPlan,
    op_ctx: &OpContext<'_>,
    received: Option<&crate::matrix::http_client::Received>,
    exchange: &crate::results::Exchange,
    vars: &Vars,
) -> (Vec<CheckFailure>, Option<Value>) {
    let Some(received) = received else {
        let message = exchange
            .error
            .clone()
            .unwrap_or_else(|| "no response".into());
        let kind = if crate::matrix::http_client::is_held(&message) || message.contains("timed out")
        {
            "timeout"
        } else {
            "transport"
        };
        let check = CheckFailure {
            location: step.location.clone(),
            kind: kind.into(),
            message,
            expected: None,
            actual: None,
        };
        return (vec![check], None);
    };
    let mut json = received.json();
    let mut schema = None;
    if let Action::Call { op, .. } = &step.action {
        schema = Some(
            op.check_response_in(received.as_http(), op_ctx)
                .map_err(|e| e.detail),
        );
        json = json.map(|j| op.normalize(j, op_ctx));
    }
    let text = String::from_utf8_lossy(&received.body);
    let seen = Observed {
        status: received.status,
        json: json.as_ref(),
        schema,
        headers: Some(&received.headers),
        text: Some(&text),
    };
    (check::evaluate(&step.expect, &seen, vars), json)
}
