//! Canonical JSON as the Matrix specification defines it (object keys sorted by code
//! point, no insignificant whitespace, integers in the ±(2^53−1) range, no floats),
//! produced by ruma's [`ruma::CanonicalJsonValue`]. Signer and verifier both sign /
//! verify these bytes, so the signature does not depend on how the bundle is laid out.

use serde_json::Value;

/// Why a value has no canonical form (a float, or an integer out of range).
#[derive(Debug, thiserror::Error)]
#[error("the certificate has no canonical JSON form: {0}")]
pub struct CanonicalError(#[from] ruma::CanonicalJsonError);

/// The canonical JSON text of `value`.
pub fn to_canonical_string(value: &Value) -> Result<String, CanonicalError> {
    let canonical = ruma::CanonicalJsonValue::try_from(value.clone())?;
    Ok(canonical.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_at_every_depth_and_drops_whitespace() {
        let value = json!({
            "b": 1,
            "a": {"z": [3, {"y": true, "x": null}], "m": "é\n"},
            "A": -2
        });
        assert_eq!(
            to_canonical_string(&value).unwrap(),
            r#"{"A":-2,"a":{"m":"é\n","z":[3,{"x":null,"y":true}]},"b":1}"#
        );
    }

    #[test]
    fn insertion_order_and_layout_do_not_matter() {
        // serde_json has `preserve_order` in this crate, so these two Values keep their
        // different key orders; the canonical text must still be identical.
        let one: Value = serde_json::from_str(r#"{"x": 1, "y": {"q": 2, "p": 3}}"#).unwrap();
        let two: Value = serde_json::from_str("{ \"y\":{\"p\":3,\n\"q\":2},\"x\":1 }").unwrap();
        assert_ne!(one.to_string(), two.to_string());
        assert_eq!(
            to_canonical_string(&one).unwrap(),
            to_canonical_string(&two).unwrap()
        );
        assert_eq!(
            to_canonical_string(&one).unwrap(),
            r#"{"x":1,"y":{"p":3,"q":2}}"#
        );
    }

    #[test]
    fn rejects_floats() {
        assert!(to_canonical_string(&json!({"x": 1.5})).is_err());
    }
}
