//! Federation steps at run time: the per-scenario world (fresh fake servers, the rooms they
//! take part in, which homeserver each actor lives on) and the execution of `federation`,
//! `serve`, `inbound` and `remote` steps. Each produces an exchange and a response (real or,
//! for `serve` and `inbound`, synthesised) that the ordinary expectations judge.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::RunContext;
use crate::federation::room::{self, Room};
use crate::federation::{FakeServer, Forge, Handler, Reply, RunCa, ServerKey, SignedRequest};
use crate::matrix::http_client::Received;
use crate::plan::template::Vars;
use crate::plan::{Action, ScenarioPlan};
use crate::results::Exchange;
use crate::scenario::model::{RawFederation, RawInbound, RawServe, ServerKind};

pub mod preflight;
mod remote;

pub use remote::MINTABLE_VERSIONS;

/// How the run reaches a homeserver over federation.
#[derive(Clone)]
pub struct Peer {
    /// Its federation server name.
    pub server_name: String,
    /// Where to connect for federation (None: `https://<server_name>`).
    pub federation_url: Option<String>,
    /// Client-server API base URL.
    pub base_url: String,
    /// How users are made on it.
    pub provisioner: Arc<dyn super::Provision>,
}

/// What federation scenarios need from the run.
#[derive(Clone)]
pub struct FederationContext {
    /// The run CA (fake servers present certificates it issued).
    pub ca: Arc<RunCa>,
    /// The target, as a federation peer.
    pub hs1: Peer,
    /// The second homeserver, when the run has one.
    pub hs2: Option<Peer>,
}

impl FederationContext {
    fn peer(&self, name: Option<&str>) -> Result<&Peer, String> {
        match name {
            None | Some("hs1") => Ok(&self.hs1),
            Some(other) => self
                .hs2
                .as_ref()
                .ok_or_else(|| format!("no second homeserver for `{other}` in this run")),
        }
    }
}

/// One scenario's fake server and the rooms it knows.
struct Fake {
    server: FakeServer,
    user_id: String,
    rooms: Arc<Mutex<BTreeMap<String, Room>>>,
    /// The key it signs with as a Policy Server (`ed25519:policy_server`), apart from its
    /// published signing key as the spec recommends.
    policy_key: ServerKey,
}

/// Everything federation steps of one scenario share.
#[derive(Default)]
pub(super) struct World {
    fakes: BTreeMap<String, Fake>,
    /// Actor name -> the peer they live on (absent: the target).
    actor_peers: BTreeMap<String, Peer>,
    txn: std::sync::atomic::AtomicU64,
}

impl World {
    /// Start the scenario's fake servers.
    pub(super) async fn start(plan: &ScenarioPlan, ctx: &RunContext) -> Result<Self, String> {
        let mut world = World::default();
        if !plan.uses_federation() {
            return Ok(world);
        }
        let fed = ctx
            .federation
            .as_ref()
            .ok_or("federation is not set up for this run")?;
        for (name, kind) in &plan.servers {
            if matches!(kind, ServerKind::Fake | ServerKind::FakeIp) {
                let server = FakeServer::start_named(&fed.ca, "mxh", *kind == ServerKind::FakeIp)
                    .await
                    .map_err(|e| format!("cannot start fake server `{name}`: {e}"))?;
                let user_id = format!("@fake:{}", server.server_name());
                let policy_key = ServerKey::generate(server.server_name(), "policy_server")
                    .map_err(|e| format!("cannot make the policy key of `{name}`: {e}"))?;
                world.fakes.insert(
                    name.clone(),
                    Fake {
                        server,
                        user_id,
                        rooms: Arc::default(),
                        policy_key,
                    },
                );
            }
        }
        for actor in &plan.actors {
            if let Some(server) = &actor.server {
                world
                    .actor_peers
                    .insert(actor.name.clone(), fed.peer(Some(server))?.clone());
            }
        }
        Ok(world)
    }

