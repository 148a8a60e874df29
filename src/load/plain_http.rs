//! The load engine's sender for plain-HTTP targets: each virtual user's own keep-alive HTTP/1
//! connection (oha's shape, no pool to check out from), without
//! reqwest's layers (URL re-parsing, the redirect and decompression layers), which cost about
//! seven times hyper's own work per request (benches/harness.rs, docs/load.md). HTTPS targets
//! keep the reqwest client of the harness's network policy.
//!
//! The same rules as every other client of the harness: redirects are answers (hyper never
//! follows them), at most [`MAX_HEADERS`] header lines, bodies capped at the policy's limit,
//! a connect timeout, TCP_NODELAY.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;

use crate::matrix::net::{CONNECT_TIMEOUT, MAX_HEADERS, policy};

/// One virtual user's connection: its authority and hyper's sender; a clone is an empty slot
/// (a connection belongs to one user).
#[derive(Default)]
pub struct UserConn {
    open: Option<(String, SendRequest<Full<Bytes>>)>,
}

impl Clone for UserConn {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl UserConn {
    /// The open sender for `authority`, or a new connection to it.
    async fn sender(&mut self, authority: &str) -> Result<&mut SendRequest<Full<Bytes>>, String> {
        let reusable = matches!(&self.open, Some((a, s)) if a == authority && s.is_ready());
        if !reusable {
            self.open = None;
            let stream =
                tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(authority))
                    .await
                    .map_err(|_| {
                        format!("connecting to {authority}: no answer within {CONNECT_TIMEOUT:?}")
                    })?
                    .map_err(|e| format!("connecting to {authority}: {e}"))?;
            let _ = stream.set_nodelay(true);
            let (sender, conn) = hyper::client::conn::http1::Builder::new()
                .max_headers(MAX_HEADERS)
                .handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| crate::matrix::net::error_chain(&e))?;
            // The connection's driver ends when the sender is dropped or the peer closes.
            tokio::spawn(conn);
            self.open = Some((authority.to_owned(), sender));
        }
        match &mut self.open {
            Some((_, s)) => Ok(s),
            None => Err("no connection".into()),
        }
    }
}

/// Send `req` on the user's own connection (opened or reopened as needed), read the answer's
/// body (capped), all within `timeout`. A failed exchange drops the connection.
pub async fn send_on(
    conn: &mut UserConn,
    req: http::Request<Vec<u8>>,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), String> {
    let (mut parts, body) = req.into_parts();
    let Some(authority) = parts.uri.authority().map(|a| a.as_str().to_owned()) else {
        return Err(format!("{} has no host", parts.uri));
    };
    if let Ok(host) = http::HeaderValue::from_str(&authority) {
        parts.headers.insert(http::header::HOST, host);
    }
    parts.headers.insert(
        http::header::USER_AGENT,
        http::HeaderValue::from_static(concat!("mxharness/", env!("CARGO_PKG_VERSION"))),
    );
    // Origin-form on the wire, as a client (not a proxy) sends it.
    if let Some(pq) = parts.uri.path_and_query().cloned() {
        parts.uri = http::Uri::from(pq);
    }
    let req = http::Request::from_parts(parts, Full::new(Bytes::from(body)));
    let exchange = async {
        let sender = conn.sender(&authority).await?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| crate::matrix::net::error_chain(&e))?;
        let status = resp.status().as_u16();
        let body = Limited::new(resp.into_body(), policy().max_body)
            .collect()
            .await
            .map_err(|e| format!("reading the body: {e}"))?
            .to_bytes();
        Ok::<_, String>((status, body.to_vec()))
    };
    let result = match tokio::time::timeout(timeout, exchange).await {
        Ok(r) => r,
        Err(_) => Err(format!("no complete answer within {timeout:?}")),
    };
    if result.is_err() {
        conn.open = None;
    }
    result
}

/// Whether `url` is sent here (plain `http://`) rather than through reqwest.
pub fn handles(url: &str) -> bool {
    url.starts_with("http://")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-shot server answering `answer` to the first request on 127.0.0.1.
    async fn serve_once(answer: &'static [u8]) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            if let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let _ = sock.write_all(answer).await;
            }
        });
        format!("http://{addr}/x")
    }

    async fn send(
        req: http::Request<Vec<u8>>,
        timeout: Duration,
    ) -> Result<(u16, Vec<u8>), String> {
        send_on(&mut UserConn::default(), req, timeout).await
    }

    fn get(url: &str) -> http::Request<Vec<u8>> {
        http::Request::get(url).body(Vec::new()).expect("a request")
    }

    #[tokio::test]
    async fn a_redirect_is_the_answer() {
        let url = serve_once(
            b"HTTP/1.1 307 Temporary Redirect\r\nlocation: http://127.0.0.1:1/\r\ncontent-length: 0\r\n\r\n",
        )
        .await;
        let (status, body) = send(get(&url), Duration::from_secs(5))
            .await
            .expect("an answer");
        assert_eq!(status, 307);
        assert!(body.is_empty());
    }

    #[tokio::test]
    async fn a_body_is_read_whole() {
        let url = serve_once(
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: application/json\r\n\r\n{}",
        )
        .await;
        let (status, body) = send(get(&url), Duration::from_secs(5))
            .await
            .expect("an answer");
        assert_eq!((status, body.as_slice()), (200, b"{}".as_slice()));
    }

    #[tokio::test]
    async fn a_silent_server_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let _keep = tokio::spawn(async move {
            let held = listener.accept().await;
            tokio::time::sleep(Duration::from_secs(10)).await;
            drop(held);
        });
        let err = send(get(&format!("http://{addr}/")), Duration::from_millis(300))
            .await
            .expect_err("no answer");
        assert!(err.contains("within"), "{err}");
    }

    #[tokio::test]
    async fn a_user_connection_is_reused_and_reopened() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = std::sync::Arc::clone(&accepted);
        tokio::spawn(async move {
            // the first connection answers two requests, then closes; the next answers one
            while let Ok((mut sock, _)) = listener.accept().await {
                let n = count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let answers = if n == 0 { 2 } else { 1 };
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    for _ in 0..answers {
                        if sock.read(&mut buf).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let _ = sock
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
                            .await;
                    }
                });
            }
        });
        let url = format!("http://{addr}/x");
        let mut conn = UserConn::default();
        for _ in 0..2 {
            let (status, _) = send_on(&mut conn, get(&url), Duration::from_secs(5))
                .await
                .expect("an answer on the first connection");
            assert_eq!(status, 200);
        }
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
        // the server closed the first connection: the next request may fail once, then reopens
        let mut ok = false;
        for _ in 0..3 {
            if send_on(&mut conn, get(&url), Duration::from_secs(5))
                .await
                .is_ok()
            {
                ok = true;
                break;
            }
        }
        assert!(ok, "a new connection is opened after the peer closed");
        assert!(accepted.load(std::sync::atomic::Ordering::SeqCst) >= 2);
    }

    #[test]
    fn only_plain_http_is_handled() {
        assert!(handles("http://127.0.0.1:8008/_matrix/client/versions"));
        assert!(!handles("https://matrix.example.org/"));
    }
}
