//! The in-process fake homeserver: a TLS listener on `127.0.0.1:0` (certificate from the run
//! CA, server name `localhost:<port>`) that serves its signed key document and the handlers a
//! scenario registered. Every inbound request is recorded with the outcome of its X-Matrix
//! authentication; a request no handler expects is answered 404 and flagged as unexpected,
//! which the runner turns into a failure (as Complement does).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use regex::Regex;
use ruma::signatures::PublicKeyMap;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::client::{FederationClient, SignedRequest};
use super::keys::{KEY_VALIDITY_MS, ServerKey, now_ms};
use super::names::{self, NameRegistry};
use super::tls::RunCa;
use super::x_matrix::{self, AuthFailure, Verified};
use super::{FederationError, io_err};

/// Largest inbound body accepted.
const MAX_BODY: usize = 8 * 1024 * 1024;
/// Timeout of key fetches from an origin.
const KEY_FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// A reply computed from the request: (status, JSON body).
pub type ReplyFn = Arc<dyn Fn(&InboundRequest) -> (u16, Value) + Send + Sync>;

/// What a handler answers.
#[derive(Clone)]
pub enum Reply {
    /// A fixed status and JSON body.
    Json {
        /// HTTP status.
        status: u16,
        /// JSON body.
        body: Value,
    },
    /// Computed from the request.
    Dynamic(ReplyFn),
    /// A fixed status and a body that is not JSON (a media download's multipart answer).
    Raw {
        /// HTTP status.
        status: u16,
        /// `Content-Type` of the body.
        content_type: String,
        /// The bytes sent.
        body: Vec<u8>,
    },
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reply::Json { status, body } => write!(f, "Json({status}, {body})"),
            Reply::Dynamic(_) => f.write_str("Dynamic(..)"),
            Reply::Raw {
                status,
                content_type,
                body,
            } => write!(f, "Raw({status}, {content_type}, {} bytes)", body.len()),
        }
    }
}

/// A request the fake server expects: method plus a regular expression over the path
/// (without the query string), matched whole.
#[derive(Debug, Clone)]
pub struct Handler {
    /// Name shown in transcripts.
    pub name: String,
    /// HTTP method.
    pub method: String,
    /// Path pattern (anchored).
    pub path: Regex,
    /// The answer.
    pub reply: Reply,
    /// Refuse (401) requests whose X-Matrix authentication fails. Default true.
    pub require_auth: bool,
}

impl Handler {
    /// A handler answering `status` with `body` to `method` on paths matching `path_regex`.
    pub fn json(
        name: &str,
        method: &str,
        path_regex: &str,
        status: u16,
        body: Value,
    ) -> Result<Self, FederationError> {
        let path = Regex::new(&format!("^(?:{path_regex})$"))
            .map_err(|e| FederationError::Sign(format!("handler path {path_regex:?}: {e}")))?;
        Ok(Self {
            name: name.to_owned(),
            method: method.to_ascii_uppercase(),
            path,
            reply: Reply::Json { status, body },
            require_auth: true,
        })
    }
}

impl Handler {
    /// A handler whose answer is computed from each request.
    pub fn dynamic(
        name: &str,
        method: &str,
        path_regex: &str,
        reply: impl Fn(&InboundRequest) -> (u16, Value) + Send + Sync + 'static,
    ) -> Result<Self, FederationError> {
        let mut handler = Self::json(name, method, path_regex, 200, Value::Null)?;
        handler.reply = Reply::Dynamic(Arc::new(reply));
        Ok(handler)
    }
}

/// One request the fake server received.
#[derive(Debug, Clone)]
pub struct InboundRequest {
    /// Sequence number, from 0, in arrival order.
    pub seq: u64,
    /// HTTP method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Path and query as received.
    pub uri: String,
    /// Headers (lowercase names).
    pub headers: BTreeMap<String, String>,
    /// Body as text.
    pub body: String,
    /// Body as JSON, when it is JSON.
    pub json: Option<Value>,
    /// Outcome of the X-Matrix authentication (the key endpoint needs none).
    pub auth: Result<Verified, AuthFailure>,
    /// The handler that answered; None when the request was unexpected.
    pub handler: Option<String>,
    /// Status answered.
    pub status: u16,
    /// The TLS Server Name Indication of the connection (None: none was sent).
    pub sni: Option<String>,
}

