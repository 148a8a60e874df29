//! The `Authorization: X-Matrix ...` header of federation requests (spec: server-server API,
//! "Request Authentication"), built and verified with ruma's [`XMatrix`] and signing types.
//!
//! The signed object is `{method, uri, origin, destination[, content]}` where `uri` is the
//! path plus query string exactly as sent.

use ruma::api::federation::authentication::XMatrix;
use ruma::signatures::PublicKeyMap;
use ruma::{CanonicalJsonObject, CanonicalJsonValue, OwnedServerName, OwnedServerSigningKeyId};
use serde_json::Value;

use super::FederationError;
use super::keys::{ServerKey, to_canonical_object};

/// The JSON object a request signature covers.
pub fn request_object(
    method: &str,
    uri: &str,
    origin: &str,
    destination: &str,
    content: Option<&Value>,
) -> Result<CanonicalJsonObject, FederationError> {
    let mut object = CanonicalJsonObject::new();
    object.insert(
        "method".into(),
        CanonicalJsonValue::String(method.to_owned()),
    );
    object.insert("uri".into(), CanonicalJsonValue::String(uri.to_owned()));
    object.insert(
        "origin".into(),
        CanonicalJsonValue::String(origin.to_owned()),
    );
    object.insert(
        "destination".into(),
        CanonicalJsonValue::String(destination.to_owned()),
    );
    if let Some(content) = content {
        let content = CanonicalJsonValue::try_from(content.clone())
            .map_err(|e| FederationError::Sign(format!("body has no canonical JSON form: {e}")))?;
        object.insert("content".into(), content);
    }
    Ok(object)
}

/// The signature (unpadded base64) of a request, signed by `key` as origin `origin`.
pub fn request_signature(
    key: &ServerKey,
    method: &str,
    uri: &str,
    origin: &str,
    destination: &str,
    content: Option<&Value>,
) -> Result<String, FederationError> {
    let canonical = match request_object(method, uri, origin, destination, content) {
        Ok(object) => ruma::signatures::to_canonical_json_string_for_signing(&object)
            .map_err(|e| FederationError::Sign(e.to_string()))?,
        // A body with a float or a big integer (an event a receiver must discard): signed
        // as a receiver that parsed it would re-encode it.
        Err(_) if content.is_some() => super::lenient_json::encode(&serde_json::json!({
            "method": method,
            "uri": uri,
            "origin": origin,
            "destination": destination,
            "content": content,
        })),
        Err(e) => return Err(e),
    };
    Ok(key.sign_bytes(canonical.as_bytes()))
}

/// The header value `X-Matrix origin="..",destination="..",key="..",sig=".."` for a request
/// from `key`'s server to `destination`.
pub fn authorization(
    key: &ServerKey,
    method: &str,
    uri: &str,
    destination: &str,
    content: Option<&Value>,
) -> Result<String, FederationError> {
    let sig = request_signature(key, method, uri, key.server_name(), destination, content)?;
    format_header(key.server_name(), Some(destination), &key.key_id(), &sig)
}

/// Format the header from its parts with ruma's formatter (quoting as RFC 9110 requires).
/// `destination: None` leaves the parameter out (older senders did).
pub fn format_header(
    origin: &str,
    destination: Option<&str>,
    key_id: &str,
    sig: &str,
) -> Result<String, FederationError> {
    let origin = OwnedServerName::try_from(origin)
        .map_err(|e| FederationError::Sign(format!("origin {origin:?}: {e}")))?;
    let key = OwnedServerSigningKeyId::try_from(key_id)
        .map_err(|e| FederationError::Sign(format!("key id {key_id:?}: {e}")))?;
    let sig = ruma::serde::Base64::parse(sig)
        .map_err(|e| FederationError::Sign(format!("signature is not base64: {e}")))?;
    let dest = match destination {
        Some(d) => OwnedServerName::try_from(d)
            .map_err(|e| FederationError::Sign(format!("destination {d:?}: {e}")))?,
        None => origin.clone(),
    };
    let mut header = XMatrix::new(origin, dest, key, sig);
    if destination.is_none() {
        header.destination = None;
    }
    Ok(header.to_string())
}

