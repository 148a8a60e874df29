//! The `remote:` step: room-level actions of a fake server (join, leave, send_pdu,
//! create_room, invite, send_edus, serve_joins; keys_offline makes its key endpoint fail) and the handlers a fake server needs once it is in a room.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Fake, FederationContext, Peer, World, synthetic, text};
use crate::federation::room::{self, Room};
use crate::federation::{Handler, SignedRequest};
use crate::matrix::encode_component as seg;
use crate::matrix::http_client::Received;
use crate::plan::template::Vars;
use crate::results::Exchange;
use crate::scenario::model::RawRemote;

/// Room versions the harness can mint events for (offered in make_join).
pub const MINTABLE_VERSIONS: &[&str] = &["4", "5", "6", "7", "8", "9", "10", "11"];

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
    let send = Handler::dynamic(
        "transactions",
        "PUT",
        "/_matrix/federation/v1/send/[^/]+",
        move |req| {
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
        },
    )
    .map_err(|e| e.to_string())?;
    let rooms = fake.rooms.clone();
    let missing = Handler::dynamic(
        "get_missing_events",
        "POST",
        "/_matrix/federation/v1/get_missing_events/[^/]+",
        move |req| {
            let room_id = percent_decode(req.path.rsplit('/').next().unwrap_or(""));
            let body = req.json.clone().unwrap_or(Value::Null);
            let list = |k: &str| room::string_list(&body, k);
            let limit = body
                .get("limit")
                .and_then(Value::as_u64)
                .unwrap_or(10)
                .min(100) as usize;
            let rooms = rooms.lock().unwrap_or_else(|p| p.into_inner());
            let events = rooms
                .get(&room_id)
                .map(|r| r.missing_events(&list("earliest_events"), &list("latest_events"), limit))
                .unwrap_or_default();
            let events: Vec<Value> = events.into_iter().map(strip_event_id).collect();
            (200, json!({"events": events}))
        },
    )
    .map_err(|e| e.to_string())?;
    let rooms = fake.rooms.clone();
    let origin = fake.server.server_name().to_owned();
    let event = Handler::dynamic(
        "event",
        "GET",
        "/_matrix/federation/v1/event/[^/]+",
        move |req| {
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
        },
    )
    .map_err(|e| e.to_string())?;
    for h in [send, missing, event] {
        fake.server.register(h);
    }
    Ok(())
}

