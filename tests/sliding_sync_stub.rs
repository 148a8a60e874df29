//! A deliberately wrong sliding-sync responder (missing pos, wrong order, a leaked room):
//! the scenarios that check those behaviours must fail against it.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{describe, mxharness, report, tempdir};
use mxharness::results::Outcome;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const SSS: &str = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync";

async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<(String, String)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let head = &text[..end];
            let len = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).to_string();
                return Some((path, body));
            }
        }
    }
}

async fn serve(listener: TcpListener) {
    let rooms = Arc::new(AtomicUsize::new(0));
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            return;
        };
        let rooms = Arc::clone(&rooms);
        tokio::spawn(async move {
            let Some((path, body)) = read_request(&mut sock).await else {
                return;
            };
            let path = path.split('?').next().unwrap_or("").to_owned();
            let conn_id = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("conn_id").and_then(|c| c.as_str()).map(str::to_owned))
                .unwrap_or_default();
            let reply = match path.as_str() {
                "/_matrix/client/versions" => r#"{"versions":["v1.11"],"unstable_features":{"org.matrix.simplified_msc3575":true}}"#.to_owned(),
                "/_matrix/client/v3/createRoom" => {
                    let n = rooms.fetch_add(1, Ordering::SeqCst) + 1;
                    format!(r#"{{"room_id":"!r{n}:stub"}}"#)
                }
                SSS => match conn_id.as_str() {
                    "no-pos" => r#"{"lists":{},"rooms":{}}"#.to_owned(),
                    // oldest first: wrong, the newest room must come first
                    "wrong-order" => r#"{"pos":"2","lists":{"all":{"count":2,"ops":[{"op":"SYNC","range":[0,1],"room_ids":["!r1:stub","!r2:stub"]}]}},"rooms":{}}"#.to_owned(),
                    "leak" => r#"{"pos":"3","lists":{},"rooms":{"!private:stub":{"initial":true,"timeline":[{"type":"m.room.message","sender":"@eve:stub","event_id":"$1","origin_server_ts":1,"content":{"body":"secret"}}]}}}"#.to_owned(),
                    _ => r#"{"pos":"1","lists":{},"rooms":{}}"#.to_owned(),
                },
                _ => r#"{"errcode":"M_UNRECOGNIZED","error":"no"}"#.to_owned(),
            };
            let status = if reply.contains("M_UNRECOGNIZED") {
                "404 Not Found"
            } else {
                "200 OK"
            };
            let resp = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                reply.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
        });
    }
}

#[test]
fn a_wrong_sliding_sync_responder_fails_the_checks() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    rt.spawn(serve(listener));
    let dir = tempdir();
    let out = mxharness(
        &[
            "run",
            "fixtures/scenarios/sliding-sync-stub",
            "--target",
            &url,
            "--server-name",
            "stub",
            "--registration",
            "open",
            "--sliding-sync-dialect",
            "simplified-msc3575",
            "--report-dir",
            &dir.path().display().to_string(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let report = report(dir.path());
    assert!(
        report
            .target
            .sliding_sync
            .as_deref()
            .is_some_and(|s| s.starts_with("simplified-msc3575")),
        "{:?}",
        report.target
    );
    let failure = |id: &str| {
        let s = report
            .scenarios
            .iter()
            .find(|s| s.id == id)
            .expect("scenario ran");
        assert_eq!(s.outcome, Outcome::Failed, "{id} must fail: {s:?}");
        s.failure.clone().expect("failure")
    };
    let f = failure("fixtures/ss-stub/missing-pos");
    assert!(f.checks.iter().any(|c| c.message.contains("/pos")), "{f:?}");
    assert!(
        f.checks.iter().any(|c| c.kind == "schema"),
        "the ruma v5 schema check catches it too: {f:?}"
    );
    let f = failure("fixtures/ss-stub/wrong-order");
    assert!(f.message.contains("/lists/all/room_ids/0"), "{f:?}");
    let f = failure("fixtures/ss-stub/leak");
    assert!(f.message.contains("/rooms/!private:stub"), "{f:?}");
}
