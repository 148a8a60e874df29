//! The decoy: a plain-HTTP listener on loopback that records every request and answers
//! `200 {"mxh_decoy": true}`. Routing-spoofing checks name its address in Host,
//! X-Forwarded-Host or Forwarded (`${decoy}`); a request of theirs recorded here went where the
//! remote's header said instead of to the homeserver.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::GatewayError;
use super::tap::Tapped;

/// A running decoy; stops accepting when dropped.
#[derive(Debug)]
pub struct Decoy {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Tapped>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Decoy {
    /// Listen on a free loopback port.
    pub async fn start() -> Result<Decoy, GatewayError> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(GatewayError::io("cannot listen for the decoy"))?;
        let addr = listener
            .local_addr()
            .map_err(GatewayError::io("cannot read the decoy's address"))?;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorder = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let recorder = Arc::clone(&recorder);
                tokio::spawn(async move {
                    let service = service_fn(move |req| record(req, Arc::clone(&recorder)));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Decoy { addr, seen, task })
    }

    /// `127.0.0.1:PORT`, what `${decoy}` stands for.
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
}

impl Drop for Decoy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record(
    req: hyper::Request<hyper::body::Incoming>,
    seen: Arc<Mutex<Vec<Tapped>>>,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    let (parts, body) = req.into_parts();
    let body = crate::matrix::net::collect_capped(body, crate::matrix::net::policy().max_body)
        .await
        .unwrap_or_default();
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
    let mut r = hyper::Response::new(Full::new(Bytes::from_static(b"{\"mxh_decoy\":true}")));
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::gateway::raw::{self, Endpoint, RawRequest};

    #[tokio::test]
    async fn the_decoy_records_and_answers() {
        let decoy = Decoy::start().await.unwrap();
        let endpoint = Endpoint::new(&format!("http://{}", decoy.addr()), None).unwrap();
        let request = RawRequest {
            method: "GET".into(),
            target: "/x?m=mark9".into(),
            headers: Vec::new(),
            body: Vec::new(),
        };
        let (r, _) = raw::send(&endpoint, &request, Duration::from_secs(5)).await;
        assert_eq!(r.unwrap().status, 200);
        assert_eq!(decoy.seen_with("mark9").len(), 1);
        assert!(decoy.seen_with("other").is_empty());
    }
}
