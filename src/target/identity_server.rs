//! The identity-server role: a [`Recorder`] over TLS on 127.0.0.1 (a self-signed leaf of a
//! fresh run CA; the spawned Synapse reaches identity servers over `https://` only) answering
//! what a homeserver asks an identity server for 3PID invites and binds (`/_matrix/identity/v2`:
//! hash_details, lookup, store-invite, pubkey isvalid, 3pid bind/unbind), recording every
//! request for the scenarios' `identity_server` steps.
//!
//! Binds: a `/3pid/bind` session `sid` is bound to the address `<sid>@`[`BIND_DOMAIN`]; when
//! invites are pending for that address (stored by `store-invite`), the role then notifies
//! the homeserver (`PUT /_matrix/federation/v1/3pid/onbind`, set with
//! [`IdentityServerRole::set_homeserver`]) with each invite's `signed` block, as an identity
//! server does.
//!
//! Lookups: an `email` address whose local part starts with [`BOUND_PREFIX`] is bound to
//! `@<rest of the local part>:<domain>` (e.g. `mxid-bob@localhost` → `@bob:localhost`); any
//! other address is unbound. Only the `none` lookup algorithm is offered, so the addresses
//! arrive in the clear and the role needs no table.

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::federation::keys::ServerKey;
use crate::target::recorder::{Recorder, RoleRequest};

/// Local-part prefix of the addresses the role reports bound.
pub const BOUND_PREFIX: &str = "mxid-";
/// Sessions whose `sid` starts with this are notified with `POST /3pid/onbind` (what Synapse
/// and Sydent implement, matrix-org/matrix-spec#524) instead of the spec's `PUT`.
pub const ONBIND_POST_PREFIX: &str = "mxhpost";
/// Sessions whose `sid` starts with this (after an optional [`ONBIND_POST_PREFIX`]) get
/// their invites' `signed` blocks with a broken signature, which the homeserver must refuse.
pub const BAD_SIGNATURE_MARK: &str = "badsig";
/// Domain of the address a bind session is bound to (`<sid>@<BIND_DOMAIN>`).
pub const BIND_DOMAIN: &str = "example.org";
/// The `display_name` the role gives every stored invite.
pub const INVITE_DISPLAY_NAME: &str = "mxh-3pid-invitee";

/// A running identity-server role; stops when dropped.
pub struct IdentityServerRole {
    recorder: Recorder,
    host: String,
    access_token: String,
    public_key: String,
    state: Arc<State>,
}

impl std::fmt::Debug for IdentityServerRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityServerRole")
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

impl IdentityServerRole {
    /// Bind 127.0.0.1:0 and serve over TLS, with a fresh access token and ed25519 key.
    pub async fn start() -> Result<Self, String> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| format!("cannot bind the identity server: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let host = addr.to_string();
        let ca = crate::federation::tls::RunCa::new().map_err(|e| e.to_string())?;
        let tls = ca
            .issue_leaf()
            .and_then(|l| l.server_config())
            .map_err(|e| e.to_string())?;
        let key = ServerKey::generate(&host, "0").map_err(|e| e.to_string())?;
        let access_token = format!("mxh-is-{}", uuid::Uuid::new_v4().simple());
        let public_key = key.public_key_base64();
        let state = Arc::new(State {
            host: host.clone(),
            public_key: public_key.clone(),
            key,
            pending: std::sync::Mutex::new(std::collections::BTreeMap::new()),
            homeserver: std::sync::OnceLock::new(),
            sent: Arc::new(std::sync::Mutex::new(Vec::new())),
        });
        let for_role = state.clone();
        let recorder = Recorder::serve_tls(
            listener,
            Some(access_token.clone()),
            Arc::new(move |r: &RoleRequest| answer(&state, r)),
            tls,
        );
        Ok(Self {
            recorder,
            host,
            access_token,
            public_key,
            state: for_role,
        })
    }

    /// Where the homeserver's federation API is served (e.g. `http://127.0.0.1:8008`, or the
    /// federation listener of a federating Synapse), and the client that reaches it (the
    /// run's CA for a TLS listener), for the onbind notifications; the first call wins.
    pub fn set_homeserver(&self, base_url: &str, client: reqwest::Client) {
        let _ = self
            .state
            .homeserver
            .set((base_url.trim_end_matches('/').to_owned(), client));
    }

    /// `127.0.0.1:<port>`: what a client names as `id_server`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.recorder.addr()
    }

    /// The access token clients send as `id_access_token` (the role accepts only this one).
    pub fn access_token(&self) -> &str {
        &self.access_token
    }

    /// The invitation public key (unpadded base64 ed25519) of every stored invite.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// Every request received so far, in arrival order, then every onbind call the role
    /// made, each with the homeserver's answer as `status` and `json`.
    pub fn requests(&self) -> Vec<RoleRequest> {
        let mut all = self.recorder.requests();
        all.extend(self.state.sent().iter().cloned());
        all
    }
}

