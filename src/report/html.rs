//! The HTML report: one self-contained file (inline CSS and SVG, no scripts, no external
//! assets) with the target, totals, profile, a per-area chart and table (MUST scores,
//! recommendations apart), the failures grouped by root cause and then each with its
//! level, basis, expectation, actual value and transcript, and the recommendations not met.

use std::fmt::Write as _;

use super::groups::{self, Group};
use super::summary::{SCORE_NOTE, area_display_name, counts_line, gating_levels, headline_lines};
use crate::results::{Exchange, ExpectationKind, FailOn, Outcome, RunReport, ScenarioResult};

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#1d1d1f;padding:0 1em}\
h1{font-size:1.6em}h2{margin-top:1.8em;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;width:100%}td,th{padding:.3em .6em;border-bottom:1px solid #eee;text-align:left;vertical-align:top}\
.num{text-align:right}.pass{color:#137333}.fail{color:#b3261e;font-weight:600}.xfail{color:#8a6d00}.skip{color:#666}\
.bar{background:#e8e8e8;height:.8em;width:10em;display:inline-block}.bar i{display:block;height:100%;background:#137333}\
pre{background:#f6f8fa;padding:.6em;overflow-x:auto;font-size:12px;white-space:pre-wrap}\
details{margin:.4em 0}summary{cursor:pointer}.meta td:first-child{color:#555;width:12em}\
.lvl{font-size:11px;padding:0 .35em;border-radius:3px;border:1px solid #999;color:#333}.lvl-must,.lvl-policy{border-color:#b3261e}.basis{color:#555;font-style:italic}";

/// Render the report as one self-contained HTML page.
pub fn render_html(report: &RunReport) -> String {
    let mut out = String::new();
    let t = &report.target;
    let s = &report.summary;
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>mxharness report: {}</title><style>{STYLE}</style></head><body>\n",
        esc(&t.base_url)
    );
    let _ = writeln!(out, "<h1>mxharness report</h1>\n<table class=\"meta\">");
    let meta = [
        ("target", format!("{} ({})", t.base_url, t.kind)),
        (
            "server",
            t.server_version.clone().unwrap_or_else(|| "unknown".into()),
        ),
        ("server name", t.server_name.clone()),
        ("spec versions", t.spec_versions.join(", ")),
        (
            "sliding sync",
            t.sliding_sync
                .clone()
                .unwrap_or_else(|| "not probed".into()),
        ),
        ("started", report.run.started_at.clone()),
        (
            "duration",
            format!("{:.1} s", report.run.duration_ms as f64 / 1000.0),
        ),
        (
            "tool",
            format!("{} {}", report.tool.name, report.tool.version),
        ),
    ];
    let mut meta = meta.to_vec();
    if let Some(line) = super::summary::interrupted_line(report) {
        meta.push(("interrupted", line));
    }
    for (k, v) in meta {
        let _ = writeln!(out, "<tr><td>{}</td><td>{}</td></tr>", esc(k), esc(&v));
    }
    let _ = writeln!(out, "</table>");
    let _ = writeln!(
        out,
        "<p><b>{}</b>; {} known failures, {} unexpected passes, {} flaky, {} schema warnings</p>",
        esc(&counts_line(report)),
        s.known_failures,
        s.unexpected_passes,
        s.flaky,
        s.schema_warnings
    );
    let headlines = headline_lines(report);
    if !headlines.is_empty() {
        let _ = writeln!(out, "<ul>");
        for l in headlines {
            let _ = writeln!(out, "<li>{}</li>", esc(&l));
        }
        let _ = writeln!(out, "</ul>");
    }

    if let Some(l) = &report.load {
        out.push_str(&super::load_html::section(l));
    }
    let _ = writeln!(out, "<h2>Areas</h2>");
    out.push_str(&area_chart(report));
    let _ = writeln!(out, "<p class=\"skip\">{}</p>", esc(SCORE_NOTE));
    let _ = writeln!(
        out,
        "<table><tr><th>area</th><th class=\"num\">score</th><th></th><th class=\"num\">passed / ran</th><th class=\"num\">skipped</th><th class=\"num\">recommendations met</th></tr>"
    );
    for a in &report.areas {
        let pct = a.percent();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"num\">{}</td><td><span class=\"bar\"><i style=\"width:{}%\"></i></span></td><td class=\"num\">{} / {}</td><td class=\"num\">{}</td><td class=\"num\">{} / {}</td></tr>",
            esc(&area_display_name(&a.area)),
            pct.map_or_else(|| "n/a".to_owned(), |p| format!("{p}%")),
            pct.unwrap_or(0),
            a.passed,
            a.ran,
            a.skipped,
            a.recommendations_passed,
            a.recommendations_ran
        );
    }
    let _ = writeln!(out, "</table>");
    if let Some(map) = &report.coverage {
        out.push_str(&super::coverage_html::section(map));
    }

    let fail_on = report.summary.fail_on;
    let failing: Vec<&ScenarioResult> = report
        .scenarios
        .iter()
        .filter(|r| r.fails_run_at(fail_on))
        .collect();
    let _ = writeln!(
        out,
        "<h2>Failures ({}) ({})</h2>",
        esc(&gating_levels(report)),
        failing.len()
    );
    if failing.is_empty() {
        let _ = writeln!(out, "<p class=\"pass\">None.</p>");
    }
    let failed = failing
        .iter()
        .copied()
        .filter(|r| r.outcome != Outcome::Unsupported);
    group_list(
        &mut out,
        "fail",
        "fail with",
        &groups::group_per_level(failed),
    );
    for r in &failing {
        scenario_details(&mut out, r, true, fail_on);
    }
    let recommendations: Vec<&ScenarioResult> = report
        .scenarios
        .iter()
        .filter(|r| r.recommendation_not_met(fail_on))
        .collect();
    if !recommendations.is_empty() {
        let _ = writeln!(
            out,
            "<h2>Recommendations not met ({})</h2>\n<p>SHOULD/MAY failures: they do not fail the run{}.</p>",
            recommendations.len(),
            if fail_on == FailOn::Must {
                " (<code>--fail-on should</code> makes SHOULD failures fail it)"
            } else {
                ""
            }
        );
        group_list(
            &mut out,
            "xfail",
            "fail with",
            &groups::group_per_level(recommendations.iter().copied()),
        );
        for r in recommendations {
            scenario_details(&mut out, r, false, fail_on);
        }
    }
    let unsupported = report
        .scenarios
        .iter()
        .filter(|r| r.outcome == Outcome::Unsupported);
    let unsupported = groups::group_by_operation(unsupported);
    if !unsupported.is_empty() {
        let _ = writeln!(
            out,
            "<h2>Unsupported operations ({})</h2>\n<ul>",
            unsupported.len()
        );
        for g in &unsupported {
            let _ = writeln!(
                out,
                "<li><code>{}</code> ({} check{}): {}</li>",
                esc(&g.cause.describe()),
                g.scenarios.len(),
                if g.scenarios.len() == 1 { "" } else { "s" },
                esc(&g.ids())
            );
        }
        let _ = writeln!(out, "</ul>");
    }
    let blocked: Vec<&ScenarioResult> = report
        .scenarios
        .iter()
        .filter(|r| r.outcome == Outcome::Blocked)
        .collect();
    if !blocked.is_empty() {
        let _ = writeln!(
            out,
            "<h2>Blocked ({})</h2>\n<p>A set-up step failed, so the behaviour under test was not checked.</p>",
            blocked.len()
        );
        group_list(
            &mut out,
            "skip",
            "are blocked by",
            &groups::group(blocked.iter().copied()),
        );
        for r in blocked {
            scenario_details(&mut out, r, false, fail_on);
        }
    }
    let known: Vec<&ScenarioResult> = report
        .scenarios
        .iter()
        .filter(|r| r.excused() && matches!(r.outcome, Outcome::Failed | Outcome::Errored))
        .collect();
    if !known.is_empty() {
        let _ = writeln!(out, "<h2>Known failures ({})</h2>", known.len());
        for r in known {
            scenario_details(&mut out, r, false, fail_on);
        }
    }

    let _ = writeln!(
        out,
        "<h2>All scenarios</h2>\n<table><tr><th>scenario</th><th>area</th><th>level</th><th>result</th><th class=\"num\">ms</th></tr>"
    );
    for r in &report.scenarios {
        let _ = writeln!(
            out,
            "<tr><td title=\"{}\">{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&r.title),
            esc(&r.id),
            esc(&r.area),
            level_badge(r),
            verdict_class(r, fail_on),
            esc(&verdict(r, fail_on)),
            r.duration_ms
        );
    }
    let _ = writeln!(out, "</table>\n</body></html>");
    out
}

/// The groups of more than one scenario, as a list: `3 checks fail with OPERATION →
/// ERROR: a, b, c`.
fn group_list(out: &mut String, class: &str, verb: &str, groups: &[Group<'_>]) {
    let shared: Vec<&Group<'_>> = groups.iter().filter(|g| g.scenarios.len() > 1).collect();
    if shared.is_empty() {
        return;
    }
    let _ = writeln!(out, "<ul>");
    for g in shared {
        let _ = writeln!(
            out,
            "<li><span class=\"{class}\">{} checks {verb}</span> <code>{}</code>: {}</li>",
            g.scenarios.len(),
            esc(&g.cause.describe()),
            esc(&g.ids())
        );
    }
    let _ = writeln!(out, "</ul>");
}

/// `<span class="lvl lvl-must">MUST</span>`.
fn level_badge(r: &ScenarioResult) -> String {
    let label = r.level_label();
    format!(
        "<span class=\"lvl lvl-{}\">{label}</span>",
        label.to_ascii_lowercase()
    )
}

fn verdict(r: &ScenarioResult, fail_on: FailOn) -> String {
    if r.recommendation_not_met(fail_on) {
        return "recommendation not met".into();
    }
    let kind = r.expectation.as_ref().map(|e| e.kind);
    match (r.outcome, kind) {
        (Outcome::Passed, Some(ExpectationKind::UnexpectedPass)) => "unexpected pass".into(),
        (Outcome::Passed, _) if r.flaky => format!("passed (flaky, attempt {})", r.attempts),
        (Outcome::Passed, _) => "passed".into(),
        (Outcome::Failed | Outcome::Errored, Some(ExpectationKind::KnownFailure)) => {
            "known failure".into()
        }
        (Outcome::Failed | Outcome::Errored, Some(ExpectationKind::Quarantined)) => {
            "quarantined".into()
        }
        (Outcome::Failed, _) => "failed".into(),
        (Outcome::Errored, _) => "errored".into(),
        (Outcome::Skipped, _) => "skipped".into(),
        (Outcome::Blocked, _) => "blocked".into(),
        (Outcome::Unsupported, _) => "unsupported".into(),
    }
}

fn verdict_class(r: &ScenarioResult, fail_on: FailOn) -> &'static str {
    match r.outcome {
        Outcome::Passed => "pass",
        Outcome::Skipped | Outcome::Blocked => "skip",
        _ if !r.fails_run_at(fail_on) => "xfail",
        _ => "fail",
    }
}

fn scenario_details(out: &mut String, r: &ScenarioResult, open: bool, fail_on: FailOn) {
    let Some(f) = &r.failure else { return };
    let _ = writeln!(
        out,
        "<details{}><summary>{} <span class=\"{}\">{}</span> {} — {}</summary>",
        if open { " open" } else { "" },
        level_badge(r),
        verdict_class(r, fail_on),
        esc(&verdict(r, fail_on)),
        esc(&r.id),
        esc(f.message.lines().next().unwrap_or(""))
    );
    let _ = writeln!(
        out,
        "<p>{} — at <code>{}</code></p>",
        esc(&r.title),
        esc(&f.location)
    );
    if let Some(basis) = &r.basis {
        let _ = writeln!(
            out,
            "<p class=\"basis\">Failed: {} — {}</p>",
            r.level_label(),
            esc(basis)
        );
    }
    if let Some(e) = &r.expectation {
        let _ = writeln!(
            out,
            "<p class=\"xfail\">{}</p>",
            esc(&format!(
                "{}: {} ({})",
                verdict(r, fail_on),
                e.reason,
                e.source
            ))
        );
    }
    let mut text = String::new();
    for c in &f.checks {
        let _ = writeln!(text, "[{}] {}\n  at {}", c.kind, c.message, c.location);
        if let Some(e) = &c.expected {
            let _ = writeln!(text, "  expected: {e}");
        }
        if let Some(a) = &c.actual {
            let _ = writeln!(text, "  actual:   {a}");
        }
    }
    if !text.is_empty() {
        let _ = writeln!(out, "<pre>{}</pre>", esc(&text));
    }
    for x in &f.transcript {
        let _ = writeln!(out, "<pre>{}</pre>", esc(&exchange(x)));
    }
    let _ = writeln!(out, "</details>");
}

fn exchange(x: &Exchange) -> String {
    let mut s = format!("> {} {}\n", x.method, x.url);
    for (k, v) in &x.request_headers {
        let _ = writeln!(s, "> {k}: {v}");
    }
    if let Some(b) = &x.request_body {
        let _ = writeln!(s, "\n{b}");
    }
    match x.status {
        Some(st) => {
            let _ = writeln!(s, "\n< {st}");
        }
        None => {
            let _ = writeln!(
                s,
                "\n< (no response: {})",
                x.error.as_deref().unwrap_or("unknown")
            );
        }
    }
    for (k, v) in &x.response_headers {
        let _ = writeln!(s, "< {k}: {v}");
    }
    if let Some(b) = &x.response_body {
        let _ = writeln!(s, "\n{b}");
    }
    let _ = write!(s, "({} ms)", x.duration_ms);
    s
}

/// A horizontal bar chart of per-area percentages, as inline SVG.
fn area_chart(report: &RunReport) -> String {
    let row = 18;
    let label_w = 170;
    let bar_w = 400;
    let height = row * report.areas.len() + 10;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" role=\"img\" aria-label=\"score per area\">",
        label_w + bar_w + 60
    );
    let fail_on = report.summary.fail_on;
    for (i, a) in report.areas.iter().enumerate() {
        let y = i * row + 5;
        let pct = a.percent().unwrap_or(0);
        let w = bar_w * pct / 100;
        // Red is for areas with a failure that fails the run: an area whose failures are all
        // known (or recommendations) is amber, like its known failures below.
        let failing = report
            .scenarios
            .iter()
            .any(|s| s.area == a.area && s.fails_run_at(fail_on));
        let color = if pct == 100 {
            "#137333"
        } else if pct >= 80 || !failing {
            "#8a6d00"
        } else {
            "#b3261e"
        };
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"end\">{}</text><rect x=\"{label_w}\" y=\"{y}\" width=\"{bar_w}\" height=\"{}\" fill=\"#eee\"/><rect x=\"{label_w}\" y=\"{y}\" width=\"{w}\" height=\"{}\" fill=\"{color}\"/><text x=\"{}\" y=\"{}\" font-size=\"12\">{}</text>",
            label_w - 6,
            y + row - 6,
            esc(&area_display_name(&a.area)),
            row - 4,
            row - 4,
            label_w + bar_w + 6,
            y + row - 6,
            a.percent()
                .map_or_else(|| "n/a".to_owned(), |p| format!("{p}%"))
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// Escape text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
