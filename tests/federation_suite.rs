//! End-to-end federation: the shipped federation suite against the spawned topology (hs1 and
//! hs2 federation-enabled Synapses, in-process fake servers), and fixtures that must fail.

mod common;

use common::{describe, junit_counts, mxharness, report, tempdir};
use mxharness::results::Outcome;

#[test]
fn federation_suite_passes_against_the_spawned_topology() {
    let dir = tempdir();
    let report_dir = dir.path().display().to_string();
    let out = mxharness(
        &["run", "scenarios/federation", "--report-dir", &report_dir],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let (cases, failures, errors, _) = junit_counts(dir.path());
    assert!(cases >= 40, "only {cases} federation testcases");
    assert_eq!((failures, errors), (0, 0), "only known failures may fail");
    let report = report(dir.path());
    // The client listener of a federation-enabled Synapse serves no federation API: the
    // implementation is read from its federation listener.
    assert_eq!(
        report.target.server_version.as_deref(),
        Some(format!("Synapse {}", mxharness::target::SYNAPSE_VERSION).as_str())
    );
    assert!(
        report
            .scenarios
            .iter()
            .filter(|s| s.outcome == Outcome::Failed)
            .all(|s| s.expectation.is_some()),
        "every failure is covered by fixtures/expectations/synapse.yaml"
    );
    let interop = report
        .scenarios
        .iter()
        .find(|s| s.id == "fed/interop/invite-join-messages")
        .expect("the interop scenario ran");
    assert_eq!(interop.outcome, Outcome::Passed, "{interop:?}");
    for key in [
        "delivery_hs1_to_hs2_ms",
        "delivery_hs2_to_hs1_ms",
        "remote_join_ms",
    ] {
        let value = interop
            .properties
            .get(key)
            .unwrap_or_else(|| panic!("{key} recorded"));
        assert!(value.parse::<u64>().is_ok(), "{key} = {value}");
    }
    assert!(
        dir.path().join("homeserver2.log").exists(),
        "the second homeserver's log is kept beside the reports"
    );
}

#[test]
fn forged_or_unexpected_federation_traffic_fails_the_checks() {
    let dir = tempdir();
    let out = mxharness(
        &[
            "run",
            "fixtures/scenarios/federation-failing",
            "--report-dir",
            &dir.path().display().to_string(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let (cases, failures, _, _) = junit_counts(dir.path());
    assert_eq!((cases, failures), (3, 3), "{}", describe(&out));
    let report = report(dir.path());
    let failure = |id: &str| {
        report
            .scenarios
            .iter()
            .find(|s| s.id == id)
            .and_then(|s| s.failure.clone())
            .unwrap_or_else(|| panic!("{id} failed"))
    };
    let forged = failure("fixtures/federation/forged-request-expected-accepted");
    assert!(forged.message.contains("got 401"), "{forged:?}");
    let unexpected = failure("fixtures/federation/unexpected-inbound-request");
    assert_eq!(unexpected.kind, "unexpected-request");
    assert!(unexpected.message.contains("/invite/"), "{unexpected:?}");
    let visible = failure("fixtures/federation/bad-signature-expected-visible");
    assert!(visible.message.contains("attempts"), "{visible:?}");
}

#[test]
fn interop_runs_against_two_given_targets() {
    // Two federation-enabled Synapses started by hand (trusting one CA between them), then
    // targeted with --target and --target2.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let ca = std::sync::Arc::new(mxharness::federation::RunCa::new().expect("CA"));
    let opts = |name: &str| mxharness::target::SynapseOptions {
        cache_dir: common::cache_dir(),
        log_path: tempdir().keep().join(format!("{name}.log")),
        ..mxharness::target::SynapseOptions::default()
    };
    let setup = mxharness::target::FederationSetup::direct(ca);
    let (hs1, hs2) = rt.block_on(async {
        let hs1 = mxharness::target::SpawnedSynapse::start_federated(&opts("hs1"), &setup)
            .await
            .expect("hs1 starts");
        let hs2 = mxharness::target::SpawnedSynapse::start_federated(&opts("hs2"), &setup)
            .await
            .expect("hs2 starts");
        (hs1, hs2)
    });
    let fed = |s: &mxharness::target::SpawnedSynapse| {
        s.federation().expect("federation endpoint").clone()
    };
    let (f1, f2) = (fed(&hs1), fed(&hs2));
    let dir = tempdir();
    let out = mxharness(
        &[
            "run",
            "scenarios/federation/interop",
            "--target",
            hs1.base_url(),
            "--federation-url",
            &f1.url,
            "--target2",
            hs2.base_url(),
            "--target2-federation-url",
            &f2.url,
            "--report-dir",
            &dir.path().display().to_string(),
        ],
        &[
            ("MXH_REGISTRATION_SHARED_SECRET", hs1.shared_secret()),
            (
                "MXH_TARGET2_REGISTRATION_SHARED_SECRET",
                hs2.shared_secret(),
            ),
        ],
    );
    rt.block_on(async {
        let _ = hs1.stop().await;
        let _ = hs2.stop().await;
    });
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let report = report(dir.path());
    assert_eq!(report.target.kind, "url");
    assert_eq!(report.summary.passed, 2, "{:?}", report.summary);
}
