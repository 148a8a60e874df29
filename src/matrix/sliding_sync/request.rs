//! The dialect-neutral sliding-sync request that scenarios write, and its translation into
//! each dialect's wire format.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::Dialect;

/// Arguments of `call: sliding_sync` (MSC4186 names; translated per dialect).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlidingSyncArgs {
    /// Connection id; connections of one device progress independently.
    #[serde(default)]
    pub conn_id: Option<String>,
    /// The `pos` of the previous response (absent: initial sync).
    #[serde(default)]
    pub pos: Option<String>,
    /// Long-poll timeout in milliseconds, REQUIRED in scenarios: `0` unless the step tests
    /// long-polling, or `omit` to leave it out of the request (to test the MSC's default).
    /// MSC4186 lets a client omit it, but its examples send `timeout=0` and a server that
    /// holds an omitted timeout would fail every step of a scenario, not the one that tests it.
    pub timeout: Timeout,
    /// `online`, `offline` or `unavailable`.
    #[serde(default)]
    pub set_presence: Option<String>,
    /// Lists by name.
    #[serde(default)]
    pub lists: BTreeMap<String, ListArgs>,
    /// Room subscriptions by room id.
    #[serde(default)]
    pub room_subscriptions: BTreeMap<String, RoomArgs>,
    /// Extensions (`to_device`, `e2ee`, `account_data`, `receipts`, `typing`), sent as written.
    #[serde(default)]
    pub extensions: Option<Value>,
    /// Extra JSON merged into the translated body as is (for negative tests of one dialect).
    #[serde(default)]
    pub unchecked: Option<Value>,
}

/// The `timeout` argument: milliseconds, or `omit` to send none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Timeout {
    /// Wait at most this many milliseconds.
    Millis(u64),
    /// Leave `timeout` out of the request.
    Omit(OmitWord),
}

/// The word `omit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OmitWord {
    /// `omit`.
    Omit,
}

impl Timeout {
    /// The milliseconds to send, `None` for `omit`.
    pub fn millis(self) -> Option<u64> {
        match self {
            Timeout::Millis(t) => Some(t),
            Timeout::Omit(_) => None,
        }
    }
}

impl Default for Timeout {
    /// No wait: what a step sends unless it tests long-polling.
    fn default() -> Self {
        Timeout::Millis(0)
    }
}

impl From<Option<u64>> for Timeout {
    fn from(t: Option<u64>) -> Self {
        t.map_or(Timeout::Omit(OmitWord::Omit), Timeout::Millis)
    }
}

/// One list. `timeline_limit` and `required_state` are Required in MSC4186 (`SyncListConfig`)
/// and are sent as written, never filled in.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    /// Inclusive `[first, last]` index window; absent: all rooms.
    #[serde(default)]
    pub range: Option<[u64; 2]>,
    /// Most timeline events per room.
    pub timeline_limit: u64,
    /// `[[type, state_key], ...]` with `*`, `$ME` and `$LAZY` (members of timeline senders);
    /// `[]`: no state.
    pub required_state: Vec<[String; 2]>,
    /// Filters, MSC4186 names (`is_dm`, `is_encrypted`, `is_invited`, `room_types`,
    /// `not_room_types`, `spaces`, `tags`, `not_tags`).
    #[serde(default)]
    pub filters: Option<Map<String, Value>>,
}

/// One room subscription (both fields Required in MSC4186 `RoomSubscription`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoomArgs {
    /// Most timeline events.
    pub timeline_limit: u64,
    /// As for lists.
    pub required_state: Vec<[String; 2]>,
}

/// The wire request: query parameters and JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Wire {
    /// Query parameters (dialects that carry `pos`/`timeout` there).
    pub query: Vec<(String, String)>,
    /// JSON body.
    pub body: Value,
}

