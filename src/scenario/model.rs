//! The raw scenario file model (format v1). It mirrors the YAML one to one; its JSON Schema
//! (derived with schemars) both drives validation and is what `mxharness schema` prints.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

/// The only scenario format version this build reads.
pub const SCHEMA_VERSION: u32 = 1;

/// The `kind:` a scenario file may declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DeclaredKind {
    /// A conformance scenario.
    Scenario,
}

/// One scenario file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "mxharness scenario (format v1)")]
pub struct RawScenario {
    /// The file's kind, optional: `scenario`. Read by the classifier (`scenario::kind`) before
    /// the file is parsed; without it a file with `steps:` is a scenario.
    #[serde(default)]
    pub kind: Option<DeclaredKind>,
    /// Format version; must be 1.
    pub schema: u32,
    /// Stable, unique id: lowercase segments separated by '/', e.g. `cs/messaging/send-text`.
    pub id: String,
    /// One sentence saying what behaviour is checked.
    pub title: String,
    /// Spec area the scenario belongs to (e.g. `messaging`); results are scored per area.
    pub area: String,
    /// Where the behaviour is specified.
    #[serde(default)]
    pub spec: Option<RawSpec>,
    /// Requirement level of the behaviour: `must`, `should` or `may` after the RFC 2119
    /// keyword (in capitals) of the spec text or a normative schema, or `policy` for a
    /// deployment rule the spec does not state. Scores and the exit code count `must`.
    #[serde(default)]
    pub level: Option<Level>,
    /// Where the spec requires the behaviour: a short quote or an OpenAPI pointer, shown next
    /// to every failure ("'Servers MUST reject …' (MSC4186, Connections)").
    #[serde(default)]
    pub basis: Option<String>,
    /// Free tags: behaviour IDs from the coverage checklist (e.g. `CS-EVENTS-01`),
    /// `complement:TestName`, `sytest:...`, `must`/`should`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Conditions the server must meet; the scenario is skipped (with the reason) otherwise.
    #[serde(default)]
    pub requires: Option<RawRequires>,
    /// Homeservers the scenario needs besides the target (`hs1`): `name: fake` is an
    /// in-process fake homeserver, `name: synapse` a second real homeserver (spawned, or
    /// `--target2`). Their names are `${name.server_name}`.
    #[serde(default)]
    pub servers: BTreeMap<String, ServerKind>,
    /// Users the scenario acts as. Each is a fresh user, registered for this run only.
    #[serde(default)]
    pub actors: BTreeMap<String, RawActor>,
    /// Variables set once when the scenario starts (values may use `${uuid}`).
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// The steps, run in order; the first failing step ends the scenario.
    pub steps: Vec<RawStep>,
}

/// Where the behaviour is specified.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSpec {
    /// Spec version the behaviour appeared in, e.g. "1.1" (quote it in YAML). Required unless
    /// `msc` names a proposal not yet in a release.
    #[serde(default)]
    pub since: Option<String>,
    /// Spec version that deprecated the behaviour, e.g. "1.12".
    #[serde(default)]
    pub deprecated: Option<String>,
    /// Spec version that removed the behaviour; profiles from that version on leave it out.
    #[serde(default)]
    pub removed: Option<String>,
    /// The Matrix Spec Change proposal, e.g. "4186", for behaviour not (yet) in a release.
    #[serde(default)]
    pub msc: Option<String>,
    /// Section of the spec, e.g. `client-server-api/#put_matrixclientv3roomsroomidsendeventtypetxnid`.
    #[serde(default)]
    pub section: Option<String>,
}

/// Requirement level (RFC 2119 keyword of the spec text).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// MUST / MUST NOT, or behaviour the spec states as fact.
    Must,
    /// SHOULD / SHOULD NOT.
    Should,
    /// MAY.
    May,
    /// A deployment rule the spec does not state (border gateways).
    Policy,
}

impl Level {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "must",
            Level::Should => "should",
            Level::May => "may",
            Level::Policy => "policy",
        }
    }
}

