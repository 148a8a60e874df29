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
use crate::federation::{
    FakeServer, FederationClient, Forge, Handler, Reply, RunCa, ServerKey, SignedRequest,
};
use crate::matrix::http_client::Received;
use crate::plan::template::Vars;
use crate::plan::{Action, ScenarioPlan};
use crate::results::Exchange;
use crate::scenario::model::{RawFederation, RawInbound, RawRemote, RawServe, ServerKind};

/// Room versions the harness can mint events for (offered in make_join).
pub const MINTABLE_VERSIONS: &[&str] = &["4", "5", "6", "7", "8", "9", "10", "11"];

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
            if *kind == ServerKind::Fake {
                let server = FakeServer::start(&fed.ca, "mxh")
                    .await
                    .map_err(|e| format!("cannot start fake server `{name}`: {e}"))?;
                let user_id = format!("@fake:{}", server.server_name());
                world.fakes.insert(
                    name.clone(),
                    Fake {
                        server,
                        user_id,
                        rooms: Arc::default(),
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

    /// `${name.server_name}` and `${name.user_id}` of every server.
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
    Response(Exchange, Option<Received>),
    /// Nothing to judge yet (an `inbound` step found no matching request).
    NotYet(String),
    /// The step cannot run (a scenario problem).
    Broken(String),
}

fn synthetic(method: &str, url: &str, status: u16, body: &Value) -> (Exchange, Option<Received>) {
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
        Action::Inbound(i) => return inbound(i, world, candidate_ok),
        Action::Remote(r) => remote(r, fed, world, vars, timeout).await,
        Action::Call { .. } | Action::Request(_) => {
            Err("internal error: not a federation step".to_owned())
        }
    };
    match result {
        Ok((e, r)) => Outcome::Response(e, r),
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
                ServerKey::generate(fake.server.server_name(), "unknown")
                    .map_err(|e| e.to_string())?,
            )
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
    let mut handler = Handler::json(
        &format!("{} {}", s.method, s.path),
        &s.method,
        &s.path,
        s.status.unwrap_or(200),
        body,
    )
    .map_err(|e| e.to_string())?;
    handler.require_auth = !s.allow_unauthenticated;
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
    let signed = room::rules(version).and_then(|rules| {
        let object = crate::federation::keys::to_canonical_object(event)?;
        let mut object = object;
        ruma::signatures::sign_event(
            key.server_name(),
            key.key_pair(),
            &mut object,
            &rules.redaction,
        )
        .map_err(|e| crate::federation::FederationError::Sign(e.to_string()))?;
        Ok(Value::from(ruma::CanonicalJsonValue::Object(object)))
    });
    match signed {
        Ok(ev) => (200, json!({"event": ev})),
        Err(e) => (400, json!({"errcode": "M_UNKNOWN", "error": e.to_string()})),
    }
}

fn inbound(
    i: &RawInbound,
    world: &World,
    candidate_ok: &(dyn Fn(&Received) -> bool + Sync),
) -> Outcome {
    let fake = match world.fake(&i.on) {
        Ok(f) => f,
        Err(e) => return Outcome::Broken(e),
    };
    let re = match regex::Regex::new(&format!("^(?:{})$", i.path)) {
        Ok(r) => r,
        Err(e) => return Outcome::Broken(e.to_string()),
    };
    let want_auth = i.authenticated.unwrap_or(true);
    let candidates: Vec<_> = fake
        .server
        .requests()
        .into_iter()
        .filter(|r| r.method.eq_ignore_ascii_case(&i.method) && re.is_match(&r.path))
        .filter(|r| !want_auth || r.auth.is_ok())
        .collect();
    let mut last = None;
    for r in candidates.iter().rev() {
        let body = r.json.clone().unwrap_or(Value::Null);
        let (mut exchange, received) = synthetic(&r.method, &r.uri, r.status, &body);
        exchange.request_headers = r.headers.clone();
        exchange.request_body = Some(r.body.clone());
        if let Some(rec) = &received
            && candidate_ok(rec)
        {
            return Outcome::Response(exchange, received);
        }
        if last.is_none() {
            last = Some((exchange, received));
        }
    }
    match last {
        Some((e, r)) => Outcome::Response(e, r),
        None => Outcome::NotYet(format!(
            "{} has received no {}{} {} request yet",
            i.on,
            if want_auth { "authenticated " } else { "" },
            i.method,
            i.path
        )),
    }
}

fn with_room<T>(fake: &Fake, room_id: &str, f: impl FnOnce(&mut Room) -> T) -> Result<T, String> {
    let mut rooms = fake.rooms.lock().unwrap_or_else(|p| p.into_inner());
    let room = rooms
        .get_mut(room_id)
        .ok_or_else(|| format!("the fake server has not joined or created {room_id}"))?;
    Ok(f(room))
}

/// Handlers a fake server needs once it is in a room: transactions (learning the PDUs),
/// `get_missing_events` and event fetches answered from what it knows.
fn register_room_handlers(fake: &Fake) -> Result<(), String> {
    let rooms = fake.rooms.clone();
    let mut send = Handler::json(
        "transactions",
        "PUT",
        "/_matrix/federation/v1/send/[^/]+",
        200,
        json!({}),
    )
    .map_err(|e| e.to_string())?;
    send.reply = Reply::Dynamic(Arc::new(move |req| {
        let mut results = serde_json::Map::new();
        let pdus = req
            .json
            .as_ref()
            .and_then(|j| j.get("pdus"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut rooms = rooms.lock().unwrap_or_else(|p| p.into_inner());
        for pdu in pdus {
            let room_id = pdu
                .get("room_id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            if let Some(room) = rooms.get_mut(&room_id)
                && let Ok(id) = room::event_id(&pdu, &room.version)
            {
                let mut stored = pdu.clone();
                stored["event_id"] = json!(id);
                room.learn(&stored, true);
                results.insert(id, json!({}));
            }
        }
        (200, json!({"pdus": results}))
    }));
    let rooms = fake.rooms.clone();
    let mut missing = Handler::json(
        "get_missing_events",
        "POST",
        "/_matrix/federation/v1/get_missing_events/[^/]+",
        200,
        json!({}),
    )
    .map_err(|e| e.to_string())?;
    missing.reply = Reply::Dynamic(Arc::new(move |req| {
        let room_id = percent_decode(req.path.rsplit('/').next().unwrap_or(""));
        let body = req.json.clone().unwrap_or(Value::Null);
        let list = |k: &str| -> Vec<String> {
            body.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let limit = body.get("limit").and_then(Value::as_u64).unwrap_or(10) as usize;
        let rooms = rooms.lock().unwrap_or_else(|p| p.into_inner());
        let events = rooms
            .get(&room_id)
            .map(|r| r.missing_events(&list("earliest_events"), &list("latest_events"), limit))
            .unwrap_or_default();
        let events: Vec<Value> = events.into_iter().map(strip_event_id).collect();
        (200, json!({"events": events}))
    }));
    let rooms = fake.rooms.clone();
    let origin = fake.server.server_name().to_owned();
    let mut event = Handler::json(
        "event",
        "GET",
        "/_matrix/federation/v1/event/[^/]+",
        200,
        json!({}),
    )
    .map_err(|e| e.to_string())?;
    event.reply = Reply::Dynamic(Arc::new(move |req| {
        let id = percent_decode(req.path.rsplit('/').next().unwrap_or(""));
        let rooms = rooms.lock().unwrap_or_else(|p| p.into_inner());
        match rooms.values().find_map(|r| r.events.get(&id)) {
            Some(ev) => (
                200,
                json!({"origin": origin, "origin_server_ts": crate::federation::keys::now_ms(), "pdus": [strip_event_id(ev.clone())]}),
            ),
            None => (
                404,
                json!({"errcode": "M_NOT_FOUND", "error": "unknown event"}),
            ),
        }
    }));
    for h in [send, missing, event] {
        fake.server.register(h);
    }
    Ok(())
}

fn strip_event_id(mut ev: Value) -> Value {
    if let Some(o) = ev.as_object_mut() {
        o.remove("event_id");
    }
    ev
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

fn seg(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

async fn signed(
    fake: &Fake,
    peer: &Peer,
    method: &str,
    path: &str,
    body: Option<Value>,
    timeout: Duration,
) -> (Exchange, Option<Received>) {
    let mut req = SignedRequest::new(method, &peer.server_name, path);
    req.base_url = peer.federation_url.clone();
    req.body = body;
    fake.server.client().send(&req, timeout).await
}

fn client(fake: &Fake) -> &FederationClient {
    fake.server.client()
}

async fn remote(
    r: &RawRemote,
    fed: &FederationContext,
    world: &World,
    vars: &Vars,
    timeout: Duration,
) -> Result<(Exchange, Option<Received>), String> {
    let fake = world.fake(&r.server)?;
    let peer = fed.peer(r.to.as_deref())?;
    let opt = |v: &Option<String>| v.as_deref().map(|s| text(vars, s)).transpose();
    let room_id = opt(&r.room_id)?.unwrap_or_default();
    let user = opt(&r.user)?.unwrap_or_else(|| fake.user_id.clone());
    let key = fake.server.key().clone();
    let _ = client(fake);
    match r.op.as_str() {
        "join" | "leave" => {
            let (make, send, membership) = if r.op == "join" {
                ("make_join", "send_join", "join")
            } else {
                ("make_leave", "send_leave", "leave")
            };
            let mut path = format!(
                "/_matrix/federation/v1/{make}/{}/{}",
                seg(&room_id),
                seg(&user)
            );
            if r.op == "join" {
                let versions: Vec<String> = r
                    .versions
                    .clone()
                    .unwrap_or_else(|| MINTABLE_VERSIONS.iter().map(|s| (*s).to_owned()).collect());
                let q: Vec<String> = versions.iter().map(|v| format!("ver={}", seg(v))).collect();
                path.push('?');
                path.push_str(&q.join("&"));
            }
            let (ex, resp) = signed(fake, peer, "GET", &path, None, timeout).await;
            let Some(made) = resp
                .as_ref()
                .filter(|r| r.status == 200)
                .and_then(|r| r.json())
            else {
                return Ok((ex, resp));
            };
            let version = made
                .get("room_version")
                .and_then(Value::as_str)
                .unwrap_or("1")
                .to_owned();
            let mut template = made.get("event").cloned().unwrap_or(Value::Null);
            template["origin"] = json!(key.server_name());
            template["origin_server_ts"] = json!(crate::federation::keys::now_ms());
            template["content"]["membership"] = json!(membership);
            let (event_id, event) =
                room::finish_event(&key, &template, &version).map_err(|e| e.to_string())?;
            let path = format!(
                "/_matrix/federation/v2/{send}/{}/{}",
                seg(&room_id),
                seg(&event_id)
            );
            let (ex, resp) = signed(fake, peer, "PUT", &path, Some(event.clone()), timeout).await;
            let ok = resp.as_ref().is_some_and(|r| r.status == 200);
            if ok && r.op == "join" {
                let answer = resp.as_ref().and_then(|r| r.json()).unwrap_or(Value::Null);
                let mut room = Room::new(&room_id, &version);
                for list in ["auth_chain", "state"] {
                    for ev in answer
                        .get(list)
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default()
                    {
                        room.learn(&ev, false);
                    }
                }
                let mut stored = event.clone();
                stored["event_id"] = json!(event_id);
                room.learn(&stored, true);
                fake.rooms
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(room_id.clone(), room);
                register_room_handlers(fake)?;
            }
            Ok(wrap(
                ex,
                resp,
                json!({"event_id": event_id, "room_version": version, "event": event}),
            ))
        }
        "create_room" => {
            let room = room::create_room(&key, &user).map_err(|e| e.to_string())?;
            let id = room.room_id.clone();
            fake.rooms
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id.clone(), room);
            register_room_handlers(fake)?;
            Ok(synthetic(
                "CREATE_ROOM",
                fake.server.server_name(),
                200,
                &json!({"room_id": id}),
            ))
        }
        "invite" => {
            let target = opt(&r.target)?.unwrap_or_default();
            let content = json!({"membership": "invite"});
            let (event_id, event, version, stripped) = with_room(fake, &room_id, |room| {
                let minted = room.mint(&key, "m.room.member", &user, Some(&target), &content, &Default::default());
                let stripped: Vec<Value> = ["m.room.create", "m.room.join_rules"]
                    .iter()
                    .filter_map(|t| room.state.get(&((*t).to_owned(), String::new())))
                    .map(|e| json!({"type": e["type"], "state_key": e["state_key"], "sender": e["sender"], "content": e["content"]}))
                    .collect();
                minted.map(|(id, ev)| (id, ev, room.version.clone(), stripped))
            })?
            .map_err(|e| e.to_string())?;
            let path = format!(
                "/_matrix/federation/v2/invite/{}/{}",
                seg(&room_id),
                seg(&event_id)
            );
            let body =
                json!({"event": event, "room_version": version, "invite_room_state": stripped});
            let (ex, resp) = signed(fake, peer, "PUT", &path, Some(body), timeout).await;
            if let Some(ev) = resp
                .as_ref()
                .filter(|r| r.status == 200)
                .and_then(|r| r.json())
                .and_then(|j| j.get("event").cloned())
            {
                let mut stored = ev;
                stored["event_id"] = json!(event_id);
                let _ = with_room(fake, &room_id, |room| room.learn(&stored, true));
            }
            Ok(wrap(ex, resp, json!({"event_id": event_id})))
        }
        "send_pdu" => {
            let kind = opt(&r.event_type)?.unwrap_or_default();
            let state_key = opt(&r.state_key)?;
            let content = r
                .content
                .as_ref()
                .map(|c| vars.apply(c).map_err(|e| e.to_string()))
                .transpose()?
                .unwrap_or(json!({}));
            let overrides = r
                .overrides
                .as_ref()
                .map(|c| vars.apply(c).map_err(|e| e.to_string()))
                .transpose()?;
            let overrides = overrides
                .and_then(|o| o.as_object().cloned())
                .unwrap_or_default();
            let (event_id, mut event) = with_room(fake, &room_id, |room| {
                room.mint(
                    &key,
                    &kind,
                    &user,
                    state_key.as_deref(),
                    &content,
                    &overrides,
                )
            })?
            .map_err(|e| e.to_string())?;
            match r.tamper.as_deref() {
                Some("signature") => {
                    let origin = key.server_name().to_owned();
                    if let Some(sig) = event["signatures"][&origin][key.key_id()].as_str() {
                        let bad = crate::federation::client::tamper(sig);
                        event["signatures"][&origin][key.key_id()] = json!(bad);
                    }
                }
                Some("content_hash") => {
                    event["content"]["mxh_tampered"] = json!(true);
                }
                _ => {}
            }
            let clean = r.tamper.is_none() && overrides.is_empty();
            let mut stored = event.clone();
            stored["event_id"] = json!(event_id);
            if clean || r.send == Some(false) {
                with_room(fake, &room_id, |room| room.learn(&stored, true))?;
            } else {
                with_room(fake, &room_id, |room| {
                    room.events.insert(event_id.clone(), stored.clone());
                })?;
            }
            let summary = json!({"event_id": event_id, "event": event});
            if r.send == Some(false) {
                return Ok(synthetic("MINT", &event_id, 200, &summary));
            }
            let txn = world.next_txn();
            let body = json!({"origin": key.server_name(), "origin_server_ts": crate::federation::keys::now_ms(), "pdus": [event], "edus": []});
            let (ex, resp) = signed(
                fake,
                peer,
                "PUT",
                &format!("/_matrix/federation/v1/send/{txn}"),
                Some(body),
                timeout,
            )
            .await;
            Ok(wrap(ex, resp, summary))
        }
        "send_edus" => {
            let edus = r
                .edus
                .as_ref()
                .map(|c| vars.apply(c).map_err(|e| e.to_string()))
                .transpose()?
                .unwrap_or(json!([]));
            let txn = world.next_txn();
            let body = json!({"origin": key.server_name(), "origin_server_ts": crate::federation::keys::now_ms(), "pdus": [], "edus": edus});
            let (ex, resp) = signed(
                fake,
                peer,
                "PUT",
                &format!("/_matrix/federation/v1/send/{txn}"),
                Some(body),
                timeout,
            )
            .await;
            Ok(wrap(ex, resp, json!({})))
        }
        other => Err(format!("unknown remote operation `{other}`")),
    }
}

/// The response as the step sees it: `{response: <server's JSON>, ...extra}` with the
/// server's status.
fn wrap(exchange: Exchange, resp: Option<Received>, extra: Value) -> (Exchange, Option<Received>) {
    let resp = resp.map(|r| {
        let mut out = extra.clone();
        out["response"] = r.json().unwrap_or(Value::Null);
        Received {
            status: r.status,
            headers: r.headers,
            body: out.to_string().into_bytes(),
        }
    });
    (exchange, resp)
}
