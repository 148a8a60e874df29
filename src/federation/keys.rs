//! A homeserver's ed25519 signing key (ruma-signatures): its key id, the self-signed
//! `/_matrix/key/v2/server` document, and signing of JSON objects and events.

use std::collections::BTreeMap;
use std::sync::Arc;

use ed25519_dalek::pkcs8::EncodePrivateKey as _;
use ruma::CanonicalJsonObject;
use ruma::room_version_rules::RedactionRules;
use ruma::serde::Base64;
use ruma::signatures::{Ed25519KeyPair, KeyPair as _, PublicKeyMap};
use serde_json::{Value, json};

use super::FederationError;

/// How long a served key document says it is valid: five minutes.
///
/// A receiver may cache a server's keys until `valid_until_ts` ("Servers MUST use the lesser
/// of this field and 7 days into the future when determining if a key is valid", Retrieving
/// server keys), and fake servers live for one scenario only. A long validity lets whatever a
/// receiver remembered about one fake server (its key, or a back-off after a deliberately
/// forged request) outlive that scenario and reach the next one; a few minutes covers one
/// scenario, and every fetch gets a fresh document (`now + validity`) while the server runs.
pub const KEY_VALIDITY_MS: u64 = 5 * 60 * 1000;

/// A server name with one ed25519 signing key.
#[derive(Clone)]
pub struct ServerKey {
    server_name: String,
    version: String,
    pair: Arc<Ed25519KeyPair>,
}

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerKey")
            .field("server_name", &self.server_name)
            .field("key_id", &self.key_id())
            .finish_non_exhaustive()
    }
}

impl ServerKey {
    /// A fresh random key `ed25519:<version>` for `server_name` (version chars `[a-zA-Z0-9_]`).
    pub fn generate(server_name: &str, version: &str) -> Result<Self, FederationError> {
        let key =
            crate::signing_keys::generate().map_err(|e| FederationError::Key(e.to_string()))?;
        Self::from_signing_key(server_name, version, &key)
    }

    /// The key with this 32-byte ed25519 seed (for the spec's test vectors).
    pub fn from_seed(
        server_name: &str,
        version: &str,
        seed: &[u8; 32],
    ) -> Result<Self, FederationError> {
        let key = ed25519_dalek::SigningKey::from_bytes(seed);
        Self::from_signing_key(server_name, version, &key)
    }

