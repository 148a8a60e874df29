//! Load-plan files -> a validated [`LoadPlan`], every problem reported at file:line:col with
//! the scenario diagnostics machinery (YAML node tree, JSON Schema walk, miette rendering).

use std::path::Path;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use serde_json::Value;

use super::arrivals::{self, ArrivalSpec, Stream};
use super::capacity::{CapacitySpec, Growth};
use super::model::{self, LOAD_FORMAT, PersonaKind, RawArrivals, RawLoadPlan, RawPersona};
use super::scenario_ref::{self, ScenarioAction};
use super::threshold::{self, Rule};
use crate::scenario::diagnostics::Problem;
use crate::scenario::node::Node;
use crate::scenario::schema_check::did_you_mean;
use crate::scenario::source::{self, SourceFile};

static LOAD_SCHEMA: LazyLock<Value> =
    LazyLock::new(|| serde_json::to_value(model::json_schema()).unwrap_or(Value::Bool(true)));

/// Actions a `chatty` persona can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    /// Send an m.text message (tracked for delivery latency).
    Send,
    /// Send a typing notice.
    Typing,
    /// Send a read receipt for the latest event.
    Receipt,
    /// Move the fully-read marker.
    ReadMarker,
    /// One incremental /sync with no wait.
    Sync,
    /// Paginate the room with /messages.
    Messages,
    /// Run a conformance scenario (index into [`Persona::scenarios`]).
    Scenario(u16),
}

impl Action {
    /// The name used in plans and reports.
    pub fn as_str(self) -> &'static str {
        if let Self::Scenario(_) = self {
            return "scenario";
        }
        ACTIONS
            .iter()
            .find(|(_, a)| *a == self)
            .map_or("send", |(n, _)| *n)
    }
}

const ACTIONS: &[(&str, Action)] = &[
    ("send", Action::Send),
    ("typing", Action::Typing),
    ("receipt", Action::Receipt),
    ("read_marker", Action::ReadMarker),
    ("sync", Action::Sync),
    ("messages", Action::Messages),
];

/// Default weights of a chatty persona (after matrix-locust's mix, without the idle share,
/// which the think time provides).
const DEFAULT_ACTIONS: &[(Action, u32)] = &[
    (Action::Send, 4),
    (Action::Typing, 2),
    (Action::Receipt, 2),
    (Action::ReadMarker, 1),
    (Action::Sync, 2),
    (Action::Messages, 1),
];

/// One persona, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Persona {
    /// Name in the plan.
    pub name: String,
    /// What it does.
    pub kind: PersonaKind,
    /// Share of the users.
    pub weight: u32,
    /// Mean think time (exponential).
    pub think_mean: Duration,
    /// Longest think time.
    pub think_max: Duration,
    /// Weighted actions (chatty only).
    pub actions: Vec<(Action, u32)>,
    /// Long-poll timeout.
    pub sync_timeout: Duration,
    /// Upload size.
    pub media_bytes: usize,
    /// Open model: the arrival timetable; `None`: closed loop with think times.
    pub arrivals: Option<ArrivalSpec>,
    /// Conformance scenarios its `scenario:` actions run ([`Action::Scenario`] indexes it).
    pub scenarios: Vec<Arc<ScenarioAction>>,
}

impl Persona {
    /// The name of an action as reports show it (`scenario: <id>` for scenario actions).
    pub fn action_name(&self, action: Action) -> String {
        match action {
            Action::Scenario(i) => self
                .scenarios
                .get(usize::from(i))
                .map_or_else(|| "scenario".to_owned(), |s| s.name.clone()),
            other => other.as_str().to_owned(),
        }
    }
}

/// A validated load plan.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadPlan {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// The file, as shown to the user.
    pub file: String,
    /// Seed.
    pub seed: u64,
    /// Users.
    pub users: usize,
    /// Rooms.
    pub rooms: usize,
    /// Pareto shape.
    pub room_size_alpha: f64,
    /// Smallest room.
    pub room_size_min: usize,
    /// Largest room.
    pub room_size_max: usize,
    /// Personas, sorted by name.
    pub personas: Vec<Persona>,
    /// Ramp up.
    pub ramp_up: Duration,
    /// Hold.
    pub hold: Duration,
    /// Ramp down.
    pub ramp_down: Duration,
    /// Threshold rules with the `file:line:col` they were written at.
    pub thresholds: Vec<(Rule, String)>,
    /// Allowed regression against a baseline, in percent.
    pub baseline_tolerance_pct: f64,
    /// The `capacity:` section, when the plan has one.
    pub capacity: Option<super::capacity::CapacitySpec>,
}

