//! The upstream tap: a transparent plain-HTTP reverse proxy the harness puts between a gateway
//! and the homeserver behind it. It records every request that gets through the gateway
//! (method, request target, headers, body) before forwarding it unchanged, so a check can say
//! "this request never reached the homeserver" (no recorded request carries its marker) and
//! "the homeserver received exactly this" (header hygiene, Authorization preserved).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

use super::GatewayError;

/// One request that reached the homeserver through the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tapped {
    /// HTTP method.
    pub method: String,
    /// The request target exactly as the gateway sent it (path and query).
    pub target: String,
    /// Headers in arrival order (names lowercase; values lossy UTF-8).
    pub headers: Vec<(String, String)>,
    /// The body as text (lossy UTF-8).
    pub body: String,
}

impl Tapped {
    /// Whether `marker` occurs in the target, a header value or the body.
    pub fn carries(&self, marker: &str) -> bool {
        self.target.contains(marker)
            || self.body.contains(marker)
            || self.headers.iter().any(|(_, v)| v.contains(marker))
    }

    /// Every value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Vec<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Where a tap sends what it recorded.
#[derive(Debug, Clone, Copy)]
pub enum Behind {
    /// Forward unchanged to the homeserver at this address (the upstream tap).
    Upstream(SocketAddr),
    /// Nothing: answer `200 {"mxh_decoy": true}` (the decoy, `super::decoy`).
    Nothing,
}

/// A running tap; stops accepting when dropped.
#[derive(Debug)]
pub struct Tap {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Tapped>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Tap {
    /// Listen on `listen` (use port 0 for a free loopback port) and forward to `upstream`.
    pub async fn start(listen: SocketAddr, upstream: SocketAddr) -> Result<Tap, GatewayError> {
        Tap::listen(listen, Behind::Upstream(upstream)).await
    }

    /// Listen on `listen`, record every request, and pass it to what is `behind`.
    pub async fn listen(listen: SocketAddr, behind: Behind) -> Result<Tap, GatewayError> {
        let listener = TcpListener::bind(listen)
            .await
            .map_err(GatewayError::io(format!(
                "cannot listen on {listen} for a tap or decoy"
            )))?;
        let addr = listener
            .local_addr()
            .map_err(GatewayError::io("cannot read the tap's address"))?;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorder = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let recorder = Arc::clone(&recorder);
                tokio::spawn(async move {
                    let service =
                        service_fn(move |req| forward(req, behind, Arc::clone(&recorder)));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Tap { addr, seen, task })
    }

    /// Where the gateway must send its upstream traffic.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Recorded requests carrying `marker`.
    pub fn seen_with(&self, marker: &str) -> Vec<Tapped> {
        self.seen
            .lock()
            .map(|seen| seen.iter().filter(|t| t.carries(marker)).cloned().collect())
            .unwrap_or_default()
    }

    /// How many requests got through so far.
    pub fn count(&self) -> usize {
        self.seen.lock().map(|s| s.len()).unwrap_or(0)
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Reply = hyper::Response<Full<Bytes>>;

async fn forward(
    req: hyper::Request<Incoming>,
    behind: Behind,
    seen: Arc<Mutex<Vec<Tapped>>>,
) -> Result<Reply, std::convert::Infallible> {
    let (parts, body) = req.into_parts();
    let cap = crate::matrix::net::policy().max_body;
    let body = match crate::matrix::net::collect_capped(body, cap).await {
        Ok(b) => Bytes::from(b),
        Err(e) => {
            return Ok(error_reply(format!(
                "tap: reading the request body: {}",
                e.reason.replace("response body", "request body")
            )));
        }
    };
    let tapped = Tapped {
        method: parts.method.to_string(),
        target: parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| parts.uri.to_string()),
        headers: super::raw::header_list(&parts.headers),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    if let Ok(mut s) = seen.lock() {
        s.push(tapped);
    }
    let upstream = match behind {
        Behind::Upstream(addr) => addr,
        Behind::Nothing => return Ok(decoy_reply()),
    };
    let request = hyper::Request::from_parts(parts, Full::new(body));
    Ok(match send_upstream(request, upstream).await {
        Ok(r) => r,
        Err(e) => error_reply(format!("tap: upstream {upstream}: {e}")),
    })
}

async fn send_upstream(
    request: hyper::Request<Full<Bytes>>,
    upstream: SocketAddr,
) -> Result<Reply, String> {
    let stream = TcpStream::connect(upstream)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let (parts, body) = response.into_parts();
    let body = crate::matrix::net::collect_capped(body, crate::matrix::net::policy().max_body)
        .await
        .map_err(|e| e.reason)?;
    Ok(hyper::Response::from_parts(
        parts,
        Full::new(Bytes::from(body)),
    ))
}

fn decoy_reply() -> Reply {
    let mut r = hyper::Response::new(Full::new(Bytes::from_static(b"{\"mxh_decoy\":true}")));
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn error_reply(message: String) -> Reply {
    let body = serde_json::json!({"errcode": "M_UNKNOWN", "error": message}).to_string();
    let mut r = hyper::Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = hyper::StatusCode::BAD_GATEWAY;
    r
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::gateway::raw::{self, Endpoint, RawRequest};

    /// A stub homeserver (unit tests only) that answers with the request target it received.
    async fn echo_upstream() -> SocketAddr {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let service = service_fn(|req: hyper::Request<Incoming>| async move {
                        let target = req.uri().to_string();
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                            Bytes::from(target),
                        )))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn requests_pass_byte_for_byte_and_are_recorded() {
        let upstream = echo_upstream().await;
        let tap = Tap::start(([127, 0, 0, 1], 0).into(), upstream)
            .await
            .unwrap();
        let endpoint = Endpoint::new(&format!("http://{}", tap.addr()), None).unwrap();
        let target = "/_matrix/key/v2/%2e%2e/../x//y;z?m=mark1";
        let request = RawRequest {
            method: "PUT".into(),
            target: target.into(),
            headers: vec![("x-probe".into(), "one".into())],
            body: b"{\"a\":1}".to_vec(),
        };
        let (response, transcript) = raw::send(&endpoint, &request, Duration::from_secs(5)).await;
        let response = response.unwrap();
        assert_eq!(String::from_utf8_lossy(&response.body), target);
        assert_eq!(transcript.status, Some(200));
        let seen = tap.seen_with("mark1");
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].target, target);
        assert_eq!(seen[0].method, "PUT");
        assert_eq!(seen[0].header("X-Probe"), ["one"]);
        assert_eq!(seen[0].body, "{\"a\":1}");
        assert!(tap.seen_with("mark2").is_empty());
    }

    #[tokio::test]
    async fn an_unreachable_upstream_is_a_502_matrix_error() {
        let closed = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let upstream = closed.local_addr().unwrap();
        drop(closed);
        let tap = Tap::start(([127, 0, 0, 1], 0).into(), upstream)
            .await
            .unwrap();
        let endpoint = Endpoint::new(&format!("http://{}", tap.addr()), None).unwrap();
        let request = RawRequest {
            method: "GET".into(),
            target: "/x?m=mark3".into(),
            headers: Vec::new(),
            body: Vec::new(),
        };
        let (response, _) = raw::send(&endpoint, &request, Duration::from_secs(5)).await;
        let response = response.unwrap();
        assert_eq!(response.status, 502);
        assert_eq!(response.json().unwrap()["errcode"], "M_UNKNOWN");
        assert_eq!(tap.count(), 1);
    }
}
