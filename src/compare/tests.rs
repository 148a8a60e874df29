//! Unit tests of the comparison model and its renderers.

use super::*;
use crate::results::RunReport;

fn fixture(name: &str) -> (String, RunReport) {
    let path = format!(
        "{}/fixtures/reports/compare-{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    (
        format!("fixtures/reports/compare-{name}.json"),
        crate::report::read_json(&text).unwrap(),
    )
}

fn three() -> Comparison {
    let reports = vec![
        fixture("synapse"),
        fixture("conduwuit"),
        fixture("dendrite"),
    ];
    let names = unique_names(reports.iter().map(|(_, r)| default_name(r)).collect());
    Comparison::build(&reports, &names)
}

#[test]
fn names_default_to_server_version_else_base_url_and_are_unique() {
    let c = three();
    let names: Vec<&str> = c.candidates.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Synapse 1.120.2",
            "conduwuit 0.4.6",
            "http://dendrite.test:8008"
        ]
    );
    assert_eq!(
        unique_names(vec!["a".into(), "a".into(), "a (2)".into(), "b".into()]),
        ["a", "a (2)", "a (2) (2)", "b"]
    );
}

#[test]
fn best_is_the_highest_share_ties_marked_and_all_equal_unmarked() {
    let s = |passed, ran| Some(Score { passed, ran });
    assert_eq!(mark_best(&[s(1, 2), s(2, 4), s(1, 4)]), [true, true, false]);
    assert_eq!(mark_best(&[s(1, 2), s(2, 4)]), [false, false]);
    assert_eq!(mark_best(&[s(1, 2), None, s(0, 0)]), [false, false, false]);
    assert_eq!(mark_best(&[s(3, 3), None, s(0, 1)]), [true, false, false]);
}

#[test]
fn differences_and_missing_scenarios() {
    let c = three();
    let differ: Vec<&str> = c.differences.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(
        differ,
        [
            "cs/account/change-password",
            "cs/messaging/edit-message",
            "cs/messaging/redact-event",
            "cs/messaging/threads",
            "cs/room-membership/invite-reject",
        ]
    );
    let missing: Vec<&str> = c.missing.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(
        missing,
        ["cs/messaging/reactions", "cs/room-membership/knock"]
    );
    let edit = &c.differences[1];
    let conduwuit = edit.cells[1].as_ref().unwrap();
    assert_eq!(conduwuit.outcome, Outcome::Failed);
    assert!(conduwuit.message.as_deref().unwrap().contains("<b>"));
    assert!(c.profile.is_some());
    assert_eq!(c.endpoints.as_ref().unwrap()[2], None);
    assert!(c.load.is_empty());
}

#[test]
fn html_escapes_text_and_has_no_script() {
    let html = render_html(&three());
    assert!(!html.contains("<b>"), "unescaped failure message");
    assert!(html.contains("&lt;b&gt;&quot;edited&quot;&lt;/b&gt; &amp; got"));
    assert!(!html.to_ascii_lowercase().contains("<script"));
    assert!(!html.contains("id=\"load\""));
}

#[test]
fn load_section_renders_only_with_load_data() {
    let mut c = three();
    c.load.push(LoadRow {
        metric: "delivery latency p95".into(),
        unit: "ms".into(),
        values: vec![Some(120.0), Some(80.5), None],
    });
    let html = render_html(&c);
    assert!(html.contains("<section id=\"load\">"));
    assert!(html.contains("<td class=\"num best\">80.5</td>"));
    let md = render_markdown(&c);
    assert!(md.contains("## Load"));
    assert!(md.contains("| delivery latency p95 (ms) | 120.0 | **80.5** | — |"));
    assert!(!render_markdown(&three()).contains("## Load"));
}

#[test]
fn rendering_is_deterministic() {
    assert_eq!(render_html(&three()), render_html(&three()));
    assert_eq!(render_markdown(&three()), render_markdown(&three()));
}

#[test]
fn totals_score_must_only_and_keep_recommendations_apart() {
    let c = three();
    let conduwuit = c.candidates[1].totals;
    // must: 6 passed, 1 failed, 1 errored; should: 1 skipped; may: 1 passed.
    assert_eq!(conduwuit.score(), Score { passed: 6, ran: 8 });
    assert_eq!(conduwuit.recommendations(), Score { passed: 1, ran: 1 });
    assert_eq!(
        (conduwuit.failed, conduwuit.recommendations_not_met),
        (1, 0)
    );
    assert_eq!(c.totals.label, "MUST scenarios (score)");
    assert_eq!(
        c.recommendations.cells[1],
        Some(Score { passed: 1, ran: 1 })
    );

    let (_, mut report) = fixture("synapse");
    for s in &mut report.scenarios {
        if s.level == "should" {
            s.outcome = Outcome::Failed;
        }
    }
    let t = Totals::of(&report.scenarios);
    assert_eq!((t.failed, t.recommendations_not_met), (1, 1));
    assert_eq!(
        t.score(),
        Score { passed: 6, ran: 7 },
        "a SHOULD failure does not lower the score"
    );
}