/// Fill a hand-written header layout with a request's parts: `{origin}`, `{destination}`,
/// `{key}` and `{sig}` become the values as they are, `{origin_escaped}` (and so on) the value
/// with a backslash before every character (a quoted value's escapes, which the recipient must
/// undo). Everything else is kept verbatim, so a scenario chooses names, order, case, quoting
/// and spacing (spec: "Request Authentication", the header format).
pub fn fill_template(
    template: &str,
    origin: &str,
    destination: &str,
    key_id: &str,
    sig: &str,
) -> String {
    let escaped = |v: &str| v.chars().flat_map(|c| ['\\', c]).collect::<String>();
    let mut out = template.to_owned();
    for (name, value) in [
        ("origin", origin),
        ("destination", destination),
        ("key", key_id),
        ("sig", sig),
    ] {
        out = out.replace(&format!("{{{name}_escaped}}"), &escaped(value));
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// Why an inbound request's authentication was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// No `Authorization` header.
    #[error("no Authorization header")]
    Missing,
    /// The header is not a well-formed X-Matrix scheme.
    #[error("malformed X-Matrix header: {0}")]
    Malformed(String),
    /// `destination` is present and is not this server.
    #[error("destination {got:?} is not this server ({expected})")]
    WrongDestination {
        /// What the header said.
        got: String,
        /// This server's name.
        expected: String,
    },
    /// The origin's key is not known.
    #[error("no key {key} known for {origin}")]
    UnknownKey {
        /// The origin.
        origin: String,
        /// The key id.
        key: String,
    },
    /// The signature does not verify.
    #[error("signature does not verify: {0}")]
    BadSignature(String),
}

/// The authenticated sender of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The origin server.
    pub origin: String,
    /// The key id that signed.
    pub key_id: String,
}

/// Parse an `Authorization` header value (`None`: absent).
pub fn parse(header: Option<&str>) -> Result<XMatrix, AuthFailure> {
    let header = header.ok_or(AuthFailure::Missing)?;
    XMatrix::parse(header).map_err(|e| AuthFailure::Malformed(e.to_string()))
}

/// Verify an inbound request: `header` is its `Authorization` value, `uri` its path and
/// query as received, `body` its raw body (empty for none), `this_server` the receiving
/// server's name, `keys` the public keys known for the origin.
pub fn verify(
    header: Option<&str>,
    method: &str,
    uri: &str,
    body: &[u8],
    this_server: &str,
    keys: &PublicKeyMap,
) -> Result<Verified, AuthFailure> {
    let parsed = parse(header)?;
    verify_parsed(&parsed, method, uri, body, this_server, keys)
}

/// [`verify`] for an already parsed header (e.g. after fetching the origin's keys).
pub fn verify_parsed(
    parsed: &XMatrix,
    method: &str,
    uri: &str,
    body: &[u8],
    this_server: &str,
    keys: &PublicKeyMap,
) -> Result<Verified, AuthFailure> {
    if let Some(dest) = &parsed.destination
        && dest.as_str() != this_server
    {
        return Err(AuthFailure::WrongDestination {
            got: dest.to_string(),
            expected: this_server.to_owned(),
        });
    }
    let origin = parsed.origin.to_string();
    let key_id = parsed.key.to_string();
    let Some(public) = keys.get(&origin).and_then(|set| set.get(&key_id)) else {
        return Err(AuthFailure::UnknownKey {
            origin,
            key: key_id,
        });
    };
    let content = if body.is_empty() {
        None
    } else {
        Some(
            serde_json::from_slice::<Value>(body)
                .map_err(|e| AuthFailure::BadSignature(format!("body is not JSON: {e}")))?,
        )
    };
    let object = request_object(method, uri, &origin, this_server, content.as_ref())
        .map_err(|e| AuthFailure::BadSignature(e.to_string()))?;
    let canonical = ruma::signatures::to_canonical_json_string_for_signing(&object)
        .map_err(|e| AuthFailure::BadSignature(e.to_string()))?;
    ruma::signatures::verify_canonical_json_bytes(
        &ruma::SigningKeyAlgorithm::Ed25519,
        public.as_bytes(),
        parsed.sig.as_bytes(),
        canonical.as_bytes(),
    )
    .map_err(|e| AuthFailure::BadSignature(e.to_string()))?;
    Ok(Verified { origin, key_id })
}

