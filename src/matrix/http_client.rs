//! The HTTP client every step goes through: sends an `http::Request`, never hangs (a
//! timeout per exchange), never panics on a broken server, and records the exchange for
//! the transcript.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::net::{self, NetPolicy};
use crate::results::Exchange;

/// Longest body kept in a transcript, in bytes.
pub const MAX_TRANSCRIPT_BODY: usize = 16 * 1024;

/// A response as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Status.
    pub status: u16,
    /// Headers, lowercase names.
    pub headers: http::HeaderMap,
    /// Whole body.
    pub body: Vec<u8>,
}

impl Received {
    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// As an `http::Response` borrowing the body (for ruma's parsers).
    pub fn as_http(&self) -> http::Response<&[u8]> {
        let mut builder = http::Response::builder().status(self.status);
        if let Some(h) = builder.headers_mut() {
            *h = self.headers.clone();
        }
        builder
            .body(self.body.as_slice())
            .unwrap_or_else(|_| http::Response::new(self.body.as_slice()))
    }
}

/// Shared HTTP client.
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    max_body: usize,
}

impl HttpClient {
    /// A client of the process's [`net`] policy: pooled connections, no proxy, no redirects,
    /// the body cap of `--max-body`, `--ca-cert` trusted beside the system's roots.
    pub fn new() -> Result<Self, String> {
        Self::for_policy(net::policy())
    }

    /// A client of an explicit policy.
    pub fn for_policy(policy: &NetPolicy) -> Result<Self, String> {
        let inner = net::builder_for(policy)
            .build()
            .map_err(|e| format!("cannot create the HTTP client: {}", net::error_chain(&e)))?;
        Ok(Self {
            inner,
            max_body: policy.max_body,
        })
    }

    /// Like [`HttpClient::new`], trusting only `root` (a federation run's CA) and the
    /// `--ca-cert` certificates for HTTPS.
    pub fn with_root_certificate(root: reqwest::Certificate) -> Result<Self, String> {
        let policy = net::policy();
        let mut roots = policy.reqwest_roots()?;
        roots.push(root);
        let inner = net::builder_without_roots()
            .tls_certs_only(roots)
            .build()
            .map_err(|e| format!("cannot create the HTTP client: {}", net::error_chain(&e)))?;
        Ok(Self {
            inner,
            max_body: policy.max_body,
        })
    }

    /// The response body cap, in bytes.
    pub fn max_body(&self) -> usize {
        self.max_body
    }

    /// Send a request with a timeout; the exchange is always returned, the response only
    /// when one came.
    pub async fn send(
        &self,
        request: http::Request<Vec<u8>>,
        timeout: Duration,
    ) -> (Exchange, Option<Received>) {
        let (parts, body) = request.into_parts();
        let mut exchange = Exchange {
            method: parts.method.to_string(),
            url: parts.uri.to_string(),
            request_headers: headers_map(&parts.headers),
            request_body: (!body.is_empty()).then(|| text(&body)),
            status: None,
            response_headers: BTreeMap::new(),
            response_body: None,
            error: None,
            duration_ms: 0,
        };
        let started = Instant::now();
        let url = parts.uri.to_string();
        let send = self
            .inner
            .request(parts.method, url)
            .headers(parts.headers)
            .body(body)
            .timeout(timeout)
            .send();
        let max_body = self.max_body;
        // A response whose body could not be read whole still shows its status, headers and
        // first KiB in the transcript.
        let mut partial: Option<(u16, http::HeaderMap, Vec<u8>)> = None;
        let outcome = async {
            let resp = send.await.map_err(|e| describe_error(e, timeout))?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            partial = Some((status, headers.clone(), Vec::new()));
            match net::read_capped(resp, max_body).await {
                Ok(body) => Ok::<_, String>(Received {
                    status,
                    headers,
                    body,
                }),
                Err(e) if e.timed_out => {
                    partial = Some((status, headers, e.prefix));
                    Err(held(timeout))
                }
                Err(e) => {
                    let reason = if e.capped {
                        e.reason
                    } else {
                        format!("{BROKE_OFF}: {}", e.reason)
                    };
                    partial = Some((status, headers, e.prefix));
                    Err(reason)
                }
            }
        };
        // reqwest's timeout covers the body too; the outer one is a backstop.
        let result = match tokio::time::timeout(timeout + Duration::from_secs(1), outcome).await {
            Ok(r) => r,
            Err(_) => Err(held(timeout)),
        };
        exchange.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match result {
            Ok(received) => {
                exchange.status = Some(received.status);
                exchange.response_headers = headers_map(&received.headers);
                exchange.response_body = Some(text(&received.body));
                (exchange, Some(received))
            }
            Err(e) => {
                if let Some((status, headers, prefix)) = partial {
                    exchange.status = Some(status);
                    exchange.response_headers = headers_map(&headers);
                    exchange.response_body = Some(text(&prefix));
                }
                exchange.error = Some(e);
                (exchange, None)
            }
        }
    }
}

