//! The harness's application-service role against a real spawned Synapse: registered through
//! the generated registration file, pinged through the client API with its as_token; and its
//! hs_token check shown to bite: a homeserver holding another hs_token gets 403 from the role,
//! which it reports as 502 M_BAD_STATUS; and the appservice scenarios against a `--target`
//! run, with the operator's registration (`--appservice-registration`) and without (skipped).

mod common;

use std::path::PathBuf;

use common::{describe, mxharness, tempdir};

use mxharness::target::appservice::AppServiceRole;
use mxharness::target::{SpawnedSynapse, SynapseOptions};
use serde_json::{Value, json};

fn options(
    name: &str,
    registration: mxharness::target::appservice::Registration,
) -> SynapseOptions {
    let cache_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("mxh-cache");
    SynapseOptions {
        log_path: cache_dir
            .join("logs")
            .join(format!("{name}-{}.log", std::process::id())),
        cache_dir,
        appservice: Some(registration),
        ..SynapseOptions::default()
    }
}

/// `POST /_matrix/client/v1/appservice/{id}/ping` with the role's as_token.
async fn ping(server: &SpawnedSynapse, role: &AppServiceRole, txn: &str) -> (u16, Value) {
    let reg = role.registration();
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/_matrix/client/v1/appservice/{}/ping",
            server.base_url(),
            reg.id
        ))
        .bearer_auth(&reg.as_token)
        .json(&json!({ "transaction_id": txn }))
        .timeout(std::time::Duration::from_secs(30))
        .send()
        .await
        .expect("ping answered");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn synapse_pings_the_role_with_its_hs_token() {
    let role = AppServiceRole::start().await.expect("role starts");
    let server = SpawnedSynapse::start(&options("as-ping", role.registration().clone()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, body) = ping(&server, &role, "mxh-txn-1").await;
    assert_eq!(status, 200, "{body}");
    assert!(body["duration_ms"].is_u64(), "{body}");
    let pings: Vec<_> = role
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/_matrix/app/v1/ping")
        .collect();
    assert_eq!(pings.len(), 1, "{pings:?}");
    assert!(pings[0].authenticated, "Synapse sent the hs_token");
    assert_eq!(pings[0].status, 200);
    assert_eq!(
        pings[0].json,
        Some(json!({ "transaction_id": "mxh-txn-1" }))
    );
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn a_homeserver_with_another_hs_token_is_refused_by_the_role() {
    let role = AppServiceRole::start().await.expect("role starts");
    let mut registration = role.registration().clone();
    registration.hs_token = "not-the-role-hs-token".into();
    let server = SpawnedSynapse::start(&options("as-bad-hs-token", registration))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, body) = ping(&server, &role, "mxh-txn-2").await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["errcode"], "M_BAD_STATUS", "{body}");
    let seen = role.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(!seen[0].authenticated);
    assert_eq!(seen[0].status, 403);
    server.stop().await.expect("stops");
}

/// A port free on 127.0.0.1 a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn appservice_outcomes(dir: &std::path::Path) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(dir.join("report.json")).expect("report.json");
    let report: Value = serde_json::from_str(&text).expect("report.json parses");
    report["scenarios"]
        .as_array()
        .expect("scenarios")
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap_or_default().to_owned(),
                s["outcome"].as_str().unwrap_or_default().to_owned(),
                s["skip_reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_target_run_plays_the_registration_the_operator_gave_the_server() {
    let registration = mxharness::target::appservice::Registration::fresh(format!(
        "http://127.0.0.1:{}",
        free_port()
    ));
    let files = tempdir();
    let file = files.path().join("mxharness-appservice.yaml");
    std::fs::write(&file, registration.to_yaml()).expect("registration written");
    let server = SpawnedSynapse::start(&options("as-target", registration))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let secret = [("MXH_REGISTRATION_SHARED_SECRET", server.shared_secret())];
    let run = |extra: &[&str]| {
        let dir = tempdir();
        let report_dir = dir.path().display().to_string();
        let mut args = vec![
            "run",
            "scenarios/client-server/appservice",
            "--target",
            server.base_url(),
            "--registration",
            "shared-secret",
            "--expectations",
            "fixtures/expectations/synapse.yaml",
            "--report-dir",
            &report_dir,
        ];
        args.extend_from_slice(extra);
        let out = mxharness(&args, &secret);
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        appservice_outcomes(dir.path())
    };
    let file_arg = file.display().to_string();
    let played = run(&["--appservice-registration", &file_arg]);
    assert!(played.len() >= 8, "{played:?}");
    let passed = played.iter().filter(|(_, o, _)| o == "passed").count();
    assert_eq!(passed, played.len() - 1, "one known failure: {played:?}");
    let skipped = run(&[]);
    assert!(
        skipped
            .iter()
            .all(|(_, o, why)| o == "skipped" && why.contains("no application service")),
        "{skipped:?}"
    );
    server.stop().await.expect("stops");
}