/// Whether `value` is a JSON object that can be signed (helper for callers checking bodies).
pub fn is_signable(value: &Value) -> bool {
    to_canonical_object(value).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::federation::keys::tests::spec_key;
    use serde_json::json;

    #[test]
    fn template_fills_parts_and_escapes_on_request() {
        let header = fill_template(
            "X-Matrix SIG={sig},Key=\"{key_escaped}\",ORIGIN={origin},{destination}",
            "o.example:8448",
            "d.example",
            "ed25519:1",
            "c2ln",
        );
        assert_eq!(
            header,
            "X-Matrix SIG=c2ln,Key=\"\\e\\d\\2\\5\\5\\1\\9\\:\\1\",ORIGIN=o.example:8448,d.example"
        );
    }

    #[test]
    fn signed_request_verifies_and_round_trips_through_ruma() {
        let key = spec_key();
        let body = json!({"pdus": [], "edus": []});
        let uri = "/_matrix/federation/v1/send/123?x=y";
        let header = authorization(&key, "PUT", uri, "target.example", Some(&body)).unwrap();
        assert!(header.starts_with("X-Matrix "), "{header}");
        assert!(header.contains("origin=domain"), "{header}");
        let raw = serde_json::to_vec(&body).unwrap();
        let ok = verify(
            Some(&header),
            "PUT",
            uri,
            &raw,
            "target.example",
            &key.public_key_map(),
        )
        .unwrap();
        assert_eq!(ok.origin, "domain");
        assert_eq!(ok.key_id, "ed25519:1");
        // ruma's own verifier agrees.
        let req = http::Request::builder()
            .method("PUT")
            .uri(uri)
            .body(raw.clone())
            .unwrap();
        let parsed = parse(Some(&header)).unwrap();
        parsed
            .verify_http_request(
                &req,
                &OwnedServerName::try_from("target.example").unwrap(),
                &key.public_key_map(),
            )
            .unwrap();
    }

    #[test]
    fn a_body_without_canonical_form_is_signed_over_its_lenient_encoding() {
        let key = spec_key();
        let body: Value = serde_json::from_str(r#"{"pdus": [{"n": 9007199254740993}]}"#).unwrap();
        let sig = request_signature(&key, "PUT", "/t", "domain", "other", Some(&body)).unwrap();
        let want = crate::federation::lenient_json::encode(&json!({
            "method": "PUT", "uri": "/t", "origin": "domain", "destination": "other", "content": body,
        }));
        assert_eq!(sig, key.sign_bytes(want.as_bytes()));
    }

    #[test]
    fn signature_matches_the_spec_json_signing_algorithm() {
        // The request object signed with sign_json gives the same signature as the header.
        let key = spec_key();
        let object = json!({"method": "GET", "uri": "/_matrix/federation/v1/version",
            "origin": "domain", "destination": "other"});
        let signed = key.sign_json(&object).unwrap();
        let sig = request_signature(
            &key,
            "GET",
            "/_matrix/federation/v1/version",
            "domain",
            "other",
            None,
        )
        .unwrap();
        assert_eq!(signed["signatures"]["domain"]["ed25519:1"], sig);
    }

    #[test]
    fn tampering_is_detected() {
        let key = spec_key();
        let map = key.public_key_map();
        let body = serde_json::to_vec(&json!({"a": 1})).unwrap();
        let header = authorization(&key, "POST", "/p?q=1", "hs", Some(&json!({"a": 1}))).unwrap();
        // Another query string, method, body or destination breaks the signature.
        assert!(matches!(
            verify(Some(&header), "POST", "/p?q=2", &body, "hs", &map),
            Err(AuthFailure::BadSignature(_))
        ));
        assert!(matches!(
            verify(Some(&header), "PUT", "/p?q=1", &body, "hs", &map),
            Err(AuthFailure::BadSignature(_))
        ));
        assert!(matches!(
            verify(Some(&header), "POST", "/p?q=1", b"{\"a\":2}", "hs", &map),
            Err(AuthFailure::BadSignature(_))
        ));
        assert!(matches!(
            verify(Some(&header), "POST", "/p?q=1", &body, "other", &map),
            Err(AuthFailure::WrongDestination { .. })
        ));
        assert_eq!(
            verify(None, "POST", "/p?q=1", &body, "hs", &map),
            Err(AuthFailure::Missing)
        );
        assert!(matches!(
            verify(Some("Bearer abc"), "POST", "/p", &body, "hs", &map),
            Err(AuthFailure::Malformed(_))
        ));
        assert!(matches!(
            verify(
                Some(&header),
                "POST",
                "/p?q=1",
                &body,
                "hs",
                &Default::default()
            ),
            Err(AuthFailure::UnknownKey { .. })
        ));
    }

    #[test]
    fn header_without_destination_is_accepted() {
        let key = spec_key();
        let sig = request_signature(&key, "GET", "/x", "domain", "hs", None).unwrap();
        let header = format_header("domain", None, "ed25519:1", &sig).unwrap();
        assert!(!header.contains("destination"), "{header}");
        verify(Some(&header), "GET", "/x", b"", "hs", &key.public_key_map()).unwrap();
    }
}
