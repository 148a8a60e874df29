//! The load engine's own benchmark (`cargo bench --bench harness`, or `bench/run.sh`):
//!
//! 1. raw request rate: the harness (Goose, our dispatcher, typed operations, recorder and HTTP path, 32
//!    chatty users sending typing notices with no think time) against `wrk` with 32
//!    connections, on the same loopback endpoint, one after the other, in one run;
//! 2. where the rate goes: the same PUT from 32 tasks one layer lower each time (hyper-util's
//!    pooled client, the harness's shared reqwest client that HTTPS targets use, one reqwest client per task, hyper's HTTP/1 connection API with one keep-alive
//!    connection per task, as oha does);
//! 3. scale: 10,000 lurkers (`MXH_BENCH_IDLE_USERS` to change) parked in /sync long-polls:
//!    the growth of this process's resident memory per user, the peak of open file
//!    descriptors and sockets, and how long the run lasted past its plan.
//!
//! The endpoint is a tiny HTTP/1.1 server in a child process (this binary with `serve`), so
//! its memory and connections are not counted. Not run by `cargo test`.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use mxharness::load::engine;
use mxharness::load::model::PersonaKind;
use mxharness::load::plan::{Action, LoadPlan, Persona};
use mxharness::load::world::{Account, World};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const RATE_USERS: usize = 32;
const RATE_SECS: u64 = 10;
/// Lurkers of the scale measurement, unless `MXH_BENCH_IDLE_USERS` says otherwise.
const IDLE_USERS: usize = 10_000;
/// The PUT every rate peer sends.
const TYPING_BODY: &[u8] = br#"{"typing":true,"timeout":5000}"#;

fn idle_users() -> usize {
    std::env::var("MXH_BENCH_IDLE_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(IDLE_USERS)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if args.get(1).map(String::as_str) == Some("serve") {
        rt.block_on(serve());
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return;
    }
    rt.block_on(bench());
}