    fn from_signing_key(
        server_name: &str,
        version: &str,
        key: &ed25519_dalek::SigningKey,
    ) -> Result<Self, FederationError> {
        if version.is_empty()
            || !version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(FederationError::Key(format!(
                "key version {version:?} must be [a-zA-Z0-9_]+"
            )));
        }
        let der = key
            .to_pkcs8_der()
            .map_err(|e| FederationError::Key(format!("cannot encode the key: {e}")))?;
        let pair = Ed25519KeyPair::from_der(der.as_bytes(), version.to_owned())
            .map_err(|e| FederationError::Key(format!("cannot load the key: {e}")))?;
        Ok(Self {
            server_name: server_name.to_owned(),
            version: version.to_owned(),
            pair: Arc::new(pair),
        })
    }

    /// The same key under another server name (a fake server learns its name once bound).
    pub fn with_server_name(&self, server_name: &str) -> Self {
        Self {
            server_name: server_name.to_owned(),
            ..self.clone()
        }
    }

    /// The server name the key signs for.
    pub fn server_name(&self) -> &str {
        &self.server_name
    }

    /// `ed25519:<version>`.
    pub fn key_id(&self) -> String {
        format!("ed25519:{}", self.version)
    }

    /// The public key, unpadded standard base64.
    pub fn public_key_base64(&self) -> String {
        Base64::<ruma::serde::base64::Standard, _>::new(self.pair.public_key().to_vec()).encode()
    }

    /// The underlying ruma key pair.
    pub fn key_pair(&self) -> &Ed25519KeyPair {
        &self.pair
    }

    /// `{server_name: {key_id: public key}}`, for ruma's verifiers.
    pub fn public_key_map(&self) -> PublicKeyMap {
        let mut set = BTreeMap::new();
        set.insert(self.key_id(), Base64::new(self.pair.public_key().to_vec()));
        let mut map = PublicKeyMap::new();
        map.insert(self.server_name.clone(), set);
        map
    }

    /// Raw ed25519 signature of `bytes`, unpadded base64.
    pub fn sign_bytes(&self, bytes: &[u8]) -> String {
        self.pair.sign(bytes).base64()
    }

    /// `value` (an object) with this server's signature added under `signatures`.
    pub fn sign_json(&self, value: &Value) -> Result<Value, FederationError> {
        let mut object = to_canonical_object(value)?;
        ruma::signatures::sign_json(&self.server_name, self.pair.as_ref(), &mut object)
            .map_err(|e| FederationError::Sign(e.to_string()))?;
        Ok(from_canonical(object))
    }

    /// An event (PDU) someone else hashed, with this server's signature added beside theirs
    /// (counter-signing an invite, a Policy Server's signature), using the redaction rules of
    /// its room version.
    pub fn sign_event(
        &self,
        event: &Value,
        rules: &RedactionRules,
    ) -> Result<Value, FederationError> {
        let mut object = to_canonical_object(event)?;
        ruma::signatures::sign_event(&self.server_name, self.pair.as_ref(), &mut object, rules)
            .map_err(|e| FederationError::Sign(e.to_string()))?;
        Ok(from_canonical(object))
    }

    /// An event (PDU) with its content hash and this server's signature added, using the
    /// redaction rules of its room version.
    pub fn hash_and_sign_event(
        &self,
        event: &Value,
        rules: &RedactionRules,
    ) -> Result<Value, FederationError> {
        let mut object = to_canonical_object(event)?;
        ruma::signatures::hash_and_sign_event(
            &self.server_name,
            self.pair.as_ref(),
            &mut object,
            rules,
        )
        .map_err(|e| FederationError::Sign(e.to_string()))?;
        Ok(from_canonical(object))
    }

    /// The self-signed `GET /_matrix/key/v2/server` response, valid until `now + validity`.
    pub fn server_keys_document(
        &self,
        now_ms: u64,
        validity_ms: u64,
    ) -> Result<Value, FederationError> {
        self.server_keys_document_with_old(now_ms, validity_ms, &[])
    }

    /// The same document listing `old` keys under `old_verify_keys`, expired an hour before
    /// `now_ms` (keys "only valid for signing events", Publishing Keys).
    pub fn server_keys_document_with_old(
        &self,
        now_ms: u64,
        validity_ms: u64,
        old: &[ServerKey],
    ) -> Result<Value, FederationError> {
        let expired_ts = now_ms.saturating_sub(60 * 60 * 1000);
        let old_keys: serde_json::Map<String, Value> = old
            .iter()
            .map(|k| {
                (
                    k.key_id(),
                    json!({ "key": k.public_key_base64(), "expired_ts": expired_ts }),
                )
            })
            .collect();
        let doc = json!({
            "server_name": self.server_name,
            "verify_keys": { self.key_id(): { "key": self.public_key_base64() } },
            "old_verify_keys": old_keys,
            "valid_until_ts": now_ms.saturating_add(validity_ms),
        });
        self.sign_json(&doc)
    }
}

/// A JSON object as ruma's canonical form (fails on floats and out-of-range integers).
pub fn to_canonical_object(value: &Value) -> Result<CanonicalJsonObject, FederationError> {
    match ruma::CanonicalJsonValue::try_from(value.clone()) {
        Ok(ruma::CanonicalJsonValue::Object(o)) => Ok(o),
        Ok(_) => Err(FederationError::Sign(
            "only JSON objects can be signed".into(),
        )),
        Err(e) => Err(FederationError::Sign(format!(
            "no canonical JSON form: {e}"
        ))),
    }
}

