//! The comparison as one self-contained HTML file: inline CSS, inline SVG charts, no scripts
//! and no external assets. The markup is also well-formed XML (void elements self-closed,
//! only the five XML entities), so it can be checked with an XML parser.

use crate::report::html_escape as escape;
use std::fmt::Write as _;

use super::{Comparison, Row, ScenarioDiff, outcome_word};

/// Colours of the candidates' bars, in candidate order (cycled).
const PALETTE: [&str; 8] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
];

const CSS: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 0; color: #1b1b1b; background: #fafafa; }
main { max-width: 72rem; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.6rem; }
h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #ddd; padding-bottom: .25rem; }
table { border-collapse: collapse; margin: .75rem 0; background: #fff; display: block; overflow-x: auto; max-width: 100%; }
th, td { border: 1px solid #d0d0d0; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.num { text-align: right; white-space: nowrap; }
td.best { background: #dff3df; font-weight: bold; }
td.passed { color: #1a7f37; }
td.failed, td.errored { color: #b42318; }
td.skipped, td.missing { color: #6b6b6b; }
.msg { display: block; font-size: .85em; color: #444; }
.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: .5rem .75rem; }
.legend span { display: inline-block; margin-right: 1rem; }
.swatch { display: inline-block; width: .8rem; height: .8rem; margin-right: .3rem; vertical-align: middle; }
svg { background: #fff; border: 1px solid #e0e0e0; max-width: 100%; height: auto; }
svg text { font-family: system-ui, sans-serif; font-size: 11px; fill: #333; }
code { font-size: .9em; }
";

fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

fn legend(out: &mut String, names: &[String]) {
    out.push_str("<p class=\"legend\">");
    for (i, n) in names.iter().enumerate() {
        let _ = write!(
            out,
            "<span><span class=\"swatch\" style=\"background:{}\"></span>{}</span>",
            colour(i),
            escape(n)
        );
    }
    out.push_str("</p>\n");
}

fn table_head(out: &mut String, first: &str, names: &[String]) {
    let _ = write!(out, "<table>\n<thead><tr><th>{}</th>", escape(first));
    for n in names {
        let _ = write!(out, "<th>{}</th>", escape(n));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
}

fn figure_row(out: &mut String, row: &Row) {
    let _ = write!(out, "<tr><th>{}</th>", escape(&row.label));
    for (c, best) in row.cells.iter().zip(&row.best) {
        let class = if *best { "num best" } else { "num" };
        let text = c.map(|s| s.label()).unwrap_or_else(|| "—".to_owned());
        let _ = write!(out, "<td class=\"{class}\">{}</td>", escape(&text));
    }
    out.push_str("</tr>\n");
}

/// A grouped vertical bar chart: one group per row, one bar per candidate, 0–100 %.
fn grouped_chart(out: &mut String, title: &str, rows: &[Row], names: &[String]) {
    let n = names.len().max(1);
    let bar = 18;
    let group_gap = 24;
    let group_w = n * bar + group_gap;
    let left = 90;
    let top = 16;
    let plot_h = 200;
    let label_h = 90;
    let width = left + rows.len().max(1) * group_w + 16;
    let height = top + plot_h + label_h;
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" aria-label=\"{}\">\n<title>{}</title>\n",
        escape(title),
        escape(title)
    );
    for pct in [0, 25, 50, 75, 100] {
        let y = top + plot_h - plot_h * pct / 100;
        let _ = writeln!(
            out,
            "<line x1=\"{left}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#e5e5e5\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{pct}%</text>",
            width - 8,
            left - 4,
            y + 4
        );
    }
    for (g, row) in rows.iter().enumerate() {
        let gx = left + g * group_w + group_gap / 2;
        for (i, (cell, name)) in row.cells.iter().zip(names).enumerate() {
            let x = gx + i * bar;
            let Some(score) = cell else { continue };
            let pct = score.percent().unwrap_or(0.0);
            let h = (pct * plot_h as f64 / 100.0).round() as usize;
            let y = top + plot_h - h;
            let stroke = if row.best.get(i).copied().unwrap_or(false) {
                " stroke=\"#000\" stroke-width=\"1.5\""
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{}\" height=\"{h}\" fill=\"{}\"{stroke}>\
                 <title>{}: {}: {}</title></rect>",
                bar - 2,
                colour(i),
                escape(&row.label),
                escape(name),
                escape(&score.label())
            );
        }
        let cx = gx + n * bar / 2;
        let ly = top + plot_h + 12;
        let _ = writeln!(
            out,
            "<text x=\"{cx}\" y=\"{ly}\" text-anchor=\"end\" transform=\"rotate(-35 {cx} {ly})\">{}</text>",
            escape(&row.label)
        );
    }
    let _ = writeln!(
        out,
        "<line x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#888\"/>\n</svg>",
        top + plot_h,
        width - 8,
        top + plot_h
    );
}

/// A horizontal bar chart of each candidate's share of passed scenarios.
fn totals_chart(out: &mut String, row: &Row, names: &[String]) {
    let label_w = 200;
    let plot_w = 400;
    let bar_h = 22;
    let gap = 8;
    let width = label_w + plot_w + 150;
    let height = 10 + names.len() * (bar_h + gap) + 10;
    let title = "Passed scenarios per candidate (share of those that ran)";
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" aria-label=\"{title}\">\n<title>{title}</title>"
    );
    for (i, (cell, name)) in row.cells.iter().zip(names).enumerate() {
        let y = 10 + i * (bar_h + gap);
        let score = cell.unwrap_or_default();
        let pct = score.percent().unwrap_or(0.0);
        let w = (pct * plot_w as f64 / 100.0).round() as usize;
        let stroke = if row.best.get(i).copied().unwrap_or(false) {
            " stroke=\"#000\" stroke-width=\"1.5\""
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{label_w}\" y=\"{y}\" width=\"{w}\" height=\"{bar_h}\" fill=\"{}\"{stroke}>\
             <title>{}: {}</title></rect>\
             <text x=\"{}\" y=\"{}\">{}</text>",
            label_w - 6,
            y + bar_h / 2 + 4,
            escape(name),
            colour(i),
            escape(name),
            escape(&score.label()),
            label_w + w + 6,
            y + bar_h / 2 + 4,
            escape(&score.label())
        );
    }
    out.push_str("</svg>\n");
}

fn diff_table(out: &mut String, names: &[String], rows: &[ScenarioDiff]) {
    out.push_str("<table>\n<thead><tr><th>Scenario</th><th>Area</th>");
    for n in names {
        let _ = write!(out, "<th>{}</th>", escape(n));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for d in rows {
        let _ = write!(
            out,
            "<tr><td><code>{}</code><span class=\"msg\">{}</span></td><td>{}</td>",
            escape(&d.id),
            escape(&d.title),
            escape(&crate::report::area_display_name(&d.area))
        );
        for c in &d.cells {
            match c {
                None => out.push_str("<td class=\"missing\">missing</td>"),
                Some(c) => {
                    let word = outcome_word(c.outcome);
                    let _ = write!(out, "<td class=\"{word}\">{word}");
                    if let Some(e) = &c.expectation {
                        let _ = write!(out, " ({})", escape(e));
                    }
                    if let Some(m) = &c.message {
                        let _ = write!(out, "<span class=\"msg\">{}</span>", escape(m));
                    }
                    out.push_str("</td>");
                }
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

/// The whole comparison as a self-contained HTML page.
pub fn render_html(c: &Comparison) -> String {
    let names: Vec<String> = c.candidates.iter().map(|c| c.name.clone()).collect();
    let title = format!("Comparison of {} Matrix homeservers", c.candidates.len());
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );

    out.push_str(
        "<section id=\"candidates\">\n<h2>Candidates</h2>\n<table>\n<thead><tr>\
        <th>Candidate</th><th>Target</th><th>Server version</th><th>Sliding sync</th>\
        <th>Spec versions</th><th>Run</th><th>MUST passed/ran</th><th>Profile</th><th>Report</th>\
        </tr></thead>\n<tbody>\n",
    );
    for (i, (cand, best)) in c.candidates.iter().zip(&c.totals.best).enumerate() {
        let class = if *best { "num best" } else { "num" };
        let _ = writeln!(
            out,
            "<tr><th><span class=\"swatch\" style=\"background:{}\"></span>{}</th>\
             <td>{}<span class=\"msg\">{}</span></td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}<span class=\"msg\">mxharness {}</span></td><td class=\"{class}\">{}</td>\
             <td>{}</td><td><code>{}</code></td></tr>",
            colour(i),
            escape(&cand.name),
            escape(&cand.base_url),
            escape(&cand.server_name),
            escape(cand.server_version.as_deref().unwrap_or("—")),
            escape(cand.dialect.as_deref().unwrap_or("—")),
            escape(&super::spec_summary(&cand.spec_versions)),
            escape(&cand.started_at),
            escape(&cand.tool_version),
            escape(&cand.totals.score().label()),
            escape(cand.profile_line.as_deref().unwrap_or("—")),
            escape(&cand.source),
        );
    }
    out.push_str("</tbody>\n</table>\n");
    for note in &c.notes {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", escape(note));
    }
    out.push_str("</section>\n");

    out.push_str("<section id=\"totals\">\n<h2>Totals</h2>\n");
    out.push_str(
        "<p class=\"note\">Scores count MUST (and POLICY) scenarios only; SHOULD/MAY recommendations are shown apart.</p>\n",
    );
    totals_chart(&mut out, &c.totals, &names);
    table_head(&mut out, "Outcome", &names);
    figure_row(&mut out, &c.totals);
    figure_row(&mut out, &c.recommendations);
    for (label, pick) in super::OUTCOME_ROWS {
        let _ = write!(out, "<tr><th>{label}</th>");
        for cand in &c.candidates {
            let _ = write!(out, "<td class=\"num\">{}</td>", pick(&cand.totals));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</section>\n");

    out.push_str("<section id=\"areas\">\n<h2>Per area</h2>\n");
    legend(&mut out, &names);
    grouped_chart(
        &mut out,
        "Share of passed scenarios per area and candidate",
        &c.areas,
        &names,
    );
    table_head(&mut out, "Area", &names);
    for row in &c.areas {
        figure_row(&mut out, row);
    }
    out.push_str("</tbody>\n</table>\n</section>\n");

    if let Some(p) = &c.profile {
        out.push_str("<section id=\"profile\">\n<h2>Profile</h2>\n");
        table_head(&mut out, "Requirement", &names);
        out.push_str("<tr><th>Profile</th>");
        for n in &p.names {
            let _ = write!(out, "<td>{}</td>", escape(n.as_deref().unwrap_or("—")));
        }
        out.push_str("</tr>\n");
        figure_row(&mut out, &p.mandatory);
        figure_row(&mut out, &p.optional);
        out.push_str("</tbody>\n</table>\n</section>\n");
    }

    if let (Some(cov), Some(row)) = (&c.endpoints, &c.endpoints_row) {
        out.push_str("<section id=\"endpoints\">\n<h2>Endpoint coverage</h2>\n");
        table_head(&mut out, "", &names);
        figure_row(&mut out, row);
        out.push_str("<tr><th>Catalogue</th>");
        for e in cov {
            let _ = write!(
                out,
                "<td>{}</td>",
                escape(e.as_ref().map(|e| e.catalogue.as_str()).unwrap_or("—"))
            );
        }
        out.push_str("</tr>\n</tbody>\n</table>\n</section>\n");
    }

    if let Some(rows) = super::capacity_rows(c) {
        out.push_str("<section id=\"capacity\">\n<h2>Capacity</h2>\n<table>\n<thead><tr><th>Candidate</th><th>Holds at (users)</th><th>Fails at (users)</th><th>Limiting threshold</th></tr></thead>\n<tbody>\n");
        for r in rows {
            let _ = writeln!(
                out,
                "<tr><th>{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                escape(&r[0]),
                escape(&r[1]),
                escape(&r[2]),
                escape(&r[3])
            );
        }
        out.push_str("</tbody>\n</table>\n</section>\n");
    }

    if !c.load.is_empty() {
        out.push_str("<section id=\"load\">\n<h2>Load</h2>\n");
        table_head(&mut out, "Metric", &names);
        for row in &c.load {
            let best = row
                .values
                .iter()
                .flatten()
                .copied()
                .fold(f64::INFINITY, f64::min);
            let _ = write!(
                out,
                "<tr><th>{} ({})</th>",
                escape(&row.metric),
                escape(&row.unit)
            );
            for v in &row.values {
                match v {
                    Some(v) => {
                        let class = if *v == best { "num best" } else { "num" };
                        let _ = write!(out, "<td class=\"{class}\">{v:.1}</td>");
                    }
                    None => out.push_str("<td class=\"num\">—</td>"),
                }
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>\n</section>\n");
    }

    out.push_str("<section id=\"differences\">\n<h2>Where they differ</h2>\n");
    if c.differences.is_empty() {
        out.push_str(
            "<p>Every scenario present in all reports has the same outcome everywhere.</p>\n",
        );
    } else {
        let _ = writeln!(
            out,
            "<p>{} scenario(s) have different outcomes.</p>",
            c.differences.len()
        );
        diff_table(&mut out, &names, &c.differences);
    }
    if !c.missing.is_empty() {
        out.push_str("<h3>Missing from some reports</h3>\n");
        diff_table(&mut out, &names, &c.missing);
    }
    out.push_str("</section>\n");
    out.push_str(
        "<footer><p>Shares are passed out of ran (skipped scenarios excluded); a green cell \
         marks the best figure of a row (none when all are equal).</p></footer>\n",
    );
    out.push_str("</main>\n</body>\n</html>\n");
    out
}