/// Start of the message for a body that broke off after the headers.
pub const BROKE_OFF: &str = "the response body broke off";

/// Whether an exchange error came after the status and headers (a body over the cap or cut
/// short): the server did answer.
pub fn answered(error: &str) -> bool {
    error.starts_with("the response ")
}

/// Start of the message for a request the server kept past the client's timeout.
pub const HELD: &str = "the server held the request for";

/// Whether an exchange error is a client-side timeout (see [`held`]).
pub fn is_held(error: &str) -> bool {
    error.starts_with(HELD)
}

/// "the server held the request for ≥ N s (client timeout)": the server did answer the
/// connection and kept the request open until the harness gave up; it was not unreachable.
pub fn held(timeout: Duration) -> String {
    let secs = if timeout.subsec_millis() == 0 {
        timeout.as_secs().to_string()
    } else {
        format!("{:.1}", timeout.as_secs_f64())
    };
    format!("{HELD} ≥ {secs} s (client timeout)")
}

fn describe_error(e: reqwest::Error, timeout: Duration) -> String {
    // A connect timeout is not a held request: the server never took it.
    if e.is_timeout() && !e.is_connect() {
        return held(timeout);
    }
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        BROKE_OFF
    } else {
        "request failed"
    };
    format!("{kind}: {}", net::error_chain(&e))
}

fn headers_map(h: &http::HeaderMap) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for (k, v) in h {
        let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
        map.entry(k.as_str().to_owned())
            .and_modify(|e: &mut String| {
                e.push_str(", ");
                e.push_str(&v);
            })
            .or_insert(v);
    }
    map
}

/// Body bytes as text for a transcript, cut at [`MAX_TRANSCRIPT_BODY`].
pub fn text(body: &[u8]) -> String {
    let cut = body.len().min(MAX_TRANSCRIPT_BODY);
    let mut s = String::from_utf8_lossy(&body[..cut]).into_owned();
    if body.len() > cut {
        s.push_str(&format!("… ({} more bytes)", body.len() - cut));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_names_the_time_in_seconds() {
        assert_eq!(
            held(Duration::from_secs(30)),
            "the server held the request for ≥ 30 s (client timeout)"
        );
        assert_eq!(
            held(Duration::from_millis(300)),
            "the server held the request for ≥ 0.3 s (client timeout)"
        );
        assert!(is_held(&held(Duration::from_secs(1))));
        assert!(!is_held("connection failed: refused"));
    }

    /// A server that accepts the request and never answers: the failure says it held the
    /// request, and the exchange still carries the request for the transcript.
    #[tokio::test]
    async fn a_held_request_is_reported_as_held_with_the_request() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((sock, _)) = listener.accept().await {
                open.push(sock);
            }
        });
        let client = HttpClient::new().expect("client");
        let request = http::Request::builder()
            .method(http::Method::POST)
            .uri(format!("http://{addr}/_matrix/client/v4/sync"))
            .body(br#"{"timeout":0}"#.to_vec())
            .expect("request");
        let (exchange, received) = client.send(request, Duration::from_millis(300)).await;
        server.abort();
        assert!(received.is_none());
        assert_eq!(
            exchange.error.as_deref(),
            Some("the server held the request for ≥ 0.3 s (client timeout)")
        );
        assert_eq!(exchange.method, "POST");
        assert!(exchange.url.ends_with("/_matrix/client/v4/sync"));
        assert_eq!(exchange.request_body.as_deref(), Some(r#"{"timeout":0}"#));
        assert!(exchange.duration_ms >= 300);
    }
}
