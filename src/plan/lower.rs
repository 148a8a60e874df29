//! Lowering: scenario files -> validated [`ScenarioPlan`]s, collecting every problem in
//! every file (YAML syntax, shape against the JSON Schema, then meaning: unknown operations
//! and actors, undefined variables, bad regexes, durations and pointers).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;

use crate::scenario::kind::FileKind;

mod federation;
mod oracle;
use serde_json::Value;

use super::template;
use super::{
    Action, ActorPlan, Body, BodyCheck, Capture, Eventually, ExpectPlan, Predicate, RequestPlan,
    ScenarioPlan, StepPlan,
};
use crate::matrix::ops;
use crate::scenario::diagnostics::Problem;
use crate::scenario::model::{self, Level, RawCapture, RawMatcher, RawScenario, RawStep};
use crate::scenario::node::{self, Node, Pos};
use crate::scenario::schema_check::{self, CheckOptions, did_you_mean};
use crate::scenario::source::{self, SourceError, SourceFile};

/// Fields every actor exposes as `${actor.field}`.
pub const ACTOR_FIELDS: &[&str] = &[
    "user_id",
    "localpart",
    "password",
    "access_token",
    "device_id",
];
/// Variables always defined.
pub const BUILTINS: &[&str] = &["uuid", "key32", "sig64", "server_name", "now_ms"];

/// `${appservice.<field>}` of a scenario that requires the `appservice` capability: the
/// registration's `id`, `as_token`, `sender` (the `sender_localpart` user's id), and the
/// localpart prefixes of its exclusive user namespaces (`_mxh_as_`, and `mxh-as-` without
/// the underscore) and alias namespace.
pub const APPSERVICE_FIELDS: &[&str] = &[
    "id",
    "as_token",
    "sender",
    "user_prefix",
    "plain_user_prefix",
    "alias_prefix",
];

/// `${push_gateway.<field>}` of a scenario that requires the `push-gateway` capability: the
/// notify `url` for a pusher's `data.url`, and the `reject_prefix` of pushkeys the gateway
/// answers as rejected.
pub const PUSH_GATEWAY_FIELDS: &[&str] = &["url", "reject_prefix"];

/// `${identity_server.<field>}` of a scenario that requires the `identity-server`
/// capability: the `host` a client names as `id_server`, the `access_token` for
/// `id_access_token`, the `public_key` of the invites it stores, and the `bound_prefix` of
/// the addresses it reports bound.
pub const IDENTITY_SERVER_FIELDS: &[&str] = &["host", "access_token", "public_key", "bound_prefix"];

/// What loading a set of paths produced.
#[derive(Debug, Default)]
pub struct LoadOutcome {
    /// Every file read (kept for rendering diagnostics).
    pub sources: Vec<SourceFile>,
    /// Valid scenarios, sorted by id.
    pub scenarios: Vec<ScenarioPlan>,
    /// Every problem found, in file order.
    pub problems: Vec<Problem>,
    /// Load plans met on the way (see [`FileKind`]); `run` leaves them out, `validate`
    /// checks them with [`crate::load::plan`].
    pub load_plans: Vec<SourceFile>,
    /// Gateway check files met on the way (see [`FileKind`]); the command line loads them
    /// with [`crate::gateway::suite`] (which this module may not import).
    pub gateway_checks: Vec<SourceFile>,
}

static SCENARIO_SCHEMA: LazyLock<Value> =
    LazyLock::new(|| serde_json::to_value(model::json_schema()).unwrap_or(Value::Bool(true)));
static ID_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*$").expect("static regex")
});
static AREA_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9][a-z0-9_-]*$").expect("static regex"));
static NAME_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z_][a-z0-9_]*$").expect("static regex"));
static VERSION_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d+)\.(\d+)$").expect("static regex"));

