//! End-to-end: the binary against a real Synapse from PyPI, spawned by the harness itself
//! and, separately, started by hand and targeted with `--target`.

mod common;

use common::{describe, junit_counts, mxharness, report, tempdir};
use mxharness::results::Outcome;

/// Run a shipped suite against the spawned Synapse: it must exit 0 with at least 40
/// testcases and no JUnit failure or error (known failures are reported as skipped).
fn run_suite_without_unexpected_results(
    suite: &str,
) -> (tempfile::TempDir, std::process::Output, usize) {
    let dir = tempdir();
    let report_dir = dir.path().display().to_string();
    let out = mxharness(&["run", suite, "--report-dir", &report_dir], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let (cases, failures, errors, _) = junit_counts(dir.path());
    assert!(cases >= 40, "{suite}: only {cases} testcases");
    assert_eq!(
        (failures, errors),
        (0, 0),
        "{suite}: only known failures may fail"
    );
    (dir, out, cases)
}

#[test]
fn full_suite_passes_against_the_spawned_synapse() {
    let (dir, out, cases) = run_suite_without_unexpected_results("scenarios/client-server");
    let report = report(dir.path());
    assert_eq!(report.target.kind, "spawned-synapse");
    assert_eq!(report.summary.total, cases);
    assert!(
        report.scenarios.iter().all(|s| !s.fails_run()),
        "only known failures may fail"
    );
    assert!(
        report
            .scenarios
            .iter()
            .filter(|s| s.outcome == Outcome::Failed)
            .all(|s| s.expectation.is_some()),
        "every failure is covered by fixtures/expectations/synapse.yaml"
    );
    assert!(
        dir.path().join("homeserver.log").exists(),
        "the homeserver log is kept beside the reports"
    );
    for name in ["report.html", "report.md"] {
        assert!(
            dir.path().join(name).exists(),
            "{name} is written by every run"
        );
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Messaging: 100%"),
        "per-area summary missing:\n{stderr}"
    );
}

#[test]
fn a_wrong_expectation_fails_the_run_and_its_testcase() {
    let dir = tempdir();
    let out = mxharness(
        &[
            "run",
            "fixtures/scenarios/failing/wrong-status.yaml",
            "--report-dir",
            &dir.path().display().to_string(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let (cases, failures, _, _) = junit_counts(dir.path());
    assert_eq!((cases, failures), (1, 1));
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).expect("junit");
    assert!(junit.contains("expected HTTP 418, got 200"), "{junit}");
    assert!(
        junit.contains("wrong-status.yaml:"),
        "the failure names file:line:col:\n{junit}"
    );
    let report = report(dir.path());
    let failure = report.scenarios[0].failure.as_ref().expect("a failure");
    assert_eq!(
        failure.checks.len(),
        2,
        "both wrong expectations are reported: {failure:?}"
    );
    assert!(
        !failure.transcript.is_empty(),
        "the failing step keeps its transcript"
    );
    let json = std::fs::read_to_string(dir.path().join("report.json")).expect("json");
    assert!(
        !json.contains("Bearer ey") && json.contains("<redacted>"),
        "tokens are redacted:\n{json}"
    );
}

#[test]
fn a_server_started_by_hand_is_targeted_by_url() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let opts = mxharness::target::SynapseOptions {
        cache_dir: common::cache_dir(),
        log_path: tempdir().keep().join("synapse.log"),
        ..mxharness::target::SynapseOptions::default()
    };
    let synapse = rt.block_on(async {
        mxharness::target::ensure_venv(&opts).await.expect("venv");
        mxharness::target::SpawnedSynapse::start(&opts)
            .await
            .expect("synapse starts")
    });
    let dir = tempdir();
    let out = mxharness(
        &[
            "run",
            "scenarios/client-server",
            "--filter",
            "area:messaging,area:sync",
            "--profile",
            "matrix-v1.11",
            "--target",
            synapse.base_url(),
            "--report-dir",
            &dir.path().display().to_string(),
        ],
        &[("MXH_REGISTRATION_SHARED_SECRET", synapse.shared_secret())],
    );
    rt.block_on(synapse.stop()).expect("stops");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let report = report(dir.path());
    assert_eq!(report.target.kind, "url");
    assert_eq!(report.target.registration, "shared-secret");
    assert!(report.summary.passed >= 5, "{:?}", report.summary);
    let profile = report.profile.expect("the profile result is in the report");
    assert_eq!(profile.version, "v1.11");
    assert!(
        profile.mandatory.total >= 5 && profile.mandatory.passed == profile.mandatory.total,
        "{profile:?}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("matrix v1.11 mandatory: "), "{stderr}");
    assert!(
        stderr.contains("Client-Server endpoints exercised: "),
        "{stderr}"
    );
    let endpoints = report.endpoints.expect("endpoint coverage");
    assert!(
        endpoints
            .exercised
            .iter()
            .any(|e| e == "GET /_matrix/client/v3/sync"),
        "{endpoints:?}"
    );
}

#[test]
fn the_expectations_ratchet_works_both_ways() {
    let dir = tempdir();
    let report_dir = dir.path().join("reports");
    let report_dir = report_dir.display().to_string();
    let filter = "cs/profile/unknown-user,cs/profile/displayname-set-get";
    // The shipped file: the known failure fails as expected, the run passes.
    let out = mxharness(
        &["run", "--filter", filter, "--report-dir", &report_dir],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("XFAIL cs/profile/unknown-user"),
        "{}",
        describe(&out)
    );

    // Flip: without the entry, the same failure fails the run.
    let empty = dir.path().join("none.yaml");
    std::fs::write(&empty, "schema: 1\nimplementation: Synapse 1.163.2\n").expect("write");
    let out = mxharness(
        &[
            "run",
            "--filter",
            filter,
            "--expectations",
            &empty.display().to_string(),
            "--report-dir",
            &report_dir,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));

    // Flip the other way: a passing scenario listed as a known failure is an unexpected
    // pass, which fails the run under --strict.
    let wrong = dir.path().join("wrong.yaml");
    std::fs::write(
        &wrong,
        "schema: 1\nimplementation: Synapse 1.163.2\nknown_failures:\n  cs/profile/displayname-set-get: pretend it fails\n  cs/profile/unknown-user: M_UNKNOWN\n",
    )
    .expect("write");
    let wrong = wrong.display().to_string();
    let out = mxharness(
        &[
            "run",
            "--filter",
            filter,
            "--expectations",
            &wrong,
            "--report-dir",
            &report_dir,
        ],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "an unexpected pass alone passes without --strict: {}",
        describe(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("XPASS cs/profile/displayname-set-get"),
        "{}",
        describe(&out)
    );
    let out = mxharness(
        &[
            "run",
            "--filter",
            filter,
            "--expectations",
            &wrong,
            "--strict",
            "--report-dir",
            &report_dir,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let report = report(std::path::Path::new(&report_dir));
    assert_eq!(report.summary.unexpected_passes, 1);
}

#[test]
fn sliding_sync_suite_passes_against_the_spawned_synapse_and_names_the_dialect() {
    let (dir, out, _) = run_suite_without_unexpected_results("scenarios/sliding-sync");
    let report = report(dir.path());
    let dialect = report
        .target
        .sliding_sync
        .expect("the report names the dialect");
    assert!(dialect.starts_with("simplified-msc3575"), "{dialect}");
    assert!(report.areas.iter().any(|a| a.area == "sliding-sync"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Sliding sync: "), "{stderr}");
}
