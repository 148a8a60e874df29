//! Targets behind a private certificate authority: `--ca-cert` makes them reachable, without
//! it the TLS error names the certificate problem; an empty system store falls back to the
//! bundled roots instead of refusing to build any client.

mod common;
mod hostile;

use common::{report, tempdir};
use hostile::{Answer, At, large_post, run, run_against};

const GET: &str = "fixtures/scenarios/hostile/get.yaml";

/// A TLS server with a leaf of a fresh private CA; the CA's PEM file is written to `dir`.
fn private_ca_server(dir: &std::path::Path, answer: Answer) -> (hostile::Server, String) {
    let ca = mxharness::federation::RunCa::new().expect("a private CA");
    let ca_pem = dir.join("private-ca.pem");
    ca.write_pem(&ca_pem).expect("write the CA");
    let leaf = ca.issue_leaf().expect("a leaf");
    let server = hostile::start_with(answer, At::Check, Some(leaf.server_config().expect("tls")));
    (server, ca_pem.display().to_string())
}

#[test]
fn a_private_ca_target_is_reached_with_ca_cert_and_refused_without() {
    let dir = tempdir();
    let (server, ca_pem) = private_ca_server(dir.path(), Answer::Fine);
    let (ran, _) = run_against(&server.url, GET, &["--ca-cert", &ca_pem]);
    assert_eq!(ran.code, Some(0), "{}", ran.describe());
    let (ran, _) = run_against(&server.url, GET, &[]);
    assert_eq!(ran.code, Some(5), "{}", ran.describe());
    assert!(
        ran.stderr
            .contains("invalid peer certificate: UnknownIssuer"),
        "the certificate problem is named: {}",
        ran.describe()
    );
}

#[test]
fn a_missing_ca_cert_file_is_a_usage_error() {
    let ran = run(&[
        "run",
        GET,
        "--target",
        "https://localhost:1",
        "--ca-cert",
        "/no/such/ca.pem",
    ]);
    assert_eq!(ran.code, Some(2), "{}", ran.describe());
    assert!(ran.stderr.contains("/no/such/ca.pem"), "{}", ran.describe());
}

#[test]
fn a_peer_closing_while_a_large_body_is_written_over_tls_is_an_error_not_death() {
    let dir = tempdir();
    let scenario = large_post(dir.path());
    let (server, ca_pem) = private_ca_server(dir.path(), Answer::CloseWhileWriting);
    let (ran, reports) = run_against(&server.url, &scenario, &["--ca-cert", &ca_pem]);
    assert_eq!(ran.code, Some(1), "{}", ran.describe());
    let r = report(reports.path());
    let failure = r.scenarios[0].failure.clone().expect("failure");
    assert_eq!(failure.kind, "transport", "{failure:?}");
}

#[test]
fn an_empty_system_store_falls_back_to_the_bundled_roots() {
    let dir = tempdir();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").expect("write");
    let empty = empty.display().to_string();
    let envs = [
        ("SSL_CERT_FILE", empty.as_str()),
        ("SSL_CERT_DIR", "/nonexistent"),
    ];
    // A plain-http target needs no root at all, yet reqwest's platform verifier refuses
    // to build a client without one.
    let server = hostile::start(Answer::Fine, At::Check);
    let ran = hostile::run_env(
        &[
            "run",
            GET,
            "--target",
            &server.url,
            "--server-name",
            "x.test",
            "--report-dir",
            &dir.path().join("plain").display().to_string(),
        ],
        &envs,
    );
    assert_eq!(ran.code, Some(0), "{}", ran.describe());
    // A private CA is still trusted with --ca-cert.
    let (tls, ca_pem) = private_ca_server(dir.path(), Answer::Fine);
    let ran = hostile::run_env(
        &[
            "run",
            GET,
            "--target",
            &tls.url,
            "--server-name",
            "x.test",
            "--ca-cert",
            &ca_pem,
            "--report-dir",
            &dir.path().join("tls").display().to_string(),
        ],
        &envs,
    );
    assert_eq!(ran.code, Some(0), "{}", ran.describe());
}
