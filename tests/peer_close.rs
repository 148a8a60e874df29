//! A peer closing while the harness writes a large body, on the federation and gateway
//! connections (the target connection is covered in hostile_targets.rs and private_ca.rs):
//! plain HTTP and TLS, each an error in the transcript, never a signal. These run in-process;
//! the binary's SIGPIPE disposition is checked to be the one this process has, so what holds
//! here holds in the binary.

mod common;
mod hostile;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hostile::{Answer, At};
use mxharness::federation::{FederationClient, RunCa, ServerKey, SignedRequest};
use mxharness::gateway::raw::{self, Endpoint, RawRequest};

/// Larger than any socket buffer, so the writer is still writing when the peer closes.
const BODY: usize = 32 * 1024 * 1024;

/// SIGPIPE is signal 13: bit 12 of the SigIgn mask in /proc/PID/status.
fn ignores_sigpipe(pid: &str) -> Option<bool> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let mask = status.lines().find_map(|l| l.strip_prefix("SigIgn:"))?;
    let mask = u64::from_str_radix(mask.trim(), 16).ok()?;
    Some(mask & (1 << 12) != 0)
}

fn closing_server(tls: Option<&RunCa>) -> hostile::Server {
    let config = tls.map(|ca| {
        ca.issue_leaf()
            .expect("a leaf")
            .server_config()
            .expect("tls")
    });
    hostile::start_with(Answer::CloseWhileWriting, At::Check, config)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().expect("runtime")
}

#[test]
fn the_binary_ignores_sigpipe_like_this_test_process() {
    assert_eq!(ignores_sigpipe("self"), Some(true), "this test process");
    // A run that waits on a listener which never answers, long enough to read its mask.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_mxharness"))
        .args([
            "run",
            "fixtures/scenarios/hostile/get.yaml",
            "--target",
            &url,
        ])
        .args(["--server-name", "x.test"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let pid = child.id().to_string();
    let started = Instant::now();
    let mut seen = None;
    // The mask is set before main; wait until the process has exec'd (its name changes).
    while started.elapsed() < Duration::from_secs(10) {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == "mxharness" {
            std::thread::sleep(Duration::from_millis(200));
            seen = ignores_sigpipe(&pid);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(seen, Some(true), "the mxharness binary ignores SIGPIPE");
}

fn federation_post(ca: &RunCa, base: &str) -> mxharness::results::Exchange {
    let key = ServerKey::generate("origin.test", "peerclose").expect("a key");
    let client = FederationClient::new(ca, key).expect("a client");
    let mut req = SignedRequest::new("PUT", "localhost", "/hostile");
    req.base_url = Some(base.to_owned());
    req.raw_body = Some(vec![b'x'; BODY]);
    let (exchange, received) = runtime().block_on(client.send(&req, Duration::from_secs(20)));
    assert!(received.is_none(), "no response came: {exchange:?}");
    exchange
}

#[test]
fn a_peer_closing_under_a_federation_request_is_an_error_over_tls() {
    let ca = RunCa::new().expect("a CA");
    let server = closing_server(Some(&ca));
    let exchange = federation_post(&ca, &server.url);
    assert!(exchange.error.is_some(), "{:?}", exchange.status);
}

#[test]
fn a_peer_closing_under_a_federation_request_is_an_error_over_plain_http() {
    let ca = RunCa::new().expect("a CA");
    let server = closing_server(None);
    let exchange = federation_post(&ca, &server.url);
    assert!(exchange.error.is_some(), "{:?}", exchange.status);
}

fn gateway_post(endpoint: &Endpoint) -> (Result<raw::RawResponse, String>, String) {
    let request = RawRequest {
        method: "PUT".into(),
        target: "/hostile".into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: vec![b'x'; BODY],
    };
    let (result, exchange) =
        runtime().block_on(raw::send(endpoint, &request, Duration::from_secs(20)));
    (result, exchange.error.unwrap_or_default())
}

#[test]
fn a_peer_closing_under_a_gateway_probe_is_an_error_over_tls() {
    let ca = RunCa::new().expect("a CA");
    let server = closing_server(Some(&ca));
    let tls = Arc::new(ca.client_config().expect("client config"));
    let endpoint = Endpoint::new(&server.url, Some(tls)).expect("endpoint");
    let (result, error) = gateway_post(&endpoint);
    assert!(result.is_err(), "an error, not an answer");
    assert!(!error.is_empty(), "the transcript names the error");
}

#[test]
fn a_peer_closing_under_a_gateway_probe_is_an_error_over_plain_http() {
    let server = closing_server(None);
    let endpoint = Endpoint::new(&server.url, None).expect("endpoint");
    let (result, error) = gateway_post(&endpoint);
    assert!(result.is_err(), "an error, not an answer");
    assert!(!error.is_empty(), "the transcript names the error");
}