/// Read, validate and lower every scenario file under `paths`.
pub fn load(paths: &[PathBuf]) -> Result<LoadOutcome, SourceError> {
    let files = source::discover(paths)?;
    let mut out = LoadOutcome::default();
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    for path in files {
        let file = source::read(&path)?;
        let mut problems = Vec::new();
        match classify(&file, &mut problems) {
            // gateway checks have their own format and runner (src/gateway)
            Some(FileKind::GatewayCheck) => {
                out.gateway_checks.push(file);
                continue;
            }
            Some(FileKind::LoadPlan) => {
                out.load_plans.push(file);
                continue;
            }
            Some(FileKind::Scenario) => {}
            None => {
                out.problems.extend(problems);
                out.sources.push(file);
                continue;
            }
        }
        if let Some(plan) = lower_file(&file, &mut problems) {
            if let Some(first) = ids.get(&plan.id) {
                let pos = plan_id_pos(&file);
                problems.push(Problem::new(
                    &file,
                    pos,
                    format!("duplicate scenario id `{}`", plan.id),
                    Some(format!("it is already used by {first}")),
                ));
            } else {
                ids.insert(plan.id.clone(), plan.location.clone());
                out.scenarios.push(plan);
            }
        }
        problems.sort_by_key(|p| (p.line, p.col));
        out.problems.extend(problems);
        out.sources.push(file);
    }
    out.scenarios.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// The kind of one file (see [`FileKind`]); `None`, with the problem appended, when it cannot
/// be told. A file that is not YAML is a scenario, whose loader reports the syntax error.
pub fn classify(file: &SourceFile, problems: &mut Vec<Problem>) -> Option<FileKind> {
    let Ok(root) = node::parse(&file.text) else {
        return Some(FileKind::Scenario);
    };
    match FileKind::classify(&root) {
        Ok(kind) => Some(kind),
        Err(p) => {
            problems.push(Problem::new(
                file,
                root.locate(&p.pointer, p.at_key),
                p.message,
                p.help,
            ));
            None
        }
    }
}

fn plan_id_pos(file: &SourceFile) -> Pos {
    node::parse(&file.text)
        .map(|n| n.locate("/id", false))
        .unwrap_or_default()
}

/// Parse a file into its positioned node tree, check it against `schema` and deserialise it
/// as `T`; every problem is appended. `None` when a step fails. This is the one positioned
/// parser of every file kind: `what` names the kind as [`FileKind::describe`] does
/// ("scenario", "gateway check", "load plan"), and a declared `kind:` must agree with it.
pub fn parse_checked<T: serde::de::DeserializeOwned>(
    file: &SourceFile,
    schema: &Value,
    what: &str,
    problems: &mut Vec<Problem>,
) -> Option<(Node, T)> {
    let root = match node::parse(&file.text) {
        Ok(root) => root,
        Err((message, pos)) => {
            problems.push(Problem::new(
                file,
                pos.unwrap_or_default(),
                format!("invalid YAML: {message}"),
                None,
            ));
            return None;
        }
    };
    let before = problems.len();
    if FileKind::is_declared(&root) {
        match FileKind::classify(&root) {
            Ok(kind) if kind.describe() == what => {}
            Ok(kind) => problems.push(Problem::new(
                file,
                root.locate("/kind", false),
                format!("this file declares `kind: {}`, not a {what}", kind.name()),
                None,
            )),
            Err(p) => problems.push(Problem::new(
                file,
                root.locate(&p.pointer, p.at_key),
                p.message,
                p.help,
            )),
        }
    }
    // `kind:` is the classifier's; no file model has it.
    let root = crate::scenario::kind::without_kind(root);
    for p in schema_check::check(&root, schema, CheckOptions::default()) {
        problems.push(Problem::new(
            file,
            root.locate(&p.pointer, p.at_key),
            p.message,
            p.help,
        ));
    }
    if problems.len() > before {
        return None;
    }
    match serde_json::from_value(root.to_json()) {
        Ok(raw) => Some((root, raw)),
        Err(e) => {
            problems.push(Problem::new(
                file,
                root.pos,
                format!("invalid {what}: {e}"),
                None,
            ));
            None
        }
    }
}

/// Lower one file; problems are appended, `None` when the file is invalid.
pub fn lower_file(file: &SourceFile, problems: &mut Vec<Problem>) -> Option<ScenarioPlan> {
    let (root, raw): (Node, RawScenario) =
        parse_checked(file, &SCENARIO_SCHEMA, "scenario", problems)?;
    let mut cx = Lowering {
        file,
        root: &root,
        problems: Vec::new(),
        servers: Default::default(),
    };
    let plan = cx.scenario(raw);
    let ok = cx.problems.is_empty();
    problems.extend(cx.problems);
    ok.then_some(plan)
}

struct Lowering<'a> {
    file: &'a SourceFile,
    root: &'a Node,
    problems: Vec<Problem>,
    servers: std::collections::BTreeMap<String, model::ServerKind>,
}

