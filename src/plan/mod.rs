//! The executable plan: scenarios after validation and lowering, and selection by filter.

pub mod coverage;
pub mod coverage_map;
pub mod filter;
pub mod lower;
pub mod operations;
pub mod profile;
pub mod template;

#[cfg(test)]
mod sliding_args_tests;

use std::time::Duration;

use serde_json::Value;

use crate::matrix::ops::Operation;
use crate::scenario::model::{JsonType, Level};

pub use lower::{LoadOutcome, load};

/// A validated scenario, ready to run.
#[derive(Clone)]
pub struct ScenarioPlan {
    /// Unique id.
    pub id: String,
    /// Human title.
    pub title: String,
    /// Spec area.
    pub area: String,
    /// File as shown to the user.
    pub file: String,
    /// `file:line:col` of the scenario's `id`.
    pub location: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Spec version the behaviour appeared in.
    pub spec_since: Option<String>,
    /// Spec section.
    pub spec_section: Option<String>,
    /// Spec version that deprecated the behaviour.
    pub spec_deprecated: Option<(u32, u32)>,
    /// Spec version that removed the behaviour.
    pub spec_removed: Option<(u32, u32)>,
    /// MSC number, for behaviour from a proposal.
    pub msc: Option<String>,
    /// Requirement level.
    pub level: Level,
    /// Where the spec requires the behaviour (quote or OpenAPI pointer).
    pub basis: Option<String>,
    /// Capabilities the server must offer, else the scenario is skipped.
    pub requires_capabilities: Vec<crate::scenario::model::Capability>,
    /// Room versions the server must offer, else the scenario is skipped.
    pub requires_room_versions: Vec<String>,
    /// Whether a step calls `sliding_sync` (skipped when the target speaks no dialect).
    pub uses_sliding_sync: bool,
    /// Lowest spec version the server must advertise, as (major, minor).
    pub requires_spec: Option<(u32, u32)>,
    /// Unstable features the server must advertise.
    pub requires_unstable: Vec<String>,
    /// Extra homeservers (besides the target `hs1`), sorted by name.
    pub servers: Vec<(String, crate::scenario::model::ServerKind)>,
    /// Actors, sorted by name.
    pub actors: Vec<ActorPlan>,
    /// Scenario variables set at start, in order.
    pub vars: Vec<(String, String)>,
    /// Steps in order.
    pub steps: Vec<StepPlan>,
}

impl std::fmt::Debug for ScenarioPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScenarioPlan")
            .field("id", &self.id)
            .field("steps", &self.steps.len())
            .finish()
    }
}

/// A user the scenario acts as.
#[derive(Debug, Clone)]
pub struct ActorPlan {
    /// Name used in `as:` and `${name.field}`.
    pub name: String,
    /// Register as a server admin.
    pub admin: bool,
    /// The homeserver the user lives on (None: the target).
    pub server: Option<String>,
}

/// One step.
#[derive(Clone)]
pub struct StepPlan {
    /// 1-based index.
    pub index: usize,
    /// Label for reports: the step's name or a description of the action.
    pub label: String,
    /// `file:line:col` of the step.
    pub location: String,
    /// Acting user.
    pub actor: Option<String>,
    /// Token override (template).
    pub token: Option<String>,
    /// What to send.
    pub action: Action,
    /// What to expect.
    pub expect: ExpectPlan,
    /// Variables to capture.
    pub captures: Vec<Capture>,
    /// Properties to record: (name, `/pointer` template or `@duration_ms` / `@status`).
    pub records: Vec<(String, String)>,
    /// Poll until expectations hold.
    pub eventually: Option<Eventually>,
    /// Per-exchange timeout override.
    pub timeout: Option<Duration>,
    /// How many times the step is sent in a row (1: once).
    pub repeat: u32,
    /// Re-send (up to `repeat` times) until this status arrives; never arriving skips.
    pub until_status: Option<u16>,
    /// Whether the step checks the behaviour under test (a failing set-up step blocks the
    /// scenario instead of failing it).
    pub under_test: bool,
}

/// What a step sends.
#[derive(Clone)]
pub enum Action {
    /// A typed operation with templated arguments.
    Call {
        /// The operation.
        op: &'static dyn Operation,
        /// Arguments (strings may hold `${...}`).
        args: Value,
    },
    /// A raw HTTP request.
    Request(RequestPlan),
    /// A signed federation request from a fake server (strings are templates).
    Federation(crate::scenario::model::RawFederation),
    /// Register a handler on a fake server.
    Serve(crate::scenario::model::RawServe),
    /// Look for a request a fake server received.
    Inbound(crate::scenario::model::RawInbound),
    /// A room-level action of a fake server.
    Remote(crate::scenario::model::RawRemote),
    /// Look for a request the harness's application service received.
    Appservice(crate::scenario::model::RawRoleInbound),
    /// Look for a request the harness's push gateway received.
    PushGateway(crate::scenario::model::RawRoleInbound),
    /// Look for a message the harness's SMTP sink received.
    Email(crate::scenario::model::RawEmailInbound),
    /// Look for a request the harness's identity server received.
    IdentityServer(crate::scenario::model::RawRoleInbound),
}

