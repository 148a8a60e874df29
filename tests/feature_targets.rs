//! Feature targets (issue 12): the checks of optional features the default spawned Synapse
//! leaves off (a password policy, terms at registration, a login rate limit) skip there with
//! the probe's answer (or, for the rate limit, with the answers that never were a 429),
//! and against a Synapse started with `fixtures/synapse/features.yaml` they run: the scenarios
//! pass (or fail as fixtures/expectations/synapse.yaml says) and each of their mutants fails
//! at the expectation it breaks. Only those scenarios run, so this stays short enough for CI.

mod common;

use std::collections::BTreeMap;

use common::{describe, mxharness, tempdir};
use serde_json::Value;

/// The overlay that switches the features on.
const FEATURES: &str = "fixtures/synapse/features.yaml";

/// The scenarios that need it.
const SCENARIOS: &[&str] = &[
    "scenarios/client-server/account/weak-password-refused.yaml",
    "scenarios/client-server/registration/terms-stage-policies.yaml",
    "scenarios/client-server/uia/terms-completed-listed.yaml",
    "scenarios/client-server/uia/terms-only-on-register.yaml",
    "scenarios/client-server/rate-limiting/failed-logins-limited.yaml",
];

/// Their mutants (kept out of coverage-mutants, whose test runs the default Synapse).
const MUTANTS: &str = "fixtures/scenarios/feature-mutants";

/// Synapse refuses a short password with MSC2000's M_PASSWORD_TOO_SHORT, not the spec's
/// M_WEAK_PASSWORD (listed in fixtures/expectations/synapse.yaml).
const KNOWN_FAILURE: &str = "cs/account/weak-password-refused";

/// What the test reads of one scenario in report.json.
#[derive(Debug)]
struct Outcome {
    outcome: String,
    expectation: Option<String>,
    detail: String,
}

/// Run `paths` with `extra` arguments; returns (exit code, id -> outcome, output).
fn run(paths: &[&str], extra: &[&str]) -> (Option<i32>, BTreeMap<String, Outcome>, String) {
    let dir = tempdir();
    let report_dir = dir.path().display().to_string();
    let mut args: Vec<&str> = vec!["run"];
    args.extend_from_slice(paths);
    args.extend_from_slice(extra);
    args.extend(["--jobs", "4", "--report-dir", &report_dir]);
    let out = mxharness(&args, &[]);
    let text = std::fs::read_to_string(dir.path().join("report.json"))
        .unwrap_or_else(|_| panic!("no report.json: {}", describe(&out)));
    let report: Value = serde_json::from_str(&text).expect("report.json parses");
    let field = |s: &Value, k: &str| s[k].as_str().unwrap_or_default().to_owned();
    let outcomes = report["scenarios"]
        .as_array()
        .expect("scenarios")
        .iter()
        .map(|s| {
            let detail = s["skip_reason"]
                .as_str()
                .or_else(|| s["failure"]["message"].as_str())
                .unwrap_or_default()
                .to_owned();
            let outcome = Outcome {
                outcome: field(s, "outcome"),
                expectation: s["expectation"]["kind"].as_str().map(str::to_owned),
                detail,
            };
            (field(s, "id"), outcome)
        })
        .collect();
    (out.status.code(), outcomes, describe(&out))
}

#[test]
fn feature_checks_skip_on_the_default_synapse_and_pass_with_the_features_overlay() {
    let (code, default, out) = run(SCENARIOS, &[]);
    assert_eq!(default.len(), SCENARIOS.len(), "{out}");
    let not_skipped: Vec<_> = default
        .iter()
        .filter(|(_, o)| {
            o.outcome != "skipped"
                || !(o.detail.starts_with("requires ") || o.detail.contains("did not answer 429"))
        })
        .collect();
    assert!(
        not_skipped.is_empty(),
        "the default Synapse has none of these features, so each check skips with the probe's \
         answer: {not_skipped:?}\n{out}"
    );
    assert_eq!(code, Some(0), "{out}");

    let (code, featured, out) = run(SCENARIOS, &["--synapse-overlay", FEATURES]);
    assert_eq!(featured.len(), SCENARIOS.len(), "{out}");
    let bad: Vec<_> = featured
        .iter()
        .filter(|(id, o)| {
            if id.as_str() == KNOWN_FAILURE {
                !(o.outcome == "failed"
                    && o.expectation.as_deref() == Some("known-failure")
                    && o.detail.contains("M_PASSWORD_TOO_SHORT"))
            } else {
                o.outcome != "passed"
            }
        })
        .collect();
    assert!(bad.is_empty(), "with {FEATURES}: {bad:?}\n{out}");
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn feature_mutants_fail_with_the_features_overlay() {
    let mut paths: Vec<String> = std::fs::read_dir(MUTANTS)
        .expect("mutants dir")
        .flatten()
        .map(|e| e.path().display().to_string())
        .collect();
    paths.sort();
    assert_eq!(paths.len(), SCENARIOS.len(), "one mutant per scenario");
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    let (_, outcomes, out) = run(
        &paths,
        &["--no-expectations", "--synapse-overlay", FEATURES],
    );
    assert_eq!(outcomes.len(), paths.len(), "every mutant ran\n{out}");
    let bad: Vec<_> = outcomes
        .iter()
        .filter(|(_, o)| o.outcome != "failed")
        .collect();
    assert!(bad.is_empty(), "mutants that did not fail: {bad:?}\n{out}");
}