impl LoadPlan {
    /// Ramp up + hold + ramp down.
    pub fn total(&self) -> Duration {
        self.ramp_up + self.hold + self.ramp_down
    }
}

/// Whether a file's text is a load plan (a mapping with a top-level `load` key).
pub fn is_load_plan(text: &str) -> bool {
    crate::scenario::kind::FileKind::of(text) == crate::scenario::kind::FileKind::LoadPlan
}

/// Why a plan could not be loaded.
#[derive(Debug)]
pub enum PlanError {
    /// The file could not be read.
    Io(String),
    /// The file is invalid; render the problems against the source.
    Invalid(Vec<Problem>, SourceFile),
}

/// Read and validate a plan file.
pub fn load_file(path: &Path) -> Result<LoadPlan, PlanError> {
    let file = source::read(path).map_err(|e| PlanError::Io(e.to_string()))?;
    let mut problems = Vec::new();
    let plan = lower(&file, &mut problems);
    problems.sort_by_key(|p| (p.line, p.col));
    match plan {
        Some(plan) if problems.is_empty() => Ok(plan),
        _ => Err(PlanError::Invalid(problems, file)),
    }
}

/// Validate one file; problems are appended, `None` when it is invalid.
pub fn lower(file: &SourceFile, problems: &mut Vec<Problem>) -> Option<LoadPlan> {
    let (root, raw): (Node, RawLoadPlan) =
        crate::plan::lower::parse_checked(file, &LOAD_SCHEMA, "load plan", problems)?;
    let mut cx = Lowering {
        file,
        root: &root,
        problems: Vec::new(),
    };
    let plan = cx.plan(raw);
    cx.problems.sort_by_key(|p| (p.line, p.col));
    let ok = cx.problems.is_empty();
    problems.extend(cx.problems);
    ok.then_some(plan)
}

/// Why a `dropped` rule cannot be judged in this plan (message, help), if it cannot.
fn dropped_subject(rule: &Rule, personas: &[Persona]) -> Option<(String, String)> {
    let open: Vec<&Persona> = personas.iter().filter(|p| p.arrivals.is_some()).collect();
    if open.is_empty() {
        return Some((
            "`dropped` counts open-model arrivals, and no persona has `arrivals`".into(),
            "give a persona e.g. `arrivals: { rate: 10/s }`, or drop the rule".into(),
        ));
    }
    let subject = rule.subject.as_deref()?;
    let mut known: Vec<&str> = open.iter().map(|p| p.name.as_str()).collect();
    for p in &open {
        for s in p.arrivals.iter().flat_map(|a| &a.streams) {
            if let Some(a) = s.action {
                known.push(a.as_str());
            }
        }
    }
    known.sort_unstable();
    known.dedup();
    if known.contains(&subject) {
        return None;
    }
    let help = did_you_mean(subject, known.iter().copied())
        .map(|s| format!("did you mean `{s}`?"))
        .unwrap_or_else(|| {
            format!(
                "open-model personas and rated actions: {}",
                known.join(", ")
            )
        });
    Some((format!("unknown subject `{subject}` for `dropped`"), help))
}

/// A map key as one JSON-pointer segment (`scenario: a/b` has a `/`).
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

struct Lowering<'a> {
    file: &'a SourceFile,
    root: &'a Node,
    problems: Vec<Problem>,
}