/// What the server must advertise for the scenario to run.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRequires {
    /// Lowest spec version the server must advertise in `/versions`, e.g. "1.3".
    #[serde(default)]
    pub spec: Option<String>,
    /// `unstable_features` that must be advertised as true.
    #[serde(default)]
    pub unstable_features: Vec<String>,
    /// Optional features or configurable behaviours the scenario relies on, probed once per
    /// run; when the server does not offer one, the scenario is skipped with the reason.
    #[serde(default)]
    pub capabilities: Vec<Capability>,
    /// Room versions the scenario creates rooms of; each must be offered in `/capabilities`
    /// (`m.room_versions.available`), else the scenario is skipped.
    #[serde(default)]
    pub room_versions: Vec<String>,
}

/// An optional feature or a behaviour the spec lets a server choose or configure.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Deserialize,
    serde::Serialize,
    JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// Guests may register (`POST /register?kind=guest`): "Homeservers may choose not to
    /// allow this access at all".
    GuestAccess,
    /// Presence is enabled: a user's own presence set to online reads back as online.
    Presence,
    /// An authenticated user may look up the profile of a user it shares no room with
    /// (servers MAY answer 403 since v1.12).
    ProfileLookup,
    /// Login and registration issue a refresh token when the client asks for one.
    RefreshTokens,
    /// The user directory finds users who share no room with the searcher.
    UserDirectoryAll,
    /// Clients may register themselves with `m.login.dummy`.
    OpenRegistration,
    /// Users may publish rooms in the public room directory.
    RoomPublication,
    /// Users may change their display name (`m.set_displayname` in /capabilities).
    SetDisplayname,
    /// Users may change their avatar (`m.set_avatar_url` in /capabilities).
    SetAvatarUrl,
    /// Users may change their password (`m.change_password` in /capabilities).
    ChangePassword,
    /// The target federates with the harness's fake servers (the federation preflight).
    Federation,
    /// The harness's application service is registered with the target (the spawned
    /// Synapse; a `--target` only when the operator registered it).
    Appservice,
    /// The target's HTTP pushers can reach the harness's push-gateway role on loopback (the
    /// spawned Synapse).
    PushGateway,
    /// The target sends mail through the harness's SMTP sink (the spawned Synapse, whose
    /// `email:` section points at it).
    Email,
    /// The target reaches the harness's identity-server role on loopback over TLS (the
    /// spawned Synapse, told to accept its self-signed certificate).
    IdentityServer,
    /// Delayed events (MSC4140, unstable): `PUT /send` with `org.matrix.msc4140.delay`
    /// schedules the event and answers a `delay_id` (Synapse: `max_event_delay_duration`).
    DelayedEvents,
    /// The server has a password policy: it refuses a one-character new password ("Servers
    /// MAY reject weak passwords", Password management).
    PasswordPolicy,
    /// Registration asks new users to accept policy documents: a `/register` flow has the
    /// `m.login.terms` stage (v1.11; Synapse: `user_consent.require_at_registration`).
    RegistrationTerms,
    /// Users may add or remove third-party identifiers (`m.3pid_changes` in /capabilities,
    /// v1.9; enabled when absent).
    #[serde(rename = "3pid-changes")]
    ThreepidChanges,
    /// The server offers single sign-on: `GET /login` lists an `m.login.sso` flow, without
    /// which the `/login/sso/redirect` endpoints have nothing to redirect to.
    SsoLogin,
}

impl Capability {
    /// The name written in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::GuestAccess => "guest-access",
            Capability::Presence => "presence",
            Capability::ProfileLookup => "profile-lookup",
            Capability::RefreshTokens => "refresh-tokens",
            Capability::UserDirectoryAll => "user-directory-all",
            Capability::OpenRegistration => "open-registration",
            Capability::RoomPublication => "room-publication",
            Capability::SetDisplayname => "set-displayname",
            Capability::SetAvatarUrl => "set-avatar-url",
            Capability::ChangePassword => "change-password",
            Capability::Federation => "federation",
            Capability::Appservice => "appservice",
            Capability::PushGateway => "push-gateway",
            Capability::Email => "email",
            Capability::IdentityServer => "identity-server",
            Capability::DelayedEvents => "delayed-events",
            Capability::PasswordPolicy => "password-policy",
            Capability::RegistrationTerms => "registration-terms",
            Capability::ThreepidChanges => "3pid-changes",
            Capability::SsoLogin => "sso-login",
        }
    }

    /// Every capability, in order.
    pub const ALL: [Capability; 20] = [
        Capability::GuestAccess,
        Capability::Presence,
        Capability::ProfileLookup,
        Capability::RefreshTokens,
        Capability::UserDirectoryAll,
        Capability::OpenRegistration,
        Capability::RoomPublication,
        Capability::SetDisplayname,
        Capability::SetAvatarUrl,
        Capability::ChangePassword,
        Capability::Federation,
        Capability::Appservice,
        Capability::PushGateway,
        Capability::Email,
        Capability::IdentityServer,
        Capability::DelayedEvents,
        Capability::PasswordPolicy,
        Capability::RegistrationTerms,
        Capability::ThreepidChanges,
        Capability::SsoLogin,
    ];
}

