//! `mxharness load --federation-gateway`: the spawned second homeserver sits behind the local
//! nginx border gateway, the federation personas' messages reach it through the gateway (its
//! access log shows the transactions) and are delivered, and the report says so.

mod common;

use common::{describe, mxharness, report, tempdir};

#[test]
fn federation_traffic_goes_through_the_gateway_under_load() {
    let dir = tempdir();
    let out = mxharness(
        &[
            "load",
            "fixtures/load/federation-short.yaml",
            "--federation-gateway",
            "--report-dir",
            dir.path().to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let l = report(dir.path()).load.expect("a load section");
    let f = l.federation.expect("federation delivery was measured");
    assert!(f.sent > 0 && f.latency.count > 0, "{f:?}");
    assert_eq!(f.lost, 0, "{f:?}");
    assert!(
        l.notes.iter().any(|n| n.contains("nginx border gateway")),
        "{:?}",
        l.notes
    );
    let log = std::fs::read_to_string(dir.path().join("nginx-access.log")).expect("nginx's log");
    let through = log
        .lines()
        .filter(|l| l.contains("PUT /_matrix/federation/v1/send/") && l.contains("\" 200 "))
        .count();
    assert!(through > 0, "transactions went through the gateway:\n{log}");
    eprintln!(
        "measured: {} messages, federation p50 {:.1}ms p95 {:.1}ms, {through} transactions through nginx",
        f.sent, f.latency.p50_ms, f.latency.p95_ms
    );
}

#[test]
fn the_gateway_needs_the_spawned_pair() {
    let out = mxharness(
        &[
            "load",
            "fixtures/load/federation-short.yaml",
            "--federation-gateway",
            "--target",
            "http://127.0.0.1:9",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--federation-gateway needs"));
}