    /// `${name.server_name}`, `${name.user_id}`, `${name.key_id}` (each fake server signs
    /// with a key id of its own, `ed25519:mxh_<unique>`) and `${name.policy_key}` (its Policy
    /// Server public key) of every server.
    pub(super) fn set_vars(&self, ctx: &RunContext, vars: &mut Vars) {
        if let Some(fed) = &ctx.federation {
            vars.set("hs1.server_name", json!(fed.hs1.server_name));
            if let Some(hs2) = &fed.hs2 {
                vars.set("hs2.server_name", json!(hs2.server_name));
            }
        }
        for (name, fake) in &self.fakes {
            vars.set(
                format!("{name}.server_name"),
                json!(fake.server.server_name()),
            );
            vars.set(format!("{name}.user_id"), json!(fake.user_id));
            vars.set(format!("{name}.key_id"), json!(fake.server.key().key_id()));
            vars.set(
                format!("{name}.policy_key"),
                json!(fake.policy_key.public_key_base64()),
            );
        }
    }

    /// Where an actor's client-server requests go.
    pub(super) fn base_url<'a>(&'a self, actor: Option<&str>, ctx: &'a RunContext) -> &'a str {
        actor
            .and_then(|a| self.actor_peers.get(a))
            .map_or(ctx.base_url.as_str(), |p| p.base_url.as_str())
    }

    /// How an actor is provisioned.
    pub(super) fn provisioner<'a>(
        &'a self,
        actor: &str,
        ctx: &'a RunContext,
    ) -> &'a Arc<dyn super::Provision> {
        self.actor_peers
            .get(actor)
            .map_or(&ctx.provisioner, |p| &p.provisioner)
    }

    /// Requests no handler expected, as `server: METHOD path` lines.
    pub(super) fn unexpected(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, fake) in &self.fakes {
            for r in fake.server.unexpected() {
                out.push(format!("{name}: {} {}", r.method, r.uri));
            }
        }
        out
    }

    fn fake(&self, name: &str) -> Result<&Fake, String> {
        self.fakes
            .get(name)
            .ok_or_else(|| format!("no fake server `{name}` in this scenario"))
    }

    fn next_txn(&self) -> String {
        let n = self.txn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("mxh{}{n}", &uuid::Uuid::new_v4().simple().to_string()[..8])
    }
}

/// What running a federation step gave.
pub(super) enum Outcome {
    /// A response to judge (and its exchange for the transcript).
    Response(Box<(Exchange, Option<Received>)>),
    /// Nothing to judge yet (an `inbound` step found no matching request).
    NotYet(String),
    /// The step cannot run (a scenario problem).
    Broken(String),
}

pub(super) fn synthetic(
    method: &str,
    url: &str,
    status: u16,
    body: &Value,
) -> (Exchange, Option<Received>) {
    let text = body.to_string();
    let exchange = Exchange {
        method: method.to_owned(),
        url: url.to_owned(),
        request_headers: BTreeMap::new(),
        request_body: None,
        status: Some(status),
        response_headers: BTreeMap::new(),
        response_body: Some(crate::matrix::http_client::text(text.as_bytes())),
        error: None,
        duration_ms: 0,
    };
    let received = Received {
        status,
        headers: http::HeaderMap::new(),
        body: text.into_bytes(),
    };
    (exchange, Some(received))
}

/// Run one federation step. `candidates_ok` judges an inbound request (its expectations).
pub(super) async fn execute(
    action: &Action,
    ctx: &RunContext,
    world: &World,
    vars: &Vars,
    timeout: Duration,
    candidate_ok: &(dyn Fn(&Received) -> bool + Sync),
) -> Outcome {
    let Some(fed) = ctx.federation.as_ref() else {
        return Outcome::Broken("federation is not set up for this run".into());
    };
    let result = match action {
        Action::Federation(f) => federation(f, fed, world, vars, timeout).await,
        Action::Serve(s) => serve(s, world, vars),
        Action::Inbound(i) => return inbound(i, world, vars, candidate_ok),
        Action::Remote(r) => remote::remote(r, fed, world, vars, timeout).await,
        Action::Call { .. }
        | Action::Request(_)
        | Action::Appservice(_)
        | Action::PushGateway(_)
        | Action::Email(_)
        | Action::IdentityServer(_) => Err("internal error: not a federation step".to_owned()),
    };
    match result {
        Ok(pair) => Outcome::Response(Box::new(pair)),
        Err(message) => Outcome::Broken(message),
    }
}

