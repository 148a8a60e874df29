//! What a fake server knows about a room it takes part in, and minting events (PDUs) for it:
//! fill in `auth_events`, `prev_events` and `depth` from the known state, add the content
//! hash, sign, and derive the event id (reference hash, room versions 4 and later).

use std::collections::BTreeMap;

use ruma::RoomVersionId;
use ruma::room_version_rules::RoomVersionRules;
use serde_json::{Value, json};

use super::FederationError;
use super::keys::{ServerKey, now_ms, to_canonical_object};

/// One room as a fake server sees it.
#[derive(Debug, Clone)]
pub struct Room {
    /// Room id.
    pub room_id: String,
    /// Room version, e.g. "10".
    pub version: String,
    /// Current state: (type, state_key) -> event.
    pub state: BTreeMap<(String, String), Value>,
    /// Every event known, by id.
    pub events: BTreeMap<String, Value>,
    /// Forward extremities.
    pub latest: Vec<String>,
    /// Highest depth seen.
    pub depth: u64,
}

/// The rules of a room version the harness can mint events for.
pub fn rules(version: &str) -> Result<RoomVersionRules, FederationError> {
    let id = RoomVersionId::try_from(version)
        .map_err(|e| FederationError::Sign(format!("room version {version:?}: {e}")))?;
    id.rules()
        .ok_or_else(|| FederationError::Sign(format!("room version {version:?} is not supported")))
}

/// The event id of a signed event (`$` + reference hash).
pub fn event_id(event: &Value, version: &str) -> Result<String, FederationError> {
    let rules = rules(version)?;
    let object = to_canonical_object(event)?;
    let hash = ruma::signatures::reference_hash(&object, &rules)
        .map_err(|e| FederationError::Sign(e.to_string()))?;
    Ok(format!("${hash}"))
}

/// Hash and sign `event` as `key`'s server, returning (event id, signed event).
pub fn finish_event(
    key: &ServerKey,
    event: &Value,
    version: &str,
) -> Result<(String, Value), FederationError> {
    let rules = rules(version)?;
    if to_canonical_object(event).is_err() {
        return finish_non_canonical(key, event, &rules);
    }
    let signed = key.hash_and_sign_event(event, &rules.redaction)?;
    let id = event_id(&signed, version)?;
    Ok((id, signed))
}

/// Hash and sign an event whose content has no canonical JSON form (a float, an integer
/// beyond ±2^53), as a receiver that tolerated it would check it: the content hash over the
/// event encoded like canonical JSON ([`super::lenient_json`]), the signature and the event id
/// over the redacted form. Only non-state events other than redactions: their redacted form
/// has empty content, so it is canonical.
fn finish_non_canonical(
    key: &ServerKey,
    event: &Value,
    rules: &RoomVersionRules,
) -> Result<(String, Value), FederationError> {
    use sha2::Digest as _;
    if event.get("state_key").is_some() || str_field(event, "type") == "m.room.redaction" {
        return Err(FederationError::Sign(
            "content without a canonical JSON form is only signed for non-state events".into(),
        ));
    }
    let mut draft = event.clone();
    if let Some(o) = draft.as_object_mut() {
        for k in ["signatures", "unsigned", "hashes"] {
            o.remove(k);
        }
    }
    let digest = sha2::Sha256::digest(super::lenient_json::encode(&draft).as_bytes());
    let hash = ruma::serde::Base64::<ruma::serde::base64::Standard, _>::new(digest.to_vec());
    draft["hashes"] = json!({ "sha256": hash.encode() });
    let mut redacted = draft.clone();
    redacted["content"] = json!({});
    let mut object = to_canonical_object(&redacted)?;
    ruma::signatures::sign_event(
        key.server_name(),
        key.key_pair(),
        &mut object,
        &rules.redaction,
    )
    .map_err(|e| FederationError::Sign(e.to_string()))?;
    let hash = ruma::signatures::reference_hash(&object, rules)
        .map_err(|e| FederationError::Sign(e.to_string()))?;
    let signed = Value::from(ruma::CanonicalJsonValue::Object(object));
    draft["signatures"] = signed.get("signatures").cloned().unwrap_or(json!({}));
    Ok((format!("${hash}"), draft))
}

fn str_field<'a>(event: &'a Value, name: &str) -> &'a str {
    event.get(name).and_then(Value::as_str).unwrap_or("")
}