/// A user the scenario acts as.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawActor {
    /// Create the user as a server admin (needs shared-secret provisioning).
    #[serde(default)]
    pub admin: bool,
    /// The homeserver the user lives on: `hs1` (the target, default) or a `synapse` server.
    #[serde(default)]
    pub server: Option<String>,
}

/// Kinds of extra homeservers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ServerKind {
    /// An in-process fake homeserver (signs requests, serves its key, strict handlers).
    Fake,
    /// A fake homeserver named by IP literal (`127.0.0.1:<port>`), e.g. to be denied by a
    /// server ACL without denying the `localhost` homeservers.
    #[serde(rename = "fake-ip")]
    FakeIp,
    /// A second real homeserver.
    Synapse,
}

/// A signed federation request sent by a fake server.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFederation {
    /// The fake server that signs and sends.
    pub from: String,
    /// The destination homeserver (default `hs1`).
    #[serde(default)]
    pub to: Option<String>,
    /// HTTP method.
    pub method: String,
    /// Path below the destination, e.g. `/_matrix/federation/v1/version`.
    pub path: String,
    /// Query parameters (signed as part of the URI).
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// A JSON body (signed as `content`).
    #[serde(default)]
    pub json: Option<serde_json::Value>,
    /// A raw text body sent as is (not signed).
    #[serde(default)]
    pub body: Option<String>,
    /// Deliberate faults, to check that the destination refuses the request.
    #[serde(default)]
    pub forge: Option<RawForge>,
}

/// Faults for a federation request (see `Forge` in src/federation/client.rs).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawForge {
    /// Send no Authorization header.
    #[serde(default)]
    pub unsigned: bool,
    /// Corrupt the signature.
    #[serde(default)]
    pub tamper_signature: bool,
    /// Claim (and sign as) another origin.
    #[serde(default)]
    pub origin: Option<String>,
    /// Name another destination in the header and the signed object.
    #[serde(default)]
    pub destination: Option<String>,
    /// Leave `destination` out of the header.
    #[serde(default)]
    pub omit_destination: bool,
    /// Sign this URI instead of the one sent.
    #[serde(default)]
    pub sign_uri: Option<String>,
    /// Sign this body instead of the one sent.
    #[serde(default)]
    pub sign_body: Option<serde_json::Value>,
    /// Sign with a fresh key the origin does not publish.
    #[serde(default)]
    pub unknown_key: bool,
    /// Sign with a key the origin lists only under `old_verify_keys` (expired an hour ago).
    #[serde(default)]
    pub old_key: bool,
    /// Send this Authorization value verbatim.
    #[serde(default)]
    pub authorization: Option<String>,
    /// Send the valid signature in this hand-written header layout: `{origin}`,
    /// `{destination}`, `{key}`, `{sig}` (and `{origin_escaped}` etc., every character
    /// backslash-escaped) are replaced by the request's correct parts.
    #[serde(default)]
    pub authorization_template: Option<String>,
    /// Extra or replaced headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// A handler a fake server registers: requests matching it are expected.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawServe {
    /// The fake server.
    pub on: String,
    /// HTTP method.
    pub method: String,
    /// Regular expression over the path (whole path, no query).
    pub path: String,
    /// Status answered (default 200).
    #[serde(default)]
    pub status: Option<u16>,
    /// JSON answered (default `{}`); templates are resolved when the step runs.
    #[serde(default)]
    pub json: Option<serde_json::Value>,
    /// Answer invites (`PUT /_matrix/federation/v2/invite/...`) by counter-signing the event.
    #[serde(default)]
    pub sign_invite: bool,
    /// Accept requests whose X-Matrix authentication fails (default false: they get 401).
    #[serde(default)]
    pub allow_unauthenticated: bool,
    /// Answer `POST /_matrix/policy/v1/sign` as a Policy Server: sign the PDU with the
    /// server's policy key (`ed25519:policy_server`, public key `${NAME.policy_key}`) and
    /// answer only that signature.
    #[serde(default)]
    pub sign_policy: bool,
    /// Answer with a federation media download (`multipart/mixed`: `{}` metadata, then this
    /// file) instead of `json`.
    #[serde(default)]
    pub media: Option<RawServeMedia>,
}

