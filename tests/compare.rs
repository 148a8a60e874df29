//! `mxharness compare`: Markdown and HTML snapshots of the fixture comparison, the HTML's
//! well-formedness, and the command line's exit codes and written files.

mod common;

use common::{describe, mxharness, root};
use mxharness::compare::{
    Comparison, default_name, load_report, render_html, render_markdown, unique_names,
};

const FIXTURES: [&str; 3] = [
    "fixtures/reports/compare-synapse.json",
    "fixtures/reports/compare-conduwuit.json",
    "fixtures/reports/compare-dendrite.json",
];

/// Parses the HTML as XML (the `<!DOCTYPE html>` declaration is a DTD to roxmltree).
fn parse_xml(text: &str) -> roxmltree::Document<'_> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    roxmltree::Document::parse_with_options(text, options).expect("the HTML is well-formed XML")
}

fn comparison(paths: &[&str]) -> Comparison {
    let reports: Vec<_> = paths
        .iter()
        .map(|p| (p.to_string(), load_report(&root().join(p)).unwrap()))
        .collect();
    let names = unique_names(reports.iter().map(|(_, r)| default_name(r)).collect());
    Comparison::build(&reports, &names)
}

#[test]
fn markdown_snapshot() {
    insta::assert_snapshot!(
        "three_servers_markdown",
        render_markdown(&comparison(&FIXTURES))
    );
}

#[test]
fn markdown_snapshot_of_two() {
    insta::assert_snapshot!(
        "two_servers_markdown",
        render_markdown(&comparison(&FIXTURES[..2]))
    );
}

#[test]
fn html_snapshot() {
    insta::assert_snapshot!("three_servers_html", render_html(&comparison(&FIXTURES)));
}

#[test]
fn html_is_well_formed_self_contained_and_has_the_charts() {
    let html = render_html(&comparison(&FIXTURES));
    let doc = parse_xml(&html);
    let root = doc.root_element();
    assert!(root.has_tag_name("html"));
    let count = |name: &str| {
        doc.descendants()
            .filter(|n| n.tag_name().name() == name)
            .count()
    };
    assert_eq!(count("main"), 1);
    assert_eq!(count("svg"), 2, "a grouped area chart and a totals chart");
    assert!(count("rect") >= 3 * 3, "one bar per candidate and area");
    assert!(count("section") >= 5);
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("<script"));
    assert!(!lower.contains("src=\""), "no external assets");
    assert!(!lower.contains("href=\""), "no external assets");
    assert!(lower.contains("<style>"));
    assert!(html.contains("id=\"differences\""));
    assert!(html.contains("class=\"num best\""));
}

#[test]
fn compare_prints_a_summary_without_output_files() {
    let out = mxharness(&["compare", FIXTURES[0], FIXTURES[1]], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Comparing 2 reports"), "{stdout}");
    assert!(
        stdout.contains("| Area | Synapse 1.120.2 | conduwuit 0.4.6 |"),
        "{stdout}"
    );
    assert!(stdout.contains("cs/messaging/edit-message"), "{stdout}");
}

#[test]
fn compare_writes_the_files_and_names_them() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("cmp.html");
    let md = dir.path().join("cmp.md");
    let (html_s, md_s) = (html.to_str().unwrap(), md.to_str().unwrap());
    let out = mxharness(
        &[
            "compare",
            FIXTURES[0],
            FIXTURES[1],
            FIXTURES[2],
            "--html",
            html_s,
            "--markdown",
            md_s,
            "--names",
            "A,B,A",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("wrote {md_s}")), "{stdout}");
    assert!(stdout.contains(&format!("wrote {html_s}")), "{stdout}");
    let md_text = std::fs::read_to_string(&md).unwrap();
    assert!(md_text.contains("| Area | A | B | A (2) |"), "{md_text}");
    let html_text = std::fs::read_to_string(&html).unwrap();
    assert!(html_text.starts_with("<!DOCTYPE html>"));
    parse_xml(&html_text);
}

#[test]
fn fewer_than_two_reports_or_wrong_names_exit_2() {
    let out = mxharness(&["compare", FIXTURES[0]], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least two reports"));
    let out = mxharness(&["compare"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let out = mxharness(&["compare", FIXTURES[0], FIXTURES[1], "--names", "a"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
}

#[test]
fn unreadable_or_invalid_reports_exit_5_naming_the_file() {
    let out = mxharness(
        &["compare", FIXTURES[0], "fixtures/reports/no-such.json"],
        &[],
    );
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("fixtures/reports/no-such.json"),
        "{}",
        describe(&out)
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"format_version": 99}"#).unwrap();
    let bad_s = bad.to_str().unwrap();
    let out = mxharness(&["compare", FIXTURES[0], bad_s], &[]);
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(bad_s) && stderr.contains("format_version 99"),
        "{stderr}"
    );

    std::fs::write(&bad, "not json").unwrap();
    let out = mxharness(&["compare", bad_s, FIXTURES[0]], &[]);
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains(bad_s));
}
