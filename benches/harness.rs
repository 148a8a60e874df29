//! The load engine's own benchmark (`cargo bench --bench harness`, or `bench/run.sh`):
//!
//! 1. raw request rate: the harness (Goose, our dispatcher, recorder and HTTP path, 32
//!    chatty users sending typing notices with no think time) against `wrk` with 32
//!    connections, on the same loopback endpoint, one after the other, in one run;
//! 2. memory per simulated sync-looping user: 1000 lurkers parked in /sync long-polls,
//!    the growth of this process's resident memory divided by 1000.
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
const IDLE_USERS: usize = 1000;

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

/// The same PUT from 32 tasks over one bare reqwest client: what the HTTP stack alone
/// reaches here, to tell the harness's own cost from reqwest's.
async fn reqwest_rate(url: &str) -> f64 {
    let client = reqwest::Client::new();
    let stop = std::time::Instant::now() + Duration::from_secs(RATE_SECS);
    let mut tasks = Vec::new();
    for _ in 0..RATE_USERS {
        let client = client.clone();
        let url = url.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while std::time::Instant::now() < stop {
                let r = client
                    .put(&url)
                    .bearer_auth("t")
                    .json(&serde_json::json!({"typing": true, "timeout": 5000}))
                    .send()
                    .await;
                if let Ok(r) = r {
                    let _ = r.bytes().await;
                    n += 1;
                }
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap_or(0);
    }
    total as f64 / RATE_SECS as f64
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
    let plain = reqwest_rate(&url).await;

    // 2. Memory per idle, sync-looping user.
    let p = plan(PersonaKind::Lurker, IDLE_USERS, Duration::from_secs(15));
    let w = world(&base, &p);
    let before = rss_kib();
    let sampler = tokio::spawn(async {
        loop {
            PEAK.fetch_max(rss_kib(), std::sync::atomic::Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let attacked_idle = engine::attack(Arc::clone(&w), &p, &[IDLE_USERS])
        .await
        .expect("the idle attack runs");
    sampler.abort();
    let peak = PEAK.load(std::sync::atomic::Ordering::Relaxed);
    let idle_snap = w.recorder.snapshot(attacked_idle.duration);
    let polls = idle_snap
        .requests
        .iter()
        .find(|r| r.name == "sync (long-poll)")
        .map_or(0, |r| r.latency.count);
    let _ = child.kill();
    let _ = child.wait();

    let per_user = peak.saturating_sub(before) as f64 / IDLE_USERS as f64;
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
    println!(
        "raw rate: bare reqwest loop {plain:.0} req/s ({RATE_USERS} tasks); ratio harness/reqwest = {:.2}",
        ours_rate / plain.max(1.0)
    );
    println!(
        "memory: {IDLE_USERS} idle sync-looping users: RSS {before} KiB -> {peak} KiB, {per_user:.1} KiB per user (aim <= 100); {polls} long-polls finished"
    );
}

static PEAK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
