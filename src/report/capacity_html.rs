//! The capacity part of the HTML report: per latency threshold, an inline SVG chart of p50
//! and p95 against users with the SLO as a dashed line, and the table of every step.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::html::esc;
use crate::load::threshold::{self, Metric};
use crate::results::load::{CapacityReport, CapacityStep};

const W: f64 = 720.0;
const H: f64 = 170.0;
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 22.0;

/// The last run at each population, sorted by users.
fn last_per_population(steps: &[CapacityStep]) -> Vec<&CapacityStep> {
    let mut by: BTreeMap<usize, &CapacityStep> = BTreeMap::new();
    for s in steps {
        by.insert(s.users, s);
    }
    by.into_values().collect()
}

fn chart(title: &str, limit: f64, points: &[(usize, f64, f64)]) -> String {
    let mut svg = format!(
        "<figure style=\"margin:1em 0\"><figcaption style=\"font-weight:600\">{}</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{}\" role=\"img\" aria-label=\"{}\">",
        esc(title),
        H + BOTTOM + 8.0,
        esc(title)
    );
    let max_users = points.iter().map(|p| p.0).max().unwrap_or(1).max(1) as f64;
    let top = points.iter().map(|p| p.2.max(p.1)).fold(limit, f64::max) * 1.1;
    let plot_w = W - LEFT - 10.0;
    let x = |u: usize| LEFT + plot_w * u as f64 / max_users;
    let y = |v: f64| 4.0 + H - H * (v / top).min(1.0);
    for k in 0..=4 {
        let v = top * f64::from(k) / 4.0;
        let yy = y(v);
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#e4e4e4\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{v:.0}ms</text>",
            W - 10.0,
            LEFT - 4.0,
            yy + 3.0
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{LEFT}\" y=\"{}\" font-size=\"10\">0 users</text><text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{max_users} users</text>",
        H + BOTTOM,
        W - 10.0,
        H + BOTTOM
    );
    let ly = y(limit);
    let _ = write!(
        svg,
        "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{ly:.1}\" y2=\"{ly:.1}\" stroke=\"#b3261e\" stroke-dasharray=\"6 4\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"10\" fill=\"#b3261e\" text-anchor=\"end\">SLO {limit:.0}ms</text>",
        W - 10.0,
        W - 12.0,
        ly - 3.0
    );
    for (k, (label, color, pick)) in [("p50", "#1a73e8", 1usize), ("p95", "#e37400", 2usize)]
        .into_iter()
        .enumerate()
    {
        let pts: Vec<String> = points
            .iter()
            .map(|p| {
                let v = if pick == 1 { p.1 } else { p.2 };
                format!("{:.1},{:.1}", x(p.0), y(v))
            })
            .collect();
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.6\" points=\"{}\"/><text x=\"{}\" y=\"12\" font-size=\"11\" fill=\"{color}\">{label}</text>",
            pts.join(" "),
            LEFT + 8.0 + 90.0 * k as f64
        );
        for p in &pts {
            let (px, py) = p.split_once(',').unwrap_or(("0", "0"));
            let _ = write!(
                svg,
                "<circle cx=\"{px}\" cy=\"{py}\" r=\"2.5\" fill=\"{color}\"/>"
            );
        }
    }
    svg.push_str("</svg></figure>\n");
    svg
}

/// The capacity section: the answer, a chart per latency threshold, every step.
pub fn section(c: &CapacityReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<h2>Capacity</h2>\n<p><strong>{}</strong> ({}).</p>",
        esc(&c.answer),
        esc(&c.ending)
    );
    let steps = last_per_population(&c.steps);
    let rules: Vec<String> = c
        .steps
        .first()
        .map(|s| s.metrics.iter().map(|m| m.threshold.clone()).collect())
        .unwrap_or_default();
    for (i, text) in rules.iter().enumerate() {
        let Ok(rule) = threshold::parse(text) else {
            continue;
        };
        if !matches!(
            rule.metric,
            Metric::Percentile(_) | Metric::Max | Metric::Mean
        ) {
            continue;
        }
        let points: Vec<(usize, f64, f64)> = steps
            .iter()
            .filter_map(|s| {
                let m = s.metrics.get(i)?;
                Some((s.users, m.p50_ms?, m.p95_ms?))
            })
            .collect();
        if points.is_empty() {
            continue;
        }
        out.push_str(&chart(
            &format!("p50 and p95 against users: {text}"),
            rule.limit,
            &points,
        ));
    }
    out.push_str("<table>\n<thead><tr><th>Users</th><th>Run</th><th>Held</th><th>Errors</th>");
    for r in &rules {
        let _ = write!(out, "<th>{}</th>", esc(r));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for s in &c.steps {
        let _ = write!(
            out,
            "<tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td>",
            s.users,
            s.attempt + 1,
            if s.held { "holds" } else { "fails" },
            s.errors
        );
        for m in &s.metrics {
            let cell = match (m.p50_ms, m.p95_ms) {
                (Some(a), Some(b)) => format!("p50 {a:.1} ms, p95 {b:.1} ms"),
                _ => m
                    .observed
                    .map_or("no samples".into(), |o| format!("{o:.2}")),
            };
            let _ = write!(out, "<td>{}</td>", esc(&cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::load::CapacityMetric;

    #[test]
    fn charts_latency_thresholds_against_users_with_the_slo() {
        let step = |users, p95: f64, held| CapacityStep {
            users,
            held,
            metrics: vec![
                CapacityMetric {
                    threshold: "p95 < 500ms for send".into(),
                    held,
                    observed: Some(p95),
                    p50_ms: Some(p95 / 3.0),
                    p95_ms: Some(p95),
                },
                CapacityMetric {
                    threshold: "error-rate < 1%".into(),
                    held: true,
                    observed: Some(0.0),
                    ..CapacityMetric::default()
                },
            ],
            ..CapacityStep::default()
        };
        let c = CapacityReport {
            found: Some(6),
            low: Some(6),
            high: Some(8),
            ending: "bracketed".into(),
            answer: "holds at 6 users, fails at 8".into(),
            steps: vec![
                step(2, 100.0, true),
                step(8, 620.0, false),
                step(6, 250.0, true),
            ],
            ..CapacityReport::default()
        };
        let html = section(&c);
        assert_eq!(
            html.matches("<svg").count(),
            1,
            "one chart: the latency rule"
        );
        assert!(html.contains("SLO 500ms"));
        assert_eq!(html.matches("<tr><td").count(), 3, "one row per run");
    }
}
