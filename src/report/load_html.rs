//! The load section of the HTML report: inline SVG line charts (latency percentiles,
//! throughput and errors, delivery latency over time) and per-request tables. No scripts.

use std::fmt::Write as _;

use super::html::esc;
use crate::results::load::{DeliveryFigures, LatencyFigures, LoadReport};

const W: f64 = 720.0;
const H: f64 = 170.0;
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 22.0;

/// One line of a chart.
struct Line<'a> {
    label: &'a str,
    color: &'a str,
    values: Vec<f64>,
}

fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    for step in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if v <= step * mag {
            return step * mag;
        }
    }
    10.0 * mag
}

fn fmt_num(v: f64) -> String {
    if v >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn chart(title: &str, unit: &str, lines: &[Line<'_>]) -> String {
    let n = lines.iter().map(|l| l.values.len()).max().unwrap_or(0);
    let mut svg = format!(
        "<figure style=\"margin:1em 0\"><figcaption style=\"font-weight:600\">{}</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{}\" role=\"img\" aria-label=\"{}\">",
        esc(title),
        H + BOTTOM + 8.0,
        esc(title)
    );
    if n == 0 {
        svg.push_str("<text x=\"10\" y=\"20\" font-size=\"12\">no data</text></svg></figure>\n");
        return svg;
    }
    let max = nice_max(
        lines
            .iter()
            .flat_map(|l| l.values.iter().copied())
            .fold(0.0, f64::max),
    );
    let plot_w = W - LEFT - 10.0;
    let x = |i: usize| LEFT + plot_w * i as f64 / (n.max(2) - 1) as f64;
    let y = |v: f64| 4.0 + H - H * (v / max).min(1.0);
    for k in 0..=4 {
        let v = max * f64::from(k) / 4.0;
        let yy = y(v);
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#e4e4e4\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{}{}</text>",
            W - 10.0,
            LEFT - 4.0,
            yy + 3.0,
            fmt_num(v),
            esc(unit)
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{LEFT}\" y=\"{}\" font-size=\"10\">0 s</text><text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{} s</text>",
        H + BOTTOM,
        W - 10.0,
        H + BOTTOM,
        n - 1
    );
    for (k, l) in lines.iter().enumerate() {
        let points: Vec<String> = l
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.6\" points=\"{}\"/><text x=\"{}\" y=\"12\" font-size=\"11\" fill=\"{}\">{}</text>",
            l.color,
            points.join(" "),
            LEFT + 8.0 + 90.0 * k as f64,
            l.color,
            esc(l.label)
        );
    }
    svg.push_str("</svg></figure>\n");
    svg
}

fn latency_cells(l: &LatencyFigures) -> String {
    format!(
        "<td class=\"num\">{}</td><td class=\"num\">{:.1}</td><td class=\"num\">{:.1}</td><td class=\"num\">{:.1}</td><td class=\"num\">{:.1}</td>",
        l.count, l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms
    )
}

fn delivery_row(out: &mut String, name: &str, d: &DeliveryFigures) {
    let _ = writeln!(
        out,
        "<tr><td>{}</td>{}<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num {}\">{}</td></tr>",
        esc(name),
        latency_cells(&d.latency),
        d.sent,
        d.delivered,
        d.late,
        if d.lost > 0 { "fail" } else { "pass" },
        d.lost
    );
}

/// The open-model arrivals table (nothing when every persona is closed-loop).
fn arrivals(out: &mut String, l: &LoadReport) {
    if l.arrivals.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<h3>Arrivals (open model)</h3>\n<table><tr><th>persona</th><th>action</th><th>spacing</th><th class=\"num\">intended /s</th><th class=\"num\">achieved /s</th><th class=\"num\">scheduled</th><th class=\"num\">started</th><th class=\"num\">dropped</th><th class=\"num\">max delay ms</th></tr>"
    );
    for a in &l.arrivals {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{:.2}</td><td class=\"num\">{:.2}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num {}\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&a.persona),
            esc(a.action.as_deref().unwrap_or("(mix)")),
            esc(&a.spacing),
            a.intended_rps,
            a.achieved_rps,
            a.scheduled,
            a.started,
            if a.dropped > 0 { "fail" } else { "pass" },
            a.dropped,
            a.max_delay_ms
        );
    }
    let _ = writeln!(out, "</table>");
}

/// The `scenario:` actions table: iterations, errors by kind, the first failure.
fn scenario_actions(out: &mut String, l: &LoadReport) {
    if l.scenario_actions.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<h3>Scenario actions</h3>\n<table><tr><th>persona</th><th>action</th><th class=\"num\">iterations</th><th class=\"num\">passed</th><th>errors</th><th>first failure</th></tr>"
    );
    for a in &l.scenario_actions {
        let errors = a
            .errors
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let first = match (&a.skipped, &a.sample) {
            (Some(why), _) => format!("skipped: {why}"),
            (None, Some(f)) => format!("step {} ({}): {}", f.step, f.location, f.message),
            (None, None) => String::new(),
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
            esc(&a.persona),
            esc(&a.action),
            a.iterations,
            a.passed,
            if a.failed() > 0 { "fail" } else { "pass" },
            esc(&errors),
            esc(&first)
        );
    }
    let _ = writeln!(out, "</table>");
}

