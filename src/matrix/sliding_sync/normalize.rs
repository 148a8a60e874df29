//! Normalising sliding-sync responses of every dialect into one shape (MSC4186 names) so one
//! scenario checks them all: `lists.<name>.room_ids` in list order, `stripped_state`,
//! `expanded_timeline`.

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
    let room_lists = v4_room_lists(&top);
    if let Some(Value::Object(lists)) = top.get_mut("lists") {
        for (name, list) in lists.iter_mut() {
            let Value::Object(l) = list else { continue };
            if l.contains_key("room_ids") {
                continue;
            }
            let ids = match (dialect, l.get("ops")) {
                (Dialect::V4, _) | (_, None) => room_lists
                    .iter()
                    .filter(|(_, lists, _)| lists.contains(name))
                    .map(|(id, _, _)| json!(id))
                    .collect(),
                (_, Some(Value::Array(ops))) => ops
                    .iter()
                    .filter(|op| op.get("op").and_then(Value::as_str) == Some("SYNC"))
                    .flat_map(|op| {
                        op.get("room_ids")
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default()
                    })
                    .collect(),
                _ => Vec::new(),
            };
            l.insert("room_ids".into(), Value::Array(ids));
        }
    }
    Value::Object(top)
}

fn rename(map: &mut Map<String, Value>, from: &str, to: &str) {
    if let Some(v) = map.remove(from) {
        map.entry(to.to_owned()).or_insert(v);
    }
}

/// (room id, lists it is in, bump_stamp) for v4 responses, newest first.
fn v4_room_lists(top: &Map<String, Value>) -> Vec<(String, Vec<String>, i64)> {
    let mut out: Vec<(String, Vec<String>, i64)> = top
        .get("rooms")
        .and_then(Value::as_object)
        .map(|rooms| {
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
                    let bump = r.get("bump_stamp").and_then(Value::as_i64).unwrap_or(0);
                    (id.clone(), lists, bump)
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    out
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

    #[test]
    fn v4_room_lists_become_room_ids_by_recency() {
        let body = json!({"pos": "1", "lists": {"all": {"count": 2}},
            "rooms": {"!a:x": {"lists": ["all"], "bump_stamp": 5}, "!b:x": {"lists": ["all"], "bump_stamp": 9}, "!c:x": {"lists": ["other"], "bump_stamp": 10}}});
        let n = normalize(body, Dialect::V4);
        assert_eq!(n["lists"]["all"]["room_ids"], json!(["!b:x", "!a:x"]));
    }
}
