//! The Markdown report: a summary a person can paste into a pull request or a procurement
//! file (target, totals, profile, per-area MUST scores, failures grouped by root cause with
//! their level and basis, recommendations not met, unsupported operations, blocked
//! scenarios, known failures, skips).

use std::fmt::Write as _;

use super::groups::{self, Group};
use super::summary::{SCORE_NOTE, area_display_name, counts_line, gating_levels, headline_lines};
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
    if let Some(line) = super::summary::interrupted_line(report) {
        let _ = writeln!(out, "| interrupted | {} |", cell(&line));
    }
    let _ = writeln!(
        out,
        "| tool | {} {} |",
        cell(&report.tool.name),
        cell(&report.tool.version)
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "**{}** ({} known failures, {} unexpected passes, {} flaky)\n",
        counts_line(report),
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
        "\n## Areas\n\n{SCORE_NOTE}\n\n| area | score | passed | ran | skipped | recommendations met |\n|---|---:|---:|---:|---:|---:|"
    );
    for a in &report.areas {
        let pct = a
            .percent()
            .map_or_else(|| "n/a".to_owned(), |p| format!("{p}%"));
        let _ = writeln!(
            out,
            "| {} | {pct} | {} | {} | {} | {}/{} |",
            cell(&area_display_name(&a.area)),
            a.passed,
            a.ran,
            a.skipped,
            a.recommendations_passed,
            a.recommendations_ran
        );
    }
    if let Some(map) = &report.coverage {
        coverage_section(&mut out, map);
    }
    let fail_on = report.summary.fail_on;
    grouped_section(
        &mut out,
        &format!("Failures ({})", gating_levels(report)),
        "fail with",
        true,
        groups::group_per_level(
            report
                .scenarios
                .iter()
                .filter(|r| r.fails_run_at(fail_on) && r.outcome != Outcome::Unsupported),
        ),
    );
    grouped_section(
        &mut out,
        "Recommendations not met (SHOULD/MAY, not failing the run)",
        "fail with",
        true,
        groups::group_per_level(
            report
                .scenarios
                .iter()
                .filter(|r| r.recommendation_not_met(fail_on)),
        ),
    );
    let unsupported = groups::group_by_operation(
        report
            .scenarios
            .iter()
            .filter(|r| r.outcome == Outcome::Unsupported),
    );
    let lines: Vec<String> = unsupported
        .iter()
        .map(|g| {
            format!(
                "- `{}` ({} check{}): {}",
                cell(&g.cause.describe()),
                g.scenarios.len(),
                if g.scenarios.len() == 1 { "" } else { "s" },
                ids(g)
            )
        })
        .collect();
    lines_section(&mut out, "Unsupported operations", lines);
    grouped_section(
        &mut out,
        "Blocked (a set-up step failed)",
        "are blocked by",
        false,
        groups::group(
            report
                .scenarios
                .iter()
                .filter(|r| r.outcome == Outcome::Blocked),
        ),
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

/// One list item per group: the scenario itself (level, location, message, basis) when it
/// is alone, else `N checks fail with OPERATION → ERROR: ids`. The title counts scenarios.
fn grouped_section(
    out: &mut String,
    title: &str,
    verb: &str,
    with_level: bool,
    groups: Vec<Group<'_>>,
) {
    let count: usize = groups.iter().map(|g| g.scenarios.len()).sum();
    let level = |g: &Group<'_>| {
        if with_level {
            format!(
                "**{}** ",
                g.scenarios.first().map_or("MUST", |r| r.level_label())
            )
        } else {
            String::new()
        }
    };
    let lines: Vec<String> = groups
        .iter()
        .map(|g| match g.scenarios.as_slice() {
            [r] => {
                let f = r.failure.as_ref();
                let mut line = format!(
                    "- {}`{}` ({}): {}",
                    level(g),
                    r.id,
                    cell(f.map_or(r.file.as_str(), |f| f.location.as_str())),
                    cell(f.map_or("no reason recorded", |f| first_line(&f.message)))
                );
                if let Some(basis) = &r.basis {
                    let _ = write!(line, " — basis: {}", cell(basis));
                }
                line
            }
            _ => format!(
                "- {}{} checks {verb} `{}`: {}",
                level(g),
                g.scenarios.len(),
                cell(&g.cause.describe()),
                ids(g)
            ),
        })
        .collect();
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n## {title} ({count})\n");
    for l in lines {
        let _ = writeln!(out, "{l}");
    }
}

fn lines_section(out: &mut String, title: &str, lines: Vec<String>) {
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n## {title} ({})\n", lines.len());
    for l in lines {
        let _ = writeln!(out, "{l}");
    }
}

/// `` `a`, `b`, `c` ``.
fn ids(g: &Group<'_>) -> String {
    g.scenarios
        .iter()
        .map(|r| format!("`{}`", r.id))
        .collect::<Vec<_>>()
        .join(", ")
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

/// The coverage map: behaviours and spec operations per area, and the operations not
/// exercised with their reasons.
fn coverage_section(out: &mut String, map: &crate::plan::coverage_map::CoverageMap) {
    use crate::plan::coverage_map::Ratio;
    let r = |r: &Ratio| match r.percent() {
        Some(p) => format!("{}/{} ({p}%)", r.covered, r.total),
        None => "-".to_owned(),
    };
    let _ = writeln!(
        out,
        "\n## Coverage map\n\n{} scenarios: behaviours {}, spec operations {} (spec {}).\n\n| area | behaviours | operations |\n|---|---:|---:|",
        map.scenarios,
        r(&map.behaviours),
        r(&map.operations),
        map.spec_version
    );
    for a in &map.areas {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            cell(&a.area),
            r(&a.behaviours),
            r(&a.operations)
        );
    }
    let _ = writeln!(
        out,
        "\n| version | operations added | operations in spec | scenarios | behaviours |\n|---|---:|---:|---:|---:|"
    );
    for v in &map.versions {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            v.version,
            r(&v.operations_added),
            r(&v.operations_current),
            v.scenarios,
            r(&v.behaviours)
        );
    }
    let _ = writeln!(
        out,
        "\n<details><summary>Operations not exercised ({})</summary>\n",
        map.missing.len()
    );
    for m in &map.missing {
        let _ = writeln!(
            out,
            "- `{}` ({}): {}",
            m.id,
            m.area,
            m.reason.as_deref().unwrap_or("no reason recorded")
        );
    }
    let _ = writeln!(out, "\n</details>");
}