impl Lowering<'_> {
    fn at(&self, pointer: &str) -> Pos {
        self.root.locate(pointer, false)
    }

    fn loc(&self, pointer: &str) -> String {
        let pos = self.at(pointer);
        format!(
            "{}:{}:{}",
            self.file.display(),
            pos.line.max(1),
            pos.col.max(1)
        )
    }

    fn problem(&mut self, pointer: &str, message: impl Into<String>, help: Option<String>) {
        let pos = self.at(pointer);
        self.problems
            .push(Problem::new(self.file, pos, message, help));
    }

    fn key_problem(&mut self, pointer: &str, message: impl Into<String>, help: Option<String>) {
        let pos = self.root.locate(pointer, true);
        self.problems
            .push(Problem::new(self.file, pos, message, help));
    }

    fn scenario(&mut self, raw: RawScenario) -> ScenarioPlan {
        if raw.schema != model::SCHEMA_VERSION {
            self.problem(
                "/schema",
                format!(
                    "unsupported scenario format {}; this mxharness reads format {}",
                    raw.schema,
                    model::SCHEMA_VERSION
                ),
                None,
            );
        }
        if !ID_RE.is_match(&raw.id) {
            self.problem(
                "/id",
                "invalid id",
                Some("use lowercase segments separated by '/', e.g. cs/messaging/send-text".into()),
            );
        }
        if !AREA_RE.is_match(&raw.area) {
            self.problem(
                "/area",
                "invalid area",
                Some("use a lowercase word, e.g. messaging".into()),
            );
        }
        if raw.title.trim().is_empty() {
            self.problem("/title", "the title is empty", None);
        }
        let version_at = |this: &mut Self, key: &str, v: &Option<String>| -> Option<(u32, u32)> {
            let v = v.as_ref()?;
            let parsed = parse_version(v);
            if parsed.is_none() {
                this.problem(
                    &format!("/spec/{key}"),
                    format!("invalid spec version {v:?}"),
                    Some("write it as \"1.1\"".into()),
                );
            }
            parsed
        };
        let mut deprecated = None;
        let mut removed = None;
        if let Some(spec) = &raw.spec {
            let since = version_at(self, "since", &spec.since);
            deprecated = version_at(self, "deprecated", &spec.deprecated);
            removed = version_at(self, "removed", &spec.removed);
            if spec.since.is_none() && spec.msc.is_none() {
                self.problem(
                    "/spec",
                    "`spec` needs `since` (a spec version) or `msc` (a proposal number)",
                    None,
                );
            }
            if let (Some(s), Some(r)) = (since, removed)
                && r <= s
            {
                self.problem(
                    "/spec/removed",
                    "`removed` must be a later version than `since`",
                    None,
                );
            }
            if let Some(msc) = &spec.msc
                && (msc.is_empty() || !msc.chars().all(|c| c.is_ascii_digit()))
            {
                self.problem(
                    "/spec/msc",
                    format!("invalid MSC number {msc:?}"),
                    Some("write the number only, e.g. \"4186\"".into()),
                );
            }
        }
        if raw.level.is_none() {
            self.key_problem(
                "/id",
                "a scenario needs `level`: must, should, may or policy",
                Some("take it from the RFC 2119 keyword (in capitals) of the spec text that decides the behaviour; see docs/verdict-policy.md".into()),
            );
        }
        match raw.basis.as_deref().map(str::trim) {
            None => self.key_problem(
                "/id",
                "a scenario needs `basis`: where the spec requires the behaviour",
                Some("a short quote with its source, or an OpenAPI pointer, e.g. basis: \"'Servers MUST …' (client-server-api, Section)\"".into()),
            ),
            Some("") => self.problem("/basis", "the basis is empty", None),
            Some(_) => {}
        }
        let level = raw.level.unwrap_or_else(|| level_from_tags(&raw.tags));
        let requires_spec = raw
            .requires
            .as_ref()
            .and_then(|r| r.spec.as_ref())
            .and_then(|v| {
                let parsed = parse_version(v);
                if parsed.is_none() {
                    self.problem(
                        "/requires/spec",
                        format!("invalid spec version {v:?}"),
                        Some("write it as \"1.3\"".into()),
                    );
                }
                parsed
            });
        if raw.steps.is_empty() {
            self.problem("/steps", "a scenario needs at least one step", None);
        }

        let mut actors = Vec::new();
        for (name, actor) in &raw.actors {
            if !NAME_RE.is_match(name) || BUILTINS.contains(&name.as_str()) {
                self.key_problem(
                    &format!("/actors/{name}"),
                    format!("invalid actor name `{name}`"),
                    Some("use a lowercase name such as alice".into()),
                );
            }
            if let Some(server) = &actor.server
                && server != "hs1"
                && raw.servers.get(server) != Some(&model::ServerKind::Synapse)
            {
                self.problem(
                    &format!("/actors/{name}/server"),
                    format!("`{server}` is not a homeserver users can live on"),
                    Some(
                        "use hs1 (the target) or a server declared as `synapse` under `servers:`"
                            .into(),
                    ),
                );
            }
            actors.push(ActorPlan {
                name: name.clone(),
                admin: actor.admin,
                server: actor.server.clone().filter(|s| s != "hs1"),
            });
        }
        let actor_names: BTreeSet<&str> = raw.actors.keys().map(String::as_str).collect();
        for name in raw.servers.keys() {
            if !NAME_RE.is_match(name) || name == "hs1" || actor_names.contains(name.as_str()) {
                self.key_problem(
                    &format!("/servers/{name}"),
                    format!("invalid server name `{name}`"),
                    Some("use a lowercase name such as remote or hs2, different from the actors and hs1".into()),
                );
            }
        }
        self.servers = raw.servers.clone();

        let mut defined: BTreeSet<String> = BUILTINS.iter().map(|s| (*s).to_owned()).collect();
        defined.insert("hs1.server_name".into());
        for (name, kind) in &raw.servers {
            defined.insert(format!("{name}.server_name"));
            if matches!(kind, model::ServerKind::Fake | model::ServerKind::FakeIp) {
                defined.insert(format!("{name}.user_id"));
                defined.insert(format!("{name}.key_id"));
                defined.insert(format!("{name}.policy_key"));
            }
        }
        let wants_appservice = raw
            .requires
            .as_ref()
            .is_some_and(|r| r.capabilities.contains(&model::Capability::Appservice));
        if wants_appservice {
            for f in APPSERVICE_FIELDS {
                defined.insert(format!("appservice.{f}"));
            }
        }
        let wants_push = raw
            .requires
            .as_ref()
            .is_some_and(|r| r.capabilities.contains(&model::Capability::PushGateway));
        if wants_push {
            for f in PUSH_GATEWAY_FIELDS {
                defined.insert(format!("push_gateway.{f}"));
            }
        }
        let wants_identity = raw
            .requires
            .as_ref()
            .is_some_and(|r| r.capabilities.contains(&model::Capability::IdentityServer));
        if wants_identity {
            for f in IDENTITY_SERVER_FIELDS {
                defined.insert(format!("identity_server.{f}"));
            }
        }
        let wants_email = raw
            .requires
            .as_ref()
            .is_some_and(|r| r.capabilities.contains(&model::Capability::Email));
        for (i, step) in raw.steps.iter().enumerate() {
            if step.appservice.is_some() && !wants_appservice {
                self.problem(
                    &format!("/steps/{i}/appservice"),
                    "an `appservice` step needs `requires: { capabilities: [appservice] }`",
                    None,
                );
            }
            if step.identity_server.is_some() && !wants_identity {
                self.problem(
                    &format!("/steps/{i}/identity_server"),
                    "an `identity_server` step needs `requires: { capabilities: [identity-server] }`",
                    None,
                );
            }
            if step.email.is_some() && !wants_email {
                self.problem(
                    &format!("/steps/{i}/email"),
                    "an `email` step needs `requires: { capabilities: [email] }`",
                    None,
                );
            }
            if step.push_gateway.is_some() && !wants_push {
                self.problem(
                    &format!("/steps/{i}/push_gateway"),
                    "a `push_gateway` step needs `requires: { capabilities: [push-gateway] }`",
                    None,
                );
            }
        }
        for a in &actor_names {
            for f in ACTOR_FIELDS {
                defined.insert(format!("{a}.{f}"));
            }
        }
        let mut vars = Vec::new();
        for (name, value) in &raw.vars {
            let pointer = format!("/vars/{name}");
            self.check_name(&pointer, name, &actor_names);
            self.check_refs_str(&pointer, value, &defined);
            defined.insert(name.clone());
            vars.push((name.clone(), value.clone()));
        }

        let mut steps = Vec::new();
        for (i, step) in raw.steps.iter().enumerate() {
            if let Some(s) = self.step(i, step, &actor_names, &mut defined) {
                steps.push(s);
            }
        }
        // The last step checks the behaviour unless it says otherwise.
        if let (Some(last), Some(raw_last)) = (steps.last_mut(), raw.steps.last())
            && raw_last.role.is_none()
        {
            last.under_test = true;
        }
        self.oracle_rules(&raw, &steps, level);

        ScenarioPlan {
            location: self.loc("/id"),
            id: raw.id,
            title: raw.title,
            area: raw.area,
            file: self.file.display(),
            tags: raw.tags,
            spec_since: raw.spec.as_ref().and_then(|s| s.since.clone()),
            spec_deprecated: deprecated,
            spec_removed: removed,
            msc: raw.spec.as_ref().and_then(|s| s.msc.clone()),
            level,
            basis: raw.basis.clone(),
            requires_capabilities: raw
                .requires
                .as_ref()
                .map(|r| r.capabilities.clone())
                .unwrap_or_default(),
            requires_room_versions: raw
                .requires
                .as_ref()
                .map(|r| r.room_versions.clone())
                .unwrap_or_default(),
            uses_sliding_sync: steps.iter().any(
                |s| matches!(&s.action, Action::Call { op, .. } if op.name() == "sliding_sync"),
            ),
            spec_section: raw.spec.and_then(|s| s.section),
            requires_spec,
            requires_unstable: raw
                .requires
                .map(|r| r.unstable_features)
                .unwrap_or_default(),
            servers: raw.servers.into_iter().collect(),
            actors,
            vars,
            steps,
        }
    }

    fn check_name(&mut self, pointer: &str, name: &str, actors: &BTreeSet<&str>) {
        if !NAME_RE.is_match(name) {
            self.key_problem(
                pointer,
                format!("invalid variable name `{name}`"),
                Some("use lowercase letters, digits and `_`".into()),
            );
        } else if BUILTINS.contains(&name) || actors.contains(name) {
            self.key_problem(
                pointer,
                format!("`{name}` is already defined (a built-in variable or an actor)"),
                None,
            );
        }
    }

    fn check_refs_str(&mut self, pointer: &str, s: &str, defined: &BTreeSet<String>) {
        match template::references(s) {
            Ok(refs) => {
                for r in refs {
                    self.check_ref(pointer, r, defined);
                }
            }
            Err(e) => self.problem(pointer, e.to_string(), None),
        }
    }

    fn check_refs_value(&mut self, pointer: &str, v: &Value, defined: &BTreeSet<String>) {
        match v {
            Value::String(s) => self.check_refs_str(pointer, s, defined),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.check_refs_value(&format!("{pointer}/{i}"), item, defined);
                }
            }
            Value::Object(map) => {
                for (k, item) in map {
                    let child = format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"));
                    self.check_refs_str(&child, k, defined);
                    self.check_refs_value(&child, item, defined);
                }
            }
            _ => {}
        }
    }

    fn check_ref(&mut self, pointer: &str, name: &str, defined: &BTreeSet<String>) {
        if !defined.contains(name) {
            let help = did_you_mean(name, defined.iter().map(String::as_str))
                .map(|c| format!("did you mean `${{{c}}}`?"))
                .or_else(|| Some("variables come from `vars`, earlier `capture`s, actors (`${alice.user_id}`) and the built-ins `${uuid}` and `${server_name}`".into()));
            self.problem(pointer, format!("undefined variable `${{{name}}}`"), help);
        }
    }

    fn step(
        &mut self,
        i: usize,
        raw: &RawStep,
        actors: &BTreeSet<&str>,
        defined: &mut BTreeSet<String>,
    ) -> Option<StepPlan> {
        let base = format!("/steps/{i}");
        let before = self.problems.len();
        if let Some(actor) = &raw.actor
            && !actors.contains(actor.as_str())
        {
            let help = did_you_mean(actor, actors.iter().copied())
                .map(|c| format!("did you mean `{c}`?"))
                .or_else(|| Some("declare it under `actors:`".into()));
            self.problem(
                &format!("{base}/as"),
                format!("unknown actor `{actor}`"),
                help,
            );
        }
        if let Some(token) = &raw.token {
            self.check_refs_str(&format!("{base}/token"), token, defined);
        }
        let kinds = [
            raw.call.is_some(),
            raw.request.is_some(),
            raw.federation.is_some(),
            raw.serve.is_some(),
            raw.inbound.is_some(),
            raw.remote.is_some(),
            raw.appservice.is_some(),
            raw.push_gateway.is_some(),
            raw.email.is_some(),
            raw.identity_server.is_some(),
        ]
        .iter()
        .filter(|k| **k)
        .count();
        let action = match (&raw.call, &raw.request) {
            _ if kinds > 1 => {
                self.problem(
                    &base,
                    "a step has exactly one of `call`, `request`, `federation`, `serve`, `inbound`, `remote`, `appservice`, `push_gateway`, `email`, `identity_server`",
                    None,
                );
                None
            }
            (None, None) if kinds == 1 => self.federation_action(&base, raw, defined),
            (Some(_), Some(_)) => {
                self.problem(
                    &base,
                    "a step has either `call` or `request`, not both",
                    None,
                );
                None
            }
            (None, None) => {
                self.problem(
                    &base,
                    "a step needs `call` (a typed operation) or `request` (raw HTTP)",
                    None,
                );
                None
            }
            (Some(name), None) => self.call(&base, name, raw.with.as_ref(), defined),
            (None, Some(req)) => {
                if raw.with.is_some() {
                    self.key_problem(
                        &format!("{base}/with"),
                        "`with` only goes with `call`",
                        Some("put the body under `request.json`".into()),
                    );
                }
                self.request(&base, req, defined)
            }
        };
        let expect = self.expect(&base, raw, defined);
        let timeout = raw
            .timeout
            .as_ref()
            .and_then(|t| self.duration(&format!("{base}/timeout"), t));
        let eventually = raw.eventually.as_ref().and_then(|e| {
            let within = self.duration(&format!("{base}/eventually/within"), &e.within)?;
            let interval = match &e.interval {
                Some(i) => self.duration(&format!("{base}/eventually/interval"), i)?,
                None => Duration::from_millis(100),
            };
            Some(Eventually { within, interval })
        });
        let mut captures = Vec::new();
        for (name, raw_capture) in &raw.capture {
            let p = format!("{base}/capture/{name}");
            self.check_name(&p, name, actors);
            let (pointer, regex) = match raw_capture {
                RawCapture::Pointer(pointer) => (pointer, None),
                RawCapture::Detailed(spec) => (&spec.from, spec.regex.as_ref()),
            };
            self.check_refs_str(&p, pointer, defined);
            if !(pointer.is_empty() || pointer.starts_with('/')) {
                self.problem(
                    &p,
                    format!("capture pointer {pointer:?} must start with '/'"),
                    Some(format!("write /{pointer}")),
                );
            }
            let regex = regex.and_then(|r| match Regex::new(r) {
                Ok(re) => Some(re),
                Err(e) => {
                    self.problem(
                        &format!("{p}/regex"),
                        format!("invalid regular expression: {}", regex_error(&e)),
                        None,
                    );
                    None
                }
            });
            captures.push(Capture {
                name: name.clone(),
                pointer: pointer.clone(),
                regex,
                location: self.loc(&p),
            });
        }
        let mut records = Vec::new();
        for (name, what) in &raw.record {
            let p = format!("{base}/record/{name}");
            if !(what.starts_with('/')
                || what.is_empty()
                || what == "@duration_ms"
                || what == "@elapsed_ms"
                || what == "@status")
            {
                self.problem(
                    &p,
                    format!("cannot record {what:?}"),
                    Some("record a JSON pointer (/pos), @duration_ms or @status".into()),
                );
            }
            self.check_refs_str(&p, what, defined);
            records.push((name.clone(), what.clone()));
        }
        // Captures are visible from the next step on.
        for c in &captures {
            defined.insert(c.name.clone());
        }
        let action = action?;
        let repeat = raw.repeat.unwrap_or(1);
        if raw.repeat.is_some() {
            if !(2..=1000).contains(&repeat) {
                self.problem(
                    &format!("{base}/repeat"),
                    "repeat a step 2 to 1000 times",
                    None,
                );
            } else if !matches!(action, Action::Call { .. } | Action::Request(_)) {
                self.key_problem(
                    &format!("{base}/repeat"),
                    "only `call` and `request` steps repeat",
                    None,
                );
            }
        }
        if let Some(code) = raw.until_status {
            let only = expect
                .status
                .as_ref()
                .is_some_and(|(codes, _)| codes.as_slice() == [code]);
            if raw.repeat.is_none() || raw.eventually.is_some() || !only {
                self.key_problem(
                    &format!("{base}/until_status"),
                    "`until_status` needs `repeat`, no `eventually`, and `expect.status` set to that one status",
                    Some(format!("repeat: 20\n    until_status: {code}\n    expect: {{ status: {code} }}")),
                );
            }
        }
        if self.problems.len() > before {
            return None;
        }
        let mut label = raw
            .name
            .clone()
            .unwrap_or_else(|| describe(&action, raw.actor.as_deref()));
        if repeat > 1 {
            label.push_str(&format!(" (×{repeat})"));
        }
        Some(StepPlan {
            index: i + 1,
            label,
            location: self.loc(&base),
            actor: raw.actor.clone(),
            token: raw.token.clone(),
            action,
            expect,
            captures,
            records,
            eventually,
            timeout,
            repeat,
            until_status: raw.until_status,
            under_test: match raw.role {
                Some(model::StepRole::Test) => true,
                Some(model::StepRole::Setup) => false,
                None => raw.expect.is_some(),
            },
        })
    }

    fn call(
        &mut self,
        base: &str,
        name: &str,
        with: Option<&Value>,
        defined: &BTreeSet<String>,
    ) -> Option<Action> {
        let Some(op) = ops::find(name) else {
            let help = did_you_mean(name, ops::names())
                .map(|c| format!("did you mean `{c}`?"))
                .or_else(|| Some("`mxharness ops` lists the typed operations".into()));
            self.problem(
                &format!("{base}/call"),
                format!("unknown operation `{name}`"),
                help,
            );
            return None;
        };
        let args = with
            .cloned()
            .unwrap_or_else(|| Value::Object(Default::default()));
        let with_pointer = format!("{base}/with");
        if !args.is_object() {
            self.problem(&with_pointer, "`with` must be a mapping of arguments", None);
            return None;
        }
        if let Some(with_node) = with.and_then(|_| self.node_at(&with_pointer)) {
            let schema = serde_json::to_value(op.args_schema()).unwrap_or(Value::Bool(true));
            let opts = CheckOptions {
                placeholders_match_anything: true,
            };
            for p in schema_check::check(with_node, &schema, opts) {
                let pointer = format!("{with_pointer}{}", p.pointer);
                let pos = self.root.locate(&pointer, p.at_key);
                self.problems.push(Problem::new(
                    self.file,
                    pos,
                    format!("{} (in the arguments of `{name}`)", p.message),
                    p.help,
                ));
            }
        }
        if with.is_none() {
            // No `with` at all: the arguments the op requires are still missing.
            let schema = serde_json::to_value(op.args_schema()).unwrap_or(Value::Bool(true));
            let required = schema.get("required").and_then(Value::as_array);
            for key in required.into_iter().flatten().filter_map(Value::as_str) {
                self.problem(
                    &format!("{base}/call"),
                    format!("missing required key `{key}` (in the arguments of `{name}`)"),
                    Some(format!("add `with: {{ {key}: ... }}`")),
                );
            }
        }
        self.check_refs_value(&with_pointer, &args, defined);
        Some(Action::Call { op, args })
    }

    fn node_at(&self, pointer: &str) -> Option<&Node> {
        let mut node = self.root;
        for seg in pointer.split('/').skip(1) {
            let seg = seg.replace("~1", "/").replace("~0", "~");
            node = match &node.value {
                node::NodeValue::Map(_) => node.get(&seg)?.1,
                node::NodeValue::Seq(items) => items.get(seg.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(node)
    }

    fn request(
        &mut self,
        base: &str,
        req: &model::RawRequest,
        defined: &BTreeSet<String>,
    ) -> Option<Action> {
        let p = format!("{base}/request");
        let method = match http::Method::from_bytes(req.method.to_ascii_uppercase().as_bytes()) {
            Ok(m) => Some(m),
            Err(_) => {
                self.problem(
                    &format!("{p}/method"),
                    format!("invalid HTTP method {:?}", req.method),
                    None,
                );
                None
            }
        };
        if !req.path.starts_with('/') {
            self.problem(
                &format!("{p}/path"),
                "the path must start with '/'",
                Some("it is appended to the target's base URL".into()),
            );
        }
        self.check_refs_str(&format!("{p}/path"), &req.path, defined);
        for (k, v) in &req.query {
            self.check_refs_str(&format!("{p}/query/{k}"), v, defined);
        }
        for (k, v) in &req.headers {
            self.check_refs_str(&format!("{p}/headers/{k}"), v, defined);
        }
        let body = match (&req.json, &req.body) {
            _ if req.body_bytes.is_some() && (req.json.is_some() || req.body.is_some()) => {
                self.problem(
                    &p,
                    "a request has one of `json`, `body` and `body_bytes`",
                    None,
                );
                Body::None
            }
            _ if req.body_bytes.is_some() => {
                self.body_bytes(&format!("{p}/body_bytes"), req.body_bytes.as_ref(), defined)
            }
            (Some(_), Some(_)) => {
                self.problem(&p, "a request has `json` or `body`, not both", None);
                Body::None
            }
            (Some(json), None) => {
                self.check_refs_value(&format!("{p}/json"), json, defined);
                Body::Json(json.clone())
            }
            (None, Some(text)) => {
                self.check_refs_str(&format!("{p}/body"), text, defined);
                Body::Raw(text.clone())
            }
            (None, None) => Body::None,
        };
        Some(Action::Request(RequestPlan {
            method: method?,
            path: req.path.clone(),
            query: req
                .query
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            headers: req
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            body,
        }))
    }

    fn body_bytes(
        &mut self,
        p: &str,
        raw: Option<&model::RawBodyBytes>,
        defined: &BTreeSet<String>,
    ) -> Body {
        let Some(raw) = raw else { return Body::None };
        match (&raw.hex, &raw.size) {
            (Some(hex), None) => {
                if raw.byte.is_some() {
                    self.key_problem(&format!("{p}/byte"), "`byte` goes with `size`", None);
                }
                let digits: String = hex.chars().filter(|c| !c.is_whitespace()).collect();
                match hex::decode(&digits) {
                    Ok(bytes) => Body::Bytes(bytes),
                    Err(e) => {
                        self.problem(
                            &format!("{p}/hex"),
                            format!("invalid hexadecimal bytes: {e}"),
                            Some("write two hex digits per byte, e.g. 7b7d".into()),
                        );
                        Body::None
                    }
                }
            }
            (None, Some(size)) => {
                let byte = match raw.byte.as_deref() {
                    None => b'a',
                    Some(b) if b.len() == 1 && b.is_ascii() => b.as_bytes()[0],
                    Some(b) => {
                        self.problem(
                            &format!("{p}/byte"),
                            format!("{b:?} is not one ASCII character"),
                            None,
                        );
                        b'a'
                    }
                };
                let v = size.to_value();
                self.check_refs_value(&format!("{p}/size"), &v, defined);
                let literal = match size {
                    model::RawNumber::Number(n) => n.as_f64(),
                    model::RawNumber::Text(t) if !t.contains("${") => template::eval_sum(t),
                    model::RawNumber::Text(_) => Some(0.0),
                };
                match literal {
                    Some(n) if (0.0..=super::MAX_GENERATED_BODY as f64).contains(&n) && n.fract() == 0.0 => {}
                    _ => self.problem(
                        &format!("{p}/size"),
                        "the size must be a whole number of bytes from 0 to 1 GiB, or a sum such as \"${limit} + 1\"",
                        None,
                    ),
                }
                Body::Generated { size: v, byte }
            }
            _ => {
                self.problem(p, "`body_bytes` has exactly one of `hex` and `size`", None);
                Body::None
            }
        }
    }

    fn expect(&mut self, base: &str, raw: &RawStep, defined: &BTreeSet<String>) -> ExpectPlan {
        let p = format!("{base}/expect");
        let Some(expect) = &raw.expect else {
            return ExpectPlan {
                location: self.loc(base),
                ..ExpectPlan::default()
            };
        };
        let mut plan = ExpectPlan {
            location: self.loc(&p),
            basis: expect.basis.clone(),
            ..ExpectPlan::default()
        };
        if let Some(status) = &expect.status {
            let codes = status.codes();
            if codes.is_empty() {
                self.problem(
                    &format!("{p}/status"),
                    "give at least one status code",
                    Some("a code (400), a list ([400, 403]) or a class (\"4xx\")".into()),
                );
            }
            for code in codes.iter().filter(|c| !(100..=599).contains(*c)) {
                self.problem(
                    &format!("{p}/status"),
                    format!("{code} is not an HTTP status"),
                    None,
                );
            }
            plan.status = Some((codes, self.loc(&format!("{p}/status"))));
        }
        if let Some(errcode) = &expect.errcode {
            plan.errcode = Some((errcode.clone(), self.loc(&format!("{p}/errcode"))));
        }
        for (pointer, matcher) in &expect.body {
            let mp = format!("{p}/body/{}", pointer.replace('~', "~0").replace('/', "~1"));
            self.check_refs_str(&mp, pointer, defined);
            if !(pointer.is_empty() || pointer.starts_with('/')) {
                self.key_problem(&mp, format!("JSON pointer {pointer:?} must start with '/' (or be \"\" for the whole body)"), Some(format!("write /{pointer}")));
            }
            let predicates = self.predicates(&mp, matcher, defined);
            plan.body.push(BodyCheck {
                pointer: pointer.clone(),
                location: self.root_key_loc(&mp),
                predicates,
            });
        }
        for (name, matcher) in &expect.headers {
            let mp = format!("{p}/headers/{}", name.replace('~', "~0").replace('/', "~1"));
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                self.key_problem(&mp, format!("{name:?} is not a valid header name"), None);
            }
            let predicates = self.predicates(&mp, matcher, defined);
            plan.headers.push(BodyCheck {
                pointer: name.to_ascii_lowercase(),
                location: self.root_key_loc(&mp),
                predicates,
            });
        }
        if let Some(matcher) = &expect.text {
            let mp = format!("{p}/text");
            let predicates = self.predicates(&mp, matcher, defined);
            plan.text = Some(BodyCheck {
                pointer: String::new(),
                location: self.root_key_loc(&mp),
                predicates,
            });
        }
        plan
    }

    fn root_key_loc(&self, pointer: &str) -> String {
        let pos = self.root.locate(pointer, true);
        format!(
            "{}:{}:{}",
            self.file.display(),
            pos.line.max(1),
            pos.col.max(1)
        )
    }

    fn predicates(
        &mut self,
        mp: &str,
        m: &RawMatcher,
        defined: &BTreeSet<String>,
    ) -> Vec<Predicate> {
        let mut out = Vec::new();
        let mut value_pred =
            |this: &mut Self, key: &str, v: &Option<Value>, make: fn(Value) -> Predicate| {
                if let Some(v) = v {
                    this.check_refs_value(&format!("{mp}/{key}"), v, defined);
                    out.push(make(v.clone()));
                }
            };
        value_pred(self, "equals", &m.equals, Predicate::Equals);
        value_pred(self, "not_equals", &m.not_equals, Predicate::NotEquals);
        value_pred(self, "contains", &m.contains, Predicate::Contains);
        value_pred(self, "default", &m.default, Predicate::Default);
        value_pred(
            self,
            "not_contains",
            &m.not_contains,
            Predicate::NotContains,
        );
        match (m.exists, m.absent) {
            (Some(e), Some(a)) if e == a => {
                self.problem(mp, "`exists` and `absent` contradict each other", None);
            }
            (Some(e), _) => out.push(Predicate::Exists(e)),
            (None, Some(a)) => out.push(Predicate::Exists(!a)),
            (None, None) => {}
        }
        if let Some(t) = m.json_type {
            out.push(Predicate::Type(t));
        }
        if let Some(re) = &m.regex {
            self.check_refs_str(&format!("{mp}/regex"), re, defined);
            if !re.contains("${")
                && let Err(e) = Regex::new(re)
            {
                self.problem(
                    &format!("{mp}/regex"),
                    format!("invalid regular expression: {}", regex_error(&e)),
                    None,
                );
            }
            out.push(Predicate::Regex(re.clone()));
        }
        if let Some(n) = m.length {
            out.push(Predicate::Length(n));
        }
        let at_least = (
            "at_least",
            &m.at_least,
            Predicate::AtLeast as fn(Value) -> Predicate,
        );
        let at_most = (
            "at_most",
            &m.at_most,
            Predicate::AtMost as fn(Value) -> Predicate,
        );
        for (key, bound, make) in [at_least, at_most] {
            if let Some(bound) = bound {
                let v = bound.to_value();
                let bp = format!("{mp}/{key}");
                self.check_refs_value(&bp, &v, defined);
                if let model::RawNumber::Text(t) = bound
                    && !t.contains("${")
                    && template::eval_sum(t).is_none()
                {
                    self.problem(
                        &bp,
                        format!("{t:?} is not a number or a sum of numbers"),
                        Some("write a number, or a sum such as \"${limit} + 1\"".into()),
                    );
                }
                out.push(make(v));
            }
        }
        if out.is_empty() {
            self.problem(mp, "this matcher checks nothing", Some("use equals, not_equals, default, exists, absent, type, regex, contains, not_contains, length, at_least or at_most".into()));
        }
        out
    }

    fn duration(&mut self, pointer: &str, text: &str) -> Option<Duration> {
        match humantime::parse_duration(text) {
            Ok(d) if d > Duration::ZERO => Some(d),
            Ok(_) => {
                self.problem(pointer, "the duration must be positive", None);
                None
            }
            Err(e) => {
                self.problem(
                    pointer,
                    format!("invalid duration {text:?}: {e}"),
                    Some("write e.g. 500ms, 5s or 1m".into()),
                );
                None
            }
        }
    }
}

/// The regex crate's syntax errors span several lines (pattern, caret, message); keep the
/// message only, so the diagnostic's first line says it all.
fn regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().trim_start_matches("error: ").to_owned())
        .unwrap_or(text)
}