/// A stored invite: room_id, sender, token.
type Invite = (String, String, String);
/// Stored invites by address.
type Pending = std::collections::BTreeMap<String, Vec<Invite>>;

struct State {
    host: String,
    public_key: String,
    key: ServerKey,
    /// address -> stored invites (room_id, sender, token).
    pending: std::sync::Mutex<Pending>,
    homeserver: std::sync::OnceLock<(String, reqwest::Client)>,
    /// The onbind calls made, with the homeserver's answers.
    sent: Arc<std::sync::Mutex<Vec<RoleRequest>>>,
}

impl State {
    fn sent(&self) -> std::sync::MutexGuard<'_, Vec<RoleRequest>> {
        self.sent.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

const V2: &str = "/_matrix/identity/v2";

/// `PUT /_matrix/federation/v1/3pid/onbind` (`POST` when `post`) to the homeserver, in the
/// background, with each pending invite's `signed` block (`mxid`, `sender`, `token`) signed
/// by the role's key.
fn notify_onbind(
    state: &State,
    address: &str,
    mxid: &str,
    invites: Vec<Invite>,
    post: bool,
    bad_signature: bool,
) {
    let Some((base, client)) = state.homeserver.get().cloned() else {
        return;
    };
    let invites: Vec<Value> = invites
        .into_iter()
        .filter_map(|(room_id, sender, token)| {
            let mut signed = state
                .key
                .sign_json(&json!({"mxid": mxid, "sender": sender, "token": token}))
                .ok()?;
            if bad_signature {
                // A valid signature of other bytes: well-formed, but not of this object.
                let other = state.key.sign_bytes(b"not the signed object");
                if let Some(sigs) = signed
                    .pointer_mut("/signatures")
                    .and_then(Value::as_object_mut)
                    .and_then(|m| m.values_mut().next())
                    .and_then(Value::as_object_mut)
                {
                    for v in sigs.values_mut() {
                        *v = Value::String(other.clone());
                    }
                }
            }
            Some(json!({
                "medium": "email", "address": address, "mxid": mxid,
                "room_id": room_id, "sender": sender, "signed": signed,
            }))
        })
        .collect();
    let body = json!({"medium": "email", "address": address, "mxid": mxid, "invites": invites});
    let sent = state.sent.clone();
    tokio::spawn(async move {
        let path = "/_matrix/federation/v1/3pid/onbind";
        let url = format!("{base}{path}");
        let request = if post {
            client.post(url)
        } else {
            client.put(url)
        };
        let answer = request
            .json(&body)
            .timeout(std::time::Duration::from_secs(30))
            .send()
            .await;
        let (status, reply) = match answer {
            Ok(r) => {
                let status = r.status().as_u16();
                let body = crate::matrix::net::read_body(r).await.unwrap_or_default();
                (status, serde_json::from_slice::<Value>(&body).ok())
            }
            Err(_) => (0, None),
        };
        let record = RoleRequest {
            method: if post { "POST" } else { "PUT" }.to_owned(),
            path: path.to_owned(),
            uri: path.to_owned(),
            headers: Default::default(),
            body: body.to_string(),
            json: reply,
            authenticated: true,
            status,
        };
        sent.lock().unwrap_or_else(|p| p.into_inner()).push(record);
    });
}

/// The mxid an address is bound to ([`BOUND_PREFIX`]), if any.
pub fn bound_mxid(medium: &str, address: &str) -> Option<String> {
    if medium != "email" {
        return None;
    }
    let (local, domain) = address.rsplit_once('@')?;
    let user = local.strip_prefix(BOUND_PREFIX)?;
    (!user.is_empty() && !domain.is_empty()).then(|| format!("@{user}:{domain}"))
}

fn error(status: u16, errcode: &str, message: &str) -> (u16, Value) {
    (status, json!({"errcode": errcode, "error": message}))
}

fn answer(state: &State, r: &RoleRequest) -> (u16, Value) {
    let Some(rest) = r.path.strip_prefix(V2) else {
        return error(404, "M_UNRECOGNIZED", "unknown endpoint");
    };
    let body = r.json.clone().unwrap_or(Value::Null);
    let field = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or_default();
    // Key checks, the status ping and unbind (signed by the homeserver with X-Matrix, not
    // with a bearer token) need no access token.
    match (r.method.as_str(), rest) {
        ("GET", "") => return (200, json!({})),
        ("GET", "/pubkey/isvalid") | ("GET", "/pubkey/ephemeral/isvalid") => {
            let query = r.uri.split_once('?').map(|(_, q)| q).unwrap_or_default();
            let valid = query.split('&').any(|kv| {
                kv.strip_prefix("public_key=").is_some_and(|v| {
                    percent_encoding::percent_decode_str(v).decode_utf8_lossy() == state.public_key
                })
            });
            return (200, json!({ "valid": valid }));
        }
        ("POST", "/3pid/unbind") => return (200, json!({})),
        _ => {}
    }
    if !r.authenticated {
        return error(401, "M_UNAUTHORIZED", "missing or unknown access token");
    }
    match (r.method.as_str(), rest) {
        ("GET", "/account") => (200, json!({"user_id": "@mxh-is-user:localhost"})),
        ("GET", "/terms") => (200, json!({"policies": {}})),
        ("GET", "/hash_details") => (
            200,
            json!({"algorithms": ["none"], "lookup_pepper": "mxharness"}),
        ),
        ("POST", "/lookup") => {
            if field("algorithm") != "none" {
                return error(400, "M_INVALID_PARAM", "only the none algorithm is offered");
            }
            let mut mappings = serde_json::Map::new();
            for a in body
                .get("addresses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                let Some((address, medium)) = a.rsplit_once(' ') else {
                    continue;
                };
                if let Some(mxid) = bound_mxid(medium, address) {
                    mappings.insert(a.to_owned(), Value::String(mxid));
                }
            }
            (200, json!({ "mappings": mappings }))
        }
        ("POST", "/store-invite") => {
            if field("medium") != "email" {
                return error(400, "M_UNRECOGNIZED", "only email invites are stored");
            }
            let token = uuid::Uuid::new_v4().simple().to_string();
            state
                .pending()
                .entry(field("address").to_owned())
                .or_default()
                .push((
                    field("room_id").to_owned(),
                    field("sender").to_owned(),
                    token.clone(),
                ));
            let isvalid = format!("https://{}{V2}/pubkey/isvalid", state.host);
            (
                200,
                json!({
                    "token": token,
                    "display_name": INVITE_DISPLAY_NAME,
                    "public_keys": [{"public_key": state.public_key, "key_validity_url": isvalid}],
                }),
            )
        }
        ("POST", "/3pid/bind") => {
            let mxid = field("mxid");
            let address = format!("{}@{BIND_DOMAIN}", field("sid"));
            let invites = state.pending().remove(&address).unwrap_or_default();
            if !invites.is_empty() {
                let sid = field("sid");
                let post = sid.starts_with(ONBIND_POST_PREFIX);
                let bad = sid
                    .strip_prefix(ONBIND_POST_PREFIX)
                    .unwrap_or(sid)
                    .starts_with(BAD_SIGNATURE_MARK);
                notify_onbind(state, &address, mxid, invites, post, bad);
            }
            let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
            let assoc = json!({
                "address": address,
                "medium": "email",
                "mxid": mxid,
                "not_before": now,
                "not_after": now + 86_400_000,
                "ts": now,
            });
            match state.key.sign_json(&assoc) {
                Ok(signed) => (200, signed),
                Err(e) => error(500, "M_UNKNOWN", &e.to_string()),
            }
        }
        _ => error(404, "M_UNRECOGNIZED", "unknown endpoint"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_addresses_name_their_user() {
        assert_eq!(
            bound_mxid("email", "mxid-bob@localhost").as_deref(),
            Some("@bob:localhost")
        );
        assert_eq!(bound_mxid("email", "bob@localhost"), None);
        assert_eq!(bound_mxid("msisdn", "mxid-bob@localhost"), None);
    }

    #[tokio::test]
    async fn answers_over_tls_checking_the_token() {
        let role = IdentityServerRole::start().await.unwrap();
        let client = reqwest::Client::builder()
            .tls_danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        let base = format!("https://{}{V2}", role.host());
        let s = client
            .get(format!("{base}/hash_details"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(s, 401);
        let lookup: Value = client
            .post(format!("{base}/lookup"))
            .bearer_auth(role.access_token())
            .json(&json!({"algorithm": "none", "pepper": "mxharness",
                "addresses": ["mxid-bob@localhost email", "x@y email"]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            lookup,
            json!({"mappings": {"mxid-bob@localhost email": "@bob:localhost"}})
        );
        let invite: Value = client
            .post(format!("{base}/store-invite"))
            .bearer_auth(role.access_token())
            .json(
                &json!({"medium": "email", "address": "x@y", "room_id": "!r:h", "sender": "@a:h"}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(invite["public_keys"][0]["public_key"], role.public_key());
        assert_eq!(role.requests().len(), 3);
        assert!(!role.requests()[0].authenticated);
    }
}