/// The file a `serve` step answers a federation media download with.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawServeMedia {
    /// `Content-Type` of the file part.
    pub content_type: String,
    /// `Content-Disposition` of the file part (e.g. `attachment; filename*=utf-8''...`).
    #[serde(default)]
    pub content_disposition: Option<String>,
    /// The file's bytes, as text (exactly one of `text` and `hex`).
    #[serde(default)]
    pub text: Option<String>,
    /// The file's bytes, as hexadecimal digits (an image, say).
    #[serde(default)]
    pub hex: Option<String>,
}

/// Wait for a request a fake server received; `expect.body` matches its JSON body.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawInbound {
    /// The fake server.
    pub on: String,
    /// HTTP method, or alternatives separated by `|` (`GET|POST`).
    pub method: String,
    /// Regular expression over the path.
    pub path: String,
    /// Only count requests whose X-Matrix signature verified (default true).
    #[serde(default)]
    pub authenticated: Option<bool>,
}

/// Wait for a request one of the harness's roles (application service, push gateway)
/// received from the target (needs `requires.capabilities: [appservice]` or
/// `[push-gateway]`); `expect.body` matches its JSON body, `expect.status` the status the
/// role answered.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRoleInbound {
    /// HTTP method.
    pub method: String,
    /// Regular expression over the path (whole path as received, percent-encoded, no
    /// query); `${...}` variables are replaced first.
    pub path: String,
    /// Only count requests that carried the registration's `hs_token` as
    /// `Authorization: Bearer` (default true; the push gateway expects no token).
    #[serde(default)]
    pub authenticated: Option<bool>,
    /// Turn the step around: it passes when NO request matching `method`, `path` and
    /// `expect` arrived, and fails at the first that did (e.g. a notification the server
    /// must not send). It judges what arrived so far, then keeps watching for `wait`.
    #[serde(default)]
    pub none: bool,
    /// With `none`: how long to keep watching (e.g. `2s`; default: judge what arrived so
    /// far, e.g. after a later request proved that the role has caught up).
    #[serde(default)]
    pub wait: Option<String>,
}

/// A message the harness's SMTP sink received (an `email` step).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEmailInbound {
    /// Regular expression over the envelope recipients (joined by `,`); `${...}` variables
    /// are replaced first.
    pub to: String,
    /// Follow a link: a regular expression over the message's links (`${...}` replaced
    /// first); the step GETs the newest matching message's first matching link (which must
    /// lie under the target's base URL), without a token, as a user clicking it would, and
    /// `expect` judges that response instead of the message.
    #[serde(default)]
    pub follow: Option<String>,
    /// With `follow`: the page the link opens asks to confirm in a form; submit its
    /// `method="post"` form (its hidden inputs, form-encoded, to its action or the link) as
    /// the user pressing its button would, and `expect` judges that answer.
    #[serde(default)]
    pub confirm: bool,
    /// Only the `nth` message (1-based, in arrival order) to `to` counts: e.g. `2` for the
    /// second mail to an address that already got one (default: every message).
    #[serde(default)]
    pub nth: Option<usize>,
}

