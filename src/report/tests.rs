//! Tests of the report formats against the fixed report in
//! `fixtures/reports/run-report.json` (already-redacted data).

use std::path::PathBuf;

use super::*;
use crate::results::{Outcome, area_scores, summarize};

fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/reports/run-report.json")
}

fn fixture() -> RunReport {
    let text = std::fs::read_to_string(fixture_path()).unwrap();
    read_json(&text).unwrap()
}

#[test]
fn fixture_counts_are_consistent() {
    let report = fixture();
    assert_eq!(report.summary, summarize(&report.scenarios));
    assert_eq!(report.areas, area_scores(&report.scenarios));
    let mut ids: Vec<&str> = report.scenarios.iter().map(|s| s.id.as_str()).collect();
    let sorted = {
        let mut v = ids.clone();
        v.sort();
        v
    };
    assert_eq!(ids, sorted, "scenarios are sorted by id");
    ids.dedup();
    assert_eq!(ids.len(), report.scenarios.len());
    for outcome in [
        Outcome::Passed,
        Outcome::Failed,
        Outcome::Errored,
        Outcome::Skipped,
    ] {
        assert!(report.scenarios.iter().any(|s| s.outcome == outcome));
    }
}

#[test]
fn snapshot_junit() {
    insta::assert_snapshot!("junit", render_junit(&fixture()).unwrap());
}

#[test]
fn snapshot_json() {
    insta::assert_snapshot!("json", render_json(&fixture()));
}

#[test]
fn snapshot_summary() {
    insta::assert_snapshot!("summary", render_summary(&fixture()));
}

#[test]
fn renderers_are_deterministic() {
    let report = fixture();
    assert_eq!(
        render_junit(&report).unwrap(),
        render_junit(&report).unwrap()
    );
    assert_eq!(render_json(&report), render_json(&report));
    assert_eq!(render_summary(&report), render_summary(&report));
}

#[test]
fn summary_has_no_bare_pass_fail_line() {
    let text = render_summary(&fixture());
    let bare = regex::Regex::new(r"^\d+ passed, \d+ failed$").unwrap();
    for line in text.lines() {
        assert!(!bare.is_match(line), "bare count line: {line:?}");
    }
    assert!(
        text.contains(
            "9 scenarios: 4 passed, 2 failed (MUST), 0 recommendations not met, 1 errored, 0 blocked, 0 unsupported, 2 skipped in 3.2s"
        ),
        "{text}"
    );
    assert!(text.contains("Messaging: 66% (2/3), 1 skipped"), "{text}");
}

#[test]
fn json_round_trips() {
    let report = fixture();
    let text = render_json(&report);
    assert_eq!(read_json(&text).unwrap(), report);
}

#[test]
fn fixture_is_in_canonical_form() {
    let text = std::fs::read_to_string(fixture_path()).unwrap();
    assert_eq!(render_json(&read_json(&text).unwrap()), text);
}

fn attr<'a>(node: roxmltree::Node<'a, '_>, name: &str) -> &'a str {
    node.attribute(name)
        .unwrap_or_else(|| panic!("<{}> has no {name}", node.tag_name().name()))
}

#[test]
fn junit_is_well_formed_with_one_testcase_per_scenario() {
    let report = fixture();
    let xml = render_junit(&report).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");

    let suites: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    let suite_names: Vec<&str> = suites.iter().map(|s| attr(*s, "name")).collect();
    assert_eq!(suite_names, ["account", "messaging", "room-membership"]);
    for suite in &suites {
        assert_eq!(attr(*suite, "timestamp"), "2025-03-01T12:00:00Z");
        let out = suite
            .children()
            .find(|n| n.has_tag_name("system-out"))
            .and_then(|n| n.text())
            .unwrap();
        assert!(out.contains("https://matrix.example.org"), "{out}");
    }

    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), report.scenarios.len());

    for scenario in &report.scenarios {
        let case = cases
            .iter()
            .find(|c| attr(**c, "name") == scenario.id)
            .unwrap_or_else(|| panic!("no testcase for {}", scenario.id));
        assert_eq!(attr(*case, "classname"), scenario.area);
        assert_eq!(attr(*case, "file"), scenario.file);
        let parent = case.parent_element().unwrap();
        assert_eq!(attr(parent, "name"), scenario.area);
        let time: f64 = attr(*case, "time").parse().unwrap();
        assert!((time * 1000.0 - scenario.duration_ms as f64).abs() < 0.5);

        let child = |tag: &str| case.children().find(|n| n.has_tag_name(tag));
        let (failure, error, skipped) = (child("failure"), child("error"), child("skipped"));
        match scenario.outcome {
            Outcome::Passed => assert!(failure.is_none() && error.is_none() && skipped.is_none()),
            Outcome::Blocked | Outcome::Unsupported => assert!(skipped.is_some()),
            Outcome::Failed | Outcome::Errored => {
                let node = if scenario.outcome == Outcome::Failed {
                    assert!(error.is_none() && skipped.is_none());
                    failure.unwrap()
                } else {
                    assert!(failure.is_none() && skipped.is_none());
                    error.unwrap()
                };
                let f = scenario.failure.as_ref().unwrap();
                assert_eq!(attr(node, "type"), f.kind);
                assert_eq!(attr(node, "message"), f.message);
                let body = node.text().unwrap();
                assert!(body.contains(&f.location), "{body}");
                for check in &f.checks {
                    assert!(body.contains(&check.location), "{body}");
                    assert!(body.contains(&check.message), "{body}");
                }
                for exchange in &f.transcript {
                    let request = format!("> {} {}", exchange.method, exchange.url);
                    assert!(body.contains(&request), "{body}");
                }
            }
            Outcome::Skipped => {
                assert!(failure.is_none() && error.is_none());
                let reason = scenario.skip_reason.as_deref().unwrap();
                assert_eq!(attr(skipped.unwrap(), "message"), reason);
            }
        }
    }

    // Per-suite counters agree with the outcomes.
    let account = suites[0];
    assert_eq!(
        (
            attr(account, "tests"),
            attr(account, "failures"),
            attr(account, "errors")
        ),
        ("2", "1", "0")
    );
}

