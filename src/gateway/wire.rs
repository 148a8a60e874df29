//! Byte-level exchanges for the probes an HTTP library will not send: plain HTTP on the TLS
//! port, a chunked body, contradictory framing (`Content-Length` with `Transfer-Encoding`,
//! a request hidden after the chunked body) and a second request on the same connection.
//! The request is written exactly as encoded here; answers are read with a small HTTP/1.1
//! response reader. Nothing here waits past the deadline it is given.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::raw::{Endpoint, RawRequest, RawResponse};
use super::suite::Framing;

/// How long the reader waits, after the last expected answer, for an answer nobody asked
/// for (the hidden request's) or for the gateway to close the connection.
pub const LINGER: Duration = Duration::from_millis(1500);
/// Chunk size of a chunked body.
const CHUNK: usize = 64 * 1024;

/// The bytes of one request: request line, a Host header unless given, the headers in order,
/// the framing headers and the body. `hidden` follows the terminating chunk (with
/// `ContentLengthAndChunked`, `Content-Length` counts it).
pub fn encode(
    request: &RawRequest,
    host: &str,
    framing: Option<Framing>,
    hidden: Option<&[u8]>,
) -> Vec<u8> {
    let mut out = format!("{} {} HTTP/1.1\r\n", request.method, request.target).into_bytes();
    if !request
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("host"))
    {
        out.extend_from_slice(format!("host: {host}\r\n").as_bytes());
    }
    for (name, value) in &request.headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    let body = match framing {
        None => {
            if !request.body.is_empty() {
                out.extend_from_slice(
                    format!("content-length: {}\r\n", request.body.len()).as_bytes(),
                );
            }
            request.body.clone()
        }
        Some(Framing::Chunked) => {
            out.extend_from_slice(b"transfer-encoding: chunked\r\n");
            chunked(&request.body)
        }
        Some(Framing::ContentLengthAndChunked) => {
            let mut body = chunked(&request.body);
            body.extend_from_slice(hidden.unwrap_or_default());
            out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
            out.extend_from_slice(b"transfer-encoding: chunked\r\n");
            body
        }
    };
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
    out
}

/// A bodiless request, as hidden after a chunked body.
pub fn hidden_request(method: &str, target: &str, host: &str) -> Vec<u8> {
    format!("{method} {target} HTTP/1.1\r\nhost: {host}\r\n\r\n").into_bytes()
}

fn chunked(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 64);
    for piece in body.chunks(CHUNK) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// What came back on one connection.