fn text(vars: &Vars, s: &str) -> Result<String, String> {
    vars.text_of(s).map_err(|e| e.to_string())
}

async fn federation(
    f: &RawFederation,
    fed: &FederationContext,
    world: &World,
    vars: &Vars,
    timeout: Duration,
) -> Result<(Exchange, Option<Received>), String> {
    let fake = world.fake(&f.from)?;
    let peer = fed.peer(f.to.as_deref())?;
    let mut path = super::request::path(&f.path, vars)?;
    let query: Vec<(String, String)> = f
        .query
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    super::request::append_query(&mut path, &query, vars)?;
    let mut req = SignedRequest::new(&f.method.to_ascii_uppercase(), &peer.server_name, &path);
    req.base_url = peer.federation_url.clone();
    if let Some(j) = &f.json {
        req.body = Some(vars.apply(j).map_err(|e| e.to_string())?);
    }
    if let Some(b) = &f.body {
        req.raw_body = Some(text(vars, b)?.into_bytes());
    }
    if let Some(forge) = &f.forge {
        let key = if forge.unknown_key {
            Some(
                // A key id of its own too: nothing a receiver learns about it lingers.
                ServerKey::generate(
                    fake.server.server_name(),
                    &crate::federation::names::NameRegistry::global().unique_version("unknown"),
                )
                .map_err(|e| e.to_string())?,
            )
        } else if forge.old_key {
            Some(fake.server.old_key().map_err(|e| e.to_string())?)
        } else {
            None
        };
        let opt = |v: &Option<String>| v.as_deref().map(|s| text(vars, s)).transpose();
        req.forge = Forge {
            unsigned: forge.unsigned,
            tamper_signature: forge.tamper_signature,
            origin: opt(&forge.origin)?,
            destination: opt(&forge.destination)?,
            omit_destination: forge.omit_destination,
            sign_uri: opt(&forge.sign_uri)?,
            sign_body: forge
                .sign_body
                .as_ref()
                .map(|b| vars.apply(b).map_err(|e| e.to_string()))
                .transpose()?,
            key,
            authorization: opt(&forge.authorization)?,
            authorization_template: opt(&forge.authorization_template)?,
            headers: forge
                .headers
                .iter()
                .map(|(k, v)| Ok((k.clone(), text(vars, v)?)))
                .collect::<Result<_, String>>()?,
        };
    }
    Ok(fake.server.client().send(&req, timeout).await)
}

fn serve(s: &RawServe, world: &World, vars: &Vars) -> Result<(Exchange, Option<Received>), String> {
    let fake = world.fake(&s.on)?;
    let body = match &s.json {
        Some(j) => vars.apply(j).map_err(|e| e.to_string())?,
        None => json!({}),
    };
    // `${...}` values (room and event ids) match literally, raw or percent-encoded.
    let path = vars
        .path_regex_of(&s.path)
        .map_err(|e| format!("path: {e}"))?;
    let mut handler = Handler::json(
        &format!("{} {}", s.method, s.path),
        &s.method,
        &path,
        s.status.unwrap_or(200),
        body,
    )
    .map_err(|e| e.to_string())?;
    handler.require_auth = !s.allow_unauthenticated;
    if let Some(m) = &s.media {
        let disposition = m
            .content_disposition
            .as_deref()
            .map(|d| text(vars, d))
            .transpose()?;
        let bytes = match (&m.text, &m.hex) {
            (Some(t), _) => text(vars, t)?.into_bytes(),
            (None, Some(h)) => hex_bytes(h)?,
            (None, None) => Vec::new(),
        };
        let (content_type, body) = crate::federation::media::multipart_download(
            &text(vars, &m.content_type)?,
            disposition.as_deref(),
            &bytes,
        );
        handler.reply = Reply::Raw {
            status: s.status.unwrap_or(200),
            content_type,
            body,
        };
    }
    if s.sign_policy {
        let key = fake.policy_key.clone();
        let rooms = fake.rooms.clone();
        handler.reply = Reply::Dynamic(Arc::new(move |req| {
            let version = req
                .json
                .as_ref()
                .and_then(|pdu| pdu.get("room_id"))
                .and_then(Value::as_str)
                .and_then(|id| {
                    let rooms = rooms.lock().unwrap_or_else(|p| p.into_inner());
                    rooms.get(id).map(|r| r.version.clone())
                })
                .unwrap_or_else(|| "10".to_owned());
            sign_policy(&key, req.json.as_ref(), &version)
        }));
    }
    if s.sign_invite {
        let key = fake.server.key().clone();
        handler.reply = Reply::Dynamic(Arc::new(move |req| sign_invite(&key, req.json.as_ref())));
    }
    fake.server.register(handler);
    Ok(synthetic(
        "SERVE",
        &format!("{} {}", s.method, s.path),
        200,
        &json!({}),
    ))
}