impl Room {
    /// An empty view of a room.
    pub fn new(room_id: &str, version: &str) -> Self {
        Self {
            room_id: room_id.to_owned(),
            version: version.to_owned(),
            state: BTreeMap::new(),
            events: BTreeMap::new(),
            latest: Vec::new(),
            depth: 0,
        }
    }

    /// Learn an event (from a join response, a transaction, or one we minted). State events
    /// update the state; `extremity` makes it the single forward extremity.
    pub fn learn(&mut self, event: &Value, extremity: bool) {
        let Ok(id) = event
            .get("event_id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(())
            .or_else(|()| event_id(event, &self.version))
        else {
            return;
        };
        if let Some(state_key) = event.get("state_key").and_then(Value::as_str) {
            self.state.insert(
                (str_field(event, "type").to_owned(), state_key.to_owned()),
                event.clone(),
            );
        }
        if let Some(d) = event.get("depth").and_then(Value::as_u64) {
            self.depth = self.depth.max(d);
        }
        if extremity {
            self.latest = vec![id.clone()];
        }
        self.events.insert(id, event.clone());
    }

    fn state_id(&self, kind: &str, state_key: &str) -> Option<String> {
        let ev = self.state.get(&(kind.to_owned(), state_key.to_owned()))?;
        ev.get("event_id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| event_id(ev, &self.version).ok())
    }

    /// The auth events the spec's auth rules select for an event of this type, sender and
    /// state key.
    pub fn auth_events_for(
        &self,
        kind: &str,
        sender: &str,
        state_key: Option<&str>,
        content: &Value,
    ) -> Vec<String> {
        let mut ids = Vec::new();
        if self.version != "12" {
            ids.extend(self.state_id("m.room.create", ""));
        }
        ids.extend(self.state_id("m.room.power_levels", ""));
        ids.extend(self.state_id("m.room.member", sender));
        if kind == "m.room.member" {
            if let Some(target) = state_key
                && target != sender
            {
                ids.extend(self.state_id("m.room.member", target));
            }
            let membership = content.get("membership").and_then(Value::as_str);
            if matches!(membership, Some("join") | Some("invite") | Some("knock")) {
                ids.extend(self.state_id("m.room.join_rules", ""));
            }
        }
        ids.sort();
        ids.dedup();
        ids
    }

    /// A new event from `sender` (of `key`'s server), with auth and prev events from what is
    /// known; `overrides` replaces any top-level field of the unsigned draft (prev_events,
    /// auth_events, depth, origin_server_ts, ...). Returns (event id, signed event) without
    /// learning it.
    pub fn mint(
        &self,
        key: &ServerKey,
        kind: &str,
        sender: &str,
        state_key: Option<&str>,
        content: &Value,
        overrides: &serde_json::Map<String, Value>,
    ) -> Result<(String, Value), FederationError> {
        let mut draft = json!({
            "type": kind,
            "room_id": self.room_id,
            "sender": sender,
            "origin": key.server_name(),
            "origin_server_ts": now_ms(),
            "content": content,
            "prev_events": self.latest,
            "auth_events": self.auth_events_for(kind, sender, state_key, content),
            "depth": self.depth + 1,
        });
        if let Some(sk) = state_key {
            draft["state_key"] = json!(sk);
        }
        if let Some(map) = draft.as_object_mut() {
            for (k, v) in overrides {
                map.insert(k.clone(), v.clone());
            }
        }
        finish_event(key, &draft, &self.version)
    }

    /// The unsigned `m.room.member` join of `user` that make_join answers, built on the
    /// current state (auth events, prev events, depth); the joining server signs it.
    pub fn join_template(&self, user: &str) -> Value {
        let content = json!({"membership": "join"});
        json!({
            "type": "m.room.member",
            "room_id": self.room_id,
            "sender": user,
            "state_key": user,
            "content": content,
            "origin_server_ts": now_ms(),
            "prev_events": self.latest,
            "auth_events": self.auth_events_for("m.room.member", user, Some(user), &content),
            "depth": self.depth + 1,
        })
    }

    /// The send_join answer's `state` (the current state) and `auth_chain` (every event
    /// reachable through the auth events of those), without `event_id` fields.
    pub fn join_answer(&self) -> (Vec<Value>, Vec<Value>) {
        let state: Vec<Value> = self.state.values().cloned().collect();
        let mut seen = std::collections::BTreeSet::new();
        let mut todo: Vec<String> = state
            .iter()
            .flat_map(|e| string_list(e, "auth_events"))
            .collect();
        let mut chain = Vec::new();
        while let Some(id) = todo.pop() {
            if !seen.insert(id.clone()) {
                continue;
            }
            if let Some(ev) = self.events.get(&id) {
                todo.extend(string_list(ev, "auth_events"));
                chain.push(ev.clone());
            }
        }
        let strip = |mut e: Value| {
            if let Some(o) = e.as_object_mut() {
                o.remove("event_id");
            }
            e
        };
        (
            state.into_iter().map(strip).collect(),
            chain.into_iter().map(strip).collect(),
        )
    }

    /// Events for `/backfill`: the events `from` and those before them (breadth-first
    /// through prev_events), at most `limit`, newest first, without `event_id` fields.
    pub fn backfill(&self, from: &[String], limit: usize) -> Vec<Value> {
        let mut seen = std::collections::BTreeSet::new();
        let mut queue: std::collections::VecDeque<String> = from.iter().cloned().collect();
        let mut out = Vec::new();
        while let Some(id) = queue.pop_front() {
            if out.len() >= limit {
                break;
            }
            if !seen.insert(id.clone()) {
                continue;
            }
            if let Some(ev) = self.events.get(&id) {
                queue.extend(prev_events(ev));
                let mut ev = ev.clone();
                if let Some(o) = ev.as_object_mut() {
                    o.remove("event_id");
                }
                out.push(ev);
            }
        }
        out
    }

    /// Events for `get_missing_events`: walk back from `latest` through prev_events, stopping
    /// at `earliest`, oldest first, at most `limit`.
    pub fn missing_events(
        &self,
        earliest: &[String],
        latest: &[String],
        limit: usize,
    ) -> Vec<Value> {
        let mut out: Vec<(u64, Value)> = Vec::new();
        let mut queue: Vec<String> = latest
            .iter()
            .filter_map(|id| self.events.get(id))
            .flat_map(prev_events)
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        while let Some(id) = queue.pop() {
            if out.len() >= limit || earliest.contains(&id) || !seen.insert(id.clone()) {
                continue;
            }
            if let Some(ev) = self.events.get(&id) {
                queue.extend(prev_events(ev));
                out.push((
                    ev.get("depth").and_then(Value::as_u64).unwrap_or(0),
                    ev.clone(),
                ));
            }
        }
        out.sort_by_key(|(d, _)| *d);
        out.into_iter().map(|(_, e)| e).collect()
    }
}

fn prev_events(event: &Value) -> Vec<String> {
    string_list(event, "prev_events")
}

/// The strings of the array at `value[key]` (empty when absent or not an array).
pub fn string_list(value: &Value, key: &str) -> Vec<String> {
    value
        .get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// A brand-new room created by `creator` on `key`'s server (create, creator's join, power
/// levels, join rules `invite`, history visibility `shared`), room version 10.
pub fn create_room(key: &ServerKey, creator: &str) -> Result<Room, FederationError> {
    let version = "10";
    let local = uuid::Uuid::new_v4().simple().to_string();
    let room_id = format!("!{}:{}", &local[..18], key.server_name());
    let mut room = Room::new(&room_id, version);
    let none = serde_json::Map::new();
    let steps: [(&str, Option<&str>, Value); 5] = [
        (
            "m.room.create",
            Some(""),
            json!({"creator": creator, "room_version": version}),
        ),
        (
            "m.room.member",
            Some(creator),
            json!({"membership": "join"}),
        ),
        (
            "m.room.power_levels",
            Some(""),
            json!({"users": {creator: 100}, "users_default": 0, "events_default": 0,
                   "state_default": 50, "invite": 0, "kick": 50, "ban": 50, "redact": 50}),
        ),
        (
            "m.room.join_rules",
            Some(""),
            json!({"join_rule": "invite"}),
        ),
        (
            "m.room.history_visibility",
            Some(""),
            json!({"history_visibility": "shared"}),
        ),
    ];
    for (kind, sk, content) in steps {
        let (id, ev) = room.mint(key, kind, creator, sk, &content, &none)?;
        let mut stored = ev.clone();
        stored["event_id"] = json!(id);
        room.learn(&stored, true);
    }
    Ok(room)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_room_chains_events_and_ids_are_reference_hashes() {
        let key = ServerKey::generate("localhost:9", "k").unwrap();
        let room = create_room(&key, "@u:localhost:9").unwrap();
        assert_eq!(room.events.len(), 5);
        assert_eq!(room.depth, 5);
        let create_id = room.state_id("m.room.create", "").unwrap();
        assert!(create_id.starts_with('$'));
        let (_, msg) = room
            .mint(
                &key,
                "m.room.message",
                "@u:localhost:9",
                None,
                &json!({"body": "x"}),
                &Default::default(),
            )
            .unwrap();
        let auth: Vec<String> = serde_json::from_value(msg["auth_events"].clone()).unwrap();
        assert_eq!(auth.len(), 3);
        assert!(auth.contains(&create_id));
        assert_eq!(msg["depth"], 6);
        let missing = room.missing_events(&[], &room.latest.clone(), 10);
        assert_eq!(missing.len(), 4);
    }

    #[test]
    fn a_big_integer_in_content_is_hashed_as_written_and_signed_in_redacted_form() {
        let key = ServerKey::generate("localhost:9", "k").expect("key");
        let room = create_room(&key, "@u:localhost:9").expect("room");
        let content: Value =
            serde_json::from_str(r#"{"body": "big", "n": 9007199254740993}"#).expect("json");
        let (id, ev) = room
            .mint(
                &key,
                "m.room.message",
                "@u:localhost:9",
                None,
                &content,
                &Default::default(),
            )
            .expect("minted");
        assert_eq!(ev["content"]["n"].to_string(), "9007199254740993");
        let mut unhashed = ev.clone();
        if let Some(o) = unhashed.as_object_mut() {
            o.remove("signatures");
            o.remove("hashes");
        }
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(crate::federation::lenient_json::encode(&unhashed));
        let want = ruma::serde::Base64::<ruma::serde::base64::Standard, _>::new(digest.to_vec());
        assert_eq!(ev["hashes"]["sha256"], json!(want.encode()));
        // The redacted form (empty content) carries a valid signature and gives the id.
        let mut redacted = ev.clone();
        redacted["content"] = json!({});
        let object = to_canonical_object(&redacted).expect("canonical");
        let rules = rules("10").expect("rules");
        ruma::signatures::verify_event(&key.public_key_map(), &object, &rules)
            .expect("signature verifies");
        assert_eq!(event_id(&redacted, "10").expect("id"), id);
    }

    #[test]
    fn non_canonical_state_content_is_refused() {
        let key = ServerKey::generate("localhost:9", "k").expect("key");
        let room = create_room(&key, "@u:localhost:9").expect("room");
        let content = json!({"n": 1.5});
        let made = room.mint(
            &key,
            "m.room.topic",
            "@u:localhost:9",
            Some(""),
            &content,
            &Default::default(),
        );
        assert!(made.is_err());
    }

    #[test]
    fn join_template_and_answer_follow_the_state() {
        let key = ServerKey::generate("localhost:9", "k").expect("key");
        let room = create_room(&key, "@u:localhost:9").expect("room");
        let t = room.join_template("@a:hs");
        assert_eq!(t["state_key"], json!("@a:hs"));
        assert_eq!(t["prev_events"], json!(room.latest));
        let auth = string_list(&t, "auth_events");
        // create, power levels, join rules (alice has no membership yet)
        assert_eq!(auth.len(), 3);
        let (state, chain) = room.join_answer();
        assert_eq!(state.len(), 5);
        assert!(state.iter().all(|e| e.get("event_id").is_none()));
        // every state event but the create has auth events; the chain holds the create,
        // the creator's join and the power levels
        assert_eq!(chain.len(), 3);
    }

    #[test]
    fn backfill_walks_back_from_the_given_events() {
        let key = ServerKey::generate("localhost:9", "k").expect("key");
        let room = create_room(&key, "@u:localhost:9").expect("room");
        let latest = room.latest.clone();
        let all = room.backfill(&latest, 100);
        assert_eq!(all.len(), 5);
        assert_eq!(
            all.last().map(|e| e["type"].clone()),
            Some(json!("m.room.create"))
        );
        assert_eq!(room.backfill(&latest, 2).len(), 2);
        assert!(room.backfill(&["$unknown".to_owned()], 10).is_empty());
    }
}
