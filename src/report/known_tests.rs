//! Known failures are not shown as failures: a run whose every failure an expectations file
//! covers says "0 failed" and "N known failures" on the terminal, and the HTML report puts
//! them under "Known failures" in amber, with no red failure line or red area bar.

use super::*;
use crate::results::{ExpectationKind, ExpectationNote, Outcome, area_scores, summarize};

/// The fixed report, with every failure and error covered by a known-failure entry.
fn all_known() -> RunReport {
    let text = std::fs::read_to_string(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/reports/run-report.json"),
    )
    .unwrap();
    let mut report = read_json(&text).unwrap();
    for s in &mut report.scenarios {
        if matches!(s.outcome, Outcome::Failed | Outcome::Errored) {
            s.expectation = Some(ExpectationNote {
                kind: ExpectationKind::KnownFailure,
                reason: "tracked upstream".into(),
                source: "fixtures/expectations/example.yaml:3".into(),
            });
        }
    }
    report.summary = summarize(&report.scenarios);
    report.areas = area_scores(&report.scenarios);
    report
}

#[test]
fn the_terminal_counts_known_failures_apart() {
    let report = all_known();
    let text = render_summary(&report);
    assert!(text.contains("0 failed (MUST), 3 known failures"), "{text}");
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("FAIL") || l.starts_with("ERROR")),
        "{text}"
    );
    insta::assert_snapshot!("summary_all_known", text);
}

#[test]
fn the_html_report_shows_known_failures_in_amber() {
    let report = all_known();
    let html = render_html(&report);
    assert!(html.contains("<h2>Failures (MUST) (0)</h2>"), "{html}");
    assert!(html.contains("<h2>Known failures (3)</h2>"), "{html}");
    assert!(!html.contains("class=\"fail\""), "{html}");
    // The area bars: amber where failures are known, never red.
    assert!(!html.contains("fill=\"#b3261e\""), "{html}");
    assert!(html.contains("fill=\"#8a6d00\""), "{html}");
    insta::assert_snapshot!("html_all_known", html);
}
