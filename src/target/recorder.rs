//! A loopback HTTP server that records every request it gets and answers each through a
//! function: the body of the harness's roles (application service, push gateway).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;

/// Largest request body read (bigger ones are recorded empty).
const MAX_BODY: usize = 4 * 1024 * 1024;
/// Requests kept (the oldest are dropped past it).
const MAX_LOG: usize = 20_000;

/// One request a role received.
#[derive(Debug, Clone)]
pub struct RoleRequest {
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
    /// Whether `Authorization: Bearer <token>` carried the expected token (always true for a
    /// role that expects none).
    pub authenticated: bool,
    /// Status answered.
    pub status: u16,
}

/// How a role answers a request (its status and JSON body).
pub type Answer = Arc<dyn Fn(&RoleRequest) -> (u16, Value) + Send + Sync>;

struct Shared {
    token: Option<String>,
    /// Also count `?access_token=<token>` (the identity API until v1.20) as authenticated.
    query_token: bool,
    answer: Answer,
    log: Mutex<Vec<RoleRequest>>,
}

impl Shared {
    fn log(&self) -> MutexGuard<'_, Vec<RoleRequest>> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running recorder; stops when dropped.
pub struct Recorder {
    shared: Arc<Shared>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Recorder {
    /// Serve on `listener`; `token`: the bearer token requests must carry to count as
    /// authenticated (None: every request does).
    pub fn serve(listener: TcpListener, token: Option<String>, answer: Answer) -> Self {
        let addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        let shared = Arc::new(Shared {
            token,
            query_token: false,
            answer,
            log: Mutex::new(Vec::new()),
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone(), None));
        Self { shared, addr, task }
    }

    /// Like [`Recorder::serve`], over TLS with `tls` (HTTP/1.1); the token also counts when
    /// sent as the `access_token` query parameter (the identity API's form until v1.20).
    pub fn serve_tls(
        listener: TcpListener,
        token: Option<String>,
        answer: Answer,
        tls: std::sync::Arc<rustls::ServerConfig>,
    ) -> Self {
        let addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        let shared = Arc::new(Shared {
            token,
            query_token: true,
            answer,
            log: Mutex::new(Vec::new()),
        });
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        let task = tokio::spawn(accept_loop(listener, shared.clone(), Some(acceptor)));
        Self { shared, addr, task }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RoleRequest> {
        self.shared.log().clone()
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let shared = shared.clone();
        if let Some(acceptor) = tls.clone() {
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |req| {
                    let shared = shared.clone();
                    async move { Ok::<_, std::convert::Infallible>(handle(req, &shared).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
            continue;
        }
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(req, &shared).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
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

async fn handle(req: hyper::Request<Incoming>, shared: &Shared) -> hyper::Response<Full<Bytes>> {
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
    let authenticated = headers
        .get("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .is_some_and(|t| Some(t.trim()) == shared.token.as_deref())
        || shared.token.is_none()
        || (shared.query_token
            && parts
                .uri
                .query()
                .unwrap_or_default()
                .split('&')
                .filter_map(|kv| kv.strip_prefix("access_token="))
                .any(|t| {
                    Some(
                        percent_encoding::percent_decode_str(t)
                            .decode_utf8_lossy()
                            .as_ref(),
                    ) == shared.token.as_deref()
                }));
    let text = String::from_utf8_lossy(&body).into_owned();
    let mut request = RoleRequest {
        json: serde_json::from_slice(&body).ok(),
        method,
        path,
        uri,
        headers,
        body: text,
        authenticated,
        status: 0,
    };
    let (status, reply) = (shared.answer)(&request);
    request.status = status;
    {
        let mut log = shared.log();
        if log.len() >= MAX_LOG {
            log.remove(0);
        }
        log.push(request);
    }
    respond(status, &reply)
}
