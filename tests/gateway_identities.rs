//! `--gateway-identities DIR`: two gateway runs with the same folder play the same servers
//! (names, ports, key ids, public keys), `gateway-config DIR` prints exactly those, and a
//! stored port that is busy fails the run naming the port.

mod common;

use std::path::Path;

use common::{describe, mxharness};

/// One pass-through check against a gateway URL nothing listens on: quick, needs no Synapse,
/// and the played servers are started all the same.
fn run_once(ids: &Path, reports: &Path) -> std::process::Output {
    mxharness(
        &[
            "run",
            "scenarios/gateway",
            "--gateway",
            "https://127.0.0.1:9",
            "--gateway-server-name",
            "localhost:9",
            "--gateway-identities",
            ids.to_str().expect("utf-8"),
            "--filter",
            "gateway/path/dot-segments",
            "--report-dir",
            reports.to_str().expect("utf-8"),
        ],
        &[],
    )
}

/// The `identity ROLE NAME KEY_ID PUBLIC_KEY` lines a run prints.
fn identities(out: &std::process::Output) -> Vec<Vec<String>> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("identity "))
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

#[test]
fn the_same_folder_plays_the_same_servers_and_gateway_config_prints_them() {
    let tmp = common::tempdir();
    let ids = tmp.path().join("ids");
    let reports = tmp.path().join("reports");

    let first = run_once(&ids, &reports);
    // The check fails (nothing listens on port 9); the run itself went ahead.
    assert_eq!(first.status.code(), Some(1), "{}", describe(&first));
    assert!(describe(&first).contains("Made gateway identities"));
    let first_ids = identities(&first);
    assert_eq!(first_ids.len(), 3, "{}", describe(&first));

    let second = run_once(&ids, &reports);
    assert_eq!(second.status.code(), Some(1), "{}", describe(&second));
    assert!(describe(&second).contains("Using gateway identities"));
    assert_eq!(identities(&second), first_ids);

    let ca_pem = std::fs::read_to_string(ids.join("ca.pem")).expect("ca.pem");
    let run_ca = std::fs::read_to_string(reports.join("gateway-run-ca.pem")).expect("run CA");
    assert_eq!(run_ca, ca_pem, "the run used the stored CA");

    let config = mxharness(
        &[
            "gateway-config",
            ids.to_str().expect("utf-8"),
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(config.status.code(), Some(0), "{}", describe(&config));
    let json: serde_json::Value = serde_json::from_slice(&config.stdout).expect("JSON");
    for id in &first_ids {
        let (role, name, key_id, key) = (&id[0], &id[1], &id[2], &id[3]);
        let entry = &json["servers"][role];
        assert_eq!(entry["server_name"], name.as_str(), "{json}");
        assert_eq!(entry["key_id"], key_id.as_str(), "{json}");
        assert_eq!(entry["public_key"], key.as_str(), "{json}");
    }
    assert_eq!(json["ca_certificate_pem"], ca_pem.as_str());
    assert_eq!(json["servers"]["denied"]["role"], "denied");

    let toml = mxharness(&["gateway-config", ids.to_str().expect("utf-8")], &[]);
    assert_eq!(toml.status.code(), Some(0), "{}", describe(&toml));
    let text = String::from_utf8_lossy(&toml.stdout);
    assert!(text.contains(&first_ids[0][3]), "{text}");
    assert!(text.contains("[servers.allowed]"), "{text}");

    // A stored port in use is not silently replaced.
    let port: u16 = first_ids[0][1]
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .expect("a port");
    let _busy = std::net::TcpListener::bind(("127.0.0.1", port)).expect("hold the port");
    let third = run_once(&ids, &reports);
    assert_ne!(third.status.code(), Some(0), "{}", describe(&third));
    assert_ne!(third.status.code(), Some(1), "{}", describe(&third));
    assert!(
        describe(&third).contains(&format!("on port {port}")),
        "{}",
        describe(&third)
    );
}

#[test]
fn gateway_config_without_identities_says_how_to_make_them() {
    let tmp = common::tempdir();
    let out = mxharness(
        &["gateway-config", tmp.path().to_str().expect("utf-8")],
        &[],
    );
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
    assert!(
        describe(&out).contains("--gateway-identities"),
        "{}",
        describe(&out)
    );
}