/// The level written as a `must`/`should`/`may` tag, when `level:` is not given (default must).
fn level_from_tags(tags: &[String]) -> Level {
    if tags.iter().any(|t| t == "should") {
        Level::Should
    } else if tags.iter().any(|t| t == "may") {
        Level::May
    } else {
        Level::Must
    }
}

/// SHA-256 (hex) over the loaded files: each path and text, in path order.
pub fn scenario_set_hash(sources: &[SourceFile]) -> String {
    use sha2::{Digest, Sha256};
    let mut files: Vec<&SourceFile> = sources.iter().collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let mut hasher = Sha256::new();
    for f in files {
        hasher.update(f.display().as_bytes());
        hasher.update([0u8]);
        hasher.update(f.text.as_bytes());
        hasher.update([0u8]);
    }
    hex::encode(hasher.finalize())
}

/// Parse "1.11" into (1, 11); also accepts a leading `v` ("v1.11").
pub fn parse_version(v: &str) -> Option<(u32, u32)> {
    let v = v.strip_prefix('v').unwrap_or(v);
    let caps = VERSION_RE.captures(v)?;
    Some((caps[1].parse().ok()?, caps[2].parse().ok()?))
}

fn describe(action: &Action, actor: Option<&str>) -> String {
    let who = actor.map(|a| format!("{a}: ")).unwrap_or_default();
    match action {
        Action::Call { op, .. } => format!("{who}call {}", op.name()),
        Action::Request(r) => format!("{who}request {} {}", r.method, r.path),
        Action::Federation(f) => format!("{} sends {} {}", f.from, f.method, f.path),
        Action::Serve(h) => format!("{} expects {} {}", h.on, h.method, h.path),
        Action::Inbound(i) => format!("{} received {} {}", i.on, i.method, i.path),
        Action::Remote(r) => format!("{} {}", r.server, r.op),
        Action::Appservice(a) => format!("appservice received {} {}", a.method, a.path),
        Action::PushGateway(a) => format!("push gateway received {} {}", a.method, a.path),
        Action::Email(a) => format!("SMTP sink received mail to {}", a.to),
        Action::IdentityServer(a) => {
            format!("identity server received {} {}", a.method, a.path)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn lower(text: &str) -> (Option<ScenarioPlan>, Vec<Problem>) {
        let file = SourceFile {
            path: "t.yaml".into(),
            text: Arc::new(text.to_owned()),
        };
        let mut problems = Vec::new();
        (lower_file(&file, &mut problems), problems)
    }

    /// Every expectation and capture form written in a file must reach the plan: a key that
    /// validates but is dropped would be a check that can never fail.
    #[test]
    fn every_expectation_kind_reaches_the_plan() {
        let (plan, problems) = lower(
            "schema: 1\nid: t/all\ntitle: all\narea: t\nlevel: should\nbasis: b\nspec: { since: \"1.2\", removed: \"1.9\", msc: \"1234\" }\nactors: { alice: {} }\nsteps:\n  - as: alice\n    call: whoami\n    expect:\n      status: 200\n      errcode: M_X\n      basis: test\n      body: { /user_id: { type: string } }\n      headers: { Content-Type: { regex: json } }\n      text: { contains: user_id }\n    capture:\n      a: /user_id\n      b: { from: /user_id, regex: \"^@([^:]+)\" }\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        let plan = plan.expect("valid");
        assert_eq!(plan.level, Level::Should);
        assert_eq!(plan.spec_removed, Some((1, 9)));
        assert_eq!(plan.msc.as_deref(), Some("1234"));
        let step = &plan.steps[0];
        assert!(step.expect.status.is_some() && step.expect.errcode.is_some());
        assert_eq!(step.expect.body.len(), 1);
        assert_eq!(step.expect.headers.len(), 1);
        assert_eq!(step.expect.headers[0].pointer, "content-type");
        assert!(step.expect.text.is_some());
        assert_eq!(step.captures.len(), 2);
        assert!(step.captures[1].regex.is_some());
    }

    #[test]
    fn numeric_bounds_byte_bodies_and_none_steps_are_lowered_and_checked() {
        let head = "schema: 1\nid: t/n\ntitle: numbers\narea: t\nlevel: must\nbasis: b\nactors: { alice: {} }\n";
        let (plan, problems) = lower(&format!(
            "{head}steps:\n  - as: alice\n    request: {{ method: POST, path: /x, body_bytes: {{ size: \"${{now_ms}} + 1\", byte: b }} }}\n    expect:\n      body: {{ /n: {{ at_least: \"${{now_ms}} - 5\", at_most: 7 }} }}\n  - request: {{ method: POST, path: /y, body_bytes: {{ hex: \"7bff\" }} }}\n"
        ));
        assert!(problems.is_empty(), "{problems:?}");
        let plan = plan.expect("valid");
        assert!(matches!(
            &plan.steps[0].action,
            Action::Request(RequestPlan {
                body: Body::Generated { byte: b'b', .. },
                ..
            })
        ));
        assert!(matches!(
            &plan.steps[1].action,
            Action::Request(RequestPlan { body: Body::Bytes(b), .. }) if b == &vec![0x7b, 0xff]
        ));
        let preds = &plan.steps[0].expect.body[0].predicates;
        assert!(matches!(
            preds[..],
            [Predicate::AtLeast(_), Predicate::AtMost(_)]
        ));

        for (bad, says) in [
            (
                "request: { method: POST, path: /x, body_bytes: { hex: \"7g\" } }",
                "invalid hexadecimal",
            ),
            (
                "request: { method: POST, path: /x, body_bytes: { hex: \"7b\", size: 3 } }",
                "exactly one of `hex` and `size`",
            ),
            (
                "request: { method: POST, path: /x, body_bytes: { size: 3 }, body: x }",
                "one of `json`, `body` and `body_bytes`",
            ),
            (
                "request: { method: POST, path: /x, body_bytes: { size: -1 } }",
                "whole number of bytes",
            ),
            (
                "request: { method: POST, path: /x, body_bytes: { size: \"${nope}\" } }",
                "undefined variable",
            ),
            (
                "call: versions\n    expect: { body: { /a: { at_most: \"ten\" } } }",
                "not a number",
            ),
            ("call: versions\n    repeat: 1", "2 to 1000 times"),
            (
                "call: versions\n    until_status: 429\n    expect: { status: 429 }",
                "`until_status` needs `repeat`",
            ),
            (
                "call: versions\n    repeat: 5\n    until_status: 429\n    expect: { status: [400, 429] }",
                "`until_status` needs `repeat`",
            ),
        ] {
            let (plan, problems) = lower(&format!("{head}steps:\n  - {bad}\n"));
            assert!(plan.is_none(), "{bad}");
            assert!(
                problems.iter().any(|p| p.message.contains(says)),
                "{bad}: {problems:?}"
            );
        }
        let (plan, problems) = lower(&format!(
            "{head}steps:\n  - call: versions\n    repeat: 3\n"
        ));
        assert!(problems.is_empty(), "{problems:?}");
        let step = &plan.expect("valid").steps[0];
        assert_eq!(
            (step.repeat, step.label.as_str()),
            (3, "call versions (×3)")
        );
        let (plan, problems) = lower(&format!(
            "{head}steps:\n  - call: versions\n    repeat: 5\n    until_status: 429\n    expect: {{ status: 429, basis: b }}\n"
        ));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(plan.expect("valid").steps[0].until_status, Some(429));
        let push = "schema: 1\nid: t/p\ntitle: p\narea: t\nlevel: must\nbasis: b\nrequires: { capabilities: [push-gateway] }\nsteps:\n";
        let (plan, problems) = lower(&format!(
            "{push}  - push_gateway: {{ method: POST, path: /n, none: true, wait: 1s }}\n"
        ));
        assert!(problems.is_empty(), "{problems:?}");
        assert!(plan.is_some());
        for (bad, says) in [
            (
                "push_gateway: { method: POST, path: /n, wait: 1s }",
                "`wait` goes with `none: true`",
            ),
            (
                "push_gateway: { method: POST, path: /n, none: true }\n    eventually: { within: 2s }",
                "waits by itself",
            ),
            (
                "push_gateway: { method: POST, path: /n, none: true, wait: 2m }",
                "at most 60s",
            ),
            (
                "push_gateway: { method: POST, path: /n }\n    repeat: 2",
                "only `call` and `request` steps repeat",
            ),
        ] {
            let (plan, problems) = lower(&format!("{push}  - {bad}\n"));
            assert!(plan.is_none(), "{bad}");
            assert!(
                problems.iter().any(|p| p.message.contains(says)),
                "{bad}: {problems:?}"
            );
        }
    }

    #[test]
    fn spec_needs_since_or_msc() {
        let (plan, problems) = lower(
            "schema: 1\nid: t/x\ntitle: x\narea: t\nlevel: must\nbasis: b\nspec: { section: a }\nsteps:\n  - call: versions\n",
        );
        assert!(plan.is_none());
        assert!(problems[0].message.contains("`since`"), "{problems:?}");
    }
}