/// The endpoint: `200 {}` for everything; `/sync?since=...&timeout=N` waits N ms first.
async fn serve() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    println!("{port}");
    loop {
        let Ok((sock, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(connection(sock));
    }
}

async fn connection(mut sock: TcpStream) {
    let _ = sock.set_nodelay(true);
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        while buf.len() < head_end + len {
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..head_end + len);
        let target = head.split_whitespace().nth(1).unwrap_or("/");
        let body = if target.starts_with("/_matrix/client/v3/sync") {
            if target.contains("since=") {
                let wait: u64 = target
                    .split(['?', '&'])
                    .find_map(|p| p.strip_prefix("timeout="))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                tokio::time::sleep(Duration::from_millis(wait)).await;
            }
            r#"{"next_batch":"s1","rooms":{}}"#
        } else {
            "{}"
        };
        let resp = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if sock.write_all(resp.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn start_endpoint() -> (Child, u16) {
    let exe = std::env::current_exe().expect("current exe");
    let mut child = Command::new(exe)
        .arg("serve")
        .stdout(Stdio::piped())
        .spawn()
        .expect("endpoint starts");
    let mut line = String::new();
    let out = child.stdout.take().expect("stdout");
    std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line).expect("port");
    (child, line.trim().parse().expect("a port"))
}

fn plan(kind: PersonaKind, users: usize, hold: Duration) -> LoadPlan {
    LoadPlan {
        id: "bench".into(),
        title: "bench".into(),
        file: "benches/harness.rs".into(),
        seed: 1,
        users,
        rooms: 1,
        room_size_alpha: 1.16,
        room_size_min: 2,
        room_size_max: users,
        personas: vec![Persona {
            name: "p".into(),
            kind,
            weight: 1,
            think_mean: Duration::ZERO,
            think_max: Duration::ZERO,
            actions: vec![(Action::Typing, 1)],
            sync_timeout: Duration::from_secs(20),
            media_bytes: 0,
            arrivals: None,
            scenarios: Vec::new(),
        }],
        ramp_up: Duration::from_secs(if users > 100 { 5 } else { 1 }),
        hold,
        ramp_down: Duration::ZERO,
        thresholds: Vec::new(),
        baseline_tolerance_pct: 20.0,
        capacity: None,
    }
}

fn world(base: &str, plan: &LoadPlan) -> Arc<World> {
    let accounts = (0..plan.users)
        .map(|i| Account {
            user_id: format!("@u{i}:bench"),
            access_token: "t".into(),
            persona: 0,
            rooms: vec!["!r:bench".into()],
            ..Account::default()
        })
        .collect();
    Arc::new(World::new(
        base.to_owned(),
        None,
        plan.personas.clone(),
        accounts,
        vec!["!r:bench".into()],
        BTreeMap::new(),
        None,
        plan.seed,
    ))
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn wrk_rate(url: &str) -> Option<f64> {
    let script = std::env::temp_dir().join(format!("mxh-bench-{}.lua", std::process::id()));
    std::fs::write(
        &script,
        "wrk.method = \"PUT\"\nwrk.body = '{\"typing\":true,\"timeout\":5000}'\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"Authorization\"] = \"Bearer t\"\n",
    )
    .ok()?;
    let out = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{RATE_USERS}"),
            &format!("-d{RATE_SECS}s"),
            "-s",
        ])
        .arg(&script)
        .arg(url)
        .output()
        .ok()?;
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
}

/// The same PUT from `oha` (crates.io: `cargo install oha`), a Rust load generator on hyper.
fn oha_rate(url: &str) -> Option<f64> {
    let out = Command::new("oha")
        .args([
            "--no-tui",
            "--output-format",
            "json",
            "-c",
            &RATE_USERS.to_string(),
            "-z",
            &format!("{RATE_SECS}s"),
            "-m",
            "PUT",
            "-H",
            "Authorization: Bearer t",
            "-T",
            "application/json",
            "-d",
            "{\"typing\":true,\"timeout\":5000}",
        ])
        .arg(url)
        .output()
        .ok()?;
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    summary.pointer("/summary/requestsPerSec")?.as_f64()
}

/// Run `RATE_USERS` tasks until the rate window closes; requests per second of all of them.
async fn tasks_rate<F, Fut>(task: F) -> f64
where
    F: Fn(std::time::Instant) -> Fut,
    Fut: std::future::Future<Output = u64> + Send + 'static,
{
    let stop = std::time::Instant::now() + Duration::from_secs(RATE_SECS);
    let tasks: Vec<_> = (0..RATE_USERS).map(|_| tokio::spawn(task(stop))).collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap_or(0);
    }
    total as f64 / RATE_SECS as f64
}

/// PUTs through one reqwest client until `stop`.
async fn reqwest_loop(client: reqwest::Client, url: String, stop: std::time::Instant) -> u64 {
    let mut n = 0u64;
    while std::time::Instant::now() < stop {
        let r = client
            .put(&url)
            .bearer_auth("t")
            .header("content-type", "application/json")
            .body(TYPING_BODY)
            .send()
            .await;
        if let Ok(r) = r {
            let _ = r.bytes().await;
            n += 1;
        }
    }
    n
}

/// The same PUT from 32 tasks sharing the harness's own client (`load::http::client`: the
/// one every load user sends through): what the HTTP stack alone reaches here.
async fn reqwest_shared_rate(url: &str) -> f64 {
    let client = mxharness::load::http::client().expect("the harness's client builds");
    tasks_rate(|stop| reqwest_loop(client.clone(), url.to_owned(), stop)).await
}

/// The same with one client (so one connection pool) per task: is the shared pool the cost?
async fn reqwest_per_task_rate(url: &str) -> f64 {
    tasks_rate(|stop| {
        let client = mxharness::matrix::net::base_builder()
            .build()
            .expect("a client builds");
        reqwest_loop(client, url.to_owned(), stop)
    })
    .await
}

/// The same through hyper's HTTP/1 connection API, one keep-alive connection per task and
/// no pool (oha's shape): what is left when reqwest's and hyper-util's layers are gone.
async fn hyper_conn_rate(addr: &str, path: &str) -> f64 {
    tasks_rate(|stop| hyper_loop(addr.to_owned(), path.to_owned(), stop)).await
}

