//! The `load` section of a report: per-request latency figures, delivery and sync wake-up
//! latency, throughput over time, and the exact histograms that `mxharness merge` combines.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Everything a load run measured. Thresholds are not here: each one is a
/// [`super::ScenarioResult`] in area `load`, so JUnit, compare and certify keep working.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    /// The plan's id.
    pub plan: String,
    /// The plan file.
    pub plan_file: String,
    /// Seed of the population and the dispatchers.
    pub seed: u64,
    /// `I/N` when this run was one shard of a sharded run; `merged N` after `mxharness merge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// Simulated users (of this shard).
    pub users: usize,
    /// Rooms created (of this shard).
    pub rooms: usize,
    /// Users per persona.
    pub personas: BTreeMap<String, usize>,
    /// Ramp up, hold and ramp down in milliseconds.
    pub profile_ms: [u64; 3],
    /// Wall time of the unmeasured setup phase (registration, rooms, joins).
    pub setup_ms: u64,
    /// Wall time of the measured attack.
    pub duration_ms: u64,
    /// Ctrl-C stopped the run early.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// All requests except long-polls, together.
    pub all: RequestFigures,
    /// Per named request, sorted by name (long-polls included, marked).
    pub requests: Vec<RequestFigures>,
    /// Send → first sight in another user's sync.
    pub delivery: DeliveryFigures,
    /// Send response → a long-poll that was waiting returns with the event.
    pub sync_wakeup: LatencyFigures,
    /// Send on the first homeserver → sight on the second (`--target2`), when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federation: Option<DeliveryFigures>,
    /// Open-model arrivals per persona and rate (absent when every persona is closed-loop).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arrivals: Vec<ArrivalFigures>,
    /// Per-second figures over the attack (for charts).
    pub series: Vec<SecondPoint>,
    /// Caveats (skipped personas, caps applied, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Exact latency histograms in microseconds, HdrHistogram V2 serialised and base64
    /// encoded, by metric name (`request:NAME`, `all`, `delivery`, `sync_wakeup`,
    /// `federation`). `mxharness merge` adds them bucket by bucket.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub histograms: BTreeMap<String, String>,
    /// The capacity search (`mxharness capacity`); the other figures are then those of the
    /// step at the found capacity (else of the first step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<CapacityReport>,
    /// Persona actions that ran a conformance scenario (`scenario: ID[#STEP]`): iterations,
    /// errors by kind, one sample failure each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scenario_actions: Vec<ScenarioActionFigures>,
}

/// One persona's `scenario:` action: how often it ran and how often its expectations held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioActionFigures {
    /// The persona.
    pub persona: String,
    /// The action, `scenario: <scenario id>[#<step>]`.
    pub action: String,
    /// The scenario's id.
    pub scenario: String,
    /// The scenario's file.
    pub file: String,
    /// The step measured every iteration (1-based), when one was selected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    /// Iterations finished (passed or failed; those the plan's end cut short are not counted).
    pub iterations: u64,
    /// Of which every expectation held.
    pub passed: u64,
    /// Failed iterations by error kind: `expectation` (a status, errcode, body, header or
    /// schema expectation did not hold), `transport`, `timeout`, `capture`, `scenario`,
    /// `mapping`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, u64>,
    /// Why the action stayed idle: the conformance run would skip the scenario on this target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// The first failure, with its step's transcript (secrets redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<super::Failure>,
}

impl ScenarioActionFigures {
    /// Failed iterations, every kind.
    pub fn failed(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// What `mxharness capacity` found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CapacityReport {
    /// Largest population at which every threshold held; `None`: even the first step failed.
    pub found: Option<usize>,
    /// Lower end of the bracket (holds).
    pub low: Option<usize>,
    /// Upper end of the bracket (fails); `None` when it holds at the cap.
    pub high: Option<usize>,
    /// `bracketed`, `holds at the cap`, `first step fails` or `out of budget`.
    pub ending: String,
    /// One line for people.
    pub answer: String,
    /// The threshold that failed at the upper end, with its verdict.
    pub limiting: Option<String>,
    /// Its measured value at the upper end.
    pub limiting_observed: Option<f64>,
    /// Every load run, in order.
    pub steps: Vec<CapacityStep>,
}

/// One load run of a capacity search.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CapacityStep {
    /// Population.
    pub users: usize,
    /// 0 for the first run at this population, 1.. for repeats.
    pub attempt: usize,
    /// Every threshold held for the whole hold.
    pub held: bool,
    /// Wall time of the run (setup included).
    pub duration_ms: u64,
    /// Failed requests.
    pub errors: u64,
    /// Per threshold: its observed value and the p50/p95 of its subject.
    pub metrics: Vec<CapacityMetric>,
}

