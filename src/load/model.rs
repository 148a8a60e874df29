//! The raw load-plan file model (serde, `deny_unknown_fields`); its JSON Schema is what
//! `mxharness schema --load` prints and what the validator walks for file:line:col problems.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

/// The load-plan format this build reads (`load: 1`).
pub const LOAD_FORMAT: u32 = 1;

/// A load plan file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLoadPlan {
    /// Load-plan format version; `1`. Its presence marks the file as a load plan.
    pub load: u32,
    /// Unique id, e.g. `load/smoke`.
    pub id: String,
    /// Human title.
    pub title: String,
    /// Who exists before the measured run starts.
    pub population: RawPopulation,
    /// Simulated user kinds by name, with their share of the users.
    pub personas: BTreeMap<String, RawPersona>,
    /// How the number of active users changes over time.
    pub profile: RawProfile,
    /// Rules judged after the run, e.g. `p95 < 250ms for send`; each one is a JUnit test case.
    #[serde(default)]
    pub thresholds: Vec<String>,
    /// Allowed regression against `--baseline`, in percent (default 20).
    #[serde(default)]
    pub baseline_tolerance_pct: Option<f64>,
    /// How `mxharness capacity` searches the largest population at which every threshold
    /// holds (ignored by `mxharness load`).
    #[serde(default)]
    pub capacity: Option<RawCapacity>,
}

/// The capacity search: step up from `start` (times `factor` or plus `step`), then bisect.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCapacity {
    /// First population (default: the population's `users`).
    #[serde(default)]
    pub start: Option<usize>,
    /// Users added per step-up (give this or `factor`).
    #[serde(default)]
    pub step: Option<usize>,
    /// Factor per step-up, above 1 (default 2).
    #[serde(default)]
    pub factor: Option<f64>,
    /// Largest population tried.
    pub max_users: usize,
    /// How long each step's load runs, replacing the profile's hold (e.g. `30s`).
    pub hold: String,
    /// How often a failing step is run again before the failure counts (default 1).
    #[serde(default)]
    pub repeats: Option<usize>,
    /// Stop bisecting when the bracket is at most this many users wide (default 1).
    #[serde(default)]
    pub resolution: Option<usize>,
    /// Most load runs, repeats included (default 20).
    #[serde(default)]
    pub max_steps: Option<usize>,
    /// Most time for all runs together (default 30m).
    #[serde(default)]
    pub max_time: Option<String>,
}

/// The population made in the unmeasured setup phase.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPopulation {
    /// Simulated users (one Goose user each).
    pub users: usize,
    /// Rooms created before the run.
    pub rooms: usize,
    /// Room sizes: Pareto-distributed member counts.
    #[serde(default)]
    pub room_size: Option<RawRoomSize>,
    /// Seed of every random choice (population, dispatchers, think times).
    #[serde(default)]
    pub seed: Option<u64>,
}

/// A heavy-tailed room-size distribution: `min * U^(-1/alpha)`, capped at `max`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRoomSize {
    /// Pareto shape; smaller is heavier-tailed (default 1.16, the "80/20" rule).
    #[serde(default)]
    pub alpha: Option<f64>,
    /// Smallest room (default 2).
    #[serde(default)]
    pub min: Option<usize>,
    /// Largest room (default: all users).
    #[serde(default)]
    pub max: Option<usize>,
}

/// What a persona does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PersonaKind {
    /// Sends messages, typing notices, receipts and read markers; syncs now and then.
    Chatty,
    /// Long-polls /sync and reads what arrives.
    Lurker,
    /// Long-polls sliding sync with the request Element X sends.
    SlidingSync,
    /// Joins public rooms and leaves them again.
    Joiner,
    /// Uploads media and posts it as m.image.
    Media,
    /// Sends into rooms shared with users on `--target2` and measures their delivery there.
    Federation,
}

impl PersonaKind {
    /// The name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Chatty => "chatty",
            Self::Lurker => "lurker",
            Self::SlidingSync => "sliding_sync",
            Self::Joiner => "joiner",
            Self::Media => "media",
            Self::Federation => "federation",
        }
    }
}

/// One persona.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPersona {
    /// What it does.
    pub kind: PersonaKind,
    /// Share of the users (relative to the other personas' weights).
    pub weight: u32,
    /// Mean think time between actions, drawn from an exponential distribution (e.g. `500ms`).
    #[serde(default)]
    pub think_time: Option<String>,
    /// Longest think time (default: 10 times the mean).
    #[serde(default)]
    pub max_think_time: Option<String>,
    /// Weighted actions of a `chatty` persona: `send`, `typing`, `receipt`, `read_marker`,
    /// `sync`, `messages`, or `scenario: <scenario id or file>[#step]` (a conformance
    /// scenario run with the population's users and rooms, judged by its own expectations).
    #[serde(default)]
    pub actions: BTreeMap<String, u32>,
    /// Long-poll timeout of sync requests (default 10s).
    #[serde(default)]
    pub sync_timeout: Option<String>,
    /// Upload size in bytes of a `media` persona (default 16384).
    #[serde(default)]
    pub media_bytes: Option<usize>,
    /// Open model: actions arrive on a fixed timetable at this rate instead of after think
    /// times (`chatty`, `joiner` and `media` only; long-polls stay closed-loop).
    #[serde(default)]
    pub arrivals: Option<RawArrivals>,
}

/// An open-model persona: how often its actions arrive, whatever the server's latency.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawArrivals {
    /// Arrivals per time unit for all the persona's users together, e.g. `10/s`, `90/m`,
    /// `0.5/s`; a chatty persona draws each arrival's action from its `actions` weights.
    #[serde(default)]
    pub rate: Option<String>,
    /// Per-action rates of a `chatty` persona instead of `rate` and `actions`, e.g.
    /// `{ send: 5/s, typing: 1/s, "scenario: cs/messaging/send-text-messages#2": 1/s }`.
    #[serde(default)]
    pub rates: BTreeMap<String, String>,
    /// How arrivals are spaced: `uniform` (every 1/rate, the default) or `poisson`
    /// (exponential gaps from the plan's seed).
    #[serde(default)]
    pub spacing: Option<Spacing>,
    /// An arrival no user could start within this time of its intended start is dropped
    /// (default 1s).
    #[serde(default)]
    pub max_delay: Option<String>,
}

/// Spacing of open-model arrivals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Spacing {
    /// Exactly 1/rate apart.
    #[default]
    Uniform,
    /// Exponentially distributed gaps with mean 1/rate (a seeded Poisson process).
    Poisson,
}

impl Spacing {
    /// The name used in files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Uniform => "uniform",
            Self::Poisson => "poisson",
        }
    }
}

/// Ramp up, hold, ramp down.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProfile {
    /// Time to start all users (e.g. `5s`).
    pub ramp_up: String,
    /// Time all users stay active.
    pub hold: String,
    /// Time to stop them.
    #[serde(default)]
    pub ramp_down: Option<String>,
}

/// JSON Schema of load-plan files.
pub fn json_schema() -> schemars::Schema {
    schemars::schema_for!(RawLoadPlan)
}
