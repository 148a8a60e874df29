//! The personas as Goose transactions. Goose replays a scenario's transactions in a fixed
//! order, so each persona has one transaction that asks our seeded dispatcher what to do
//! next and how long to think afterwards. Everything runs in the user's own transaction (no
//! background clones of the GooseUser, so no metric is lost when one is dropped).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use goose::goose::{Transaction, TransactionFunction};
use goose::prelude::{GooseUser, TransactionResult};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::delivery::MARKER_KEY;
use super::http::{self, Req};
use super::model::PersonaKind;
use super::plan::{Action, Persona};
use super::world::World;
use crate::matrix::sliding_sync::request::SlidingSyncArgs;
#[cfg(test)]
use crate::matrix::sliding_sync::request::translate;

/// Goose session data: the user's [`Session`], taken out while a transaction runs, and the
/// open-model arrival it is running, if any.
#[derive(Clone)]
pub struct Slot {
    session: Option<Box<Session>>,
    arrival: Option<Running>,
    /// The user's own keep-alive connection for plain-HTTP targets.
    conn: super::plain_http::UserConn,
}

/// The user's own connection, taken out for one request (`put_conn` gives it back).
pub fn take_conn(user: &mut GooseUser) -> super::plain_http::UserConn {
    user.get_session_data_mut::<Slot>()
        .map(|slot| std::mem::take(&mut slot.conn))
        .unwrap_or_default()
}

/// Give the user's connection back after a request.
pub fn put_conn(user: &mut GooseUser, conn: super::plain_http::UserConn) {
    if let Some(slot) = user.get_session_data_mut::<Slot>() {
        slot.conn = conn;
    }
}

/// An open-model arrival being run by a user.
#[derive(Clone, Copy)]
struct Running {
    /// Its intended start, until its first request takes it (latency counts from there).
    intended: Option<Instant>,
}

/// For the request about to be sent by `user`: whether it belongs to an open-model arrival,
/// and the intended start to measure from when it is the arrival's first request.
pub fn take_arrival(user: &mut GooseUser) -> (bool, Option<Instant>) {
    match user
        .get_session_data_mut::<Slot>()
        .and_then(|slot| slot.arrival.as_mut())
    {
        Some(running) => (true, running.intended.take()),
        None => (false, None),
    }
}

fn set_arrival(user: &mut GooseUser, arrival: Option<Running>) {
    if let Some(slot) = user.get_session_data_mut::<Slot>() {
        slot.arrival = arrival;
    }
}

/// Per-user state.
#[derive(Clone)]
pub struct Session {
    account: usize,
    rng: ChaCha8Rng,
    since: Option<String>,
    since2: Option<String>,
    pos: Option<String>,
    txn: u64,
    joined: Option<String>,
    last_event: BTreeMap<String, String>,
    /// What `scenario: ID#STEP` actions' set-up steps left, by action.
    prepared: BTreeMap<u16, super::scenario_run::Prepared>,
}

/// The on-start, dispatch and on-stop transactions of persona `index`.
pub fn transactions(world: &Arc<World>, index: usize) -> Vec<Transaction> {
    let w = Arc::clone(world);
    let start: TransactionFunction = Arc::new(move |user: &mut GooseUser| {
        let w = Arc::clone(&w);
        Box::pin(async move { on_start(user, &w, index) })
    });
    let w = Arc::clone(world);
    let act: TransactionFunction = Arc::new(move |user: &mut GooseUser| {
        let w = Arc::clone(&w);
        Box::pin(async move { dispatch(user, &w).await })
    });
    let w = Arc::clone(world);
    let stop: TransactionFunction = Arc::new(move |_user: &mut GooseUser| {
        let w = Arc::clone(&w);
        Box::pin(async move {
            w.recorder.active_users.fetch_sub(1, Ordering::Relaxed);
            Ok(())
        })
    });
    vec![
        Transaction::new(start).set_name("start").set_on_start(),
        Transaction::new(act).set_name("act"),
        Transaction::new(stop).set_name("stop").set_on_stop(),
    ]
}