impl InboundRequest {
    /// Whether no handler (and no built-in endpoint) expected this request.
    pub fn unexpected(&self) -> bool {
        self.handler.is_none()
    }
}

#[derive(Default)]
struct State {
    handlers: Vec<Handler>,
    log: Vec<InboundRequest>,
    keys: PublicKeyMap,
    /// A retired key, listed under `old_verify_keys` once asked for ([`FakeServer::old_key`]).
    old_key: Option<ServerKey>,
    /// The key endpoint answers 503 ([`FakeServer::set_keys_offline`]).
    keys_offline: bool,
}

struct Shared {
    server_name: String,
    key: ServerKey,
    client: FederationClient,
    state: Mutex<State>,
    changed: tokio::sync::Notify,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the log inconsistent: keep going.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running fake homeserver; stops when dropped.
pub struct FakeServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeServer")
            .field("server_name", &self.shared.server_name)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeServer {
    /// Bind `127.0.0.1:0`, take the name `localhost:<port>`, generate a signing key
    /// `ed25519:<key_version>_<unique>` and start serving.
    ///
    /// Every fake server of a run has its own key id, and never takes a name another fake
    /// server of the run had (see [`super::names`]).
    pub async fn start(ca: &RunCa, key_version: &str) -> Result<Self, FederationError> {
        Self::start_named(ca, key_version, false).await
    }

    /// Like [`FakeServer::start`]; with `ip_literal` the server name is `127.0.0.1:<port>`
    /// (a name server ACLs can deny without denying `localhost` homeservers).
    pub async fn start_named(
        ca: &RunCa,
        key_version: &str,
        ip_literal: bool,
    ) -> Result<Self, FederationError> {
        Self::start_on(ca, key_version, ip_literal, 0).await
    }

    /// Like [`FakeServer::start_named`] on a chosen loopback port (0: any free one whose name
    /// this run has not used), so a gateway configured beforehand can allow-list its name
    /// (gateway checks, `--gateway URL`). On a chosen port whose name a fake server of this
    /// run had before, the server signs with that name's key again.
    pub async fn start_on(
        ca: &RunCa,
        key_version: &str,
        ip_literal: bool,
        port: u16,
    ) -> Result<Self, FederationError> {
        let host = if ip_literal { "127.0.0.1" } else { "localhost" };
        let registry = NameRegistry::global();
        let bind = || bind_loopback(port);
        let (listener, server_name, key) = if port == 0 {
            names::bind_fresh(registry, host, key_version, bind)?
        } else {
            let listener = bind().map_err(io_err("cannot bind the fake server's port"))?;
            let server_name = format!("{host}:{port}");
            let (key, _) = registry.claim(&server_name, key_version)?;
            (listener, server_name, key)
        };
        Self::serve(ca, listener, server_name, key)
    }

    /// Serve `key` (a stored identity, `--gateway-identities`) as `key.server_name()` on
    /// `port`: the name must be `localhost:<port>` or `127.0.0.1:<port>`, and no fake server
    /// of this run may have served it with another key.
    pub async fn start_with_key(
        ca: &RunCa,
        key: &ServerKey,
        port: u16,
    ) -> Result<Self, FederationError> {
        let server_name = key.server_name().to_owned();
        let key = NameRegistry::global().claim_key(key)?;
        let listener = bind_loopback(port).map_err(io_err(format!("cannot bind port {port}")))?;
        Self::serve(ca, listener, server_name, key)
    }

    fn serve(
        ca: &RunCa,
        listener: TcpListener,
        server_name: String,
        key: ServerKey,
    ) -> Result<Self, FederationError> {
        let addr = listener
            .local_addr()
            .map_err(io_err("cannot read the fake server's port"))?;
        let client = FederationClient::new(ca, key.clone())?;
        let acceptor = TlsAcceptor::from(ca.issue_leaf()?.server_config()?);
        let shared = Arc::new(Shared {
            server_name,
            key,
            client,
            state: Mutex::new(State::default()),
            changed: tokio::sync::Notify::new(),
        });
        let task = tokio::spawn(accept_loop(listener, acceptor, shared.clone()));
        Ok(Self { shared, addr, task })
    }

    /// `localhost:<port>`.
    pub fn server_name(&self) -> &str {
        &self.shared.server_name
    }

    /// `https://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its signing key.
    pub fn key(&self) -> &ServerKey {
        &self.shared.key
    }

    /// A client sending requests signed as this server.
    pub fn client(&self) -> &FederationClient {
        &self.shared.client
    }

    /// Expect requests matching `handler` from now on (first registered match wins).
    pub fn register(&self, handler: Handler) {
        self.shared.state().handlers.push(handler);
    }

    /// Forget all handlers (the key endpoint stays).
    pub fn clear_handlers(&self) {
        self.shared.state().handlers.clear();
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<InboundRequest> {
        self.shared.state().log.clone()
    }

    /// Requests that no handler expected.
    pub fn unexpected(&self) -> Vec<InboundRequest> {
        self.shared
            .state()
            .log
            .iter()
            .filter(|r| r.unexpected())
            .cloned()
            .collect()
    }

    /// Wait until a request with `seq >= from` satisfies `pred`, or the deadline passes.
    pub async fn wait_for(
        &self,
        from: u64,
        within: Duration,
        mut pred: impl FnMut(&InboundRequest) -> bool,
    ) -> Option<InboundRequest> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.shared.changed.notified();
            if let Some(found) = self
                .shared
                .state()
                .log
                .iter()
                .find(|r| r.seq >= from && pred(r))
                .cloned()
            {
                return Some(found);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    /// The server's retired key (made on first use, with a key id of its own): from then on
    /// the key document lists it under `old_verify_keys`, expired an hour before each fetch.
    /// Requests signed with it check that a receiver refuses keys only "valid for signing
    /// events" (Publishing Keys).
    pub fn old_key(&self) -> Result<ServerKey, FederationError> {
        let mut state = self.shared.state();
        if let Some(k) = &state.old_key {
            return Ok(k.clone());
        }
        let version = NameRegistry::global().unique_version("old");
        let key = ServerKey::generate(&self.shared.server_name, &version)?;
        state.old_key = Some(key.clone());
        Ok(key)
    }

    /// From now on the key endpoint answers 503 `M_UNKNOWN` (`false`: serves keys again):
    /// a server "having issues serving their own keys" (Querying Keys Through Another Server).
    pub fn set_keys_offline(&self, offline: bool) {
        self.shared.state().keys_offline = offline;
    }

    /// Number of requests received so far (the next one gets this `seq`).
    pub fn next_seq(&self) -> u64 {
        self.shared.state().log.len() as u64
    }
}

/// A listener on `127.0.0.1:<port>` with `SO_REUSEADDR`, as `TcpListener::bind` makes it, so
/// a chosen port can be bound again while old connections linger in TIME_WAIT (Linux still
/// refuses a port another socket listens on).
fn bind_loopback(port: u16) -> std::io::Result<TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, port)))?;
    socket.listen(1024)
}

