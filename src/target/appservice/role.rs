//! The application-service role: an HTTP server on 127.0.0.1 that answers the homeserver
//! (transactions, user and alias queries, ping), checks the `hs_token` it presents
//! (`Authorization: Bearer`, spec v1.4+) and records every request for the scenarios to judge.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::Registration;

/// Largest request body read (bigger ones are recorded empty).
const MAX_BODY: usize = 4 * 1024 * 1024;
/// Requests kept (the oldest are dropped past it).
const MAX_LOG: usize = 20_000;

/// One request the homeserver sent to the role.
#[derive(Debug, Clone)]
pub struct AsRequest {
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
    /// Whether `Authorization: Bearer <hs_token>` was sent.
    pub authenticated: bool,
    /// Status answered.
    pub status: u16,
}

struct Shared {
    hs_token: String,
    log: Mutex<Vec<AsRequest>>,
}

impl Shared {
    fn log(&self) -> MutexGuard<'_, Vec<AsRequest>> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running application-service role; stops when dropped.
pub struct AppServiceRole {
    registration: Registration,
    shared: Arc<Shared>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for AppServiceRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppServiceRole")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for AppServiceRole {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl AppServiceRole {
    /// Bind 127.0.0.1:0 and serve with a fresh registration pointing there.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let registration = Registration::fresh(format!("http://{addr}"));
        Ok(Self::serve(listener, registration))
    }

    /// Serve `registration` (tokens and all, e.g. one an operator registered) on `listener`.
    pub fn serve(listener: TcpListener, registration: Registration) -> Self {
        let addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        let shared = Arc::new(Shared {
            hs_token: registration.hs_token.clone(),
            log: Mutex::new(Vec::new()),
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        Self {
            registration,
            shared,
            addr,
            task,
        }
    }

    /// The registration the homeserver knows the role by.
    pub fn registration(&self) -> &Registration {
        &self.registration
    }

    /// Where the role listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<AsRequest> {
        self.shared.log().clone()
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let shared = shared.clone();
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

/// What the role answers: 403 `M_FORBIDDEN` without the right `hs_token` ("Application
/// services MUST verify that the provided Bearer token matches their known hs_token, failing
/// the request with an M_FORBIDDEN error if it does not match"); `{}` to transactions and
/// pings; 404 `M_NOT_FOUND` to user and alias queries (the role creates nothing on demand);
/// 404 `M_UNRECOGNIZED` to anything else.
fn answer(method: &str, path: &str, authenticated: bool) -> (u16, Value) {
    if !authenticated {
        return (
            403,
            json!({"errcode": "M_FORBIDDEN", "error": "wrong or missing hs_token"}),
        );
    }
    let is = |m: &str, prefix: &str| method == m && path.starts_with(prefix);
    if is("PUT", "/_matrix/app/v1/transactions/")
        || (method == "POST" && path == "/_matrix/app/v1/ping")
    {
        (200, json!({}))
    } else if is("GET", "/_matrix/app/v1/users/") || is("GET", "/_matrix/app/v1/rooms/") {
        (
            404,
            json!({"errcode": "M_NOT_FOUND", "error": "not bridged"}),
        )
    } else {
        (
            404,
            json!({"errcode": "M_UNRECOGNIZED", "error": "unknown endpoint"}),
        )
    }
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
        .is_some_and(|t| t.trim() == shared.hs_token);
    let (status, reply) = answer(&method, &path, authenticated);
    let text = String::from_utf8_lossy(&body).into_owned();
    let request = AsRequest {
        json: serde_json::from_slice(&body).ok(),
        method,
        path,
        uri,
        headers,
        body: text,
        authenticated,
        status,
    };
    {
        let mut log = shared.log();
        if log.len() >= MAX_LOG {
            log.remove(0);
        }
        log.push(request);
    }
    respond(status, &reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn send(role: &AppServiceRole, method: &str, path: &str, token: Option<&str>) -> u16 {
        let client = reqwest::Client::new();
        let url = format!("http://{}{path}", role.addr());
        let mut req = client
            .request(http::Method::from_bytes(method.as_bytes()).unwrap(), url)
            .header("content-type", "application/json")
            .body(r#"{"events":[]}"#);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap().status().as_u16()
    }

    #[tokio::test]
    async fn answers_and_records_checking_the_hs_token() {
        let role = AppServiceRole::start().await.unwrap();
        let hs = role.registration().hs_token.clone();
        let as_token = role.registration().as_token.clone();
        assert_eq!(
            send(&role, "PUT", "/_matrix/app/v1/transactions/1", Some(&hs)).await,
            200
        );
        assert_eq!(
            send(&role, "POST", "/_matrix/app/v1/ping", Some(&hs)).await,
            200
        );
        assert_eq!(
            send(
                &role,
                "GET",
                "/_matrix/app/v1/users/@_mxh_as_x:hs",
                Some(&hs)
            )
            .await,
            404
        );
        assert_eq!(
            send(&role, "GET", "/_matrix/app/v1/nope", Some(&hs)).await,
            404
        );
        assert_eq!(
            send(
                &role,
                "PUT",
                "/_matrix/app/v1/transactions/2",
                Some(&as_token)
            )
            .await,
            403
        );
        assert_eq!(
            send(&role, "PUT", "/_matrix/app/v1/transactions/3", None).await,
            403
        );
        let log = role.requests();
        assert_eq!(log.len(), 6);
        assert!(log[0].authenticated);
        assert_eq!(log[0].json, Some(json!({"events": []})));
        assert!(!log[4].authenticated);
        assert_eq!(log[4].status, 403);
        assert!(role.registration().url.starts_with("http://127.0.0.1:"));
    }
}
