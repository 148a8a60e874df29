//! Hostile servers on loopback for tests/hostile_targets.rs, and a runner of the real binary
//! that bounds it in time (killed past a generous limit) and measures its peak memory.

#![allow(dead_code)]

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The longest any one connection of a hostile server is kept open.
const CONNECTION_BOUND: Duration = Duration::from_secs(60);

/// A run of the binary taking longer than this is a hang: it is killed and the test fails.
const RUN_BOUND: Duration = Duration::from_secs(180);

/// What the server answers on the request under test.
#[derive(Debug, Clone)]
pub enum Answer {
    /// 200 `{"ok": true}` (a well-behaved server).
    Fine,
    /// A chunked body that never ends.
    EndlessChunked,
    /// `Content-Length: 1 TiB`, then a KiB every 100 ms.
    HugeLengthSlow,
    /// A chunked body of one byte every 100 ms, forever (the deadline must hold mid-body).
    SlowChunkedBody,
    /// A status line, then one header byte every 200 ms.
    SlowlorisHeaders,
    /// 64 KiB of bytes that are not HTTP, after reading the request.
    Garbage,
    /// Bytes that are not TLS (or HTTP) as soon as the connection is accepted.
    GarbageAtOnce,
    /// 307 to this URL.
    Redirect(String),
    /// A JSON content type with bytes that are not UTF-8.
    InvalidUtf8,
    /// `[[[…]]]` this deep.
    DeepJson(usize),
    /// Content-Length 100000, 1000 bytes, then the connection closes.
    CloseMidBody,
    /// 10 MB of header lines.
    HugeHeaders,
    /// Nothing is read (not even the request) and nothing is written.
    NeverRead,
    /// The request head is read, then the socket is held open: the body is never read.
    NeverReadBody,
    /// The request head is read, then the connection is closed under the writer.
    CloseWhileWriting,
}

/// Where the hostile answer comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// On `/_matrix/client/versions`: target preparation fails (exit 5).
    Versions,
    /// On `/hostile` (the fixture scenarios' request); `/versions` is answered properly.
    Check,
}

/// A running server; it stops when dropped.
pub struct Server {
    rt: tokio::runtime::Runtime,
    /// `http://127.0.0.1:PORT` (or `https://localhost:PORT`).
    pub url: String,
}

impl Server {
    /// Run `f` on the server's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }
}

/// A plain HTTP server answering `answer` at `at`.
pub fn start(answer: Answer, at: At) -> Server {
    start_with(answer, at, None)
}

/// Like [`start`], over TLS with `tls` when given (the URL is then `https://localhost:PORT`).
pub fn start_with(answer: Answer, at: At, tls: Option<Arc<rustls::ServerConfig>>) -> Server {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let url = match tls {
        Some(_) => format!("https://localhost:{port}"),
        None => format!("http://127.0.0.1:{port}"),
    };
    rt.spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let answer = answer.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let _ =
                    tokio::time::timeout(CONNECTION_BOUND, connection(sock, answer, at, tls)).await;
            });
        }
    });
    Server { rt, url }
}

/// A listener that only counts the connections it gets (the target of a redirect).
pub struct Counter {
    _rt: tokio::runtime::Runtime,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Connections accepted.
    pub hits: Arc<AtomicUsize>,
}

/// Start a [`Counter`].
pub fn counter() -> Counter {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let hits = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&hits);
    rt.spawn(async move {
        while let Ok((_sock, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
        }
    });
    Counter { _rt: rt, url, hits }
}

async fn connection(
    sock: TcpStream,
    answer: Answer,
    at: At,
    tls: Option<Arc<rustls::ServerConfig>>,
) {
    match tls {
        None => serve(sock, answer, at).await,
        Some(config) => {
            if at == At::Versions && matches!(answer, Answer::GarbageAtOnce) {
                return serve(sock, answer, at).await;
            }
            let Ok(stream) = tokio_rustls::TlsAcceptor::from(config).accept(sock).await else {
                return;
            };
            serve(stream, answer, at).await;
        }
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut sock: S, answer: Answer, at: At) {
    if at == At::Versions {
        match answer {
            Answer::NeverRead => return hold().await,
            Answer::GarbageAtOnce => {
                let _ = sock.write_all(&garbage(64 * 1024)).await;
                return;
            }
            _ => {}
        }
    }
    let Some(path) = read_head(&mut sock).await else {
        return;
    };
    let hostile_path = match at {
        At::Versions => "/_matrix/client/versions",
        At::Check => "/hostile",
    };
    if path == hostile_path {
        return hostile(sock, answer).await;
    }
    let (status, body) = if path == "/_matrix/client/versions" {
        ("200 OK", r#"{"versions":["v1.11"],"unstable_features":{}}"#)
    } else {
        (
            "404 Not Found",
            r#"{"errcode":"M_UNRECOGNIZED","error":"Unrecognized request"}"#,
        )
    };
    let reply = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = sock.write_all(reply.as_bytes()).await;
    let _ = sock.shutdown().await;
}

/// The request path, once the head is read (at most 64 KiB of it).
async fn read_head<S: AsyncRead + Unpin>(sock: &mut S) -> Option<String> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut read = 0;
    while !buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
        if read == buf.len() {
            return None;
        }
        match sock.read(&mut buf[read..]).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => read += n,
        }
    }
    let head = String::from_utf8_lossy(&buf[..read]).into_owned();
    Some(head.split_whitespace().nth(1).unwrap_or("/").to_owned())
}