fn from_canonical(object: CanonicalJsonObject) -> Value {
    Value::from(ruma::CanonicalJsonValue::Object(object))
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The seed of the signing key in the spec's appendix "Cryptographic test vectors".
    pub(crate) fn spec_key() -> ServerKey {
        let seed = Base64::<ruma::serde::base64::Standard, Vec<u8>>::parse(
            "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1",
        )
        .unwrap();
        let seed: [u8; 32] = seed.as_bytes().try_into().unwrap();
        ServerKey::from_seed("domain", "1", &seed).unwrap()
    }

    #[test]
    fn spec_vector_empty_object() {
        let signed = spec_key().sign_json(&json!({})).unwrap();
        assert_eq!(
            signed,
            json!({"signatures": {"domain": {"ed25519:1":
                "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"}}})
        );
    }

    #[test]
    fn spec_vector_data_object() {
        let signed = spec_key()
            .sign_json(&json!({"one": 1, "two": "Two"}))
            .unwrap();
        assert_eq!(
            signed["signatures"]["domain"]["ed25519:1"],
            "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"
        );
    }

    #[test]
    fn spec_vector_public_key() {
        assert_eq!(
            spec_key().public_key_base64(),
            "XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI"
        );
    }

    #[test]
    fn spec_vector_minimal_event() {
        let event = json!({
            "room_id": "!x:domain", "sender": "@a:domain", "origin": "domain",
            "origin_server_ts": 1000000, "signatures": {}, "hashes": {}, "type": "X",
            "content": {}, "prev_events": [], "auth_events": [], "depth": 3,
            "unsigned": {"age_ts": 1000000}
        });
        let signed = spec_key()
            .hash_and_sign_event(&event, &RedactionRules::V1)
            .unwrap();
        assert_eq!(
            signed["hashes"]["sha256"],
            "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"
        );
        assert_eq!(
            signed["signatures"]["domain"]["ed25519:1"],
            "KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg"
        );
    }

    #[test]
    fn spec_vector_redactable_event() {
        let event = json!({
            "content": {"body": "Here is the message content"}, "event_id": "$0:domain",
            "origin": "domain", "origin_server_ts": 1000000, "type": "m.room.message",
            "room_id": "!r:domain", "sender": "@u:domain", "signatures": {},
            "unsigned": {"age_ts": 1000000}
        });
        let signed = spec_key()
            .hash_and_sign_event(&event, &RedactionRules::V1)
            .unwrap();
        assert_eq!(
            signed["hashes"]["sha256"],
            "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"
        );
        assert_eq!(
            signed["signatures"]["domain"]["ed25519:1"],
            "Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA"
        );
    }

    #[test]
    fn key_document_is_self_signed_and_verifies() {
        let key = ServerKey::generate("localhost:1234", "mxh").unwrap();
        let doc = key.server_keys_document(1_000, KEY_VALIDITY_MS).unwrap();
        assert_eq!(doc["server_name"], "localhost:1234");
        assert_eq!(
            doc["verify_keys"]["ed25519:mxh"]["key"],
            key.public_key_base64()
        );
        let object = to_canonical_object(&doc).unwrap();
        ruma::signatures::verify_json(&key.public_key_map(), &object).unwrap();
    }

    #[test]
    fn old_keys_are_listed_expired_and_the_document_still_verifies() {
        let key = ServerKey::generate("localhost:1", "cur").expect("key");
        let old = ServerKey::generate("localhost:1", "old").expect("key");
        let doc = key
            .server_keys_document_with_old(10_000_000, 1000, std::slice::from_ref(&old))
            .expect("doc");
        assert_eq!(
            doc["old_verify_keys"]["ed25519:old"]["key"],
            json!(old.public_key_base64())
        );
        assert_eq!(
            doc["old_verify_keys"]["ed25519:old"]["expired_ts"],
            json!(10_000_000 - 3_600_000)
        );
        assert!(doc["verify_keys"].get("ed25519:old").is_none());
        let object = to_canonical_object(&doc).expect("canonical");
        ruma::signatures::verify_json(&key.public_key_map(), &object).expect("verifies");
    }

    #[test]
    fn bad_key_version_is_refused() {
        assert!(ServerKey::generate("x", "a:b").is_err());
    }
}