#[derive(Debug)]
pub struct WireResult {
    /// The answer to the first request (or why there is none).
    pub first: Result<RawResponse, String>,
    /// The answer to the second request, when one was sent.
    pub second: Option<Result<RawResponse, String>>,
    /// An answer that arrived after the expected ones (to a hidden request).
    pub extra: Option<RawResponse>,
    /// The gateway closed the connection after the last expected answer.
    pub closed: bool,
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

async fn connect(endpoint: &Endpoint, plaintext: bool) -> Result<Box<dyn Io>, String> {
    let tcp = TcpStream::connect(endpoint.host_port())
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", endpoint.host_port()))?;
    let _ = tcp.set_nodelay(true);
    match endpoint.tls() {
        Some(config) if !plaintext => {
            let name =
                rustls::pki_types::ServerName::try_from("localhost").map_err(|e| e.to_string())?;
            let tls = tokio_rustls::TlsConnector::from(Arc::clone(config))
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS handshake with {}: {e}", endpoint.host_port()))?;
            Ok(Box::new(tls))
        }
        _ => Ok(Box::new(tcp)),
    }
}

/// Send `first` (and, after its answer, `second`) on one connection, plain when `plaintext`
/// even to a TLS endpoint; then wait [`LINGER`] for an extra answer or the close.
pub async fn exchange(
    endpoint: &Endpoint,
    plaintext: bool,
    first: Vec<u8>,
    second: Option<Vec<u8>>,
    timeout: Duration,
) -> WireResult {
    let deadline = Instant::now() + timeout;
    let stream = match connect(endpoint, plaintext).await {
        Ok(s) => s,
        Err(e) => {
            return WireResult {
                first: Err(e),
                second: second.map(|_| Err("not sent: no connection".into())),
                extra: None,
                closed: true,
            };
        }
    };
    let (mut reader, mut writer) = tokio::io::split(stream);
    // The body is written while the answer is read: a gateway may refuse before the end.
    let writing = tokio::spawn(async move {
        let r = writer.write_all(&first).await;
        let _ = writer.flush().await;
        (writer, r)
    });
    let mut buf = Vec::new();
    let first_answer = read_response(&mut reader, &mut buf, deadline).await;
    let (mut writer, written) = match writing.await {
        Ok(w) => w,
        Err(e) => {
            return WireResult {
                first: Err(format!("the writer failed: {e}")),
                second: None,
                extra: None,
                closed: true,
            };
        }
    };
    let first = match first_answer {
        Ok(Some(r)) => Ok(r),
        Ok(None) => Err(match written {
            Err(e) => format!("the connection closed without an answer (writing failed: {e})"),
            Ok(()) => "the connection closed without an answer".into(),
        }),
        Err(e) => Err(e),
    };
    let mut result = WireResult {
        first,
        second: None,
        extra: None,
        closed: false,
    };
    if result.first.is_err() {
        result.closed = true;
        result.second = second.map(|_| Err("not sent: the first request got no answer".into()));
        return result;
    }
    if let Some(bytes) = second {
        let sent = writer.write_all(&bytes).await;
        let _ = writer.flush().await;
        result.second = Some(
            match (sent, read_response(&mut reader, &mut buf, deadline).await) {
                (_, Ok(Some(r))) => Ok(r),
                (Err(e), _) => Err(format!("the connection was closed before it: {e}")),
                (Ok(()), Ok(None)) => {
                    result.closed = true;
                    Err("the connection closed without an answer".into())
                }
                (Ok(()), Err(e)) => Err(e),
            },
        );
        if result.closed {
            return result;
        }
    }
    let linger = (Instant::now() + LINGER).min(deadline);
    match read_response(&mut reader, &mut buf, linger).await {
        Ok(Some(r)) => result.extra = Some(r),
        Ok(None) => result.closed = true,
        Err(_) => {}
    }
    result
}

/// Read one answer (skipping 1xx); `Ok(None)` when the connection closed before a byte of it.
async fn read_response<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    deadline: Instant,
) -> Result<Option<RawResponse>, String> {
    loop {
        let head_end = loop {
            if let Some(at) = find(buf, b"\r\n\r\n") {
                break at;
            }
            if !fill(reader, buf, deadline).await? {
                return if buf.is_empty() {
                    Ok(None)
                } else {
                    Err(format!(
                        "the connection closed inside an answer: {}",
                        crate::matrix::http_client::text(buf)
                    ))
                };
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        buf.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| format!("not an HTTP answer: {status_line:?}"))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        if (100..200).contains(&status) {
            continue;
        }
        let value = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        let cap = crate::matrix::net::policy().max_body;
        let body = if status == 204 || status == 304 {
            Vec::new()
        } else if value("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
        {
            read_chunked(reader, buf, deadline, cap).await?
        } else if let Some(len) = value("content-length").and_then(|v| v.parse::<usize>().ok()) {
            if len > cap {
                return Err(format!(
                    "an answer of {len} bytes is over the {cap}-byte cap"
                ));
            }
            while buf.len() < len {
                if !fill(reader, buf, deadline).await? {
                    return Err("the connection closed inside an answer's body".into());
                }
            }
            buf.drain(..len).collect()
        } else {
            while fill(reader, buf, deadline).await? {
                if buf.len() > cap {
                    return Err(format!("an answer over the {cap}-byte cap"));
                }
            }
            std::mem::take(buf)
        };
        return Ok(Some(RawResponse {
            status,
            headers,
            body,
        }));
    }
}

async fn read_chunked<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    deadline: Instant,
    cap: usize,
) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(at) = find(buf, b"\r\n") {
                break at;
            }
            if !fill(reader, buf, deadline).await? {
                return Err("the connection closed inside a chunked answer".into());
            }
        };
        let line = String::from_utf8_lossy(&buf[..line_end]).into_owned();
        buf.drain(..line_end + 2);
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("a bad chunk size line: {line:?}"))?;
        if size == 0 {
            // Trailers, if any, end with an empty line.
            loop {
                if let Some(at) = find(buf, b"\r\n") {
                    let empty = at == 0;
                    buf.drain(..at + 2);
                    if empty {
                        return Ok(body);
                    }
                } else if !fill(reader, buf, deadline).await? {
                    return Ok(body);
                }
            }
        }
        if body.len() + size > cap {
            return Err(format!("an answer over the {cap}-byte cap"));
        }
        while buf.len() < size + 2 {
            if !fill(reader, buf, deadline).await? {
                return Err("the connection closed inside a chunk".into());
            }
        }
        body.extend(buf.drain(..size));
        buf.drain(..2);
    }
}