/// The same through hyper-util's pooled client (what reqwest wraps, without reqwest's
/// layers): the pool's share of the cost.
async fn hyper_pooled_rate(url: &str) -> f64 {
    use http_body_util::{BodyExt, Full};
    let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
    connector.set_nodelay(true);
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, Full<bytes::Bytes>>(connector);
    tasks_rate(|stop| {
        let (client, url) = (client.clone(), url.to_owned());
        async move {
            let mut n = 0u64;
            while std::time::Instant::now() < stop {
                let Ok(req) = http::Request::put(url.as_str())
                    .header("authorization", "Bearer t")
                    .header("content-type", "application/json")
                    .body(Full::new(bytes::Bytes::from_static(TYPING_BODY)))
                else {
                    return n;
                };
                match client.request(req).await {
                    Ok(resp) => {
                        let _ = resp.into_body().collect().await;
                        n += 1;
                    }
                    Err(_) => return n,
                }
            }
            n
        }
    })
    .await
}

async fn hyper_loop(addr: String, path: String, stop: std::time::Instant) -> u64 {
    use http_body_util::{BodyExt, Full};
    let Ok(stream) = TcpStream::connect(&addr).await else {
        return 0;
    };
    let _ = stream.set_nodelay(true);
    let Ok((mut send, conn)) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await
    else {
        return 0;
    };
    tokio::spawn(conn);
    let mut n = 0u64;
    while std::time::Instant::now() < stop {
        let Ok(req) = http::Request::put(path.as_str())
            .header("host", addr.as_str())
            .header("authorization", "Bearer t")
            .header("content-type", "application/json")
            .body(Full::new(bytes::Bytes::from_static(TYPING_BODY)))
        else {
            return n;
        };
        match send.send_request(req).await {
            Ok(resp) => {
                let _ = resp.into_body().collect().await;
                n += 1;
            }
            Err(_) => return n,
        }
    }
    n
}

/// Open file descriptors of this process, and how many of them are sockets.
fn fds() -> (u64, u64) {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return (0, 0);
    };
    let mut all = 0;
    let mut sockets = 0;
    for e in dir.flatten() {
        all += 1;
        if std::fs::read_link(e.path()).is_ok_and(|t| t.to_string_lossy().starts_with("socket:")) {
            sockets += 1;
        }
    }
    (all, sockets)
}