async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, shared: Arc<Shared>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            // Out of file descriptors or similar: back off instead of spinning.
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let acceptor = acceptor.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let sni = tls.get_ref().1.server_name().map(str::to_owned);
            let service = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                let sni = sni.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(req, shared, sni).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

fn respond(status: u16, body: &Value) -> hyper::Response<Full<Bytes>> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut resp = hyper::Response::new(Full::new(Bytes::from(bytes)));
    *resp.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

async fn handle(
    req: hyper::Request<Incoming>,
    shared: Arc<Shared>,
    sni: Option<String>,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(_) => Vec::new(),
    };
    let method = parts.method.to_string();
    let path = parts.uri.path().to_owned();
    let uri = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| path.clone());
    let headers: BTreeMap<String, String> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let is_key_endpoint =
        path == "/_matrix/key/v2/server" || path.starts_with("/_matrix/key/v2/server/");
    let auth = if is_key_endpoint {
        Err(AuthFailure::Missing)
    } else {
        authenticate(
            &shared,
            headers.get("authorization").map(String::as_str),
            &method,
            &uri,
            &body,
        )
        .await
    };
    let mut inbound = InboundRequest {
        seq: 0,
        method: method.clone(),
        path: path.clone(),
        uri,
        headers,
        body: crate::matrix::http_client::text(&body),
        json: serde_json::from_slice(&body).ok(),
        auth,
        handler: None,
        status: 404,
        sni,
    };
    let mut raw: Option<(String, Vec<u8>)> = None;
    let keys_offline = shared.state().keys_offline;
    let (status, reply) = if is_key_endpoint && method == "GET" && keys_offline {
        inbound.handler = Some("key/v2/server (offline)".into());
        (
            503,
            json!({"errcode": "M_UNKNOWN", "error": "mxharness fake server: keys offline"}),
        )
    } else if is_key_endpoint && method == "GET" {
        inbound.handler = Some("key/v2/server".into());
        let old: Vec<ServerKey> = shared.state().old_key.iter().cloned().collect();
        match shared
            .key
            .server_keys_document_with_old(now_ms(), KEY_VALIDITY_MS, &old)
        {
            Ok(doc) => (200, doc),
            Err(e) => (500, json!({"errcode": "M_UNKNOWN", "error": e.to_string()})),
        }
    } else {
        let handler = shared
            .state()
            .handlers
            .iter()
            .find(|h| h.method == method && h.path.is_match(&path))
            .cloned();
        match handler {
            None => (
                404,
                json!({"errcode": "M_UNRECOGNIZED", "error": "mxharness fake server: no handler expects this request"}),
            ),
            Some(h) => {
                inbound.handler = Some(h.name.clone());
                match (&inbound.auth, h.require_auth) {
                    (Err(e), true) => (
                        401,
                        json!({"errcode": "M_UNAUTHORIZED", "error": e.to_string()}),
                    ),
                    _ => match &h.reply {
                        Reply::Json { status, body } => (*status, body.clone()),
                        Reply::Dynamic(f) => f(&inbound),
                        Reply::Raw {
                            status,
                            content_type,
                            body,
                        } => {
                            raw = Some((content_type.clone(), body.clone()));
                            (*status, Value::Null)
                        }
                    },
                }
            }
        }
    };
    inbound.status = status;
    {
        let mut state = shared.state();
        inbound.seq = state.log.len() as u64;
        state.log.push(inbound);
    }
    shared.changed.notify_waiters();
    match raw {
        Some((content_type, body)) => respond_raw(status, &content_type, body),
        None => respond(status, &reply),
    }
}