#[test]
fn junit_transcript_renders_exchanges_http_style() {
    let xml = render_junit(&fixture()).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let failure = doc
        .descendants()
        .find(|n| {
            n.has_tag_name("testcase") && n.attribute("name") == Some("cs/account/change-password")
        })
        .and_then(|c| c.children().find(|n| n.has_tag_name("failure")))
        .unwrap();
    let body = failure.text().unwrap();
    for expected in [
        "> POST https://matrix.example.org/_matrix/client/v3/account/password\n",
        "> authorization: Bearer <redacted>\n",
        "< 401\n",
        "< content-type: application/json\n",
        "(29 ms)\n",
        "--- exchange 2 of 2 ---",
    ] {
        assert!(body.contains(expected), "missing {expected:?} in\n{body}");
    }
    let errored = doc
        .descendants()
        .find(|n| n.has_tag_name("error"))
        .and_then(|n| n.text())
        .unwrap();
    assert!(
        errored.contains("< (no response)\n! error: connection reset by peer\n"),
        "{errored}"
    );
}

#[test]
fn junit_survives_hostile_text() {
    let mut report = fixture();
    let scenario = report
        .scenarios
        .iter_mut()
        .find(|s| s.outcome == Outcome::Failed)
        .unwrap();
    let failure = scenario.failure.as_mut().unwrap();
    failure.message = "quote \" amp & lt < gt > nul \u{0} newline\nend".into();
    failure.transcript[0].response_body = Some("]]> <not-a-tag/> \u{1b}[31m".into());
    let xml = render_junit(&report).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let failure = doc
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .unwrap();
    assert_eq!(
        failure.attribute("message"),
        Some("quote \" amp & lt < gt > nul \u{FFFD} newline end")
    );
    assert!(
        failure
            .text()
            .unwrap()
            .contains("]]> <not-a-tag/> \u{FFFD}[31m")
    );
}

#[test]
fn write_all_writes_every_format_and_no_temp_files() {
    let report = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("reports").join("run-1");
    let paths = write_all(&report, &dir).unwrap();
    assert_eq!(
        paths,
        vec![
            dir.join(JUNIT_FILE),
            dir.join(JSON_FILE),
            dir.join(crate::report::HTML_FILE),
            dir.join(crate::report::MARKDOWN_FILE)
        ]
    );
    assert_eq!(
        std::fs::read_to_string(&paths[0]).unwrap(),
        render_junit(&report).unwrap()
    );
    let json = std::fs::read_to_string(&paths[1]).unwrap();
    assert_eq!(read_json(&json).unwrap(), report);

    // Writing again replaces the files in place.
    write_all(&report, &dir).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, [JUNIT_FILE, "report.html", JSON_FILE, "report.md"]);
}

#[test]
fn write_all_renders_before_writing() {
    let mut report = fixture();
    report.run.started_at = "not a timestamp".into();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    assert!(matches!(
        write_all(&report, &dir),
        Err(ReportError::Timestamp { .. })
    ));
    assert!(!dir.exists());
}

#[test]
fn fixture_transcripts_are_already_redacted() {
    let report = fixture();
    let redactor = crate::results::redact::Redactor::new();
    let mut exchanges = 0;
    for scenario in &report.scenarios {
        for exchange in scenario.failure.iter().flat_map(|f| &f.transcript) {
            let mut again = exchange.clone();
            redactor.redact_exchange(&mut again);
            assert_eq!(&again, exchange, "{} is not redacted", scenario.id);
            exchanges += 1;
        }
    }
    assert!(exchanges >= 3);
}

#[test]
fn snapshot_markdown() {
    insta::assert_snapshot!("markdown", crate::report::render_markdown(&fixture()));
}

#[test]
fn snapshot_html() {
    insta::assert_snapshot!("html", crate::report::render_html(&fixture()));
}

#[test]
fn html_is_self_contained_and_escaped() {
    let mut report = fixture();
    report.scenarios[0].title = "<script>alert(1)</script> & co".into();
    let html = crate::report::render_html(&report);
    assert!(
        !html.contains("<script"),
        "text is escaped and there are no scripts"
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"));
    assert!(
        !html.contains("http://") || !html.contains("<link"),
        "no external assets"
    );
    assert!(html.contains("<svg") && html.trim_end().ends_with("</html>"));
}

#[test]
fn the_coverage_map_shows_in_every_format_and_reads_back() {
    let mut report = fixture();
    report.coverage = Some(crate::plan::coverage_map::tests::small_map());
    let html = render_html(&report);
    assert!(html.contains("<h2>Coverage map</h2>"), "{html}");
    assert!(!html.contains("<script"));
    let md = render_markdown(&report);
    assert!(md.contains("## Coverage map"), "{md}");
    assert!(md.contains("| CS-REG | 0/1 (0%) | 0/1 (0%) |"), "{md}");
    assert!(
        md.contains("- `GET /_matrix/federation/v1/version` (FED-OTHER): no reason recorded"),
        "{md}"
    );
    assert_eq!(read_json(&render_json(&report)).unwrap(), report);
    // A report without the map (older ones, load runs) renders no section.
    assert!(!render_html(&fixture()).contains("Coverage map"));
}
