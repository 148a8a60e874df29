//! Canonical-JSON-shaped encoding of values that have no canonical JSON form (floats,
//! integers beyond ±2^53): sorted keys, no whitespace, numbers as written. Lets a fake
//! server sign events and requests carrying such values, so checks can see that a receiver
//! discards them (room versions 6 and later: "Servers MUST strictly enforce the JSON
//! format") rather than refusing a broken signature.

use serde_json::Value;

/// `value` encoded like canonical JSON: object keys sorted by their UTF-8 bytes, no
/// insignificant whitespace, strings escaped as serde_json does, numbers as serde_json
/// prints them (`1.5`, `9007199254740993`).
pub fn encode(value: &Value) -> String {
    let mut out = String::new();
    write(value, &mut out);
    out
}

fn write(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(*k) {
                    write(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_and_nothing_is_spaced() {
        let v = json!({"b": [1, {"z": null, "a": true}], "a": "x\ny"});
        assert_eq!(encode(&v), r#"{"a":"x\ny","b":[1,{"a":true,"z":null}]}"#);
    }

    #[test]
    fn values_without_a_canonical_form_are_written_as_they_are() {
        let v: Value = serde_json::from_str(r#"{"n": 9007199254740993, "f": 1.5}"#).expect("json");
        assert_eq!(encode(&v), r#"{"f":1.5,"n":9007199254740993}"#);
    }

    #[test]
    fn canonical_values_encode_as_ruma_does() {
        let v = json!({"é": "ü", "b": -5, "a": {"c": [], "b": {}}});
        let object = crate::federation::keys::to_canonical_object(&v).expect("canonical");
        let ruma = ruma::signatures::to_canonical_json_string_for_signing(&object).expect("ruma");
        assert_eq!(encode(&v), ruma);
    }
}