/// Translate neutral arguments into a dialect's request.
pub fn translate(args: &SlidingSyncArgs, dialect: Dialect) -> Wire {
    let mut body = Map::new();
    let mut query = Vec::new();
    if let Some(c) = &args.conn_id {
        body.insert("conn_id".into(), json!(c));
    }
    if dialect.params_in_query() {
        if let Some(p) = &args.pos {
            query.push(("pos".into(), p.clone()));
        }
        if let Some(t) = args.timeout.millis() {
            query.push(("timeout".into(), t.to_string()));
        }
        if let Some(p) = &args.set_presence {
            query.push(("set_presence".into(), p.clone()));
        }
    } else {
        if let Some(p) = &args.pos {
            body.insert("pos".into(), json!(p));
        }
        if let Some(t) = args.timeout.millis() {
            body.insert("timeout".into(), json!(t));
        }
        if let Some(p) = &args.set_presence {
            body.insert("set_presence".into(), json!(p));
        }
    }
    if !args.lists.is_empty() {
        let lists: Map<String, Value> = args
            .lists
            .iter()
            .map(|(name, l)| (name.clone(), list(l, dialect)))
            .collect();
        body.insert("lists".into(), Value::Object(lists));
    }
    if !args.room_subscriptions.is_empty() {
        let subs: Map<String, Value> = args
            .room_subscriptions
            .iter()
            .map(|(room, r)| {
                (
                    room.clone(),
                    room_config(r.timeline_limit, &r.required_state, dialect),
                )
            })
            .collect();
        body.insert("room_subscriptions".into(), Value::Object(subs));
    }
    if let Some(e) = &args.extensions {
        body.insert("extensions".into(), e.clone());
    }
    let mut body = Value::Object(body);
    if let Some(extra) = &args.unchecked {
        merge(&mut body, extra);
    }
    Wire { query, body }
}

fn list(l: &ListArgs, dialect: Dialect) -> Value {
    let mut v = room_config(l.timeline_limit, &l.required_state, dialect);
    if let Value::Object(map) = &mut v {
        if let Some([a, b]) = l.range {
            match dialect {
                Dialect::V4 => map.insert("range".into(), json!([a, b])),
                _ => map.insert("ranges".into(), json!([[a, b]])),
            };
        }
        if let Some(filters) = &l.filters {
            let mut f = filters.clone();
            if dialect != Dialect::V4
                && let Some(v) = f.remove("is_invited")
            {
                f.insert("is_invite".into(), v);
            }
            map.insert("filters".into(), Value::Object(f));
        }
    }
    v
}

fn room_config(timeline_limit: u64, required_state: &[[String; 2]], dialect: Dialect) -> Value {
    let required_state = match dialect {
        Dialect::V4 => required_state_v4(required_state),
        _ => json!(required_state),
    };
    json!({"timeline_limit": timeline_limit, "required_state": required_state})
}

/// `[[type, key], ...]` -> `{include: [{type?, state_key?}], lazy_members}`; `*` leaves the
/// field out (matches any), `$LAZY` members become `lazy_members: true`.
fn required_state_v4(rs: &[[String; 2]]) -> Value {
    let mut include = Vec::new();
    let mut lazy = false;
    for [t, k] in rs {
        if t == "m.room.member" && k == "$LAZY" {
            lazy = true;
            continue;
        }
        let mut entry = Map::new();
        if t != "*" {
            entry.insert("type".into(), json!(t));
        }
        if k != "*" {
            entry.insert("state_key".into(), json!(k));
        }
        include.push(Value::Object(entry));
    }
    let mut out = Map::new();
    out.insert("include".into(), Value::Array(include));
    if lazy {
        out.insert("lazy_members".into(), json!(true));
    }
    Value::Object(out)
}