/// A room-level action of a fake server: join (make_join, then send_join v2), leave
/// (make_leave, then send_leave v2), send an event (a PDU in a transaction), create a room of
/// its own, invite a user of another server into it, or send EDUs.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRemote {
    /// The fake server acting.
    pub server: String,
    /// `join`, `leave`, `send_pdu`, `create_room`, `invite`, `send_edus`, `keys_offline`
    /// (the key endpoint answers 503 from now on) or `serve_joins` (answer make_join and
    /// send_join for a room the fake server created).
    pub op: String,
    /// The destination homeserver (default `hs1`).
    #[serde(default)]
    pub to: Option<String>,
    /// The room.
    #[serde(default)]
    pub room_id: Option<String>,
    /// The acting user (default `${server.user_id}`, the fake server's user).
    #[serde(default)]
    pub user: Option<String>,
    /// The user invited (`invite`).
    #[serde(default)]
    pub target: Option<String>,
    /// Event type (`send_pdu`).
    #[serde(default, rename = "type")]
    pub event_type: Option<String>,
    /// State key (`send_pdu` of a state event).
    #[serde(default)]
    pub state_key: Option<String>,
    /// Event content (`send_pdu`).
    #[serde(default)]
    pub content: Option<serde_json::Value>,
    /// Top-level fields replacing the computed ones (prev_events, auth_events, sender, ...).
    #[serde(default)]
    pub overrides: Option<serde_json::Value>,
    /// Break the event after signing: `signature` or `content_hash` (`send_pdu`).
    #[serde(default)]
    pub tamper: Option<String>,
    /// Send the event now (default true); false only mints and remembers it.
    #[serde(default)]
    pub send: Option<bool>,
    /// EDUs to send (`send_edus`), as `{edu_type, content}` objects.
    #[serde(default)]
    pub edus: Option<serde_json::Value>,
    /// `ver` query values for make_join (default: the versions the harness can mint for).
    #[serde(default)]
    pub versions: Option<Vec<String>>,
    /// `join`: send `omit_members=true` with send_join v2 (a partial-state join, v1.6).
    #[serde(default)]
    pub omit_members: Option<bool>,
}

/// One step: either a typed `call` or a raw `request`, then expectations and captures.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    /// What the step is for (shown in reports).
    #[serde(default)]
    pub name: Option<String>,
    /// The actor whose access token is sent; without it the request is unauthenticated.
    #[serde(default, rename = "as")]
    pub actor: Option<String>,
    /// An access token to send instead of the actor's (e.g. `${new_token}`).
    #[serde(default)]
    pub token: Option<String>,
    /// A typed operation (see `mxharness ops`); its response is parsed with ruma's type.
    #[serde(default)]
    pub call: Option<String>,
    /// Arguments of the typed operation.
    #[serde(default)]
    pub with: Option<serde_json::Value>,
    /// A raw HTTP request, for negative tests that a typed call cannot express.
    #[serde(default)]
    pub request: Option<RawRequest>,
    /// A signed federation request from a fake server.
    #[serde(default)]
    pub federation: Option<RawFederation>,
    /// Register a handler on a fake server (the step itself sends nothing).
    #[serde(default)]
    pub serve: Option<RawServe>,
    /// Wait for a request a fake server received (use with `eventually`).
    #[serde(default)]
    pub inbound: Option<RawInbound>,
    /// A room-level action of a fake server (join, leave, send_pdu, ...).
    #[serde(default)]
    pub remote: Option<RawRemote>,
    /// Wait for a request the harness's application service received (use with
    /// `eventually`).
    #[serde(default)]
    pub appservice: Option<RawRoleInbound>,
    /// Wait for a request the harness's push gateway received (use with `eventually`).
    #[serde(default)]
    pub push_gateway: Option<RawRoleInbound>,
    /// Wait for a message the harness's SMTP sink received (use with `eventually`); the
    /// response body is the message: `subject`, `text`, `html`, `links`, `rcpt_tos`, ...
    #[serde(default)]
    pub email: Option<RawEmailInbound>,
    /// Wait for a request the harness's identity server received (use with `eventually`;
    /// `authenticated`: it carried `${identity_server.access_token}`, default true).
    #[serde(default)]
    pub identity_server: Option<RawRoleInbound>,
    /// What the response must look like. Without `status`, any 2xx is required.
    #[serde(default)]
    pub expect: Option<RawExpect>,
    /// Variables to take from the response body: `name: /json/pointer`, or
    /// `name: { from: /json/pointer, regex: "mxc://[^/]+/(.+)" }` to keep the first group.
    #[serde(default)]
    pub capture: BTreeMap<String, RawCapture>,
    /// Observed values to keep as properties of the testcase, where implementations may
    /// legitimately differ: `name: /json/pointer`, or `@duration_ms` / `@status`.
    #[serde(default)]
    pub record: BTreeMap<String, String>,
    /// Re-send the step until its expectations hold, up to a deadline.
    #[serde(default)]
    pub eventually: Option<RawEventually>,
    /// Send the step this many times in a row (2 to 1000, `call` and `request` steps only),
    /// each with fresh `${uuid}`s and judged by `expect`; the first failure ends it, and
    /// `capture` takes the last response (e.g. to queue more messages than a page holds).
    #[serde(default)]
    pub repeat: Option<u32>,
    /// With `repeat`: re-send until the server answers this status (e.g. 429 for a rate
    /// limit), and judge that answer by `expect` (whose `status` must be it); answers before
    /// it are not judged. When it never comes, the scenario is skipped with the last answer.
    #[serde(default)]
    pub until_status: Option<u16>,
    /// Timeout of one HTTP exchange, e.g. `10s` (default: the run's `--step-timeout`).
    #[serde(default)]
    pub timeout: Option<String>,
    /// `setup` for a step that only prepares the behaviour under test (its failure marks the
    /// scenario *blocked*, not failed), `test` for a step that checks it. Default: `test`
    /// when the step has `expect:` or is the last step, `setup` otherwise.
    #[serde(default)]
    pub role: Option<StepRole>,
}

