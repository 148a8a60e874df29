//! The gateway-overhead measurement over real loopback connections: a "gateway" that delays
//! every answer on a kept-alive connection (what a missing TCP_NODELAY does) fails the
//! overhead testcase, naming the probe and both figures; every repetition reuses one
//! connection where it should. In-process servers: this shows the testcase failing against
//! a target that breaks it; tests/gateway.rs runs it against the local nginx.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mxharness::gateway::overhead::{self, Plan};
use mxharness::gateway::raw::{Endpoint, RawRequest};
use mxharness::results::Outcome;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A keep-alive HTTP/1.1 server answering `{}` to every request after `delay`; counts the
/// connections it accepts.
async fn server(delay: Duration) -> (Endpoint, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&connections);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        tokio::time::sleep(delay).await;
                        let reply = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
                        if sock.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    (Endpoint::new(&base, None).expect("endpoint"), connections)
}

fn version_probe() -> RawRequest {
    RawRequest {
        method: "GET".into(),
        target: "/_matrix/federation/v1/version".into(),
        headers: Vec::new(),
        body: Vec::new(),
    }
}

#[tokio::test]
async fn a_gateway_delaying_every_answer_fails_the_overhead_testcase() {
    let (gateway, gateway_connections) = server(Duration::from_millis(150)).await;
    let (direct, _) = server(Duration::ZERO).await;
    let plan = Plan {
        repetitions: 5,
        max_p95_ms: 10.0,
    };
    let measured = overhead::measure(
        "gateway/pass/version",
        &gateway,
        &direct,
        &version_probe(),
        plan,
        Duration::from_secs(10),
    )
    .await
    .expect("measured");
    // One connection for the reused repetitions, one per fresh repetition.
    assert_eq!(gateway_connections.load(Ordering::SeqCst), 1 + 5);
    // The delay is a lower bound whatever the machine is doing.
    assert!(measured.gateway_reused.percentile(50.0) >= 150.0);
    let r = overhead::verdict(&[Ok(measured)], plan, Duration::ZERO);
    assert_eq!(r.outcome, Outcome::Failed, "{r:?}");
    assert_eq!(r.level, "policy");
    let message = r.failure.map(|f| f.message).unwrap_or_default();
    assert!(
        message.contains("GET /_matrix/federation/v1/version on a reused connection"),
        "{message}"
    );
    assert!(
        r.properties.contains_key("gateway/pass/version reused p95"),
        "{:?}",
        r.properties
    );
}

#[tokio::test]
async fn a_gateway_that_cannot_be_reached_makes_the_testcase_an_error() {
    let (direct, _) = server(Duration::ZERO).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let gateway = Endpoint::new(&format!("http://127.0.0.1:{port}"), None).expect("endpoint");
    let plan = Plan::default();
    let measured = overhead::measure(
        "gateway/pass/version",
        &gateway,
        &direct,
        &version_probe(),
        plan,
        Duration::from_secs(5),
    )
    .await
    .map_err(|e| ("gateway/pass/version".to_owned(), e));
    assert!(measured.is_err());
    let r = overhead::verdict(&[measured], plan, Duration::ZERO);
    assert_eq!(r.outcome, Outcome::Errored, "{r:?}");
}
