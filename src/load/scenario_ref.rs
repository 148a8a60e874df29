//! Persona actions that run a conformance scenario, `scenario: ID-or-PATH[#STEP]`: finding the
//! scenario (by file path, else by id under `scenarios/`), checking that it can run with the
//! load population's users and rooms, and the mapping of its actors and created rooms.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

use crate::plan::{Action, ScenarioPlan, StepPlan};
use crate::scenario::kind::FileKind;
use crate::scenario::schema_check::did_you_mean;
use crate::scenario::source;

/// How a scenario action starts in a plan's `actions` (or `arrivals.rates`) keys.
pub const PREFIX: &str = "scenario:";

/// The operation whose steps are mapped onto population rooms instead of being sent.
pub const CREATE_ROOM: &str = "create_room";

static ID_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?m)^id:\s*["']?([^"'\s#]+)["']?\s*(?:#.*)?$"#).expect("static regex")
});

/// A persona action that runs (a step of) a conformance scenario.
pub struct ScenarioAction {
    /// The action as reports name it: `scenario: <scenario id>[#<step number>]`.
    pub name: String,
    /// The reference as written in the plan (after `scenario:`).
    pub reference: String,
    /// The scenario, lowered as `mxharness run` lowers it.
    pub plan: ScenarioPlan,
    /// `#STEP`: the 0-based index of the one step measured every iteration (the steps
    /// before it run once per user, as its set-up); `None`: every step, every iteration.
    pub step: Option<usize>,
    /// Actors in the order they are played: the first by the persona's own user, the others
    /// by other members of the room it picks (then by other population users).
    pub actors: Vec<String>,
    /// 0-based indices of the `create_room` steps served by population rooms.
    pub room_steps: BTreeSet<usize>,
}

impl PartialEq for ScenarioAction {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl std::fmt::Debug for ScenarioAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScenarioAction")
            .field("name", &self.name)
            .field("file", &self.plan.file)
            .finish()
    }
}

impl ScenarioAction {
    /// The request name (metric key, threshold subject) of a step (0-based index):
    /// `<scenario id>#<step number>`.
    pub fn request_name(&self, step: usize) -> String {
        format!("{}#{}", self.plan.id, step + 1)
    }

    /// Request names of every step that sends a request.
    pub fn request_names(&self) -> Vec<String> {
        (0..self.plan.steps.len())
            .filter(|i| !self.room_steps.contains(i))
            .filter(|i| self.step.is_none_or(|s| *i <= s))
            .map(|i| self.request_name(i))
            .collect()
    }
}

/// The reference of an action key `scenario: REF` (`None`: not a scenario action).
pub fn parse_key(key: &str) -> Option<&str> {
    key.strip_prefix(PREFIX).map(str::trim)
}

/// Why a reference cannot be used: message and help.
pub type Refused = (String, Option<String>);

/// Resolve and check `reference` (`ID-or-PATH[#STEP]`) for a plan at `plan_file`.
pub fn resolve(reference: &str, plan_file: &Path) -> Result<ScenarioAction, Refused> {
    let (target, step) = match reference.split_once('#') {
        Some((t, s)) => (t.trim(), Some(s.trim())),
        None => (reference.trim(), None),
    };
    if target.is_empty() {
        return Err((
            "`scenario:` needs a scenario id or file".into(),
            Some("write e.g. `scenario: cs/messaging/send-text-messages`".into()),
        ));
    }
    let plan = find(target, plan_file)?;
    let step = match step {
        None => None,
        Some(s) => Some(select_step(&plan, s)?),
    };
    check_runnable(&plan)?;
    let room_steps = room_steps(&plan)?;
    let actors = actor_order(&plan, &room_steps);
    let name = match step {
        Some(i) => format!("{PREFIX} {}#{}", plan.id, i + 1),
        None => format!("{PREFIX} {}", plan.id),
    };
    Ok(ScenarioAction {
        name,
        reference: reference.trim().to_owned(),
        plan,
        step,
        actors,
        room_steps,
    })
}