/// What a step is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StepRole {
    /// Prepares the behaviour under test; a failure blocks the scenario.
    Setup,
    /// Checks the behaviour under test; a failure fails the scenario.
    Test,
}

/// A capture: a JSON pointer, or a pointer with a regular expression.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RawCapture {
    /// `/json/pointer`.
    Pointer(String),
    /// `{ from: /json/pointer, regex: "..." }`.
    Detailed(RawCaptureSpec),
}

/// A capture with a regular expression.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCaptureSpec {
    /// JSON pointer into the response body.
    pub from: String,
    /// Applied to the (string) value; the first group, or the whole match, is captured.
    #[serde(default)]
    pub regex: Option<String>,
}

/// A raw HTTP request.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRequest {
    /// HTTP method: GET, PUT, POST, DELETE, ...
    pub method: String,
    /// Path (and optional query) below the server's base URL, e.g. `/_matrix/client/v3/sync`.
    pub path: String,
    /// Query parameters, added to the path.
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A JSON body.
    #[serde(default)]
    pub json: Option<serde_json::Value>,
    /// A raw text body, sent as is (e.g. malformed JSON).
    #[serde(default)]
    pub body: Option<String>,
    /// A body of bytes: exact ones (`hex`, e.g. invalid UTF-8) or `size` generated copies of
    /// `byte` (e.g. an upload over the server's limit). Sent as `application/octet-stream`
    /// unless `headers` name a `Content-Type`.
    #[serde(default)]
    pub body_bytes: Option<RawBodyBytes>,
}

/// A request body of bytes: exactly one of `hex` and `size`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBodyBytes {
    /// The bytes, as hexadecimal digits (`7b2261223a22ff227d` is `{"a":"\xff"}`).
    #[serde(default)]
    pub hex: Option<String>,
    /// How many bytes to generate: a number, or a sum after interpolation
    /// (`"${limit} + 1"`); at most 1 GiB.
    #[serde(default)]
    pub size: Option<RawNumber>,
    /// With `size`: the byte repeated, one ASCII character (default `a`).
    #[serde(default)]
    pub byte: Option<String>,
}

/// Expectations on a response.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    /// HTTP status: one code, or a list of acceptable codes (e.g. `[400, 403]` where the spec
    /// leaves the choice to the server).
    #[serde(default)]
    pub status: Option<RawStatus>,
    /// The Matrix `errcode` of an error response, e.g. `M_FORBIDDEN`.
    #[serde(default)]
    pub errcode: Option<String>,
    /// Matchers on the JSON body, keyed by JSON pointer (`""` is the whole body).
    #[serde(default)]
    pub body: BTreeMap<String, RawMatcher>,
    /// Matchers on response headers (names are case-insensitive); values are strings.
    #[serde(default)]
    pub headers: BTreeMap<String, RawMatcher>,
    /// A matcher on the raw body as text (for non-JSON bodies such as media).
    #[serde(default)]
    pub text: Option<RawMatcher>,
    /// Where the spec requires a status or errcode that the operation itself does not
    /// document (e.g. "common error codes: M_NOT_JSON"); without it, `validate` refuses them.
    #[serde(default)]
    pub basis: Option<String>,
}