/// The `load` section.
pub fn section(l: &LoadReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "<h2>Load: {}</h2>", esc(&l.plan));
    if let Some(c) = &l.capacity {
        out.push_str(&super::capacity_html::section(c));
    }
    let _ = writeln!(
        out,
        "<p>{} users ({}), {} rooms, seed {}{}; setup {:.1} s (not measured), attack {:.1} s (ramp up {} s, hold {} s, ramp down {} s){}.</p>",
        l.users,
        esc(&l
            .personas
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")),
        l.rooms,
        l.seed,
        l.shard
            .as_deref()
            .map(|s| format!(", shard {}", esc(s)))
            .unwrap_or_default(),
        l.setup_ms as f64 / 1000.0,
        l.duration_ms as f64 / 1000.0,
        l.profile_ms[0] / 1000,
        l.profile_ms[1] / 1000,
        l.profile_ms[2] / 1000,
        if l.interrupted {
            "; <b class=\"fail\">stopped early by Ctrl-C</b>"
        } else {
            ""
        }
    );
    if !l.notes.is_empty() {
        let _ = writeln!(out, "<ul>");
        for n in &l.notes {
            let _ = writeln!(out, "<li>{}</li>", esc(n));
        }
        let _ = writeln!(out, "</ul>");
    }
    let series = &l.series;
    out.push_str(&chart(
        "Latency percentiles over time (all requests except long-polls)",
        "ms",
        &[
            Line {
                label: "p50",
                color: "#1a73e8",
                values: series.iter().map(|p| p.p50_ms).collect(),
            },
            Line {
                label: "p95",
                color: "#e37400",
                values: series.iter().map(|p| p.p95_ms).collect(),
            },
            Line {
                label: "p99",
                color: "#b3261e",
                values: series.iter().map(|p| p.p99_ms).collect(),
            },
        ],
    ));
    out.push_str(&chart(
        "Throughput and errors (requests per second)",
        "",
        &[
            Line {
                label: "requests/s",
                color: "#137333",
                values: series.iter().map(|p| p.requests as f64).collect(),
            },
            Line {
                label: "errors/s",
                color: "#b3261e",
                values: series.iter().map(|p| p.errors as f64).collect(),
            },
            Line {
                label: "users",
                color: "#777777",
                values: series.iter().map(|p| p.users as f64).collect(),
            },
        ],
    ));
    out.push_str(&chart(
        "Delivery latency p95 over time (send to another user's sync)",
        "ms",
        &[Line {
            label: "delivery p95",
            color: "#8430ce",
            values: series.iter().map(|p| p.delivery_p95_ms).collect(),
        }],
    ));
    let _ = writeln!(
        out,
        "<h3>Delivery latency</h3>\n<table><tr><th>measure</th><th class=\"num\">samples</th><th class=\"num\">p50 ms</th><th class=\"num\">p95 ms</th><th class=\"num\">p99 ms</th><th class=\"num\">max ms</th><th class=\"num\">sent</th><th class=\"num\">seen</th><th class=\"num\">late</th><th class=\"num\">lost</th></tr>"
    );
    delivery_row(&mut out, "delivery", &l.delivery);
    if let Some(f) = &l.federation {
        delivery_row(&mut out, "federation", f);
    }
    let _ = writeln!(
        out,
        "<tr><td>sync wake-up</td>{}<td colspan=\"4\"></td></tr>\n</table>",
        latency_cells(&l.sync_wakeup)
    );
    arrivals(&mut out, l);
    scenario_actions(&mut out, l);
    let _ = writeln!(
        out,
        "<h3>Requests</h3>\n<table><tr><th>request</th><th>model</th><th class=\"num\">count</th><th class=\"num\">p50 ms</th><th class=\"num\">p95 ms</th><th class=\"num\">p99 ms</th><th class=\"num\">max ms</th><th class=\"num\">errors</th><th class=\"num\">req/s</th></tr>"
    );
    for r in std::iter::once(&l.all).chain(&l.requests) {
        let _ = writeln!(
            out,
            "<tr><td title=\"{}\">{}{}</td><td>{}</td>{}<td class=\"num {}\">{} ({:.2}%)</td><td class=\"num\">{:.2}</td></tr>",
            esc(&r.endpoint),
            if r.name == "all" {
                "<b>all</b>".to_owned()
            } else {
                esc(&r.name)
            },
            if r.long_poll {
                " <span class=\"skip\">(not in all)</span>"
            } else {
                ""
            },
            r.model.as_str(),
            latency_cells(&r.latency),
            if r.errors > 0 { "fail" } else { "pass" },
            r.errors,
            r.error_rate_pct,
            r.rps
        );
    }
    let _ = writeln!(out, "</table>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_maxima_are_round() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(230.0), 250.0);
        assert_eq!(nice_max(1001.0), 2000.0);
    }

    #[test]
    fn an_empty_series_says_so() {
        assert!(chart("t", "ms", &[]).contains("no data"));
    }
}