pub(super) fn on_start(user: &mut GooseUser, world: &World, persona: usize) -> TransactionResult {
    // Goose's client builder has no redirect or TLS-root setting: every user sends through
    // the harness's own client instead (same pool for all users).
    if let Some(client) = super::http::client() {
        user.client = client;
    }
    if let Some(account) = world.claim(persona) {
        let seed = world.seed ^ (account as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        user.set_session_data(Slot {
            arrival: None,
            conn: Default::default(),
            session: Some(Box::new(Session {
                account,
                rng: ChaCha8Rng::seed_from_u64(seed),
                since: None,
                since2: None,
                pos: None,
                txn: 0,
                joined: None,
                last_event: BTreeMap::new(),
                prepared: BTreeMap::new(),
            })),
        });
        world.recorder.active_users.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

pub(super) async fn dispatch(user: &mut GooseUser, world: &World) -> TransactionResult {
    // Past the plan's end nobody starts new work: Goose is stopping the users.
    if world.plan_over() {
        tokio::time::sleep(Duration::from_millis(100)).await;
        return Ok(());
    }
    // The session is moved out and back in (no clone per iteration).
    let Some(mut s) = user
        .get_session_data_mut::<Slot>()
        .and_then(|slot| slot.session.take())
    else {
        // No account for this user: idle rather than spin.
        tokio::time::sleep(Duration::from_secs(1)).await;
        return Ok(());
    };
    let persona_index = world.accounts.get(s.account).map_or(0, |a| a.persona);
    let Some(persona) = world.personas.get(persona_index) else {
        return Ok(());
    };
    if let Some(arrivals) = world.arrivals_of(persona_index) {
        open_arrival(user, world, arrivals, persona_index, &mut s).await;
        put_back(user, s);
        return Ok(());
    }
    let think = match persona.kind {
        PersonaKind::Chatty => {
            chatty(user, world, persona_index, None, &mut s).await;
            true
        }
        PersonaKind::Lurker => !lurk(user, world, persona, &mut s).await,
        PersonaKind::SlidingSync => !sliding(user, world, persona, &mut s).await,
        PersonaKind::Joiner => {
            joiner(user, world, &mut s).await;
            true
        }
        PersonaKind::Media => {
            media(user, world, persona, &mut s).await;
            true
        }
        PersonaKind::Federation => {
            federation(user, world, persona, &mut s).await;
            true
        }
    };
    let pause = if think {
        think_time(&mut s.rng, persona)
    } else {
        Duration::ZERO
    };
    put_back(user, s);
    if !pause.is_zero() {
        tokio::time::sleep(pause).await;
    }
    Ok(())
}

fn put_back(user: &mut GooseUser, s: Box<Session>) {
    if let Some(slot) = user.get_session_data_mut::<Slot>() {
        slot.session = Some(s);
    }
}

/// An open-model user's iteration: take the next arrival of the timetable, wait for its
/// intended start (none when it is already due), run it (latency measured from the intended
/// start), and take the next at once: no think time.
async fn open_arrival(
    user: &mut GooseUser,
    world: &World,
    arrivals: &super::arrivals::Arrivals,
    persona_index: usize,
    s: &mut Session,
) {
    use super::arrivals::Claim;
    let ticket = match arrivals.claim(Instant::now()) {
        Claim::Run(t) => t,
        // Before the hold or after it: nothing is due.
        Claim::Over => {
            tokio::time::sleep(Duration::from_millis(50)).await;
            return;
        }
    };
    // Wait for the intended start in short steps, so a stop is not held up by a long gap.
    loop {
        let left = ticket.intended.saturating_duration_since(Instant::now());
        if left.is_zero() || world.plan_over() || goose::is_killswitch_triggered() {
            break;
        }
        tokio::time::sleep(left.min(Duration::from_millis(100))).await;
    }
    if world.plan_over() || goose::is_killswitch_triggered() {
        return;
    }
    let Some(persona) = world.personas.get(persona_index) else {
        return;
    };
    set_arrival(
        user,
        Some(Running {
            intended: Some(ticket.intended),
        }),
    );
    match persona.kind {
        PersonaKind::Chatty => chatty(user, world, persona_index, ticket.action, s).await,
        PersonaKind::Joiner => joiner(user, world, s).await,
        PersonaKind::Media => media(user, world, persona, s).await,
        // The plan refuses arrivals for long-polling personas.
        PersonaKind::Lurker | PersonaKind::SlidingSync | PersonaKind::Federation => {}
    }
    set_arrival(user, None);
}

/// Exponential think time with the persona's mean, capped at its maximum.
pub fn think_time(rng: &mut ChaCha8Rng, persona: &Persona) -> Duration {
    let mean = persona.think_mean.as_secs_f64();
    if mean <= 0.0 {
        return Duration::ZERO;
    }
    let u: f64 = rng.random_range(f64::EPSILON..1.0);
    let secs = (-u.ln() * mean).min(persona.think_max.as_secs_f64());
    Duration::from_secs_f64(secs.max(0.0))
}

async fn chatty(
    user: &mut GooseUser,
    world: &World,
    persona: usize,
    forced: Option<Action>,
    s: &mut Session,
) {
    let Some(account) = world.accounts.get(s.account) else {
        return;
    };
    let Some(room) = account.rooms.choose(&mut s.rng).cloned() else {
        return;
    };
    let Some(action) = forced.or_else(|| world.pick_action(persona, &mut s.rng)) else {
        return;
    };
    if let Action::Scenario(i) = action {
        if let Some(p) = world.personas.get(persona) {
            let me = s.account;
            super::scenario_run::iterate(user, world, p, i, me, &mut s.rng, &mut s.prepared).await;
        }
        return;
    }
    let token = account.access_token.clone();
    let last = s.last_event.get(&room).cloned();
    match (action, last) {
        (Action::Scenario(_), _) => {}
        (Action::Send, _) | (Action::Receipt | Action::ReadMarker, None) => {
            send_text(user, world, s, &room, &token).await;
        }
        (Action::Typing, _) => {
            let req = Req::new(
                world,
                TYPING,
                "typing",
                json!({"room_id": room, "user_id": account.user_id, "typing": true, "timeout": 5000}),
                &token,
            );
            http::send(user, world, req).await;
        }
        (Action::Receipt, Some(event)) => {
            let args = json!({"room_id": room, "event_id": event, "receipt_type": "m.read"});
            let req = Req::new(world, RECEIPT, "receipt", args, &token);
            http::send(user, world, req).await;
        }
        (Action::ReadMarker, Some(event)) => {
            let args = json!({"room_id": room, "fully_read": event, "read": event});
            let req = Req::new(world, READ_MARKER, "set_read_marker", args, &token);
            http::send(user, world, req).await;
        }
        (Action::Sync, _) => {
            sync_once(user, world, s, &token, Duration::ZERO).await;
        }
        (Action::Messages, _) => {
            let args = json!({"room_id": room, "dir": "b", "limit": 20});
            let req = Req::new(world, MESSAGES, "messages", args, &token);
            http::send(user, world, req).await;
        }
    }
}

// Request names and the endpoints reported for them.
const TYPING: (&str, &str) = (
    "typing",
    "PUT /_matrix/client/v3/rooms/{roomId}/typing/{userId}",
);
const RECEIPT: (&str, &str) = (
    "receipt",
    "POST /_matrix/client/v3/rooms/{roomId}/receipt/{receiptType}/{eventId}",
);
const READ_MARKER: (&str, &str) = (
    "read_marker",
    "POST /_matrix/client/v3/rooms/{roomId}/read_markers",
);
const MESSAGES: (&str, &str) = ("messages", "GET /_matrix/client/v3/rooms/{roomId}/messages");
const SEND_ENDPOINT: &str = "PUT /_matrix/client/v3/rooms/{roomId}/send/m.room.message/{txnId}";
const SYNC_ENDPOINT: &str = "GET /_matrix/client/v3/sync";

async fn send_text(user: &mut GooseUser, world: &World, s: &mut Session, room: &str, token: &str) {
    s.txn += 1;
    let prefix = format!("a{}", s.account);
    let marker = world.tracker.begin(room, s.account, &prefix);
    let mut content = json!({"msgtype": "m.text", "body": format!("load message {}", s.txn)});
    if let (Some(m), Some(obj)) = (&marker, content.as_object_mut()) {
        obj.insert(MARKER_KEY.into(), json!(m));
    }
    let args = json!({"room_id": room, "txn_id": format!("mxl{}-{}", s.account, s.txn),
        "content": content});
    let req = Req::new(world, ("send", SEND_ENDPOINT), "send", args, token);
    let answer = http::send(user, world, req).await;
    let event_id = answer.filter(http::Answer::ok).and_then(|a| {
        a.json
            .get("event_id")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    if let Some(id) = &event_id {
        s.last_event.insert(room.to_owned(), id.clone());
    }
    if let Some(m) = marker {
        world.tracker.finish(&m, event_id);
    }
}

/// One /sync: initial (no `since`, timeout 0) or incremental with `wait` as the long-poll
/// timeout. Returns whether it got an answer.
async fn sync_once(
    user: &mut GooseUser,
    world: &World,
    s: &mut Session,
    token: &str,
    wait: Duration,
) -> bool {
    let wait = world.poll_wait(wait);
    let (name, long_poll, args) = match &s.since {
        None => (
            "sync (initial)",
            false,
            json!({"timeout": 0, "filter": {"room": {"timeline": {"limit": 5}}}}),
        ),
        Some(since) if wait.is_zero() => ("sync", false, json!({"since": since, "timeout": 0})),
        Some(since) => (
            "sync (long-poll)",
            true,
            json!({"since": since, "timeout": u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)}),
        ),
    };
    let mut args = args;
    args["set_presence"] = json!("offline");
    let mut req = Req::new(world, (name, SYNC_ENDPOINT), "sync", args, token);
    req.long_poll = long_poll;
    req.timeout = wait + world.request_timeout;
    let Some(answer) = http::send(user, world, req).await else {
        return false;
    };
    if !answer.ok() {
        return false;
    }
    if let Some(next) = answer.json.get("next_batch").and_then(Value::as_str) {
        s.since = Some(next.to_owned());
    }
    world
        .tracker
        .observe(&answer.json, s.account, answer.started, &world.recorder);
    remember_last_events(&answer.json, s);
    true
}

fn remember_last_events(body: &Value, s: &mut Session) {
    if let Some(rooms) = body.pointer("/rooms/join").and_then(Value::as_object) {
        for (room, r) in rooms {
            if let Some(id) = r
                .pointer("/timeline/events")
                .and_then(Value::as_array)
                .and_then(|e| e.last())
                .and_then(|e| e.get("event_id"))
                .and_then(Value::as_str)
            {
                s.last_event.insert(room.clone(), id.to_owned());
            }
        }
    }
}

/// A lurker's iteration: one long-poll. Returns whether it got an answer (no think time
/// then: it polls again at once, as a client does).
async fn lurk(user: &mut GooseUser, world: &World, persona: &Persona, s: &mut Session) -> bool {
    let Some(token) = world
        .accounts
        .get(s.account)
        .map(|a| a.access_token.clone())
    else {
        return false;
    };
    sync_once(user, world, s, &token, persona.sync_timeout).await
}

/// The `required_state` Element X's room list asks for.
const ELEMENT_X_REQUIRED_STATE: &[(&str, &str)] = &[
    ("m.room.name", ""),
    ("m.room.encryption", ""),
    ("m.room.member", "$LAZY"),
    ("m.room.member", "$ME"),
    ("m.room.topic", ""),
    ("m.room.avatar", ""),
    ("m.room.canonical_alias", ""),
    ("m.room.power_levels", ""),
    ("m.call.member", "*"),
    ("m.room.join_rules", ""),
    ("m.room.tombstone", ""),
    ("m.room.create", ""),
    ("m.room.history_visibility", ""),
    ("io.element.functional_members", ""),
    ("m.space.parent", "*"),
    ("m.space.child", "*"),
    ("m.beacon_info", "*"),
];

/// The room-list request Element X sends (conn_id `room-list`, list `all_rooms`, range
/// 0..=19, timeline_limit 1, account_data/receipts/typing extensions), as the arguments of
/// the `sliding_sync` operation (translated to the target's dialect when it is built).
pub fn element_x_args(pos: Option<&str>, timeout: Option<u64>) -> Value {
    let required: Vec<[&str; 2]> = ELEMENT_X_REQUIRED_STATE
        .iter()
        .map(|(t, k)| [*t, *k])
        .collect();
    let mut args = json!({
        "conn_id": "room-list",
        "timeout": timeout.map_or(json!("omit"), |t| json!(t)),
        "lists": {"all_rooms": {"range": [0, 19], "timeline_limit": 1, "required_state": required}},
        "extensions": {
            "account_data": {"enabled": true},
            "receipts": {"enabled": true, "rooms": ["*"]},
            "typing": {"enabled": true}
        }
    });
    if let Some(pos) = pos {
        args["pos"] = json!(pos);
    }
    args
}

/// [`element_x_args`] as the dialect-neutral request.
pub fn element_x_request(pos: Option<String>, timeout: Option<u64>) -> SlidingSyncArgs {
    serde_json::from_value(element_x_args(pos.as_deref(), timeout)).unwrap_or_default()
}

/// A sliding-sync client's iteration: the first request with no wait, then long-polls.
async fn sliding(user: &mut GooseUser, world: &World, persona: &Persona, s: &mut Session) -> bool {
    let Some(target) = &world.sliding_sync else {
        return false;
    };
    let Some(token) = world
        .accounts
        .get(s.account)
        .map(|a| a.access_token.clone())
    else {
        return false;
    };
    let initial = s.pos.is_none();
    let wait = world.poll_wait(persona.sync_timeout);
    let timeout = if initial {
        Some(0)
    } else {
        Some(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX))
    };
    let name = if initial {
        "sliding_sync (initial)"
    } else {
        "sliding_sync (long-poll)"
    };
    let mut req = Req::new(
        world,
        (name, "POST sliding sync (dialect path)"),
        "sliding_sync",
        element_x_args(s.pos.as_deref(), timeout),
        &token,
    );
    req.base = &target.base_url;
    req.long_poll = !initial;
    req.timeout = wait + world.request_timeout;
    let Some(answer) = http::send(user, world, req).await else {
        return false;
    };
    if !answer.ok() {
        // An expired connection: start again from an initial request.
        s.pos = None;
        return false;
    }
    s.pos = answer
        .json
        .get("pos")
        .and_then(Value::as_str)
        .map(str::to_owned);
    world
        .tracker
        .observe(&answer.json, s.account, answer.started, &world.recorder);
    true
}

/// Join a public room the user is not in, or leave the one it joined last time.
async fn joiner(user: &mut GooseUser, world: &World, s: &mut Session) {
    let Some(account) = world.accounts.get(s.account) else {
        return;
    };
    let token = account.access_token.clone();
    if let Some(room) = s.joined.take() {
        let req = Req::new(
            world,
            ("leave", "POST /_matrix/client/v3/rooms/{roomId}/leave"),
            "leave",
            json!({"room_id": room}),
            &token,
        );
        http::send(user, world, req).await;
        return;
    }
    let candidates: Vec<&String> = world
        .rooms
        .iter()
        .filter(|r| !account.rooms.contains(r))
        .collect();
    let Some(room) = candidates.choose(&mut s.rng).map(|r| (*r).clone()) else {
        return;
    };
    let req = Req::new(
        world,
        ("join", "POST /_matrix/client/v3/join/{roomIdOrAlias}"),
        "join",
        json!({"room_id_or_alias": room}),
        &token,
    );
    if http::send(user, world, req).await.is_some_and(|a| a.ok()) {
        s.joined = Some(room);
    }
}

/// Upload a file and post it as an m.image.
async fn media(user: &mut GooseUser, world: &World, persona: &Persona, s: &mut Session) {
    let Some(account) = world.accounts.get(s.account) else {
        return;
    };
    let token = account.access_token.clone();
    // Random printable bytes: `upload_media` sends its content as text.
    let content: String = (0..persona.media_bytes)
        .map(|_| char::from(s.rng.sample(rand::distr::Alphanumeric)))
        .collect();
    let args = json!({"content": content, "content_type": "application/octet-stream",
        "filename": "load.bin"});
    let req = Req::new(
        world,
        ("upload", "POST /_matrix/media/v3/upload"),
        "upload_media",
        args,
        &token,
    );
    let uri = http::send(user, world, req)
        .await
        .filter(http::Answer::ok)
        .and_then(|a| {
            a.json
                .get("content_uri")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
    let (Some(uri), Some(room)) = (uri, account.rooms.choose(&mut s.rng).cloned()) else {
        return;
    };
    s.txn += 1;
    let content = json!({"msgtype": "m.image", "body": "load.bin", "url": uri,
        "info": {"size": persona.media_bytes, "mimetype": "application/octet-stream"}});
    let args = json!({"room_id": room, "txn_id": format!("mxi{}-{}", s.account, s.txn),
        "content": content});
    let req = Req::new(world, ("send (image)", SEND_ENDPOINT), "send", args, &token);
    http::send(user, world, req).await;
}

const SYNC2_ENDPOINT: &str = "GET /_matrix/client/v3/sync (second homeserver)";

/// How long a federated message may take to show up on the second homeserver.
const FEDERATION_DEADLINE: Duration = Duration::from_secs(30);

/// Send on hs1 into the room shared with the partner on hs2, then long-poll the partner's
/// sync on hs2 until the message shows up (or the deadline passes: counted as lost).
async fn federation(user: &mut GooseUser, world: &World, persona: &Persona, s: &mut Session) {
    let (Some(account), Some(partner), Some(base2)) = (
        world.accounts.get(s.account),
        world.partners.get(&s.account),
        world.base_url2.as_deref(),
    ) else {
        return;
    };
    if s.since2.is_none() {
        let args = json!({"timeout": 0, "filter": {"room": {"timeline": {"limit": 1}}}});
        let mut req = Req::new(
            world,
            ("federation sync (initial)", SYNC2_ENDPOINT),
            "sync",
            args,
            &partner.access_token,
        );
        req.base = base2;
        s.since2 = http::send(user, world, req).await.and_then(|a| {
            a.json
                .get("next_batch")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        if s.since2.is_none() {
            return;
        }
    }
    s.txn += 1;
    let marker = format!("f{}-{}", s.account, s.txn);
    let content =
        json!({"msgtype": "m.text", "body": "federated load message", MARKER_KEY: marker});
    let started = Instant::now();
    let args = json!({"room_id": partner.room_id, "txn_id": format!("mxf{}-{}", s.account, s.txn),
        "content": content});
    let req = Req::new(
        world,
        ("federation send", SEND_ENDPOINT),
        "send",
        args,
        &account.access_token,
    );
    if !http::send(user, world, req).await.is_some_and(|a| a.ok()) {
        return;
    }
    world.federation_sent.fetch_add(1, Ordering::Relaxed);
    while started.elapsed() < FEDERATION_DEADLINE && !world.plan_over() {
        let Some(since) = s.since2.clone() else { break };
        let wait = world.poll_wait(
            persona
                .sync_timeout
                .min(FEDERATION_DEADLINE.saturating_sub(started.elapsed())),
        );
        let args = json!({"since": since,
            "timeout": u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)});
        let mut req = Req::new(
            world,
            ("federation sync (long-poll)", SYNC2_ENDPOINT),
            "sync",
            args,
            &partner.access_token,
        );
        req.base = base2;
        req.long_poll = true;
        req.timeout = wait + world.request_timeout;
        let Some(answer) = http::send(user, world, req).await.filter(http::Answer::ok) else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        if let Some(next) = answer.json.get("next_batch").and_then(Value::as_str) {
            s.since2 = Some(next.to_owned());
        }
        if super::delivery::markers_in(&answer.json).contains(&marker) {
            world.recorder.federation(started.elapsed());
            world.federation_delivered.fetch_add(1, Ordering::Relaxed);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dispatcher_is_seeded_and_weighted() {
        let persona = Persona {
            name: "c".into(),
            kind: PersonaKind::Chatty,
            weight: 1,
            think_mean: Duration::from_millis(100),
            think_max: Duration::from_millis(300),
            actions: vec![(Action::Send, 3), (Action::Typing, 1), (Action::Sync, 0)],
            sync_timeout: Duration::from_secs(1),
            media_bytes: 0,
            arrivals: None,
            scenarios: Vec::new(),
        };
        let world = World::new(
            "http://127.0.0.1:1".into(),
            None,
            vec![persona.clone()],
            Vec::new(),
            Vec::new(),
            BTreeMap::new(),
            None,
            1,
        );
        let run = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..200)
                .filter_map(|_| world.pick_action(0, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7), "same seed, same choices");
        let picks = run(7);
        let sends = picks.iter().filter(|a| **a == Action::Send).count();
        assert!(sends > 120 && sends < 180, "{sends} sends of 200");
        assert!(!picks.contains(&Action::Sync), "weight 0 is never picked");
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..100 {
            assert!(think_time(&mut rng, &persona) <= persona.think_max);
        }
    }

    #[test]
    fn element_x_request_translates_per_dialect() {
        use crate::matrix::sliding_sync::Dialect;
        let wire = translate(
            &element_x_request(Some("p1".into()), Some(10_000)),
            Dialect::V4,
        );
        assert_eq!(wire.body["conn_id"], "room-list");
        assert_eq!(wire.body["pos"], "p1");
        assert_eq!(wire.body["lists"]["all_rooms"]["range"], json!([0, 19]));
        let wire = translate(&element_x_request(None, Some(0)), Dialect::Simplified);
        assert!(wire.query.iter().any(|(k, v)| k == "timeout" && v == "0"));
    }
}
