//! The load engine's sender for plain-HTTP targets: hyper's pooled HTTP/1 client, without
//! reqwest's layers (URL re-parsing, the redirect and decompression layers), which cost about
//! seven times hyper's own work per request (benches/harness.rs, docs/load.md). HTTPS targets
//! keep the reqwest client of the harness's network policy.
//!
//! The same rules as every other client of the harness: redirects are answers (hyper never
//! follows them), at most [`MAX_HEADERS`] header lines, bodies capped at the policy's limit,
//! a connect timeout, TCP_NODELAY.

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::matrix::net::{CONNECT_TIMEOUT, MAX_HEADERS, policy};

type PlainClient = Client<HttpConnector, Full<Bytes>>;

fn client() -> &'static PlainClient {
    static CLIENT: OnceLock<PlainClient> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.enforce_http(true);
        Client::builder(TokioExecutor::new())
            .http1_max_headers(MAX_HEADERS)
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector)
    })
}

/// Whether `url` is sent here (plain `http://`) rather than through reqwest.
pub fn handles(url: &str) -> bool {
    url.starts_with("http://")
}

/// Send `req`, read the answer's body (capped), all within `timeout`: the status and the
/// body, or why there is none.
pub async fn send(
    req: http::Request<Vec<u8>>,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), String> {
    let (mut parts, body) = req.into_parts();
    parts.headers.insert(
        http::header::USER_AGENT,
        http::HeaderValue::from_static(concat!("mxharness/", env!("CARGO_PKG_VERSION"))),
    );
    let req = http::Request::from_parts(parts, Full::new(Bytes::from(body)));
    let exchange = async {
        let resp = client()
            .request(req)
            .await
            .map_err(|e| crate::matrix::net::error_chain(&e))?;
        let status = resp.status().as_u16();
        let body = Limited::new(resp.into_body(), policy().max_body)
            .collect()
            .await
            .map_err(|e| format!("reading the body: {e}"))?
            .to_bytes();
        Ok((status, body.to_vec()))
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(r) => r,
        Err(_) => Err(format!("no complete answer within {timeout:?}")),
    }
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

    #[test]
    fn only_plain_http_is_handled() {
        assert!(handles("http://127.0.0.1:8008/_matrix/client/versions"));
        assert!(!handles("https://matrix.example.org/"));
    }
}
