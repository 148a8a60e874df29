//! A misbehaving in-process stub (garbage JSON, resets, hangs, off-schema bodies): every fault
//! must become a failed check with its transcript, never a panic or a hang.

mod common;

use std::time::Duration;

use common::{describe, mxharness, report, tempdir};
use mxharness::results::Outcome;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

async fn serve(listener: TcpListener) {
    let flaky_calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    loop {
        let flaky_calls = std::sync::Arc::clone(&flaky_calls);
        let Ok((mut sock, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            let mut read = 0;
            while !buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut buf[read..]).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => read += n,
                }
            }
            let head = String::from_utf8_lossy(&buf[..read]).to_string();
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let (status, body) = match path.as_str() {
                "/_matrix/client/versions" => ("200 OK", r#"{"versions":["v1.11"]}"#),
                "/garbage" => ("200 OK", "{this is not json"),
                "/reset" => return,
                "/hang" => {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    return;
                }
                "/_matrix/client/v3/account/whoami" => ("200 OK", r#"{"user_id": 5}"#),
                "/flaky" if flaky_calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 => (
                    "500 Internal Server Error",
                    r#"{"errcode":"M_UNKNOWN","error":"first try"}"#,
                ),
                "/flaky" => ("200 OK", "{}"),
                _ => (
                    "404 Not Found",
                    r#"{"errcode":"M_UNRECOGNIZED","error":"no"}"#,
                ),
            };
            let resp = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
        });
    }
}

fn start_stub() -> (tokio::runtime::Runtime, String) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    rt.spawn(serve(listener));
    (rt, url)
}

/// Run a fixture folder against a fresh stub (whose /flaky fails once) with extra flags.
fn run_against_fresh_stub(
    folder: &str,
    report_dir: &std::path::Path,
    extra: &[&str],
) -> std::process::Output {
    let (_rt, url) = start_stub();
    let report_dir = report_dir.display().to_string();
    let mut args = vec![
        "run",
        folder,
        "--target",
        &url,
        "--server-name",
        "stub.test",
        "--registration",
        "open",
        "--report-dir",
        &report_dir,
    ];
    args.extend_from_slice(extra);
    mxharness(&args, &[])
}

#[test]
fn retries_mark_flaky_and_lenient_schema_warns() {
    let dir = tempdir();
    // Strict by default: both fail.
    let out = run_against_fresh_stub("fixtures/scenarios/stub-tolerance", dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    // With a retry and lenient schema: both pass, one flaky, one warning.
    let out = run_against_fresh_stub(
        "fixtures/scenarios/stub-tolerance",
        dir.path(),
        &["--retries", "1", "--lenient-schema"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let report = report(dir.path());
    let flaky = report
        .scenarios
        .iter()
        .find(|s| s.id == "fixtures/tolerance/flaky")
        .expect("flaky");
    assert!(flaky.flaky && flaky.attempts == 2, "{flaky:?}");
    let schema = report
        .scenarios
        .iter()
        .find(|s| s.id == "fixtures/tolerance/schema")
        .expect("schema");
    assert_eq!(schema.warnings.len(), 1, "{schema:?}");
    assert!(schema.warnings[0].contains("response does not match the spec schema"));
    assert_eq!(
        (report.summary.flaky, report.summary.schema_warnings),
        (1, 1)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("FLAKY fixtures/tolerance/flaky"),
        "{stderr}"
    );
}

#[test]
fn faults_become_failed_checks_with_transcripts() {
    let (_rt, url) = start_stub();

    let dir = tempdir();
    let out = mxharness(
        &[
            "run",
            "fixtures/scenarios/broken-server",
            "--target",
            &url,
            "--server-name",
            "stub.test",
            "--registration",
            "open",
            "--report-dir",
            &dir.path().display().to_string(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let report = report(dir.path());
    assert_eq!(report.scenarios.len(), 4);
    for s in &report.scenarios {
        assert_eq!(s.outcome, Outcome::Failed, "{}: {:?}", s.id, s.failure);
        let f = s.failure.as_ref().expect("failure");
        assert_eq!(
            f.transcript.len(),
            1,
            "{}: the failing exchange is kept",
            s.id
        );
    }
    let kind = |id: &str| {
        let s = report
            .scenarios
            .iter()
            .find(|s| s.id == id)
            .expect("scenario");
        let f = s.failure.as_ref().expect("failure");
        (f.kind.clone(), f.message.clone())
    };
    assert!(
        kind("fixtures/broken/garbage-json").1.contains("not JSON"),
        "{:?}",
        kind("fixtures/broken/garbage-json")
    );
    assert_eq!(kind("fixtures/broken/reset").0, "transport");
    assert_eq!(kind("fixtures/broken/hang").0, "timeout");
    let schema = kind("fixtures/broken/schema");
    assert_eq!(schema.0, "schema");
    assert!(
        schema.1.contains("response does not match the spec schema"),
        "{schema:?}"
    );
    let json = std::fs::read_to_string(dir.path().join("report.json")).expect("json");
    assert!(
        !json.contains("stub-token-123456"),
        "the token is redacted from the transcript"
    );
}
