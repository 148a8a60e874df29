//! Every check added for operation coverage (issue 12) is shown failing once: each file of
//! `fixtures/scenarios/coverage-mutants` is one of those scenarios with one expectation made
//! wrong, run against the spawned Synapse, and each must fail (not pass, skip or block).

mod common;

use common::{describe, mxharness, tempdir};
use serde_json::Value;

const MUTANTS: &str = "fixtures/scenarios/coverage-mutants";

#[test]
fn every_coverage_mutant_fails_against_synapse() {
    let dir = tempdir();
    let out = mxharness(
        &[
            "run",
            MUTANTS,
            "--no-expectations",
            "--jobs",
            "4",
            "--report-dir",
            &dir.path().display().to_string(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let text = std::fs::read_to_string(dir.path().join("report.json")).expect("report.json");
    let report: Value = serde_json::from_str(&text).expect("report.json parses");
    let scenarios = report["scenarios"].as_array().expect("scenarios");
    let files = std::fs::read_dir(MUTANTS).expect("mutants dir").count();
    assert_eq!(scenarios.len(), files, "every mutant ran");
    let not_failed: Vec<String> = scenarios
        .iter()
        .filter(|s| s["outcome"] != "failed")
        .map(|s| format!("{} ({})", s["id"], s["outcome"]))
        .collect();
    assert!(
        not_failed.is_empty(),
        "mutants that did not fail: {not_failed:?}"
    );
}