/// A Policy Server's answer to `POST /_matrix/policy/v1/sign`: only its own signature of the
/// PDU (over the redacted form, as event signatures are), `{server: {"ed25519:policy_server":
/// sig}}`.
fn sign_policy(key: &ServerKey, pdu: Option<&Value>, version: &str) -> (u16, Value) {
    let Some(pdu) = pdu else {
        return (400, json!({"errcode": "M_NOT_JSON", "error": "no PDU"}));
    };
    let signed = room::rules(version).and_then(|rules| key.sign_event(pdu, &rules.redaction));
    match signed {
        Ok(ev) => {
            let sig = ev["signatures"][key.server_name()][key.key_id()].clone();
            (200, json!({ key.server_name(): { key.key_id(): sig } }))
        }
        Err(e) => (
            400,
            json!({"errcode": "M_BAD_JSON", "error": e.to_string()}),
        ),
    }
}

/// Counter-sign an invite event (`PUT /_matrix/federation/v2/invite/...`).
fn sign_invite(key: &ServerKey, body: Option<&Value>) -> (u16, Value) {
    let Some(body) = body else {
        return (400, json!({"errcode": "M_NOT_JSON", "error": "no body"}));
    };
    let version = body
        .get("room_version")
        .and_then(Value::as_str)
        .unwrap_or("1");
    let Some(event) = body.get("event") else {
        return (400, json!({"errcode": "M_BAD_JSON", "error": "no event"}));
    };
    let signed = room::rules(version).and_then(|rules| key.sign_event(event, &rules.redaction));
    match signed {
        Ok(ev) => (200, json!({"event": ev})),
        Err(e) => (400, json!({"errcode": "M_UNKNOWN", "error": e.to_string()})),
    }
}

fn inbound(
    i: &RawInbound,
    world: &World,
    vars: &Vars,
    candidate_ok: &(dyn Fn(&Received) -> bool + Sync),
) -> Outcome {
    let fake = match world.fake(&i.on) {
        Ok(f) => f,
        Err(e) => return Outcome::Broken(e),
    };
    // `${...}` values (room and event ids) match literally, raw or percent-encoded.
    let path = match vars.path_regex_of(&i.path) {
        Ok(p) => p,
        Err(e) => return Outcome::Broken(format!("path: {e}")),
    };
    let re = match regex::Regex::new(&format!("^(?:{path})$")) {
        Ok(r) => r,
        Err(e) => return Outcome::Broken(e.to_string()),
    };
    let want_auth = i.authenticated.unwrap_or(true);
    let candidates: Vec<_> = fake
        .server
        .requests()
        .into_iter()
        .filter(|r| method_matches(&i.method, &r.method) && re.is_match(&r.path))
        .filter(|r| !want_auth || r.auth.is_ok())
        .collect();
    let mut last = None;
    for r in candidates.iter().rev() {
        let body = r.json.clone().unwrap_or(Value::Null);
        let (mut exchange, mut received) = synthetic(&r.method, &r.uri, r.status, &body);
        exchange.request_headers = r.headers.clone();
        // `expect.headers` judges the headers the request came with (e.g. `Host`), and the
        // TLS SNI of its connection as `mxharness-tls-sni`.
        if let Some(rec) = received.as_mut() {
            rec.headers = header_map(&r.headers, r.sni.as_deref());
        }
        exchange.request_body = Some(r.body.clone());
        if let Some(rec) = &received
            && candidate_ok(rec)
        {
            return Outcome::Response(Box::new((exchange, received)));
        }
        if last.is_none() {
            last = Some((exchange, received));
        }
    }
    match last {
        Some(pair) => Outcome::Response(Box::new(pair)),
        None => Outcome::NotYet(format!(
            "{} has received no {}{} {} request yet",
            i.on,
            if want_auth { "authenticated " } else { "" },
            i.method,
            i.path
        )),
    }
}

