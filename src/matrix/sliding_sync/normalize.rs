//! Normalising sliding-sync responses of every dialect into one shape (MSC4186 names) so one
//! scenario checks them all: `lists.<name>.room_ids` as the server sent them, `stripped_state`,
//! `expanded_timeline`.
//!
//! List order is never rebuilt from `bump_stamp` (MSC4186, "Activity ordering": "Rooms are
//! ***not*** ordered by `bump_stamp`"). The dialects with `ops` (MSC3575 and Synapse's
//! simplified one) give each room its index in the window: `room_ids` is the window in index
//! order after applying the ops in the order sent. MSC4186 as merged sends no index (a list
//! result is only its `count`; a room names the lists it matches in `lists`): `room_ids` is
//! then the rooms of the list in the order of the response's `rooms`, which says which rooms
//! are in the window and nothing about their order. Scenarios check order through ranges.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::Dialect;

/// Normalise a response body (any non-object body is returned unchanged).
pub fn normalize(body: Value, dialect: Dialect) -> Value {
    let Value::Object(mut top) = body else {
        return body;
    };
    if let Some(Value::Object(rooms)) = top.get_mut("rooms") {
        for room in rooms.values_mut() {
            if let Value::Object(r) = room {
                rename(r, "invite_state", "stripped_state");
                rename(r, "unstable_expanded_timeline", "expanded_timeline");
            }
        }
    }
    let room_lists = rooms_with_lists(&top);
    if let Some(Value::Object(lists)) = top.get_mut("lists") {
        for (name, list) in lists.iter_mut() {
            let Value::Object(l) = list else { continue };
            if l.contains_key("room_ids") {
                continue;
            }
            let ids: Vec<Value> = match (dialect, l.get("ops")) {
                (Dialect::V4, _) | (_, None) => room_lists
                    .iter()
                    .filter(|(_, lists)| lists.contains(name))
                    .map(|(id, _)| json!(id))
                    .collect(),
                (_, Some(Value::Array(ops))) => {
                    window(ops).into_values().map(Value::String).collect()
                }
                _ => Vec::new(),
            };
            l.insert("room_ids".into(), Value::Array(ids));
        }
    }
    Value::Object(top)
}

/// The window built from MSC3575 ops in the order sent: `SYNC` and `INVALIDATE` write and
/// clear a range, `INSERT` and `DELETE` shift the entries after their index. Index -> room.
fn window(ops: &[Value]) -> BTreeMap<u64, String> {
    let mut w: BTreeMap<u64, String> = BTreeMap::new();
    for op in ops {
        let range = op
            .get("range")
            .and_then(Value::as_array)
            .and_then(|r| Some((r.first()?.as_u64()?, r.get(1)?.as_u64()?)));
        let index = op.get("index").and_then(Value::as_u64);
        match (op.get("op").and_then(Value::as_str), range, index) {
            (Some("SYNC"), Some((first, _)), _) => {
                let ids = op.get("room_ids").and_then(Value::as_array);
                for (i, id) in ids.into_iter().flatten().enumerate() {
                    if let (Some(id), Ok(i)) = (id.as_str(), u64::try_from(i)) {
                        w.insert(first.saturating_add(i), id.to_owned());
                    }
                }
            }
            (Some("INVALIDATE"), Some((first, last)), _) => {
                w.retain(|k, _| *k < first || *k > last);
            }
            (Some("DELETE"), _, Some(at)) => {
                w.remove(&at);
                w = w
                    .into_iter()
                    .map(|(k, v)| (if k > at { k - 1 } else { k }, v))
                    .collect();
            }
            (Some("INSERT"), _, Some(at)) => {
                let Some(id) = op.get("room_id").and_then(Value::as_str) else {
                    continue;
                };
                w = w
                    .into_iter()
                    .map(|(k, v)| (if k >= at { k.saturating_add(1) } else { k }, v))
                    .collect();
                w.insert(at, id.to_owned());
            }
            _ => {}
        }
    }
    w
}

fn rename(map: &mut Map<String, Value>, from: &str, to: &str) {
    if let Some(v) = map.remove(from) {
        map.entry(to.to_owned()).or_insert(v);
    }
}