async fn bench() {
    let (mut child, port) = start_endpoint();
    let base = format!("http://127.0.0.1:{port}");

    // 1. Raw request rate.
    let p = plan(
        PersonaKind::Chatty,
        RATE_USERS,
        Duration::from_secs(RATE_SECS),
    );
    let w = world(&base, &p);
    let attacked = engine::attack(Arc::clone(&w), &p, &[RATE_USERS])
        .await
        .expect("the rate attack runs");
    let snap = w.recorder.snapshot(attacked.duration);
    let typing = snap.requests.iter().find(|r| r.name == "typing");
    let held = typing.map_or(0, |t| t.latency.count);
    let ours = w
        .recorder
        .snapshot(attacked.duration)
        .series
        .iter()
        .skip(usize::try_from(p.ramp_up.as_secs()).unwrap_or(0) + 1)
        .take(usize::try_from(RATE_SECS).unwrap_or(0).saturating_sub(2))
        .map(|s| s.requests as f64)
        .collect::<Vec<_>>();
    let ours_rate = if ours.is_empty() {
        held as f64 / attacked.duration.as_secs_f64()
    } else {
        ours.iter().sum::<f64>() / ours.len() as f64
    };
    let errors = typing.map_or(0, |t| t.errors);
    let url = format!("{base}/_matrix/client/v3/rooms/%21r%3Abench/typing/%40u0%3Abench");
    let peer = wrk_rate(&url);
    let oha = oha_rate(&url);
    let shared = reqwest_shared_rate(&url).await;
    let per_task = reqwest_per_task_rate(&url).await;
    let pooled = hyper_pooled_rate(&url).await;
    let hyper_rate = hyper_conn_rate(
        &format!("127.0.0.1:{port}"),
        "/_matrix/client/v3/rooms/%21r%3Abench/typing/%40u0%3Abench",
    )
    .await;

    // 3. Scale: memory, descriptors and run length with many idle, sync-looping users.
    let idle = idle_users();
    let p = plan(PersonaKind::Lurker, idle, Duration::from_secs(15));
    let planned = p.total();
    let w = world(&base, &p);
    let before = rss_kib();
    let (fds_before, _) = fds();
    let sampler = tokio::spawn(async {
        use std::sync::atomic::Ordering::Relaxed;
        loop {
            PEAK.fetch_max(rss_kib(), Relaxed);
            let (all, sockets) = fds();
            PEAK_FDS.fetch_max(all, Relaxed);
            PEAK_SOCKETS.fetch_max(sockets, Relaxed);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let attacked_idle = engine::attack(Arc::clone(&w), &p, &[idle])
        .await
        .expect("the idle attack runs");
    sampler.abort();
    let peak = PEAK.load(std::sync::atomic::Ordering::Relaxed);
    let peak_fds = PEAK_FDS.load(std::sync::atomic::Ordering::Relaxed);
    let peak_sockets = PEAK_SOCKETS.load(std::sync::atomic::Ordering::Relaxed);
    let (fd_soft, fd_hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .unwrap_or((0, 0));
    let idle_snap = w.recorder.snapshot(attacked_idle.duration);
    let polls = idle_snap
        .requests
        .iter()
        .find(|r| r.name == "sync (long-poll)")
        .map_or(0, |r| r.latency.count);
    let _ = child.kill();
    let _ = child.wait();

    let per_user = peak.saturating_sub(before) as f64 / idle as f64;
    println!("\n== mxharness load engine benchmark ==");
    println!(
        "raw rate: harness {ours_rate:.0} req/s ({RATE_USERS} users, {held} requests, {errors} errors)"
    );
    match peer {
        Some(peer) => println!(
            "raw rate: wrk {peer:.0} req/s ({RATE_USERS} connections); ratio harness/wrk = {:.2} (aim >= 0.70)",
            ours_rate / peer
        ),
        None => println!("raw rate: wrk not found (apt-get install wrk); no ratio"),
    }
    match oha {
        Some(oha) => println!(
            "raw rate: oha {oha:.0} req/s ({RATE_USERS} connections); ratio harness/oha = {:.2} (aim >= 0.70)",
            ours_rate / oha
        ),
        None => println!("raw rate: oha not found (cargo install oha); no ratio"),
    }
    let ratio_to = |peer: Option<f64>, rate: f64| {
        peer.map_or_else(|| "-".to_owned(), |p| format!("{:.2}", rate / p.max(1.0)))
    };
    println!("where the rate goes (same PUT, {RATE_USERS} tasks; ratios to oha / wrk):");
    for (layer, rate) in [
        (
            "harness (Goose + typed operations + recorder + own connection)",
            ours_rate,
        ),
        (
            "bare loop, hyper-util's pooled client (what reqwest wraps)",
            pooled,
        ),
        (
            "bare loop, the harness's shared reqwest client (HTTPS path)",
            shared,
        ),
        ("bare loop, one reqwest client per task", per_task),
        (
            "bare loop, hyper http1 connection per task (no pool)",
            hyper_rate,
        ),
    ] {
        println!(
            "  {rate:>8.0} req/s  oha {}  wrk {}  {layer}",
            ratio_to(oha, rate),
            ratio_to(peer, rate)
        );
    }
    println!(
        "raw rate: ratio harness/hyper connection loop = {:.2}, pooled hyper/hyper connection = {:.2}, shared reqwest/hyper connection = {:.2}",
        ours_rate / hyper_rate.max(1.0),
        pooled / hyper_rate.max(1.0),
        shared / hyper_rate.max(1.0)
    );
    let secs = attacked_idle.duration.as_secs_f64();
    println!(
        "scale: {idle} idle sync-looping users: RSS {before} KiB -> {peak} KiB, {per_user:.1} KiB per user (aim <= 100); {polls} long-polls finished"
    );
    println!(
        "scale: open file descriptors {fds_before} -> peak {peak_fds} ({peak_sockets} sockets; RLIMIT_NOFILE soft {fd_soft}, hard {fd_hard})"
    );
    println!(
        "scale: the run lasted {secs:.1} s for a {:.0} s plan ({:+.1} s)",
        planned.as_secs_f64(),
        secs - planned.as_secs_f64()
    );
}

static PEAK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static PEAK_FDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static PEAK_SOCKETS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
