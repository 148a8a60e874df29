//! Tests of how every report format keeps the levels apart and groups failures by root
//! cause, on the fixture report plus scenarios of every level and outcome.

use std::collections::BTreeMap;

use super::*;
use crate::results::{Exchange, FailOn, Failure, Outcome, ScenarioResult, area_scores};

fn exchange(method: &str, path: &str, status: u16, errcode: &str) -> Exchange {
    Exchange {
        method: method.into(),
        url: format!("https://matrix.example.org{path}"),
        request_headers: BTreeMap::new(),
        request_body: None,
        status: Some(status),
        response_headers: BTreeMap::new(),
        response_body: Some(format!(r#"{{"errcode":"{errcode}","error":"x"}}"#)),
        error: None,
        duration_ms: 3,
    }
}

fn result(
    id: &str,
    level: &str,
    outcome: Outcome,
    message: &str,
    transcript: Vec<Exchange>,
) -> ScenarioResult {
    let area = id.split('/').nth(1).unwrap_or("misc").to_owned();
    let mut s = ScenarioResult::new(id, id, area, format!("scenarios/{id}.yaml"));
    s.level = level.into();
    s.outcome = outcome;
    s.duration_ms = 10;
    s.failure = Some(Failure {
        step: 2,
        kind: "status".into(),
        transcript,
        ..Failure::setup(format!("scenarios/{id}.yaml:9:7"), message)
    });
    s
}

/// The fixture plus: three MUST failures with one cause, a SHOULD and a MAY failure, a
/// POLICY failure, two unsupported checks of one operation and two blocked scenarios.
pub(super) fn leveled(fail_on: FailOn) -> RunReport {
    let text = std::fs::read_to_string(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/reports/run-report.json"),
    )
    .unwrap();
    let mut report = read_json(&text).unwrap();
    let create = || {
        vec![exchange(
            "POST",
            "/_matrix/client/v3/createRoom",
            500,
            "M_UNKNOWN",
        )]
    };
    let filter = |user: &str| {
        vec![exchange(
            "POST",
            &format!("/_matrix/client/v3/user/{user}/filter"),
            404,
            "M_UNRECOGNIZED",
        )]
    };
    let typing = || {
        vec![exchange(
            "PUT",
            "/_matrix/client/v3/rooms/!r:example.org/typing/@a:example.org",
            403,
            "M_FORBIDDEN",
        )]
    };
    let mut should = result(
        "cs/sync/presence-in-sync",
        "should",
        Outcome::Failed,
        "$.presence: missing",
        Vec::new(),
    );
    should.basis = Some("'Servers SHOULD include presence' (Client-Server API, Presence)".into());
    let mut must = result(
        "cs/rooms/create-alias",
        "must",
        Outcome::Failed,
        "expected status 200, got 500",
        create(),
    );
    must.basis = Some("POST /createRoom: 200 'Information about the newly created room.'".into());
    let blocked_message =
        "blocked: set-up step 1 (alice: call typing) failed; tested by cs/typing/set";
    report.scenarios.extend([
        must,
        result(
            "cs/rooms/create-public",
            "must",
            Outcome::Failed,
            "expected status 200, got 500",
            create(),
        ),
        result(
            "cs/rooms/create-topic",
            "must",
            Outcome::Failed,
            "expected 2xx, got 500",
            create(),
        ),
        should,
        result(
            "cs/sync/lazy-members",
            "may",
            Outcome::Failed,
            "$.state: 3 events, expected 1",
            Vec::new(),
        ),
        result(
            "gw/limits/body-size",
            "policy",
            Outcome::Failed,
            "expected status 413, got 200",
            Vec::new(),
        ),
        result(
            "cs/filter/upload",
            "must",
            Outcome::Unsupported,
            "POST /user/{userId}/filter is not implemented (404 M_UNRECOGNIZED)",
            filter("@a:example.org"),
        ),
        result(
            "cs/filter/upload-empty",
            "must",
            Outcome::Unsupported,
            "POST /user/{userId}/filter is not implemented (404 M_UNRECOGNIZED)",
            filter("@b:example.org"),
        ),
        result(
            "cs/typing/stop",
            "must",
            Outcome::Blocked,
            blocked_message,
            typing(),
        ),
        result(
            "cs/typing/timeout",
            "should",
            Outcome::Blocked,
            blocked_message,
            typing(),
        ),
    ]);
    report.scenarios.sort_by(|a, b| a.id.cmp(&b.id));
    report.summary = crate::results::summarize_at(&report.scenarios, fail_on);
    report.areas = area_scores(&report.scenarios);
    report
}

#[test]
fn snapshot_summary_with_levels() {
    insta::assert_snapshot!("summary_levels", render_summary(&leveled(FailOn::Must)));
}

#[test]
fn snapshot_markdown_with_levels() {
    insta::assert_snapshot!("markdown_levels", render_markdown(&leveled(FailOn::Must)));
}

#[test]
fn the_counts_line_counts_gating_failures_and_recommendations_apart() {
    let text = render_summary(&leveled(FailOn::Must));
    assert!(
        text.contains(
            "19 scenarios: 4 passed, 6 failed (MUST, POLICY), 2 recommendations not met, 1 errored, 2 blocked, 2 unsupported, 2 skipped in 3.2s"
        ),
        "{text}"
    );
    let text = render_summary(&leveled(FailOn::Should));
    assert!(
        text.contains("7 failed (MUST, SHOULD, POLICY), 1 recommendation not met"),
        "{text}"
    );
    assert!(
        text.contains("FAIL [SHOULD] cs/sync/presence-in-sync"),
        "{text}"
    );
    assert!(text.contains("Recommendations not met (MAY;"), "{text}");
    let text = render_summary(&leveled(FailOn::May));
    assert!(!text.contains("Recommendations not met"), "{text}");
}

#[test]
fn the_run_fails_on_must_and_with_fail_on_on_recommendations() {
    assert!(leveled(FailOn::Must).fails());
    let mut only_recommendations = leveled(FailOn::Must);
    only_recommendations.scenarios.retain(|s| {
        !s.fails_run_at(FailOn::Must) || !matches!(s.level.as_str(), "must" | "policy")
    });
    only_recommendations
        .scenarios
        .retain(|s| s.outcome != Outcome::Errored);
    assert!(
        !only_recommendations.fails(),
        "SHOULD/MAY failures do not gate"
    );
    only_recommendations.summary.fail_on = FailOn::Should;
    assert!(
        only_recommendations.fails(),
        "--fail-on should makes them gate"
    );
}

#[test]
fn junit_renders_recommendations_as_skipped_and_gating_unsupported_as_failures() {
    let xml = render_junit(&leveled(FailOn::Must)).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let case = |id: &str| {
        doc.descendants()
            .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some(id))
            .unwrap_or_else(|| panic!("no testcase {id}"))
    };
    let child = |id: &str, tag: &str| {
        case(id)
            .children()
            .find(|n| n.has_tag_name(tag))
            .unwrap_or_else(|| panic!("{id} has no <{tag}>"))
    };
    let skipped = child("cs/sync/presence-in-sync", "skipped");
    assert_eq!(
        skipped.attribute("message"),
        Some("recommendation not met (SHOULD): $.presence: missing")
    );
    let out = child("cs/sync/presence-in-sync", "system-out")
        .text()
        .unwrap_or("");
    assert!(
        out.contains("basis: 'Servers SHOULD include presence'"),
        "{out}"
    );
    let failure = child("cs/filter/upload", "failure");
    assert_eq!(failure.attribute("type"), Some("unsupported"));
    assert!(
        child("gw/limits/body-size", "failure")
            .attribute("type")
            .is_some()
    );
    assert!(
        case("cs/typing/timeout")
            .children()
            .any(|n| n.has_tag_name("skipped"))
    );
    let gated = render_junit(&leveled(FailOn::Should)).unwrap();
    let doc = roxmltree::Document::parse(&gated).unwrap();
    let presence = doc
        .descendants()
        .find(|n| n.attribute("name") == Some("cs/sync/presence-in-sync"))
        .unwrap();
    assert!(presence.children().any(|n| n.has_tag_name("failure")));
}

#[test]
fn html_shows_levels_basis_groups_and_recommendations() {
    let html = render_html(&leveled(FailOn::Must));
    assert!(html.contains("<span class=\"lvl lvl-should\">SHOULD</span>"));
    assert!(
        html.contains("Failed: MUST — POST /createRoom: 200"),
        "basis next to the failure"
    );
    assert!(
        html.contains("<h2>Failures (MUST, POLICY) (9)</h2>"),
        "6 failed, 1 errored, 2 unsupported"
    );
    assert!(html.contains(
        "3 checks fail with</span> <code>POST /_matrix/client/v3/createRoom → 500 M_UNKNOWN</code>: cs/rooms/create-alias, cs/rooms/create-public, cs/rooms/create-topic"
    ));
    assert!(html.contains("<h2>Recommendations not met (2)</h2>"));
    assert!(html.contains(
        "<li><code>POST /_matrix/client/v3/user/{userId}/filter</code> (2 checks): cs/filter/upload, cs/filter/upload-empty</li>"
    ));
    assert!(html.contains("2 checks are blocked by</span> <code>PUT /_matrix/client/v3/rooms/{roomId}/typing/{userId} → 403 M_FORBIDDEN</code>"));
}

#[test]
fn json_keeps_levels_and_basis_and_old_reports_get_levels_when_rendered() {
    let report = leveled(FailOn::Should);
    let json: serde_json::Value = serde_json::from_str(&render_json(&report)).unwrap();
    assert_eq!(json["summary"]["levels"]["must"]["failed"], 5);
    assert_eq!(json["summary"]["levels"]["should"]["failed"], 1);
    assert_eq!(json["summary"]["levels"]["may"]["failed"], 1);
    assert_eq!(json["summary"]["levels"]["policy"]["failed"], 1);
    assert_eq!(json["summary"]["levels"]["must"]["unsupported"], 2);
    assert_eq!(json["summary"]["fail_on"], "should");
    let basis = json["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "cs/sync/presence-in-sync")
        .map(|s| s["basis"].clone());
    assert_eq!(
        basis,
        Some("'Servers SHOULD include presence' (Client-Server API, Presence)".into())
    );
    let mut old = leveled(FailOn::Must);
    old.summary.levels = crate::results::LevelSummary::default();
    assert_eq!(render_summary(&old), render_summary(&leveled(FailOn::Must)));
}