fn respond_raw(status: u16, content_type: &str, body: Vec<u8>) -> hyper::Response<Full<Bytes>> {
    let mut resp = hyper::Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    resp
}

/// Verify the X-Matrix header, fetching the origin's key document on first sight.
async fn authenticate(
    shared: &Shared,
    header: Option<&str>,
    method: &str,
    uri: &str,
    body: &[u8],
) -> Result<Verified, AuthFailure> {
    let parsed = x_matrix::parse(header)?;
    let origin = parsed.origin.to_string();
    let known = shared.state().keys.contains_key(&origin);
    if !known && let Some(keys) = fetch_keys(&shared.client, &origin).await {
        shared.state().keys.insert(origin.clone(), keys);
    }
    let keys = shared.state().keys.clone();
    x_matrix::verify_parsed(&parsed, method, uri, body, &shared.server_name, &keys)
}

/// `GET https://<origin>/_matrix/key/v2/server`, self-signature checked.
async fn fetch_keys(
    client: &FederationClient,
    origin: &str,
) -> Option<BTreeMap<String, ruma::serde::Base64>> {
    let mut req = SignedRequest::new("GET", origin, "/_matrix/key/v2/server");
    req.forge.unsigned = true;
    let (_, resp) = client.send(&req, KEY_FETCH_TIMEOUT).await;
    let doc = resp?.json()?;
    if doc.get("server_name").and_then(Value::as_str) != Some(origin) {
        return None;
    }
    let mut set = BTreeMap::new();
    for (id, v) in doc.get("verify_keys")?.as_object()? {
        let key = v.get("key")?.as_str()?;
        set.insert(id.clone(), ruma::serde::Base64::parse(key).ok()?);
    }
    let mut map = PublicKeyMap::new();
    map.insert(origin.to_owned(), set.clone());
    let object = super::keys::to_canonical_object(&doc).ok()?;
    ruma::signatures::verify_json(&map, &object).ok()?;
    Some(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_keys_handlers_and_flags_unexpected_requests() {
        let ca = RunCa::new().unwrap();
        let server = FakeServer::start(&ca, "fake").await.unwrap();
        server.register(
            Handler::json(
                "version",
                "GET",
                "/_matrix/federation/v1/version",
                200,
                json!({"server": {"name": "fake"}}),
            )
            .unwrap(),
        );
        // A second fake server acts as the origin of signed requests.
        let other = FakeServer::start(&ca, "other").await.unwrap();
        let timeout = Duration::from_secs(10);
        let mut req = SignedRequest::new("GET", server.server_name(), "/_matrix/key/v2/server");
        req.base_url = Some(server.base_url());
        req.forge.unsigned = true;
        let (ex, resp) = other.client().send(&req, timeout).await;
        let doc = resp
            .and_then(|r| r.json())
            .unwrap_or_else(|| panic!("{ex:?}"));
        assert_eq!(doc["server_name"], server.server_name());

        // The fake server fetches the origin's key by its server name, which resolves
        // `localhost:<port>` to the origin's own listener.
        let mut ok = SignedRequest::new(
            "GET",
            server.server_name(),
            "/_matrix/federation/v1/version",
        );
        ok.base_url = Some(server.base_url());
        let (ex, resp) = other.client().send(&ok, timeout).await;
        assert_eq!(resp.map(|r| r.status), Some(200), "{ex:?}");

        let mut bad = ok.clone();
        bad.forge.tamper_signature = true;
        let (_, resp) = other.client().send(&bad, timeout).await;
        assert_eq!(resp.map(|r| r.status), Some(401));

        let mut unexpected = ok.clone();
        unexpected.path = "/_matrix/federation/v1/query/profile".into();
        let (_, resp) = other.client().send(&unexpected, timeout).await;
        assert_eq!(resp.map(|r| r.status), Some(404));

        let log = server.requests();
        assert_eq!(log.len(), 4);
        assert!(log[1].auth.is_ok(), "{:?}", log[1].auth);
        assert!(matches!(log[2].auth, Err(AuthFailure::BadSignature(_))));
        assert_eq!(server.unexpected().len(), 1);
        let found = server
            .wait_for(0, Duration::from_secs(1), |r| r.path.ends_with("/profile"))
            .await;
        assert!(found.is_some());
    }

    /// The key document a fake server serves, fetched by another fake server.
    async fn key_document(server: &FakeServer, by: &FakeServer) -> Value {
        let mut req = SignedRequest::new("GET", server.server_name(), "/_matrix/key/v2/server");
        req.base_url = Some(server.base_url());
        req.forge.unsigned = true;
        let (ex, resp) = by.client().send(&req, Duration::from_secs(10)).await;
        resp.and_then(|r| r.json())
            .unwrap_or_else(|| panic!("{ex:?}"))
    }

    /// Start on `port` once the previous server's listener is gone (its task is aborted on
    /// drop, and the socket closes when the runtime gets to it).
    async fn start_again(ca: &RunCa, port: u16) -> FakeServer {
        for _ in 0..100 {
            if let Ok(server) = FakeServer::start_on(ca, "mxh", false, port).await {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("port {port} did not come free");
    }

    #[tokio::test]
    async fn every_fake_server_has_its_own_key_id_and_a_name_never_used_before() {
        let ca = RunCa::new().unwrap();
        let observer = FakeServer::start(&ca, "obs").await.unwrap();
        let mut names = std::collections::BTreeSet::new();
        let mut key_ids = std::collections::BTreeSet::new();
        for _ in 0..12 {
            // One after the other, each stopped before the next starts: the operating system
            // is free to offer the same port again.
            let server = FakeServer::start(&ca, "mxh").await.unwrap();
            let key_id = server.key().key_id();
            assert!(key_id.starts_with("ed25519:mxh_"), "{key_id}");
            assert!(names.insert(server.server_name().to_owned()));
            assert!(key_ids.insert(key_id.clone()));
            let doc = key_document(&server, &observer).await;
            let served: Vec<&String> = doc["verify_keys"].as_object().unwrap().keys().collect();
            assert_eq!(served, [&key_id]);
            let header = server
                .client()
                .authorization_for(&SignedRequest::new("GET", "localhost:1", "/x"))
                .unwrap()
                .unwrap();
            assert!(header.contains(&format!("key=\"{key_id}\"")), "{header}");
        }
        assert!(!key_ids.contains(&observer.key().key_id()));
    }

    #[tokio::test]
    async fn a_server_started_again_on_a_used_port_signs_with_the_same_key() {
        let ca = RunCa::new().unwrap();
        let observer = FakeServer::start(&ca, "obs").await.unwrap();
        let first = FakeServer::start(&ca, "mxh").await.unwrap();
        let (port, name) = (first.addr().port(), first.server_name().to_owned());
        let (key_id, public) = (first.key().key_id(), first.key().public_key_base64());
        drop(first);
        let second = start_again(&ca, port).await;
        assert_eq!(second.server_name(), name);
        assert_eq!(second.key().key_id(), key_id);
        assert_eq!(second.key().public_key_base64(), public);
        let doc = key_document(&second, &observer).await;
        assert_eq!(doc["verify_keys"][&key_id]["key"], public.as_str());
    }

    #[tokio::test]
    async fn the_key_document_is_valid_for_minutes_not_a_day() {
        let ca = RunCa::new().unwrap();
        let server = FakeServer::start(&ca, "mxh").await.unwrap();
        let other = FakeServer::start(&ca, "mxh").await.unwrap();
        let before = now_ms();
        let doc = key_document(&server, &other).await;
        let until = doc["valid_until_ts"].as_u64().unwrap();
        assert!(until >= before + 60_000, "{until} vs {before}");
        assert!(until <= now_ms() + 10 * 60_000, "{until} vs {before}");
    }

    #[tokio::test]
    async fn the_old_key_is_listed_once_asked_for_and_keys_can_go_offline() {
        let ca = RunCa::new().expect("CA");
        let server = FakeServer::start(&ca, "mxh").await.expect("server");
        let other = FakeServer::start(&ca, "mxh").await.expect("server");
        let doc = key_document(&server, &other).await;
        assert_eq!(doc["old_verify_keys"], json!({}));
        let old = server.old_key().expect("old key");
        assert_eq!(server.old_key().expect("same key").key_id(), old.key_id());
        let doc = key_document(&server, &other).await;
        assert_eq!(
            doc["old_verify_keys"][old.key_id()]["key"],
            json!(old.public_key_base64())
        );
        assert!(doc["verify_keys"].get(old.key_id()).is_none());

        server.set_keys_offline(true);
        let mut req = SignedRequest::new("GET", server.server_name(), "/_matrix/key/v2/server");
        req.base_url = Some(server.base_url());
        req.forge.unsigned = true;
        let (_, resp) = other.client().send(&req, Duration::from_secs(10)).await;
        assert_eq!(resp.map(|r| r.status), Some(503));
    }

    #[tokio::test]
    async fn the_connection_sni_is_recorded() {
        let ca = RunCa::new().expect("CA");
        let server = FakeServer::start(&ca, "mxh").await.expect("server");
        let other = FakeServer::start(&ca, "mxh").await.expect("server");
        // By IP address (base_url is https://127.0.0.1:<port>): no SNI.
        let _ = key_document(&server, &other).await;
        // By server name (https://localhost:<port>): SNI localhost.
        let mut req = SignedRequest::new("GET", server.server_name(), "/_matrix/key/v2/server");
        req.forge.unsigned = true;
        let (ex, resp) = other.client().send(&req, Duration::from_secs(10)).await;
        assert_eq!(resp.map(|r| r.status), Some(200), "{ex:?}");
        let sni: Vec<Option<String>> = server.requests().into_iter().map(|r| r.sni).collect();
        assert_eq!(sni, vec![None, Some("localhost".to_owned())]);
    }
}
