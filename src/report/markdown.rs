//! The Markdown report: a summary a person can paste into a pull request or a procurement
//! file (target, totals, profile, per-area scores, failures, known failures, skips).

use std::fmt::Write as _;

use super::summary::{area_display_name, headline_lines};
use crate::results::{ExpectationKind, Outcome, RunReport, ScenarioResult};

/// Render the report as Markdown.
pub fn render_markdown(report: &RunReport) -> String {
    let mut out = String::new();
    let t = &report.target;
    let s = &report.summary;
    let _ = writeln!(out, "# mxharness report\n");
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(
        out,
        "| target | {} ({}) |",
        cell(&t.base_url),
        cell(&t.kind)
    );
    let _ = writeln!(
        out,
        "| server | {} |",
        cell(t.server_version.as_deref().unwrap_or("unknown"))
    );
    let _ = writeln!(out, "| server name | {} |", cell(&t.server_name));
    let _ = writeln!(
        out,
        "| spec versions | {} |",
        cell(&t.spec_versions.join(", "))
    );
    if let Some(ss) = &t.sliding_sync {
        let _ = writeln!(out, "| sliding sync | {} |", cell(ss));
    }
    let _ = writeln!(out, "| started | {} |", cell(&report.run.started_at));
    let _ = writeln!(
        out,
        "| tool | {} {} |",
        cell(&report.tool.name),
        cell(&report.tool.version)
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "**{} scenarios: {} passed, {} failed, {} errored, {} skipped** ({} known failures, {} unexpected passes, {} flaky)\n",
        s.total,
        s.passed,
        s.failed,
        s.errored,
        s.skipped,
        s.known_failures,
        s.unexpected_passes,
        s.flaky
    );
    for line in headline_lines(report) {
        let _ = writeln!(out, "- {line}");
    }
    if let Some(l) = &report.load {
        let _ = writeln!(out);
        out.push_str(&super::load_markdown::section(l));
    }
    let _ = writeln!(
        out,
        "\n## Areas\n\n| area | score | passed | ran | skipped |\n|---|---:|---:|---:|---:|"
    );
    for a in &report.areas {
        let pct = a
            .percent()
            .map_or_else(|| "n/a".to_owned(), |p| format!("{p}%"));
        let _ = writeln!(
            out,
            "| {} | {pct} | {} | {} | {} |",
            cell(&area_display_name(&a.area)),
            a.passed,
            a.ran,
            a.skipped
        );
    }
    section(
        &mut out,
        "Failures",
        report.scenarios.iter().filter(|r| r.fails_run()),
        |r| {
            let f = r.failure.as_ref();
            format!(
                "`{}` ({}): {}",
                r.id,
                f.map_or(r.file.as_str(), |f| f.location.as_str()),
                f.map_or("no reason recorded", |f| first_line(&f.message))
            )
        },
    );
    section(
        &mut out,
        "Known failures (expected)",
        report.scenarios.iter().filter(|r| {
            kind(r) == Some(ExpectationKind::KnownFailure) && r.outcome != Outcome::Passed
        }),
        |r| {
            format!(
                "`{}`: {}",
                r.id,
                r.expectation.as_ref().map_or("", |e| e.reason.as_str())
            )
        },
    );
    section(
        &mut out,
        "Unexpected passes",
        report
            .scenarios
            .iter()
            .filter(|r| kind(r) == Some(ExpectationKind::UnexpectedPass)),
        |r| {
            format!(
                "`{}` passes but is listed as a known failure ({})",
                r.id,
                r.expectation.as_ref().map_or("", |e| e.source.as_str())
            )
        },
    );
    section(
        &mut out,
        "Flaky",
        report.scenarios.iter().filter(|r| r.flaky),
        |r| format!("`{}` passed on attempt {}", r.id, r.attempts),
    );
    section(
        &mut out,
        "Skipped",
        report
            .scenarios
            .iter()
            .filter(|r| r.outcome == Outcome::Skipped),
        |r| format!("`{}`: {}", r.id, r.skip_reason.as_deref().unwrap_or("")),
    );
    out
}

fn kind(r: &ScenarioResult) -> Option<ExpectationKind> {
    r.expectation.as_ref().map(|e| e.kind)
}

fn section<'a>(
    out: &mut String,
    title: &str,
    items: impl Iterator<Item = &'a ScenarioResult>,
    line: impl Fn(&ScenarioResult) -> String,
) {
    let lines: Vec<String> = items.map(|r| format!("- {}", cell(&line(r)))).collect();
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n## {title} ({})\n", lines.len());
    for l in lines {
        let _ = writeln!(out, "{l}");
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// Keep table cells on one line and their pipes literal.
fn cell(s: &str) -> String {
    s.replace('\n', " ").replace('|', "\\|")
}