async fn hold() {
    tokio::time::sleep(CONNECTION_BOUND).await;
}

/// Deterministic bytes that are neither HTTP nor TLS.
fn garbage(n: usize) -> Vec<u8> {
    let mut x: u32 = 0x2545_f491;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            // Never a valid first byte of a TLS record or an HTTP status line.
            (x as u8) | 0x80
        })
        .collect()
}

async fn hostile<S: AsyncRead + AsyncWrite + Unpin>(mut sock: S, answer: Answer) {
    let head = |extra: &str| {
        format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{extra}\r\n").into_bytes()
    };
    match answer {
        Answer::Fine => {
            let _ = sock
                .write_all(&head("content-length: 11\r\nconnection: close\r\n"))
                .await;
            let _ = sock.write_all(br#"{"ok":true}"#).await;
        }
        Answer::EndlessChunked => {
            if sock
                .write_all(&head("transfer-encoding: chunked\r\n"))
                .await
                .is_err()
            {
                return;
            }
            let chunk = format!("10000\r\n{}\r\n", "x".repeat(0x10000)).into_bytes();
            while sock.write_all(&chunk).await.is_ok() {}
        }
        Answer::HugeLengthSlow => {
            if sock
                .write_all(&head("content-length: 1099511627776\r\n"))
                .await
                .is_err()
            {
                return;
            }
            let kib = vec![b'x'; 1024];
            while sock.write_all(&kib).await.is_ok() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Answer::SlowChunkedBody => {
            if sock
                .write_all(&head("transfer-encoding: chunked\r\n"))
                .await
                .is_err()
            {
                return;
            }
            while sock.write_all(b"1\r\nx\r\n").await.is_ok() {
                let _ = sock.flush().await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Answer::SlowlorisHeaders => {
            if sock
                .write_all(b"HTTP/1.1 200 OK\r\nx-slow: ")
                .await
                .is_err()
            {
                return;
            }
            while sock.write_all(b"a").await.is_ok() {
                let _ = sock.flush().await;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Answer::Garbage | Answer::GarbageAtOnce => {
            let _ = sock.write_all(&garbage(64 * 1024)).await;
        }
        Answer::Redirect(location) => {
            let reply = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            let _ = sock.write_all(reply.as_bytes()).await;
        }
        Answer::InvalidUtf8 => {
            let body: &[u8] = b"{\"ok\": \"\xff\xfe\xfd\xc3\x28\"}";
            let extra = format!("content-length: {}\r\nconnection: close\r\n", body.len());
            let _ = sock.write_all(&head(&extra)).await;
            let _ = sock.write_all(body).await;
        }
        Answer::DeepJson(depth) => {
            let mut body = "[".repeat(depth);
            body.push_str(&"]".repeat(depth));
            let extra = format!("content-length: {}\r\nconnection: close\r\n", body.len());
            let _ = sock.write_all(&head(&extra)).await;
            let _ = sock.write_all(body.as_bytes()).await;
        }
        Answer::CloseMidBody => {
            let _ = sock.write_all(&head("content-length: 100000\r\n")).await;
            let mut part = br#"{"ok":true,"pad":""#.to_vec();
            part.resize(1000, b'x');
            let _ = sock.write_all(&part).await;
            let _ = sock.flush().await;
        }
        Answer::HugeHeaders => {
            if sock.write_all(b"HTTP/1.1 200 OK\r\n").await.is_err() {
                return;
            }
            let value = "h".repeat(1000);
            for i in 0..10_000 {
                let line = format!("x-header-{i}: {value}\r\n");
                if sock.write_all(line.as_bytes()).await.is_err() {
                    return;
                }
            }
            let _ = sock.write_all(b"content-length: 2\r\n\r\n{}").await;
        }
        Answer::NeverRead | Answer::NeverReadBody => hold().await,
        Answer::CloseWhileWriting => {}
    }
}

/// A finished run of the binary.
#[derive(Debug)]
pub struct Ran {
    /// Exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Highest VmHWM seen in /proc while it ran, KiB.
    pub polled_peak_kib: u64,
    /// ru_maxrss of this process's children (the largest child so far), KiB.
    pub children_max_kib: u64,
}

impl Ran {
    /// Text for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "exit: {:?}; peak {} KiB (children max {} KiB)\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.polled_peak_kib, self.children_max_kib, self.stdout, self.stderr
        )
    }
}

/// Run `mxharness ARGS` from the repository root, killed if it outlives [`RUN_BOUND`].
pub fn run(args: &[&str]) -> Ran {
    run_env(args, &[])
}

/// [`run`] with extra environment variables.
pub fn run_env(args: &[&str], envs: &[(&str, &str)]) -> Ran {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mxharness"));
    cmd.current_dir(super::common::root())
        .args(args)
        .env("MXH_CACHE_DIR", super::common::cache_dir())
        .env_remove("MXH_TARGET")
        .env_remove("MXH_REGISTRATION_SHARED_SECRET")
        .env_remove("MXH_REGISTRATION_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("the mxharness binary starts");
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = r.read_to_end(&mut s);
            String::from_utf8_lossy(&s).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("stdout")));
    let err = drain(Box::new(child.stderr.take().expect("stderr")));
    let status_path = format!("/proc/{}/status", child.id());
    let started = Instant::now();
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = std::fs::read_to_string(&status_path)
            .ok()
            .and_then(|s| vm_hwm_kib(&s))
        {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > RUN_BOUND {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "mxharness {args:?} still ran after {} s (a hang): killed",
                RUN_BOUND.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let children_max_kib =
        nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
            .map(|u| u64::try_from(u.max_rss()).unwrap_or(0))
            .unwrap_or(0);
    Ran {
        code: status.code(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        polled_peak_kib: peak,
        children_max_kib,
    }
}

fn vm_hwm_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The memory bound of issue 15: 300 MB.
pub const MEMORY_BOUND_KIB: u64 = 300 * 1000;

/// No signal death, no panic, memory below the bound.
pub fn assert_contained(ran: &Ran) {
    assert!(ran.code.is_some(), "killed by a signal: {}", ran.describe());
    assert!(
        !ran.stderr.contains("panicked"),
        "a panic: {}",
        ran.describe()
    );
    assert!(
        ran.polled_peak_kib < MEMORY_BOUND_KIB && ran.children_max_kib < MEMORY_BOUND_KIB,
        "memory over 300 MB: {}",
        ran.describe()
    );
}

/// Run `scenario` against `url` (extra flags after); the run and its report folder.
pub fn run_against(url: &str, scenario: &str, extra: &[&str]) -> (Ran, tempfile::TempDir) {
    let dir = super::common::tempdir();
    let report_dir = dir.path().display().to_string();
    let mut args = vec![
        "run",
        scenario,
        "--target",
        url,
        "--server-name",
        "hostile.test",
        "--registration",
        "open",
        "--report-dir",
        &report_dir,
    ];
    args.extend_from_slice(extra);
    let ran = run(&args);
    eprintln!(
        "{scenario} against {url}: exit {:?}, peak RSS {} KiB (children max {} KiB)",
        ran.code, ran.polled_peak_kib, ran.children_max_kib
    );
    assert_contained(&ran);
    (ran, dir)
}

/// A scenario POSTing an 8 MiB body to /hostile, in `dir`.
pub fn large_post(dir: &std::path::Path) -> String {
    let path = dir.join("large-post.yaml");
    let body = "x".repeat(8 * 1024 * 1024);
    let yaml = format!(
        "schema: 1\nid: fixtures/hostile/large-post\ntitle: A large request body meets a hostile peer\n\
         area: hostile\nlevel: must\nbasis: \"test fixture\"\nsteps:\n  - request:\n      \
         method: POST\n      path: /hostile\n      body: \"{body}\"\n    timeout: 3s\n    \
         expect:\n      status: 200\n"
    );
    std::fs::write(&path, yaml).expect("write the scenario");
    path.display().to_string()
}