/// One status code, several acceptable ones, or a class (`"4xx"`) where the spec names no code.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RawStatus {
    /// Exactly this code.
    One(u16),
    /// Any of these codes.
    AnyOf(Vec<u16>),
    /// Any code of a class: `"4xx"` (a refusal the spec does not give a status for).
    Class(String),
}

impl RawStatus {
    /// The acceptable codes (empty for an invalid class).
    pub fn codes(&self) -> Vec<u16> {
        match self {
            RawStatus::One(c) => vec![*c],
            RawStatus::AnyOf(cs) => cs.clone(),
            RawStatus::Class(class) => match class.as_bytes() {
                [d @ b'1'..=b'5', b'x' | b'X', b'x' | b'X'] => {
                    let base = u16::from(d - b'0') * 100;
                    (base..base + 100).collect()
                }
                _ => Vec::new(),
            },
        }
    }
}

/// Predicates on the value at one JSON pointer; every one given must hold.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMatcher {
    /// The value equals this exactly.
    #[serde(default, deserialize_with = "some_value")]
    #[schemars(with = "Option<serde_json::Value>")]
    pub equals: Option<serde_json::Value>,
    /// The value does not equal this.
    #[serde(default, deserialize_with = "some_value")]
    #[schemars(with = "Option<serde_json::Value>")]
    pub not_equals: Option<serde_json::Value>,
    /// `true`: the pointer resolves; `false`: it does not.
    #[serde(default)]
    pub exists: Option<bool>,
    /// `true`: the pointer does not resolve.
    #[serde(default)]
    pub absent: Option<bool>,
    /// JSON type of the value.
    #[serde(default, rename = "type")]
    pub json_type: Option<JsonType>,
    /// The value is a string matching this regular expression.
    #[serde(default)]
    pub regex: Option<String>,
    /// Arrays: some element includes this; strings: substring; objects: includes these keys.
    #[serde(default, deserialize_with = "some_value")]
    #[schemars(with = "Option<serde_json::Value>")]
    pub contains: Option<serde_json::Value>,
    /// The opposite of `contains`.
    #[serde(default, deserialize_with = "some_value")]
    #[schemars(with = "Option<serde_json::Value>")]
    pub not_contains: Option<serde_json::Value>,
    /// Number of elements (array), keys (object) or characters (string).
    #[serde(default)]
    pub length: Option<u64>,
    /// The value is absent or equals this: for an optional field with a default in the spec
    /// (`/is_guest: { default: false }`).
    #[serde(default, deserialize_with = "some_value")]
    #[schemars(with = "Option<serde_json::Value>")]
    pub default: Option<serde_json::Value>,
    /// The value is a number at least this: a number, or a string read as a sum after
    /// interpolation (`"${now_ms} + 3600000"`).
    #[serde(default)]
    pub at_least: Option<RawNumber>,
    /// The value is a number at most this (as `at_least`).
    #[serde(default)]
    pub at_most: Option<RawNumber>,
}

/// A number written as such, or as a string read as a sum of numbers after interpolation
/// (`"${limit} + 1"`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RawNumber {
    /// A number.
    Number(serde_json::Number),
    /// `A + B - C` after `${...}` interpolation.
    Text(String),
}

impl RawNumber {
    /// As a JSON value (a template for strings).
    pub fn to_value(&self) -> serde_json::Value {
        match self {
            RawNumber::Number(n) => serde_json::Value::Number(n.clone()),
            RawNumber::Text(t) => serde_json::Value::String(t.clone()),
        }
    }
}

/// JSON value types for `type:` matchers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum JsonType {
    /// A string.
    String,
    /// Any number.
    Number,
    /// A whole number.
    Integer,
    /// true or false.
    Boolean,
    /// A JSON object.
    Object,
    /// A JSON array.
    Array,
    /// null.
    Null,
}

/// Polling until expectations hold.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEventually {
    /// Deadline, e.g. `5s`.
    pub within: String,
    /// Pause between attempts (default `100ms`).
    #[serde(default)]
    pub interval: Option<String>,
}

/// Keep an explicit `null` as `Some(Value::Null)` rather than `None`.
fn some_value<'de, D: Deserializer<'de>>(d: D) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}

/// The JSON Schema of a scenario file.
pub fn json_schema() -> schemars::Schema {
    schemars::schema_for!(RawScenario)
}
