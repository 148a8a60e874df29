//! The gateway suite against the two local gateways (nginx from the OS packages in front of a
//! spawned Synapse, and Synapse's own federation_domain_whitelist), each judged by its shipped
//! expectations file, and against a deliberately permissive nginx to show the checks failing
//! when a gateway lets denied traffic through.

mod common;

use std::path::Path;

use common::{describe, junit_counts, mxharness, report};
use mxharness::results::{ExpectationKind, Outcome, RunReport};

/// Timing is never asserted here: the overhead testcase gets a limit no run can pass, five
/// repetitions keep it short, and tests/gateway_overhead.rs shows its verdict failing.
const OVERHEAD_UNJUDGED: [&str; 4] = [
    "--gateway-overhead",
    "5",
    "--gateway-overhead-max-ms",
    "600000",
];

fn run_kind(kind: &str, dir: &Path, extra: &[&str]) -> std::process::Output {
    let dir = dir.to_str().expect("utf-8 temp dir");
    let mut args = vec![
        "run",
        "scenarios/gateway",
        "--gateway-kind",
        kind,
        "--report-dir",
        dir,
    ];
    args.extend_from_slice(&OVERHEAD_UNJUDGED);
    args.extend_from_slice(extra);
    mxharness(&args, &[])
}

fn outcome<'a>(r: &'a RunReport, id: &str) -> &'a mxharness::results::ScenarioResult {
    r.scenarios
        .iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("{id} is in the report"))
}