impl Lowering<'_> {
    fn problem(&mut self, pointer: &str, message: impl Into<String>, help: Option<String>) {
        let pos = self.root.locate(pointer, false);
        self.problems
            .push(Problem::new(self.file, pos, message, help));
    }

    fn duration(&mut self, pointer: &str, text: Option<&str>, default: Duration) -> Duration {
        match text {
            None => default,
            Some(t) => match humantime::parse_duration(t) {
                Ok(d) => d,
                Err(e) => {
                    self.problem(
                        pointer,
                        format!("invalid duration {t:?}: {e}"),
                        Some("write e.g. 500ms, 5s or 1m".into()),
                    );
                    default
                }
            },
        }
    }

    fn capacity(&mut self, c: &model::RawCapacity, users: usize) -> CapacitySpec {
        let start = c.start.unwrap_or(users);
        if start == 0 {
            self.problem("/capacity/start", "start must be at least 1 user", None);
        }
        if c.max_users < start.max(1) {
            self.problem(
                "/capacity/max_users",
                format!("max_users {} is below start {start}", c.max_users),
                None,
            );
        }
        let growth = match (c.step, c.factor) {
            (Some(_), Some(_)) => {
                self.problem(
                    "/capacity/factor",
                    "give `step` or `factor`, not both",
                    None,
                );
                Growth::Factor(2.0)
            }
            (Some(0), None) => {
                self.problem("/capacity/step", "step must be at least 1 user", None);
                Growth::Step(1)
            }
            (Some(s), None) => Growth::Step(s),
            (None, Some(f)) if !(f > 1.0 && f.is_finite()) => {
                self.problem("/capacity/factor", "factor must be above 1", None);
                Growth::Factor(2.0)
            }
            (None, Some(f)) => Growth::Factor(f),
            (None, None) => Growth::Factor(2.0),
        };
        let hold = self.duration("/capacity/hold", Some(&c.hold), Duration::ZERO);
        if hold.is_zero() {
            self.problem("/capacity/hold", "hold must be longer than zero", None);
        }
        let max_time = self.duration(
            "/capacity/max_time",
            c.max_time.as_deref(),
            Duration::from_secs(30 * 60),
        );
        let max_steps = c.max_steps.unwrap_or(20);
        if max_steps == 0 {
            self.problem("/capacity/max_steps", "max_steps must be at least 1", None);
        }
        CapacitySpec {
            start: start.max(1),
            growth,
            max_users: c.max_users,
            hold,
            repeats: c.repeats.unwrap_or(1),
            resolution: c.resolution.unwrap_or(1).max(1),
            max_steps,
            max_time,
        }
    }

    /// An action key: a built-in action, or `scenario: REF` resolved into `scenarios`.
    fn action(
        &mut self,
        pointer: &str,
        key: &str,
        scenarios: &mut Vec<Arc<ScenarioAction>>,
    ) -> Option<Action> {
        if let Some((_, a)) = ACTIONS.iter().find(|(n, _)| *n == key) {
            return Some(*a);
        }
        let Some(reference) = scenario_ref::parse_key(key) else {
            self.unknown_action(pointer, key);
            return None;
        };
        match scenario_ref::resolve(reference, &self.file.path) {
            Ok(found) => {
                let index = match scenarios.iter().position(|s| s.name == found.name) {
                    Some(i) => i,
                    None => {
                        scenarios.push(Arc::new(found));
                        scenarios.len() - 1
                    }
                };
                u16::try_from(index).ok().map(Action::Scenario)
            }
            Err((message, help)) => {
                let pos = self.root.locate(pointer, true);
                self.problems
                    .push(Problem::new(self.file, pos, message, help));
                None
            }
        }
    }

    fn unknown_action(&mut self, pointer: &str, action: &str) {
        let hint = did_you_mean(action, ACTIONS.iter().map(|(n, _)| *n))
            .map(|s| format!("did you mean `{s}`?"));
        let pos = self.root.locate(pointer, true);
        self.problems.push(Problem::new(
            self.file,
            pos,
            format!("unknown action `{action}`"),
            hint.or_else(|| {
                Some(format!(
                    "actions: {}, or `scenario: <scenario id or file>[#step]`",
                    ACTIONS
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }),
        ));
    }

    fn rate(&mut self, pointer: &str, text: &str) -> Option<f64> {
        match arrivals::parse_rate(text) {
            Ok(r) => Some(r),
            Err(e) => {
                self.problem(
                    pointer,
                    e,
                    Some("write e.g. `10/s`, `90/m` or `0.5/s`".into()),
                );
                None
            }
        }
    }

    /// An `arrivals:` section: open model for personas whose iterations end (not long-polls).
    fn arrivals(
        &mut self,
        base: &str,
        p: &RawPersona,
        a: &RawArrivals,
        scenarios: &mut Vec<Arc<ScenarioAction>>,
    ) -> ArrivalSpec {
        let at = format!("{base}/arrivals");
        if matches!(
            p.kind,
            PersonaKind::Lurker | PersonaKind::SlidingSync | PersonaKind::Federation
        ) {
            self.problem(
                &at,
                format!(
                    "a {} persona long-polls and stays closed-loop: it takes no arrivals",
                    p.kind.as_str()
                ),
                Some("give arrivals to chatty, joiner or media personas".into()),
            );
        }
        for (key, given) in [
            ("think_time", p.think_time.is_some()),
            ("max_think_time", p.max_think_time.is_some()),
        ] {
            if given {
                self.problem(
                    &format!("{base}/{key}"),
                    format!(
                        "`{key}` is closed-loop; an open-model persona (with `arrivals`) has none"
                    ),
                    Some("drop it: arrivals come at their rate, not after thinking".into()),
                );
            }
        }
        let mut streams = Vec::new();
        match (&a.rate, a.rates.is_empty()) {
            (Some(_), false) => {
                self.problem(
                    &format!("{at}/rates"),
                    "give `rate` or `rates`, not both",
                    None,
                );
            }
            (None, true) => {
                self.problem(
                    &at,
                    "arrivals need a `rate` (e.g. `rate: 10/s`) or per-action `rates`",
                    None,
                );
            }
            (Some(text), true) => {
                if let Some(rate) = self.rate(&format!("{at}/rate"), text) {
                    streams.push(Stream { action: None, rate });
                }
            }
            (None, false) => {
                if p.kind != PersonaKind::Chatty {
                    self.problem(
                        &format!("{at}/rates"),
                        format!(
                            "only chatty personas take per-action rates; this one is {}",
                            p.kind.as_str()
                        ),
                        Some("give one `rate` for the persona".into()),
                    );
                }
                if !p.actions.is_empty() {
                    self.problem(
                        &format!("{base}/actions"),
                        "per-action `rates` replace the `actions` weights: give one or the other",
                        None,
                    );
                }
                for (action, text) in &a.rates {
                    let pointer = format!("{at}/rates/{}", escape(action));
                    let found = self.action(&pointer, action, scenarios);
                    let rate = self.rate(&pointer, text);
                    if let (Some(action), Some(rate)) = (found, rate) {
                        streams.push(Stream {
                            action: Some(action),
                            rate,
                        });
                    }
                }
            }
        }
        let max_delay = self.duration(
            &format!("{at}/max_delay"),
            a.max_delay.as_deref(),
            Duration::from_secs(1),
        );
        if max_delay.is_zero() {
            self.problem(
                &format!("{at}/max_delay"),
                "max_delay must be longer than zero",
                None,
            );
        }
        ArrivalSpec {
            streams,
            spacing: a.spacing.unwrap_or_default(),
            max_delay,
            shard: (0, 1),
        }
    }

    fn plan(&mut self, raw: RawLoadPlan) -> LoadPlan {
        if raw.load != LOAD_FORMAT {
            self.problem(
                "/load",
                format!(
                    "unsupported load-plan format {}; this mxharness reads format {LOAD_FORMAT}",
                    raw.load
                ),
                None,
            );
        }
        if raw.population.users == 0 {
            self.problem(
                "/population/users",
                "a load plan needs at least one user",
                None,
            );
        }
        if raw.personas.is_empty() {
            self.problem("/personas", "a load plan needs at least one persona", None);
        }
        let size = raw.population.room_size.clone();
        let alpha = size.as_ref().and_then(|s| s.alpha).unwrap_or(1.16);
        if alpha <= 0.0 || !alpha.is_finite() {
            self.problem(
                "/population/room_size/alpha",
                "alpha must be positive",
                None,
            );
        }
        let min = size.as_ref().and_then(|s| s.min).unwrap_or(2).max(1);
        let max = size
            .as_ref()
            .and_then(|s| s.max)
            .unwrap_or(raw.population.users)
            .max(1);
        if min > max {
            self.problem("/population/room_size/min", "min is larger than max", None);
        }
        let mut personas = Vec::new();
        for (name, p) in &raw.personas {
            let base = format!("/personas/{name}");
            if p.weight == 0 {
                self.problem(&format!("{base}/weight"), "weight must be at least 1", None);
            }
            let think_mean = self.duration(
                &format!("{base}/think_time"),
                p.think_time.as_deref(),
                Duration::from_millis(1000),
            );
            let think_max = self.duration(
                &format!("{base}/max_think_time"),
                p.max_think_time.as_deref(),
                think_mean * 10,
            );
            let sync_timeout = self.duration(
                &format!("{base}/sync_timeout"),
                p.sync_timeout.as_deref(),
                Duration::from_secs(10),
            );
            let mut actions = Vec::new();
            if !p.actions.is_empty() && p.kind != PersonaKind::Chatty {
                self.problem(
                    &format!("{base}/actions"),
                    format!(
                        "only chatty personas take actions; this one is {}",
                        p.kind.as_str()
                    ),
                    None,
                );
            }
            let mut scenarios = Vec::new();
            for (action, weight) in &p.actions {
                let pointer = format!("{base}/actions/{}", escape(action));
                if let Some(a) = self.action(&pointer, action, &mut scenarios) {
                    actions.push((a, *weight));
                }
            }
            let per_action = p.arrivals.as_ref().is_some_and(|a| !a.rates.is_empty());
            if p.kind == PersonaKind::Chatty && actions.is_empty() && !per_action {
                actions = DEFAULT_ACTIONS.to_vec();
            }
            if p.kind == PersonaKind::Chatty && !per_action && actions.iter().all(|(_, w)| *w == 0)
            {
                self.problem(
                    &format!("{base}/actions"),
                    "every action has weight 0",
                    None,
                );
            }
            let arrivals = p
                .arrivals
                .as_ref()
                .map(|a| self.arrivals(&base, p, a, &mut scenarios));
            personas.push(Persona {
                arrivals,
                name: name.clone(),
                kind: p.kind,
                weight: p.weight,
                think_mean,
                think_max: think_max.max(think_mean),
                actions,
                sync_timeout,
                media_bytes: p.media_bytes.unwrap_or(16 * 1024),
                scenarios,
            });
        }
        let ramp_up = self.duration(
            "/profile/ramp_up",
            Some(&raw.profile.ramp_up),
            Duration::ZERO,
        );
        let hold = self.duration("/profile/hold", Some(&raw.profile.hold), Duration::ZERO);
        let ramp_down = self.duration(
            "/profile/ramp_down",
            raw.profile.ramp_down.as_deref(),
            Duration::ZERO,
        );
        if hold.is_zero() {
            self.problem("/profile/hold", "hold must be longer than zero", None);
        }
        let scenario_requests: Vec<String> = personas
            .iter()
            .flat_map(|p| &p.scenarios)
            .flat_map(|s| s.request_names())
            .collect();
        let mut thresholds = Vec::new();
        for (i, text) in raw.thresholds.iter().enumerate() {
            let pointer = format!("/thresholds/{i}");
            match threshold::parse(text) {
                Ok(rule) if matches!(rule.metric, threshold::Metric::Dropped { .. }) => {
                    if let Some(problem) = dropped_subject(&rule, &personas) {
                        self.problem(&pointer, problem.0, Some(problem.1));
                        continue;
                    }
                    let pos = self.root.locate(&pointer, false);
                    let loc = format!("{}:{}:{}", self.file.display(), pos.line.max(1), pos.col.max(1));
                    thresholds.push((rule, loc));
                }
                Ok(rule) => {
                    if let Some(subject) = rule.subject.as_deref()
                        && !threshold::REQUEST_NAMES.contains(&subject)
                        && !threshold::DERIVED.contains(&subject)
                        && !scenario_requests.iter().any(|n| n == subject)
                    {
                        let known = threshold::REQUEST_NAMES.iter().chain(threshold::DERIVED);
                        let hint = did_you_mean(subject, known.copied())
                            .map(|s| format!("did you mean `{s}`?"))
                            .unwrap_or_else(|| {
                                format!("known: {}", threshold::DERIVED.join(", ") + ", " + &threshold::REQUEST_NAMES.join(", "))
                            });
                        self.problem(&pointer, format!("unknown subject `{subject}`"), Some(hint));
                        continue;
                    }
                    let pos = self.root.locate(&pointer, false);
                    let loc = format!("{}:{}:{}", self.file.display(), pos.line.max(1), pos.col.max(1));
                    thresholds.push((rule, loc));
                }
                Err(e) => self.problem(
                    &pointer,
                    format!("invalid threshold: {e}"),
                    Some("write e.g. `p95 < 250ms for send`, `error-rate < 1%`, `lost <= 0 for delivery`".into()),
                ),
            }
        }
        if let Some(t) = raw.baseline_tolerance_pct
            && !(t >= 0.0 && t.is_finite())
        {
            self.problem(
                "/baseline_tolerance_pct",
                "tolerance must be a positive percentage",
                None,
            );
        }
        let capacity = raw
            .capacity
            .as_ref()
            .map(|c| self.capacity(c, raw.population.users));
        LoadPlan {
            capacity,
            id: raw.id,
            title: raw.title,
            file: self.file.display(),
            seed: raw.population.seed.unwrap_or(1),
            users: raw.population.users,
            rooms: raw.population.rooms,
            room_size_alpha: alpha,
            room_size_min: min,
            room_size_max: max,
            personas,
            ramp_up,
            hold,
            ramp_down,
            thresholds,
            baseline_tolerance_pct: raw.baseline_tolerance_pct.unwrap_or(20.0),
        }
    }
}
