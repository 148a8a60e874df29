//! The same scenario as check and as load, against one spawned Synapse: a plan whose chatty
//! users run conformance scenarios (`scenario: ID[#STEP]`) with the population's users and
//! rooms passes with no errors; a plan whose persona runs a scenario with a deliberately
//! wrong expectation reports every iteration's expectation failure as an error of the
//! action, with a sample transcript, and fails that action's test case.

mod common;

use std::process::Command;

use common::{cache_dir, describe, junit_counts, report, root, tempdir};
use mxharness::target::{SpawnedSynapse, SynapseOptions, ensure_venv};

fn load(plan: &str, dir: &std::path::Path, target: &str, secret: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mxharness"))
        .current_dir(root())
        .args(["load", plan, "--report-dir", dir.to_str().unwrap()])
        .args(["--target", target])
        .env("MXH_CACHE_DIR", cache_dir())
        .env("MXH_REGISTRATION_SHARED_SECRET", secret)
        .env_remove("MXH_TARGET")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn scenario_actions_pass_and_a_wrong_expectation_is_an_error_of_its_action() {
    let opts = SynapseOptions {
        cache_dir: cache_dir(),
        log_path: cache_dir()
            .join("logs")
            .join(format!("load-scenario-action-{}.log", std::process::id())),
        ..SynapseOptions::default()
    };
    ensure_venv(&opts).await.unwrap_or_else(|e| panic!("{e}"));
    let synapse = SpawnedSynapse::start(&opts)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (url, secret) = (synapse.base_url().to_owned(), synapse.shared_secret());

    // (i) The shipped plan: two messaging scenarios among ordinary chat traffic, no errors.
    let dir = tempdir();
    let out = load(
        "scenarios/load/conformance-messaging.yaml",
        dir.path(),
        &url,
        secret,
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let (cases, failures, errors, _) = junit_counts(dir.path());
    assert_eq!(
        (cases, failures, errors),
        (5, 0, 0),
        "three thresholds and one case per scenario action"
    );
    let l = report(dir.path()).load.expect("a load section");
    assert_eq!(l.scenario_actions.len(), 2, "{:?}", l.scenario_actions);
    for a in &l.scenario_actions {
        assert!(a.iterations > 0, "{a:?}");
        assert_eq!(a.passed, a.iterations, "{a:?}");
        assert!(a.errors.is_empty() && a.sample.is_none(), "{a:?}");
    }
    // Each step is measured under `<scenario id>#<step>`; a mapped create_room sends nothing.
    let names: Vec<&str> = l.requests.iter().map(|r| r.name.as_str()).collect();
    for n in [
        "cs/messaging/send-text-messages#2",
        "cs/messaging/send-text-other-member-sync#2",
        "cs/messaging/send-text-other-member-sync#4",
    ] {
        assert!(names.contains(&n), "{names:?}");
    }
    assert!(
        !names.iter().any(|n| n.ends_with("#1")),
        "create_room steps are served by population rooms: {names:?}"
    );

    // (ii) A scenario with a wrong expectation: every iteration fails with `expectation`.
    let dir = tempdir();
    let out = load(
        "fixtures/load/scenario-action-wrong.yaml",
        dir.path(),
        &url,
        secret,
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let r = report(dir.path());
    let l = r.load.as_ref().expect("a load section");
    let a = &l.scenario_actions[0];
    assert!(a.iterations > 0, "{a:?}");
    assert_eq!(a.passed, 0, "{a:?}");
    assert_eq!(a.errors.get("expectation"), Some(&a.iterations), "{a:?}");
    let sample = a.sample.as_ref().expect("a sample failure");
    assert_eq!(sample.step, 2);
    assert!(
        sample
            .message
            .contains("/event_id: expected a string matching /^!/"),
        "{sample:?}"
    );
    let exchange = sample.transcript.first().expect("the step's exchange");
    assert_eq!(exchange.status, Some(200));
    assert_eq!(
        exchange
            .request_headers
            .get("authorization")
            .map(String::as_str),
        Some("Bearer <redacted>")
    );
    // The failed expectations are the action's request errors, so error-rate rules see them.
    let send = l
        .requests
        .iter()
        .find(|q| q.name == "load-fixture/send-text-wrong-expectation#2")
        .expect("the step was measured");
    assert_eq!(send.errors, a.iterations, "{send:?}");
    let case = r
        .scenarios
        .iter()
        .find(|s| {
            s.id.ends_with("/checker/scenario/load-fixture/send-text-wrong-expectation")
        })
        .expect("one test case for the action");
    let failure = case.failure.as_ref().expect("the action's case failed");
    assert_eq!(failure.kind, "expectation");
    assert!(
        failure.message.starts_with(&format!(
            "{} of {} iterations failed (expectation {})",
            a.iterations, a.iterations, a.iterations
        )),
        "{failure:?}"
    );
    assert!(!failure.transcript.is_empty());
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(junit.contains("iterations failed (expectation"), "{junit}");

    synapse.stop().await.unwrap_or_else(|e| panic!("{e}"));
}