/// Where scenarios are looked up by id: `./scenarios`, else the tree this binary was built
/// from.
fn scenario_root() -> PathBuf {
    let local = PathBuf::from("scenarios");
    if local.is_dir() {
        return local;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

fn find(target: &str, plan_file: &Path) -> Result<ScenarioPlan, Refused> {
    let looks_like_file = target.ends_with(".yaml") || target.ends_with(".yml");
    if looks_like_file {
        let beside = plan_file.parent().map(|d| d.join(target));
        let path = [Some(PathBuf::from(target)), beside]
            .into_iter()
            .flatten()
            .find(|p| p.is_file())
            .ok_or_else(|| (format!("no scenario file `{target}`"), None))?;
        return lower(&path);
    }
    let root = scenario_root();
    let files = source::discover(std::slice::from_ref(&root)).map_err(|e| {
        (
            format!("cannot look up scenario `{target}`: {}", e.message),
            None,
        )
    })?;
    let mut ids = Vec::new();
    for path in files {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if FileKind::of(&text) != FileKind::Scenario {
            continue;
        }
        for cap in ID_LINE.captures_iter(&text) {
            let id = cap.get(1).map_or("", |m| m.as_str());
            if id == target {
                return lower(&path);
            }
            ids.push(id.to_owned());
        }
    }
    let help = did_you_mean(target, ids.iter().map(String::as_str))
        .map(|s| format!("did you mean `{s}`?"))
        .or_else(|| {
            Some(format!(
                "give a scenario id from `mxharness list` or a scenario file (.yaml); looked in {}",
                root.display()
            ))
        });
    Err((format!("unknown scenario `{target}`"), help))
}

fn lower(path: &Path) -> Result<ScenarioPlan, Refused> {
    let file = source::read(path).map_err(|e| (e.to_string(), None))?;
    if FileKind::of(&file.text) != FileKind::Scenario {
        return Err((format!("{} is not a scenario file", file.display()), None));
    }
    let mut problems = Vec::new();
    let plan = crate::plan::lower::lower_file(&file, &mut problems);
    match (plan, problems.first()) {
        (Some(plan), None) => Ok(plan),
        (_, Some(p)) => Err((
            format!(
                "scenario {} is invalid: {}:{}:{}: {}",
                file.display(),
                file.display(),
                p.line,
                p.col,
                p.message
            ),
            Some("run `mxharness validate` on it".into()),
        )),
        (None, None) => Err((format!("scenario {} is invalid", file.display()), None)),
    }
}

fn select_step(plan: &ScenarioPlan, s: &str) -> Result<usize, Refused> {
    let found = match s.parse::<usize>() {
        Ok(n) => (1..=plan.steps.len()).contains(&n).then(|| n - 1),
        Err(_) => plan.steps.iter().position(|st| st.label == s),
    };
    found.ok_or_else(|| {
        (
            format!("scenario `{}` has no step `{s}`", plan.id),
            Some(format!(
                "its steps are 1..{} (or a step's `name`): {}",
                plan.steps.len(),
                plan.steps
                    .iter()
                    .map(|st| format!("{} {}", st.index, st.label))
                    .collect::<Vec<_>>()
                    .join("; ")
            )),
        )
    })
}

/// Only client-server steps by users the population has can run under load.
fn check_runnable(plan: &ScenarioPlan) -> Result<(), Refused> {
    let refuse = |why: String| {
        Err((
            format!("scenario `{}` cannot run as a load action: {why}", plan.id),
            Some("a load action runs client-server steps as the population's users".into()),
        ))
    };
    if plan.uses_federation() {
        return refuse("it uses federation".into());
    }
    for s in &plan.steps {
        if !matches!(s.action, Action::Call { .. } | Action::Request(_)) {
            return refuse(format!(
                "step {} ({}) is not a client-server request",
                s.index, s.label
            ));
        }
    }
    for a in &plan.actors {
        if a.admin {
            return refuse(format!(
                "actor `{}` is a server admin; load users are not",
                a.name
            ));
        }
        if a.server.is_some() {
            return refuse(format!("actor `{}` lives on another homeserver", a.name));
        }
    }
    Ok(())
}

fn is_create_room(step: &StepPlan) -> bool {
    matches!(&step.action, Action::Call { op, .. } if op.name() == CREATE_ROOM)
}

fn expects_nothing(step: &StepPlan) -> bool {
    let e = &step.expect;
    e.status.is_none()
        && e.errcode.is_none()
        && e.body.is_empty()
        && e.headers.is_empty()
        && e.text.is_none()
}

/// The `create_room` steps, each served by a population room: allowed when the step checks
/// nothing about the creation and captures only `/room_id`.
fn room_steps(plan: &ScenarioPlan) -> Result<BTreeSet<usize>, Refused> {
    let mut out = BTreeSet::new();
    for (i, s) in plan.steps.iter().enumerate() {
        if !is_create_room(s) {
            continue;
        }
        let odd = s.captures.iter().find(|c| c.pointer != "/room_id");
        if !expects_nothing(s) || s.eventually.is_some() || odd.is_some() || !s.records.is_empty() {
            return Err((
                format!(
                    "scenario `{}` step {} checks room creation; a load action maps created rooms \
                     onto the population's rooms, so it cannot check it",
                    plan.id, s.index
                ),
                Some("use a scenario whose `create_room` steps only capture `/room_id`".into()),
            ));
        }
        out.insert(i);
    }
    Ok(out)
}

/// The actor of the first `create_room` step (else of the first step) first, then the
/// others in the order they act, then those that never act.
fn actor_order(plan: &ScenarioPlan, room_steps: &BTreeSet<usize>) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    let mut push = |a: &str| {
        if !order.iter().any(|o| o == a) {
            order.push(a.to_owned());
        }
    };
    if let Some(a) = room_steps
        .first()
        .and_then(|i| plan.steps.get(*i))
        .and_then(|s| s.actor.as_deref())
    {
        push(a);
    }
    for s in &plan.steps {
        if let Some(a) = s.actor.as_deref() {
            push(a);
        }
    }
    for a in &plan.actors {
        push(&a.name);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_references() {
        assert_eq!(parse_key("scenario: a/b#2"), Some("a/b#2"));
        assert_eq!(parse_key("scenario:a/b"), Some("a/b"));
        assert_eq!(parse_key("send"), None);
    }

    #[test]
    fn a_shipped_scenario_resolves_by_id_with_its_step() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let plan_file = root.join("scenarios/load/smoke.yaml");
        let a = resolve("cs/messaging/send-text-other-member-sync#3", &plan_file).expect("found");
        assert_eq!(
            a.name,
            "scenario: cs/messaging/send-text-other-member-sync#3"
        );
        assert_eq!(a.step, Some(2));
        assert_eq!(a.actors, ["alice", "bob"]);
        assert_eq!(a.room_steps, BTreeSet::from([0]));
        assert_eq!(
            a.request_names(),
            [
                "cs/messaging/send-text-other-member-sync#2",
                "cs/messaging/send-text-other-member-sync#3"
            ]
        );
        let (msg, help) = resolve("cs/messaging/send-text-mesages", &plan_file).unwrap_err();
        assert_eq!(msg, "unknown scenario `cs/messaging/send-text-mesages`");
        assert_eq!(
            help.as_deref(),
            Some("did you mean `cs/messaging/send-text-messages`?")
        );
        let (msg, _) = resolve("cs/messaging/send-text-messages#9", &plan_file).unwrap_err();
        assert!(msg.contains("has no step `9`"), "{msg}");
    }
}
