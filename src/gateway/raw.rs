//! A raw HTTP/1.1 sender for gateway probes: the request target goes on the wire byte for byte
//! (no URL parsing, so `/./`, `%2e%2e`, `//` and absolute-form targets survive), headers are sent
//! in order and may repeat. TLS trusts the run's CA. Every exchange becomes the project's
//! [`Exchange`] transcript and never hangs past its timeout.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::matrix::http_client::text;
use crate::results::Exchange;

/// Where a probe is sent: `https://127.0.0.1:PORT` (TLS, run CA) or `http://HOST:PORT`.
#[derive(Clone)]
pub struct Endpoint {
    /// `https://...` or `http://...` without a trailing slash.
    pub base: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    host_port: String,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("base", &self.base)
            .finish()
    }
}

impl Endpoint {
    /// Parse a base URL; `tls` is used for `https`.
    pub fn new(base: &str, tls: Option<Arc<rustls::ClientConfig>>) -> Result<Self, String> {
        let base = base.trim_end_matches('/').to_owned();
        let (is_tls, rest) = if let Some(rest) = base.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = base.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(format!(
                "{base}: only http:// and https:// URLs are supported"
            ));
        };
        if rest.is_empty() || rest.contains('/') {
            return Err(format!("{base}: give scheme, host and port only"));
        }
        let host_port = if rest.contains(':') && !rest.ends_with(']') {
            rest.to_owned()
        } else if is_tls {
            format!("{rest}:443")
        } else {
            format!("{rest}:80")
        };
        let tls = if is_tls {
            Some(tls.ok_or_else(|| format!("{base}: no TLS configuration"))?)
        } else {
            None
        };
        Ok(Self {
            base,
            tls,
            host_port,
        })
    }

    /// `host:port` (for the Host header).
    pub fn host_port(&self) -> &str {
        &self.host_port
    }

    /// The TLS configuration of an `https` endpoint.
    pub fn tls(&self) -> Option<&Arc<rustls::ClientConfig>> {
        self.tls.as_ref()
    }
}

/// One request to send.
#[derive(Debug, Clone)]
pub struct RawRequest {
    /// Method, sent as written.
    pub method: String,
    /// Request target, sent as written.
    pub target: String,
    /// Headers in order (a Host header is added when none is given).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// What came back.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// Status code.
    pub status: u16,
    /// Headers (names lowercase).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Send one request; the transcript is returned whatever happens.
pub async fn send(
    endpoint: &Endpoint,
    request: &RawRequest,
    timeout: Duration,
) -> (Result<RawResponse, String>, Exchange) {
    let started = Instant::now();
    let result = match tokio::time::timeout(timeout, exchange(endpoint, request)).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "no complete answer within {} s",
            timeout.as_secs_f32()
        )),
    };
    let transcript = transcript(endpoint, request, &result, started);
    (result, transcript)
}

/// The transcript of one request and its answer (or error), timed from `started`.
pub fn transcript(
    endpoint: &Endpoint,
    request: &RawRequest,
    result: &Result<RawResponse, String>,
    started: Instant,
) -> Exchange {
    let mut transcript = Exchange {
        method: request.method.clone(),
        url: format!("{}{}", endpoint.base, request.target),
        request_headers: request
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), shortened(v)))
            .collect(),
        request_body: (!request.body.is_empty()).then(|| text(&request.body)),
        status: None,
        response_headers: Default::default(),
        response_body: None,
        error: None,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    match result {
        Ok(r) => {
            transcript.status = Some(r.status);
            transcript.response_headers = r.headers.iter().cloned().collect();
            transcript.response_body = Some(text(&r.body));
        }
        Err(e) => transcript.error = Some(e.clone()),
    }
    transcript
}

/// A header value as a transcript shows it: past 1 KiB, cut with the number of bytes left out.
fn shortened(value: &str) -> String {
    const MAX: usize = 1024;
    if value.len() <= MAX {
        return value.to_owned();
    }
    let mut cut = MAX;
    while !value.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… ({} more bytes)", &value[..cut], value.len() - cut)
}

async fn exchange(endpoint: &Endpoint, request: &RawRequest) -> Result<RawResponse, String> {
    let mut connection = Connection::open(endpoint).await?;
    connection.send(request).await
}

/// One HTTP/1.1 connection kept open, so several requests reuse it (keep-alive), as a
/// homeserver's federation client does.
pub struct Connection {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    host_port: String,
}

impl Connection {
    /// Connect (and shake hands over TLS for `https`).
    pub async fn open(endpoint: &Endpoint) -> Result<Self, String> {
        let tcp = TcpStream::connect(&endpoint.host_port)
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", endpoint.host_port))?;
        // A request is written in one go; Nagle would only delay the last segment.
        let _ = tcp.set_nodelay(true);
        let sender = match &endpoint.tls {
            Some(config) => {
                let name = rustls::pki_types::ServerName::try_from("localhost")
                    .map_err(|e| e.to_string())?;
                let tls = tokio_rustls::TlsConnector::from(Arc::clone(config))
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS handshake with {}: {e}", endpoint.host_port))?;
                handshake(tls).await?
            }
            None => handshake(tcp).await?,
        };
        Ok(Self {
            sender,
            host_port: endpoint.host_port.clone(),
        })
    }

    /// Send one request and read its whole (capped) answer.
    pub async fn send(&mut self, request: &RawRequest) -> Result<RawResponse, String> {
        self.sender
            .ready()
            .await
            .map_err(|e| format!("the connection closed: {e}"))?;
        let method = http::Method::from_bytes(request.method.as_bytes())
            .map_err(|e| format!("method {:?}: {e}", request.method))?;
        let uri: http::Uri = request
            .target
            .parse()
            .map_err(|e| format!("request target {:?}: {e}", request.target))?;
        let mut builder = http::Request::builder().method(method).uri(uri);
        if !request
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("host"))
        {
            builder = builder.header("host", self.host_port.as_str());
        }
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let req = builder
            .body(Full::new(Bytes::from(request.body.clone())))
            .map_err(|e| format!("cannot build the request: {e}"))?;
        let response = self
            .sender
            .send_request(req)
            .await
            .map_err(|e| format!("no answer: {e}"))?;
        let (parts, body) = response.into_parts();
        let body = crate::matrix::net::collect_capped(body, crate::matrix::net::policy().max_body)
            .await
            .map_err(|e| {
                format!(
                    "HTTP {}: reading the body: {}",
                    parts.status.as_u16(),
                    e.reason
                )
            })?;
        Ok(RawResponse {
            status: parts.status.as_u16(),
            headers: header_list(&parts.headers),
            body,
        })
    }
}

async fn handshake<S>(
    stream: S,
) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(conn);
    Ok(sender)
}

/// Headers in order as (lowercase name, value as lossy UTF-8).
pub fn header_list(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}