/// Read more into `buf`; false at the end of the stream (or a reset, which ends it too).
async fn fill<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    deadline: Instant,
) -> Result<bool, String> {
    let mut chunk = [0u8; 16 * 1024];
    match tokio::time::timeout_at(deadline, reader.read(&mut chunk)).await {
        Err(_) => Err("no complete answer in time".into()),
        Ok(Ok(0)) => Ok(false),
        Ok(Ok(n)) => {
            buf.extend_from_slice(&chunk[..n]);
            Ok(true)
        }
        Ok(Err(e)) if buf.is_empty() => {
            let _ = e;
            Ok(false)
        }
        Ok(Err(e)) => Err(format!("reading the answer: {e}")),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> RawRequest {
        RawRequest {
            method: "PUT".into(),
            target: "/x?m=1".into(),
            headers: vec![("authorization".into(), "X-Matrix a".into())],
            body: b"{\"a\":1}".to_vec(),
        }
    }

    #[test]
    fn framings_are_written_as_asked() {
        let plain = String::from_utf8(encode(&request(), "h:1", None, None)).unwrap();
        assert_eq!(
            plain,
            "PUT /x?m=1 HTTP/1.1\r\nhost: h:1\r\nauthorization: X-Matrix a\r\ncontent-length: 7\r\n\r\n{\"a\":1}"
        );
        let chunked =
            String::from_utf8(encode(&request(), "h:1", Some(Framing::Chunked), None)).unwrap();
        assert!(chunked.ends_with("transfer-encoding: chunked\r\n\r\n7\r\n{\"a\":1}\r\n0\r\n\r\n"));
        let hidden = hidden_request("GET", "/h?m=2", "h:1");
        let both = String::from_utf8(encode(
            &request(),
            "h:1",
            Some(Framing::ContentLengthAndChunked),
            Some(&hidden),
        ))
        .unwrap();
        let body = "7\r\n{\"a\":1}\r\n0\r\n\r\nGET /h?m=2 HTTP/1.1\r\nhost: h:1\r\n\r\n";
        assert!(
            both.ends_with(&format!(
                "content-length: {}\r\ntransfer-encoding: chunked\r\n\r\n{body}",
                body.len()
            )),
            "{both}"
        );
    }

    #[tokio::test]
    async fn answers_are_read_in_turn_and_the_close_is_seen() {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            let mut chunk = [0u8; 4096];
            while find(&got, b"GET /two").is_none() {
                let n = s.read(&mut chunk).await.unwrap();
                got.extend_from_slice(&chunk[..n]);
                if find(&got, b"\r\n\r\n").is_some() && got.len() < 60 {
                    s.write_all(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 403 Forbidden\r\ncontent-length: 2\r\n\r\n{}")
                        .await
                        .unwrap();
                }
            }
            s.write_all(b"HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
                .await
                .unwrap();
        });
        let endpoint = Endpoint::new(&format!("http://{addr}"), None).unwrap();
        let r = exchange(
            &endpoint,
            false,
            b"GET /one HTTP/1.1\r\nhost: x\r\n\r\n".to_vec(),
            Some(b"GET /two HTTP/1.1\r\nhost: x\r\n\r\n".to_vec()),
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(r.first.as_ref().unwrap().status, 403);
        let second = r.second.unwrap().unwrap();
        assert_eq!((second.status, second.body.as_slice()), (404, &b"abc"[..]));
        assert!(r.closed && r.extra.is_none());
    }
}