/// One threshold's figures in a step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CapacityMetric {
    /// The rule as written.
    pub threshold: String,
    /// Whether it held.
    pub held: bool,
    /// Its observed value (ms, %, count).
    pub observed: Option<f64>,
    /// Median latency of its subject.
    pub p50_ms: Option<f64>,
    /// p95 latency of its subject.
    pub p95_ms: Option<f64>,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyFigures {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest sample.
    pub max_ms: f64,
    /// Mean.
    pub mean_ms: f64,
}

/// Figures of one named request (or of all of them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RequestFigures {
    /// Short name used by thresholds (`send`, `sync (long-poll)`, ...).
    pub name: String,
    /// `PUT /_matrix/client/v3/rooms/{roomId}/send/m.room.message/{txnId}`.
    pub endpoint: String,
    /// Held open by the server on purpose; kept out of [`LoadReport::all`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub long_poll: bool,
    /// Which load model produced the samples: `closed` (users think between actions; the
    /// latency is from the request's start), `open` (actions arrive on a timetable; the
    /// latency is from the intended start) or `mixed` (both).
    #[serde(default)]
    pub model: Model,
    /// Latency of every request, failed ones included.
    pub latency: LatencyFigures,
    /// Requests that failed (transport error or unexpected status).
    pub errors: u64,
    /// `errors / count` in percent.
    pub error_rate_pct: f64,
    /// Requests per second over the attack.
    pub rps: f64,
    /// Responses by status code (0: no response).
    pub statuses: BTreeMap<u16, u64>,
}

/// The load model behind a row of figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    /// Closed loop: each user waits for its answer, thinks, then acts again.
    #[default]
    Closed,
    /// Open: arrivals on a fixed timetable, latency from the intended start.
    Open,
    /// Samples of both models.
    Mixed,
}

impl Model {
    /// The model of figures made of samples of `self` and of `other`.
    pub fn join(self, other: Self) -> Self {
        if self == other { self } else { Self::Mixed }
    }

    /// `closed`, `open` or `mixed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::Mixed => "mixed",
        }
    }
}

/// One open-model rate of a persona over the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ArrivalFigures {
    /// The persona.
    pub persona: String,
    /// The action of a per-action rate; absent: the persona's own mix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// `uniform` or `poisson`.
    pub spacing: String,
    /// Longest wait for a free user before an arrival is dropped.
    pub max_delay_ms: u64,
    /// How long arrivals were due (the profile's hold, shorter when stopped early).
    pub window_ms: u64,
    /// Arrivals per second the plan asked for (this shard's share).
    pub intended_rps: f64,
    /// Arrivals started per second of the window.
    pub achieved_rps: f64,
    /// Arrivals due in the window: started + dropped.
    pub scheduled: u64,
    /// Arrivals a user started (late ones included, their latency counting the wait).
    pub started: u64,
    /// Arrivals no user was free to start within `max_delay`.
    pub dropped: u64,
}

/// Delivery latency with the message accounting.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeliveryFigures {
    /// Latency of the delivered messages.
    pub latency: LatencyFigures,
    /// Messages sent (200 with an event id) into rooms with a syncing reader.
    pub sent: u64,
    /// Seen by another user's sync during the run.
    pub delivered: u64,
    /// Not seen by a sync during the run but present in the room's history afterwards
    /// (typically sent in the last seconds).
    pub late: u64,
    /// Accepted by the server but absent from the room's history afterwards.
    pub lost: u64,
}

/// One second of the attack.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecondPoint {
    /// Seconds since the attack started.
    pub t: u64,
    /// Requests finished in this second (long-polls excluded).
    pub requests: u64,
    /// Of which failed.
    pub errors: u64,
    /// Percentiles of those requests, in ms.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 95th percentile of deliveries seen in this second (0 when none).
    pub delivery_p95_ms: f64,
    /// Active simulated users.
    pub users: u64,
}