/// A raw HTTP request (all strings are templates).
#[derive(Debug, Clone)]
pub struct RequestPlan {
    /// Method.
    pub method: http::Method,
    /// Path below the base URL.
    pub path: String,
    /// Query parameters.
    pub query: Vec<(String, String)>,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Body,
}

/// Body of a raw request.
#[derive(Debug, Clone)]
pub enum Body {
    /// No body.
    None,
    /// JSON (templated).
    Json(Value),
    /// Raw text (templated), sent as `application/json`.
    Raw(String),
    /// Exact bytes (`body_bytes.hex`).
    Bytes(Vec<u8>),
    /// `size` (a number or a sum template) copies of `byte` (`body_bytes.size`).
    Generated {
        /// Number of bytes (template).
        size: Value,
        /// The byte repeated.
        byte: u8,
    },
}

/// The largest generated body (`body_bytes.size`): 1 GiB.
pub const MAX_GENERATED_BODY: u64 = 1 << 30;

/// A variable taken from a response.
#[derive(Debug, Clone)]
pub struct Capture {
    /// Variable name.
    pub name: String,
    /// JSON pointer (template).
    pub pointer: String,
    /// Optional regex (first group or whole match is kept).
    pub regex: Option<regex::Regex>,
    /// `file:line:col`.
    pub location: String,
}

/// Polling settings.
#[derive(Debug, Clone, Copy)]
pub struct Eventually {
    /// Deadline.
    pub within: Duration,
    /// Pause between attempts.
    pub interval: Duration,
}

/// Expectations on a response.
#[derive(Debug, Clone, Default)]
pub struct ExpectPlan {
    /// Acceptable statuses and where they were written; `None` means "any 2xx".
    pub status: Option<(Vec<u16>, String)>,
    /// Expected errcode and where it was written.
    pub errcode: Option<(String, String)>,
    /// Body matchers.
    pub body: Vec<BodyCheck>,
    /// Header matchers (`pointer` holds the lowercase header name).
    pub headers: Vec<BodyCheck>,
    /// Matcher on the body as text (`pointer` is empty).
    pub text: Option<BodyCheck>,
    /// Where the `expect` block is (or the step, when there is none).
    pub location: String,
    /// `expect.basis`: where the spec requires a status or errcode the operation does not list.
    pub basis: Option<String>,
}

/// Matchers at one JSON pointer.
#[derive(Debug, Clone)]
pub struct BodyCheck {
    /// JSON pointer (template).
    pub pointer: String,
    /// `file:line:col` of the pointer key.
    pub location: String,
    /// The predicates.
    pub predicates: Vec<Predicate>,
}

/// One predicate on a JSON value (values are templates, interpolated at run time).
#[derive(Debug, Clone)]
pub enum Predicate {
    /// Exactly equal.
    Equals(Value),
    /// Not equal.
    NotEquals(Value),
    /// Present (`true`) or absent (`false`).
    Exists(bool),
    /// JSON type.
    Type(JsonType),
    /// String matching a regex (template, compiled at run time).
    Regex(String),
    /// Containment.
    Contains(Value),
    /// No containment.
    NotContains(Value),
    /// Length of an array, object or string.
    Length(u64),
    /// Absent, or exactly equal (an optional field with a spec default).
    Default(Value),
    /// A number at least this (a number, or a sum template such as `"${now_ms} + 3600000"`).
    AtLeast(Value),
    /// A number at most this (as `AtLeast`).
    AtMost(Value),
}

impl ScenarioPlan {
    /// Whether the scenario needs federation (extra servers or federation steps).
    pub fn uses_federation(&self) -> bool {
        !self.servers.is_empty()
            || self.steps.iter().any(|s| {
                matches!(
                    s.action,
                    Action::Federation(_)
                        | Action::Serve(_)
                        | Action::Inbound(_)
                        | Action::Remote(_)
                )
            })
    }

    /// Whether the scenario needs a second real homeserver.
    pub fn uses_second_server(&self) -> bool {
        self.servers
            .iter()
            .any(|(_, k)| *k == crate::scenario::model::ServerKind::Synapse)
    }
}

impl std::fmt::Debug for StepPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepPlan")
            .field("index", &self.index)
            .field("label", &self.label)
            .finish()
    }
}