#[test]
fn nginx_gateway_matches_its_expectations() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = run_kind("nginx", dir.path(), &["--strict"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let (cases, failures, errors, _) = junit_counts(dir.path());
    assert!(cases >= 25, "{cases} testcases");
    assert_eq!((failures, errors), (0, 0), "{}", describe(&out));
    let r = report(dir.path());
    // nginx cannot verify signatures: a tampered request reaches the homeserver, and the
    // expectations file says so.
    let flipped = outcome(&r, "gateway/signature/flipped-signature");
    assert_eq!(flipped.outcome, Outcome::Failed);
    let failure = flipped.failure.as_ref().expect("a failure");
    assert!(
        failure.checks.iter().any(|c| c.kind == "reached-upstream"),
        "{failure:?}"
    );
    assert_eq!(
        flipped.expectation.as_ref().map(|e| e.kind),
        Some(ExpectationKind::KnownFailure)
    );
    // What nginx enforces passes, with the exact answer reported.
    let denied = outcome(&r, "gateway/deny/unknown-origin-transaction");
    assert_eq!(denied.outcome, Outcome::Passed, "{denied:?}");
    assert_eq!(
        denied.properties.get("status").map(String::as_str),
        Some("403")
    );
    assert_eq!(
        denied.properties.get("upstream").map(String::as_str),
        Some("not reached")
    );
    assert_eq!(
        outcome(&r, "gateway/pass/send-transaction").outcome,
        Outcome::Passed
    );
    for id in NEW_ATTACKS {
        assert_eq!(outcome(&r, id).outcome, Outcome::Passed, "{id}");
    }
    // nginx refuses the smuggling attempt and closes the connection (RFC 9112 6.1).
    let smuggled = outcome(&r, "gateway/smuggling/content-length-and-chunked");
    assert_eq!(
        smuggled.properties.get("connection").map(String::as_str),
        Some("closed by the gateway")
    );
    // The overhead testcase reports gateway and direct figures per pass-through probe.
    let overhead = outcome(&r, "gateway/overhead/p95");
    assert_eq!(overhead.level, "policy");
    assert!(
        overhead.properties.contains_key("largest p95 overhead")
            && overhead
                .properties
                .contains_key("gateway/pass/version reused p95"),
        "{:?}",
        overhead.properties
    );
}

#[test]
fn synapse_whitelist_matches_its_expectations() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = run_kind("synapse-whitelist", dir.path(), &["--strict"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let (cases, failures, errors, _) = junit_counts(dir.path());
    assert!(cases >= 25, "{cases} testcases");
    assert_eq!((failures, errors), (0, 0), "{}", describe(&out));
    let r = report(dir.path());
    // Synapse verifies signatures itself.
    assert_eq!(
        outcome(&r, "gateway/signature/flipped-signature").outcome,
        Outcome::Passed
    );
    let denied = outcome(&r, "gateway/outbound/denied-destination");
    assert_eq!(denied.outcome, Outcome::Passed, "{denied:?}");
}

#[test]
fn a_permissive_gateway_fails_the_checks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = run_kind("nginx-permissive", dir.path(), &["--no-expectations"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let r = report(dir.path());
    for id in [
        "gateway/deny/unknown-origin-transaction",
        "gateway/client-api/versions",
        "gateway/path/dot-segments",
        "gateway/method/delete-transaction",
        "gateway/body/over-limit",
        "gateway/headers/forwarded-spoofing",
    ]
    .into_iter()
    .chain(NEW_ATTACKS)
    {
        let s = outcome(&r, id);
        assert_eq!(s.outcome, Outcome::Failed, "{id} should fail: {s:?}");
        // Every failure says what was sent, what the gateway answered and what reached the
        // homeserver (or that nothing did).
        let message = &s.failure.as_ref().expect("a failure").message;
        assert!(
            message.contains(" sent ")
                && message.contains("the gateway ")
                && message.contains("homeserver"),
            "{id}: {message}"
        );
    }
    // Routing spoofing: the request went to the harness's decoy, and the diagnosis names the
    // header that sent it there.
    for (id, header) in [
        ("gateway/headers/host-routing", "Host"),
        (
            "gateway/headers/x-forwarded-host-routing",
            "X-Forwarded-Host",
        ),
        ("gateway/headers/forwarded-routing", "Forwarded"),
    ] {
        let failure = outcome(&r, id).failure.as_ref().expect("a failure");
        assert_eq!(failure.kind, "misrouted", "{id}: {failure:?}");
        assert!(
            failure.message.contains(&format!(
                "the gateway forwarded the request to a host named by {header} ("
            )) && failure.message.contains("nothing reached the homeserver"),
            "{id}: {}",
            failure.message
        );
    }
    // A name nobody listens on: nginx answers 502, and the diagnosis says where it went.
    let spoofed = outcome(&r, "gateway/headers/forwarded-spoofing");
    let message = &spoofed.failure.as_ref().expect("a failure").message;
    assert!(
        message.contains("a host named by X-Forwarded-Host (evil.example) and answered 502"),
        "{message}"
    );
    // The smuggling attempt reached the homeserver framed by Content-Length.
    let smuggled = outcome(&r, "gateway/smuggling/content-length-and-chunked");
    let message = &smuggled.failure.as_ref().expect("a failure").message;
    assert!(
        message.contains("with the hidden request inside its body"),
        "{message}"
    );
    let denied = outcome(&r, "gateway/deny/unknown-origin-transaction");
    let kinds: Vec<&str> = denied
        .failure
        .iter()
        .flat_map(|f| f.checks.iter().map(|c| c.kind.as_str()))
        .collect();
    assert!(kinds.contains(&"reached-upstream"), "{kinds:?}");
}

/// The attacks of issue 14 point 4: each fails against the permissive nginx (which makes the
/// mistake) and passes against the strict one.
const NEW_ATTACKS: [&str; 21] = [
    "gateway/path/signed-query-smuggling",
    "gateway/path/signed-dot-segments",
    "gateway/path/signed-encoded-dot-segments",
    "gateway/path/signed-encoded-slash",
    "gateway/path/signed-prefix-injection",
    "gateway/path/signed-suffix-injection",
    "gateway/path/unpinned-key-dot-segments",
    "gateway/path/unpinned-key-encoded-dot-segments",
    "gateway/path/unpinned-key-encoded-slash",
    "gateway/path/unpinned-key-prefix-injection",
    "gateway/path/unpinned-key-suffix-injection",
    "gateway/headers/host-routing",
    "gateway/headers/x-forwarded-host-routing",
    "gateway/headers/forwarded-routing",
    "gateway/headers/several-authorization",
    "gateway/headers/long-header",
    "gateway/body/chunked-over-limit",
    "gateway/smuggling/content-length-and-chunked",
    "gateway/smuggling/second-request-after-refusal",
    "gateway/smuggling/denied-after-allowed",
    "gateway/transport/plaintext-on-tls-port",
];

#[test]
fn a_product_profile_pins_the_exact_refusal_status() {
    // nginx refuses an unknown origin with 403; a profile of a product that answers 401
    // (simple-border-gateway) makes those checks fail against it.
    let dir = tempfile::tempdir().expect("temp dir");
    let out = run_kind(
        "nginx",
        dir.path(),
        &[
            "--filter",
            "area:origin-allow-list",
            "--gateway-profile",
            "fixtures/gateway/profiles/simple-border-gateway.yaml",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let r = report(dir.path());
    let denied = outcome(&r, "gateway/deny/unknown-origin-transaction");
    assert_eq!(denied.outcome, Outcome::Failed, "{denied:?}");
    let failure = denied.failure.as_ref().expect("a failure");
    assert_eq!(failure.kind, "status");
    assert_eq!(failure.actual.as_deref(), Some("403"));
    assert_eq!(
        outcome(&r, "gateway/deny/missing-authorization").outcome,
        Outcome::Passed
    );
}

/// The local nginx gateway with `--gateway-identities`: the pass-through checks pass with the
/// stored servers (Synapse trusts the stored CA and fetches the stored keys), twice.
#[test]
fn the_local_gateway_plays_stored_identities() {
    let ids = tempfile::tempdir().expect("temp dir");
    let ids_dir = ids.path().join("ids");
    let ids_arg = ids_dir.to_str().expect("utf-8");
    let mut seen = Vec::new();
    for _ in 0..2 {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = run_kind(
            "nginx",
            dir.path(),
            &[
                "--filter",
                "area:pass-through",
                "--gateway-identities",
                ids_arg,
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        let lines: Vec<String> = String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| l.trim_start().starts_with("identity "))
            .map(str::to_owned)
            .collect();
        assert_eq!(lines.len(), 3, "{}", describe(&out));
        seen.push(lines);
    }
    assert_eq!(seen[0], seen[1]);
}

#[test]
fn a_closed_gateway_fails_the_pass_through_checks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = run_kind(
        "nginx-closed",
        dir.path(),
        &["--filter", "area:pass-through,area:headers"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let r = report(dir.path());
    assert!(r.scenarios.len() >= 19, "{}", r.scenarios.len());
    // The two refusal checks among the header ones are not about passing traffic through
    // (the closed fixture refuses them with nginx's own HTML or its Matrix 403).
    let refusals = [
        "gateway/headers/several-authorization",
        "gateway/headers/long-header",
    ];
    for s in r
        .scenarios
        .iter()
        .filter(|s| !refusals.contains(&s.id.as_str()))
    {
        assert_eq!(
            s.outcome,
            Outcome::Failed,
            "{} should fail: {}",
            s.id,
            s.title
        );
    }
    let version = outcome(&r, "gateway/pass/version");
    let kinds: Vec<&str> = version
        .failure
        .iter()
        .flat_map(|f| f.checks.iter().map(|c| c.kind.as_str()))
        .collect();
    assert!(kinds.contains(&"not-forwarded"), "{kinds:?}");
}

#[test]
fn gateway_url_flags_are_checked_and_an_unreachable_gateway_fails_checks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path().to_str().expect("utf-8");
    let out = mxharness(
        &[
            "run",
            "scenarios/gateway",
            "--gateway",
            "https://127.0.0.1:9",
            "--report-dir",
            d,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        describe(&out).contains("--gateway-server-name"),
        "{}",
        describe(&out)
    );

    // Nothing listens on port 9: every inbound check fails with the transport error in its
    // transcript, outbound checks are skipped (no client account), nothing hangs.
    let out = mxharness(
        &[
            "run",
            "scenarios/gateway",
            "--gateway",
            "https://127.0.0.1:9",
            "--gateway-server-name",
            "localhost:9",
            "--filter",
            "area:paths,area:outbound",
            "--report-dir",
            d,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let r = report(dir.path());
    let dots = outcome(&r, "gateway/path/dot-segments");
    let failure = dots.failure.as_ref().expect("a failure");
    assert_eq!(failure.kind, "transport");
    assert!(failure.transcript[0].error.is_some(), "{failure:?}");
    assert_eq!(
        outcome(&r, "gateway/outbound/denied-destination").outcome,
        Outcome::Skipped
    );
}

#[test]
fn gateway_checks_validate_and_list_and_bad_ones_are_reported() {
    let out = mxharness(&["validate", "scenarios/gateway"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        describe(&out).contains("78 gateway check file(s) valid"),
        "{}",
        describe(&out)
    );

    let out = mxharness(&["list", "scenarios/gateway", "--format", "json"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let items: Vec<serde_json::Value> =
        serde_json::from_slice(&out.stdout).expect("list prints JSON");
    assert!(items.len() >= 25, "{}", items.len());

    let out = mxharness(&["validate", "fixtures/gateway/invalid"], &[]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let text = describe(&out);
    assert!(
        text.contains("unknown-key.yaml") && text.contains("verdikt"),
        "{text}"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// `--gateway URL`: the test sets up nginx in front of Synapse itself (its own CA, the
/// allow-list naming two fixed loopback ports), and the harness plays those names, trusts the
/// gateway's CA, and puts its tap where nginx's upstream points.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_runs_against_a_gateway_url() {
    use mxharness::federation::RunCa;
    use mxharness::gateway::nginx::{NginxConfig, STRICT_TEMPLATE, SpawnedNginx};
    use mxharness::target::{FederationSetup, SpawnedSynapse, SynapseOptions};
    use std::sync::Arc;

    let dir = tempfile::tempdir().expect("temp dir");
    let (gw, p1, p2, p3, tap) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    let server_name = format!("localhost:{gw}");
    let ca = Arc::new(RunCa::new().expect("a CA"));
    let setup = FederationSetup {
        ca: Arc::clone(&ca),
        public_name: Some(server_name.clone()),
        federation_port: None,
        tls: false,
        // The harness's remote servers use its own per-run CA, which this Synapse cannot know.
        extra_overlay: Some(
            "federation_verify_certificates: false\nfederation_custom_ca_list: null\n".into(),
        ),
    };
    let opts = SynapseOptions {
        cache_dir: common::cache_dir(),
        log_path: dir.path().join("hs.log"),
        ..SynapseOptions::default()
    };
    let synapse = SpawnedSynapse::start_federated(&opts, &setup)
        .await
        .expect("Synapse starts");
    let federation = synapse.federation().expect("a federation listener").clone();
    let leaf = ca.issue_leaf().expect("a leaf");
    let (cert, key) = leaf.write_files(dir.path(), "gw").expect("cert files");
    let ca_pem = dir.path().join("ca.pem");
    ca.write_pem(&ca_pem).expect("CA file");
    let nginx = SpawnedNginx::start(
        &NginxConfig {
            template: STRICT_TEMPLATE.to_owned(),
            port: gw,
            cert,
            key,
            upstream: format!("127.0.0.1:{tap}"),
            server_name: server_name.clone(),
            allowed_origins: vec![format!("localhost:{p1}"), format!("localhost:{p2}")],
            max_body: "10m".into(),
        },
        None,
    )
    .await
    .expect("nginx starts");

    let reports = dir.path().join("reports");
    let args: Vec<String> = [
        "run",
        "scenarios/gateway",
        "--gateway",
        &format!("https://127.0.0.1:{gw}"),
        "--gateway-server-name",
        &server_name,
        "--gateway-allowed",
        &format!("localhost:{p1},localhost:{p2}"),
        "--gateway-denied",
        &format!("localhost:{p3}"),
        "--gateway-ca",
        ca_pem.to_str().expect("utf-8"),
        "--gateway-upstream",
        &federation.url,
        "--gateway-tap",
        &format!("127.0.0.1:{tap}"),
        "--gateway-profile",
        "fixtures/gateway/profiles/nginx.yaml",
        "--expectations",
        "fixtures/expectations/gateway-nginx.yaml",
        "--gateway-client",
        synapse.base_url(),
        "--report-dir",
        reports.to_str().expect("utf-8"),
        OVERHEAD_UNJUDGED[0],
        OVERHEAD_UNJUDGED[1],
        OVERHEAD_UNJUDGED[2],
        OVERHEAD_UNJUDGED[3],
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let secret = synapse.shared_secret().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        mxharness(
            &args,
            &[("MXH_REGISTRATION_SHARED_SECRET", secret.as_str())],
        )
    })
    .await
    .expect("the run finishes");
    nginx.stop().await;
    let _ = synapse.stop().await;

    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let r = report(&reports);
    assert!(r.scenarios.len() >= 25);
    assert_eq!(r.target.kind, "gateway:url");
    // The implementation behind the gateway names itself through it (federation /version).
    assert!(
        r.target
            .server_version
            .as_deref()
            .is_some_and(|v| v.starts_with("Synapse ") && v.ends_with("(behind the gateway)")),
        "{:?}",
        r.target.server_version
    );
    assert_eq!(
        outcome(&r, "gateway/pass/send-transaction").outcome,
        Outcome::Passed
    );
    assert_eq!(
        outcome(&r, "gateway/deny/unknown-origin-transaction").outcome,
        Outcome::Passed
    );
    let flipped = outcome(&r, "gateway/signature/flipped-signature");
    assert_eq!(flipped.outcome, Outcome::Failed);
    // Outbound through --gateway-client: the homeserver's query reaches the allowed server;
    // this nginx is inbound only, so the denied one is reached too (a known failure).
    assert_eq!(
        outcome(&r, "gateway/outbound/allowed-destination").outcome,
        Outcome::Passed
    );
    let denied = outcome(&r, "gateway/outbound/denied-destination");
    assert_eq!(denied.outcome, Outcome::Failed, "{denied:?}");
    assert_eq!(
        denied.expectation.as_ref().map(|e| e.kind),
        Some(ExpectationKind::KnownFailure)
    );
    // With --gateway-upstream the overhead is measured through the gateway and directly.
    assert!(
        outcome(&r, "gateway/overhead/p95")
            .properties
            .contains_key("largest p95 overhead")
    );
}