/// Hexadecimal digits as bytes.
fn hex_bytes(h: &str) -> Result<Vec<u8>, String> {
    hex::decode(h).map_err(|e| format!("hex: {e}"))
}

/// Whether a received request's method is one of `want`'s `|`-separated alternatives
/// (`GET|POST`), ignoring case.
fn method_matches(want: &str, got: &str) -> bool {
    want.split('|').any(|m| m.trim().eq_ignore_ascii_case(got))
}

/// The pseudo-header an `inbound` step's `headers` matchers see the connection's TLS Server
/// Name Indication under (absent when the client sent none).
pub const SNI_HEADER: &str = "mxharness-tls-sni";

/// Recorded request headers as an [`http::HeaderMap`] (names and values that are not valid
/// HTTP are left out), with the connection's SNI as [`SNI_HEADER`] (a real header of that
/// name is dropped).
fn header_map(headers: &BTreeMap<String, String>, sni: Option<&str>) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    if let Some(v) = sni.and_then(|s| http::HeaderValue::from_str(s).ok()) {
        map.insert(SNI_HEADER, v);
    }
    for (k, v) in headers {
        if k.eq_ignore_ascii_case(SNI_HEADER) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(k.as_bytes()),
            http::HeaderValue::from_str(v),
        ) {
            map.append(name, value);
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_answer_is_only_the_policy_signature_over_the_redacted_event() {
        let key = ServerKey::generate("localhost:7", "policy_server").expect("key");
        let pdu = json!({"type": "m.room.message", "room_id": "!r:hs", "sender": "@a:hs",
            "origin_server_ts": 1, "depth": 3, "prev_events": [], "auth_events": [],
            "content": {"body": "x"}, "hashes": {"sha256": "abc"},
            "signatures": {"hs": {"ed25519:k": "sig"}}});
        let (status, answer) = sign_policy(&key, Some(&pdu), "10");
        assert_eq!(status, 200, "{answer}");
        let sig = answer["localhost:7"]["ed25519:policy_server"]
            .as_str()
            .expect("signature");
        assert_eq!(answer.as_object().map(|o| o.len()), Some(1));
        let rules = room::rules("10").expect("rules");
        let object = crate::federation::keys::to_canonical_object(&pdu).expect("canonical");
        let redacted =
            ruma::canonical_json::redact(object, &rules.redaction, None).expect("redacted");
        let bytes =
            ruma::signatures::to_canonical_json_string_for_signing(&redacted).expect("json");
        assert_eq!(sig, key.sign_bytes(bytes.as_bytes()));
        assert_eq!(sign_policy(&key, None, "10").0, 400);
    }

    #[test]
    fn hex_digits_become_bytes() {
        assert_eq!(hex_bytes("89504e47"), Ok(vec![0x89, 0x50, 0x4e, 0x47]));
        assert!(hex_bytes("abc").is_err());
        assert!(hex_bytes("zz").is_err());
    }

    #[test]
    fn inbound_method_alternatives_match_case_insensitively() {
        assert!(method_matches("GET|POST", "POST"));
        assert!(method_matches("get", "GET"));
        assert!(!method_matches("GET|PUT", "POST"));
    }

    #[test]
    fn recorded_headers_become_a_header_map() {
        let mut h = BTreeMap::new();
        h.insert("host".to_owned(), "127.0.0.1:8448".to_owned());
        h.insert("bad name".to_owned(), "x".to_owned());
        h.insert(SNI_HEADER.to_owned(), "forged".to_owned());
        let map = header_map(&h, None);
        assert_eq!(
            map.get("Host").and_then(|v| v.to_str().ok()),
            Some("127.0.0.1:8448")
        );
        assert_eq!(map.len(), 1);
        let map = header_map(&h, Some("localhost"));
        assert_eq!(
            map.get(SNI_HEADER).and_then(|v| v.to_str().ok()),
            Some("localhost")
        );
        assert_eq!(map.len(), 2);
    }
}
