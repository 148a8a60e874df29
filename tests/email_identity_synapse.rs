//! The harness's SMTP sink (aiosmtpd) and identity-server role with the 3PID scenarios
//! against the spawned Synapse: the scenarios of `scenarios/client-server/3pid-email` and
//! `third-party-invites` pass, and their mutants (`fixtures/scenarios/coverage-mutants/email-*`)
//! fail, so each check is shown to bite.

mod common;

use common::{describe, mxharness, tempdir};
use serde_json::Value;

const SCENARIOS: &[&str] = &[
    "scenarios/client-server/3pid-email",
    "scenarios/client-server/third-party-invites",
];
const MUTANTS: &str = "fixtures/scenarios/coverage-mutants";

/// The one scenario Synapse fails, listed in fixtures/expectations/synapse.yaml (it serves
/// `/3pid/onbind` as POST, the spec names PUT).
const KNOWN_FAILURE: &str = "cs/third-party-invites/onbind-turns-invite-into-membership";

/// Run `paths` (raw results unless `expectations`); returns (exit code, id -> outcome, output).
fn run(paths: &[String], expectations: bool) -> (Option<i32>, Vec<(String, String)>, String) {
    let dir = tempdir();
    let report_dir = dir.path().display().to_string();
    let mut args: Vec<&str> = vec!["run"];
    args.extend(paths.iter().map(String::as_str));
    if !expectations {
        args.push("--no-expectations");
    }
    args.extend(["--jobs", "4", "--report-dir", &report_dir]);
    let out = mxharness(&args, &[]);
    let text = std::fs::read_to_string(dir.path().join("report.json"))
        .unwrap_or_else(|_| panic!("no report.json: {}", describe(&out)));
    let report: Value = serde_json::from_str(&text).expect("report.json parses");
    let outcomes = report["scenarios"]
        .as_array()
        .expect("scenarios")
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap_or_default().to_owned(),
                s["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    (out.status.code(), outcomes, describe(&out))
}

#[test]
fn the_3pid_scenarios_pass_against_synapse() {
    let paths: Vec<String> = SCENARIOS.iter().map(|s| (*s).to_owned()).collect();
    let (code, outcomes, out) = run(&paths, true);
    assert!(!outcomes.is_empty(), "{out}");
    let bad: Vec<_> = outcomes
        .iter()
        .filter(|(id, o)| o != "passed" && id != KNOWN_FAILURE)
        .collect();
    assert!(bad.is_empty(), "not passed: {bad:?}\n{out}");
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn the_email_mutants_fail_against_synapse() {
    let mut paths: Vec<String> = std::fs::read_dir(MUTANTS)
        .expect("mutants dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("email-"))
        })
        .map(|p| p.display().to_string())
        .collect();
    paths.sort();
    assert!(!paths.is_empty());
    let (code, outcomes, out) = run(&paths, false);
    assert_eq!(outcomes.len(), paths.len(), "every mutant ran\n{out}");
    let bad: Vec<_> = outcomes.iter().filter(|(_, o)| o != "failed").collect();
    assert!(bad.is_empty(), "mutants that did not fail: {bad:?}\n{out}");
    assert_eq!(code, Some(1), "{out}");
}