/// Handlers of a resident server for the rooms a fake server knows: make_join answers a
/// template built on the room's state, send_join v2 learns the join and answers the state
/// and auth chain (with `extra_state` added to the state, e.g. a badly signed event), and
/// backfill answers the events before `v` from what the fake server knows.
fn register_join_handlers(fake: &Fake, extra_state: Option<Value>) -> Result<(), String> {
    let rooms = fake.rooms.clone();
    let make = Handler::dynamic(
        "make_join",
        "GET",
        "/_matrix/federation/v1/make_join/[^/]+/[^/]+",
        move |req| {
            let mut parts = req.path.rsplit('/');
            let user = percent_decode(parts.next().unwrap_or(""));
            let room_id = percent_decode(parts.next().unwrap_or(""));
            let rooms = rooms.lock().unwrap_or_else(|p| p.into_inner());
            match rooms.get(&room_id) {
                Some(room) => (
                    200,
                    json!({"room_version": room.version, "event": room.join_template(&user)}),
                ),
                None => (
                    404,
                    json!({"errcode": "M_NOT_FOUND", "error": "unknown room"}),
                ),
            }
        },
    )
    .map_err(|e| e.to_string())?;
    let rooms = fake.rooms.clone();
    let origin = fake.server.server_name().to_owned();
    let send = Handler::dynamic(
        "send_join",
        "PUT",
        "/_matrix/federation/v2/send_join/[^/]+/[^/]+",
        move |req| {
            let mut parts = req.path.rsplit('/');
            let event_id = percent_decode(parts.next().unwrap_or(""));
            let room_id = percent_decode(parts.next().unwrap_or(""));
            let Some(event) = req.json.clone() else {
                return (
                    400,
                    json!({"errcode": "M_NOT_JSON", "error": "no join event"}),
                );
            };
            let mut rooms = rooms.lock().unwrap_or_else(|p| p.into_inner());
            let Some(room) = rooms.get_mut(&room_id) else {
                return (
                    404,
                    json!({"errcode": "M_NOT_FOUND", "error": "unknown room"}),
                );
            };
            let (mut state, auth_chain) = room.join_answer();
            state.extend(extra_state.iter().cloned());
            let mut stored = event;
            stored["event_id"] = json!(event_id);
            room.learn(&stored, true);
            (
                200,
                json!({"origin": origin, "state": state, "auth_chain": auth_chain}),
            )
        },
    )
    .map_err(|e| e.to_string())?;
    let rooms = fake.rooms.clone();
    let origin = fake.server.server_name().to_owned();
    let backfill = Handler::dynamic(
        "backfill",
        "GET",
        "/_matrix/federation/v1/backfill/[^/]+",
        move |req| {
            let room_id = percent_decode(req.path.rsplit('/').next().unwrap_or(""));
            let query = req.uri.split_once('?').map(|(_, q)| q).unwrap_or("");
            let mut from = Vec::new();
            let mut limit = 10usize;
            for pair in query.split('&') {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                match k {
                    "v" => from.push(percent_decode(v)),
                    "limit" => limit = v.parse().unwrap_or(10).min(1000),
                    _ => {}
                }
            }
            let rooms = rooms.lock().unwrap_or_else(|p| p.into_inner());
            let pdus = rooms
                .get(&room_id)
                .map(|r| r.backfill(&from, limit))
                .unwrap_or_default();
            (
                200,
                json!({"origin": origin, "origin_server_ts": crate::federation::keys::now_ms(), "pdus": pdus}),
            )
        },
    )
    .map_err(|e| e.to_string())?;
    fake.server.register(make);
    fake.server.register(send);
    fake.server.register(backfill);
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

pub(super) async fn remote(
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
            let (event_id, mut event) =
                room::finish_event(&key, &template, &version).map_err(|e| e.to_string())?;
            tamper(&mut event, r.tamper.as_deref(), &key);
            let mut path = format!(
                "/_matrix/federation/v2/{send}/{}/{}",
                seg(&room_id),
                seg(&event_id)
            );
            if r.op == "join" && r.omit_members == Some(true) {
                path.push_str("?omit_members=true");
            }
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
            tamper(&mut event, r.tamper.as_deref(), &key);
            let clean = r.tamper.is_none() && overrides.is_empty() && r.user.is_none();
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
            let (ex, resp) =
                transaction(fake, peer, world, json!([event]), json!([]), timeout).await;
            Ok(wrap(ex, resp, summary))
        }
        "send_edus" => {
            let edus = r
                .edus
                .as_ref()
                .map(|c| vars.apply(c).map_err(|e| e.to_string()))
                .transpose()?
                .unwrap_or(json!([]));
            let (ex, resp) = transaction(fake, peer, world, json!([]), edus, timeout).await;
            Ok(wrap(ex, resp, json!({})))
        }
        "serve_joins" => {
            let bad_topic = match r.tamper.as_deref() {
                Some("signature") => {
                    // A topic event built on the current state whose signature is broken:
                    // offered in the answer's state, never learnt.
                    let content = json!({"topic": "mxharness: a badly signed topic"});
                    let (_, mut ev) = with_room(fake, &room_id, |room| {
                        room.mint(
                            &key,
                            "m.room.topic",
                            &user,
                            Some(""),
                            &content,
                            &Default::default(),
                        )
                    })?
                    .map_err(|e| e.to_string())?;
                    tamper(&mut ev, Some("signature"), &key);
                    Some(ev)
                }
                _ => None,
            };
            register_join_handlers(fake, bad_topic)?;
            Ok(synthetic(
                "SERVE_JOINS",
                &room_id,
                200,
                &json!({"room_id": room_id}),
            ))
        }
        "keys_offline" => {
            fake.server.set_keys_offline(true);
            Ok(synthetic(
                "KEYS_OFFLINE",
                fake.server.server_name(),
                200,
                &json!({}),
            ))
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

/// `PUT /_matrix/federation/v1/send/{txnId}` with these PDUs and EDUs.
async fn transaction(
    fake: &Fake,
    peer: &Peer,
    world: &World,
    pdus: Value,
    edus: Value,
    timeout: Duration,
) -> (Exchange, Option<Received>) {
    let body = json!({
        "origin": fake.server.server_name(),
        "origin_server_ts": crate::federation::keys::now_ms(),
        "pdus": pdus,
        "edus": edus,
    });
    let path = format!("/_matrix/federation/v1/send/{}", world.next_txn());
    signed(fake, peer, "PUT", &path, Some(body), timeout).await
}

/// Break a signed event on purpose: `signature` corrupts this server's signature,
/// `content_hash` changes the content after hashing (the signature, over the redacted form,
/// stays valid).
fn tamper(event: &mut Value, how: Option<&str>, key: &crate::federation::ServerKey) {
    match how {
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
}