/// (room id, lists it is in) in the order of the response's `rooms`.
fn rooms_with_lists(top: &Map<String, Value>) -> Vec<(String, Vec<String>)> {
    let Some(rooms) = top.get("rooms").and_then(Value::as_object) else {
        return Vec::new();
    };
    rooms
        .iter()
        .map(|(id, r)| {
            let lists = r
                .get("lists")
                .and_then(Value::as_array)
                .map(|l| {
                    l.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            (id.clone(), lists)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simplified_ops_become_room_ids_and_names_are_unified() {
        let body = json!({"pos": "1", "lists": {"all": {"count": 2, "ops": [{"op": "SYNC", "range": [0, 1], "room_ids": ["!b:x", "!a:x"]}]}},
            "rooms": {"!a:x": {"invite_state": [], "unstable_expanded_timeline": true}}});
        let n = normalize(body, Dialect::Simplified);
        assert_eq!(n["lists"]["all"]["room_ids"], json!(["!b:x", "!a:x"]));
        assert_eq!(n["rooms"]["!a:x"]["stripped_state"], json!([]));
        assert_eq!(n["rooms"]["!a:x"]["expanded_timeline"], json!(true));
        assert!(n["rooms"]["!a:x"].get("invite_state").is_none());
    }

    /// MSC4186: "Rooms are ***not*** ordered by `bump_stamp`": the rooms keep the order the
    /// server wrote them in, whatever their bump_stamp says.
    #[test]
    fn v4_room_ids_keep_the_servers_order_not_bump_stamp() {
        let body = json!({"pos": "1", "lists": {"all": {"count": 3}},
            "rooms": {"!a:x": {"lists": ["all"], "bump_stamp": 5}, "!c:x": {"lists": ["other"], "bump_stamp": 10}, "!b:x": {"lists": ["all"], "bump_stamp": 9}, "!d:x": {"lists": ["all"]}}});
        let n = normalize(body, Dialect::V4);
        assert_eq!(
            n["lists"]["all"]["room_ids"],
            json!(["!a:x", "!b:x", "!d:x"])
        );
        assert_eq!(n["lists"]["other"], Value::Null, "no list invented");
    }

    /// Each SYNC op puts its rooms at the indices of its range, whatever order the ops come
    /// in; bump_stamp plays no part.
    #[test]
    fn ops_place_rooms_at_their_indices() {
        let body = json!({"pos": "1", "lists": {"all": {"count": 4, "ops": [
                {"op": "SYNC", "range": [2, 3], "room_ids": ["!c:x", "!d:x"]},
                {"op": "SYNC", "range": [0, 1], "room_ids": ["!a:x", "!b:x"]}]}},
            "rooms": {"!a:x": {"bump_stamp": 1}, "!b:x": {"bump_stamp": 2}, "!c:x": {"bump_stamp": 3}, "!d:x": {"bump_stamp": 4}}});
        let n = normalize(body, Dialect::Simplified);
        assert_eq!(
            n["lists"]["all"]["room_ids"],
            json!(["!a:x", "!b:x", "!c:x", "!d:x"])
        );
    }

    /// MSC3575 moves a room with DELETE then INSERT, and INVALIDATE empties a range.
    #[test]
    fn ops_are_applied_in_the_order_sent() {
        let body = json!({"pos": "1", "lists": {"all": {"count": 3, "ops": [
                {"op": "SYNC", "range": [0, 2], "room_ids": ["!a:x", "!b:x", "!c:x"]},
                {"op": "DELETE", "index": 2},
                {"op": "INSERT", "index": 0, "room_id": "!c:x"},
                {"op": "SYNC", "range": [5, 6], "room_ids": ["!e:x", "!f:x"]},
                {"op": "INVALIDATE", "range": [5, 6]}]}}});
        let n = normalize(body, Dialect::Msc3575Proxy);
        assert_eq!(
            n["lists"]["all"]["room_ids"],
            json!(["!c:x", "!a:x", "!b:x"])
        );
    }
}