/// Deep-merge `extra` into `base` (objects merge key by key; anything else replaces).
fn merge(base: &mut Value, extra: &Value) {
    match (base, extra) {
        (Value::Object(b), Value::Object(e)) => {
            for (k, v) in e {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, e) => *b = e.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> SlidingSyncArgs {
        serde_json::from_value(json!({
            "conn_id": "c", "pos": "5", "timeout": 100,
            "lists": {"all": {"range": [0, 9], "timeline_limit": 1,
                "required_state": [["m.room.name", ""], ["m.room.member", "$LAZY"], ["*", "*"]],
                "filters": {"is_invited": false}}},
            "room_subscriptions": {"!r:hs": {"timeline_limit": 3, "required_state": []}},
            "unchecked": {"lists": {"all": {"timeline_limit": "ten"}}}
        }))
        .expect("args")
    }

    #[test]
    fn simplified_dialect_uses_query_params_ranges_and_pairs() {
        let w = translate(&args(), Dialect::Simplified);
        assert_eq!(
            w.query,
            vec![("pos".into(), "5".into()), ("timeout".into(), "100".into())]
        );
        assert_eq!(w.body["lists"]["all"]["ranges"], json!([[0, 9]]));
        assert_eq!(
            w.body["lists"]["all"]["required_state"][1],
            json!(["m.room.member", "$LAZY"])
        );
        assert_eq!(
            w.body["lists"]["all"]["filters"],
            json!({"is_invite": false})
        );
        assert_eq!(
            w.body["lists"]["all"]["timeline_limit"],
            json!("ten"),
            "unchecked is merged last"
        );
        assert!(w.body.get("pos").is_none());
    }

    #[test]
    fn v4_dialect_uses_body_params_range_and_objects() {
        let w = translate(&args(), Dialect::V4);
        assert!(w.query.is_empty());
        assert_eq!(w.body["pos"], json!("5"));
        assert_eq!(w.body["lists"]["all"]["range"], json!([0, 9]));
        assert_eq!(
            w.body["lists"]["all"]["required_state"],
            json!({"include": [{"type": "m.room.name", "state_key": ""}, {}], "lazy_members": true})
        );
        assert_eq!(
            w.body["lists"]["all"]["filters"],
            json!({"is_invited": false})
        );
        assert_eq!(
            w.body["room_subscriptions"]["!r:hs"],
            json!({"timeline_limit": 3, "required_state": {"include": []}})
        );
    }

    #[test]
    fn timeout_is_required_and_omit_leaves_it_out() {
        let missing = serde_json::from_value::<SlidingSyncArgs>(json!({}));
        assert!(
            missing.is_err_and(|e| e.to_string().contains("timeout")),
            "a call without timeout is refused"
        );
        let omit: SlidingSyncArgs =
            serde_json::from_value(json!({"timeout": "omit", "pos": "1"})).expect("omit");
        assert_eq!(omit.timeout.millis(), None);
        assert!(translate(&omit, Dialect::V4).body.get("timeout").is_none());
        assert!(
            translate(&omit, Dialect::Simplified)
                .query
                .iter()
                .all(|(k, _)| k != "timeout")
        );
        let zero: SlidingSyncArgs = serde_json::from_value(json!({"timeout": 0})).expect("0");
        assert_eq!(translate(&zero, Dialect::V4).body["timeout"], json!(0));
        assert!(serde_json::from_value::<SlidingSyncArgs>(json!({"timeout": "soon"})).is_err());
    }

    #[test]
    fn list_and_subscription_fields_are_required_not_filled() {
        for list in [
            json!({"range": [0, 1]}),
            json!({"timeline_limit": 1}),
            json!({"required_state": []}),
        ] {
            let args = json!({"timeout": 0, "lists": {"all": list}});
            assert!(
                serde_json::from_value::<SlidingSyncArgs>(args).is_err(),
                "{list}"
            );
            let args = json!({"timeout": 0, "room_subscriptions": {"!r:hs": list}});
            assert!(
                serde_json::from_value::<SlidingSyncArgs>(args).is_err(),
                "{list}"
            );
        }
        let schema = serde_json::to_value(schemars::schema_for!(SlidingSyncArgs)).expect("schema");
        let required = |v: &Value| -> Vec<String> {
            v["required"]
                .as_array()
                .map(|r| {
                    r.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        assert_eq!(required(&schema), vec!["timeout"]);
        for def in ["ListArgs", "RoomArgs"] {
            let mut r = required(&schema["$defs"][def]);
            r.sort();
            assert_eq!(r, vec!["required_state", "timeline_limit"], "{def}");
        }
    }

    #[test]
    fn written_fields_are_sent_as_written_in_every_dialect() {
        let args: SlidingSyncArgs = serde_json::from_value(json!({
            "timeout": 0,
            "lists": {"all": {"timeline_limit": 0, "required_state": []}}
        }))
        .expect("args");
        for d in [Dialect::Msc3575Proxy, Dialect::Simplified] {
            let w = translate(&args, d);
            assert_eq!(
                w.body["lists"]["all"],
                json!({"timeline_limit": 0, "required_state": []})
            );
            assert_eq!(w.query, vec![("timeout".into(), "0".into())]);
        }
        let w = translate(&args, Dialect::V4);
        assert_eq!(
            w.body["lists"]["all"],
            json!({"timeline_limit": 0, "required_state": {"include": []}})
        );
    }
}
