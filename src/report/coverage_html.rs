//! The coverage map section of the HTML report: one tile per checklist area with its
//! behaviours covered and spec operations exercised, each coloured by ratio; the per-version
//! table; and the operations no scenario exercises with their reasons. Static HTML, no scripts.

use std::fmt::Write as _;

use super::html::esc;
use crate::plan::coverage_map::{CoverageMap, Ratio};

/// The colour steps, from none covered to all: (lowest percentage, background, text).
const STEPS: [(usize, &str, &str); 6] = [
    (100, "#137333", "#fff"),
    (75, "#7cb342", "#000"),
    (50, "#d4e157", "#000"),
    (25, "#fbc02d", "#000"),
    (1, "#f57c00", "#000"),
    (0, "#b3261e", "#fff"),
];

/// Background and text colour for a ratio (grey when there is nothing to cover).
fn colours(r: &Ratio) -> (&'static str, &'static str) {
    match r.percent() {
        None => ("#eeeeee", "#666"),
        Some(p) => {
            // Anything covered is off the bottom step, however small a share.
            let p = if r.covered == 0 { 0 } else { p.max(1) };
            STEPS
                .iter()
                .find(|(min, _, _)| p >= *min)
                .map_or(("#eeeeee", "#666"), |(_, bg, fg)| (*bg, *fg))
        }
    }
}

fn ratio(r: &Ratio) -> String {
    match r.percent() {
        Some(p) => format!("{}/{} {p}%", r.covered, r.total),
        None => "none".to_owned(),
    }
}

fn cell(label: &str, r: &Ratio) -> String {
    let (bg, fg) = colours(r);
    format!(
        "<span class=\"cm-c\" style=\"background:{bg};color:{fg}\">{label} {}</span>",
        esc(&ratio(r))
    )
}

/// The section, `<h2>` included.
pub(super) fn section(map: &CoverageMap) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<h2>Coverage map</h2>\n<style>.cm{{display:flex;flex-wrap:wrap;gap:4px}}.cm-t{{border:1px solid #ddd;padding:3px;width:9.5em;font-size:12px}}.cm-t b{{display:block}}.cm-c{{display:block;padding:0 3px;margin-top:2px}}</style>"
    );
    let _ = writeln!(
        out,
        "<p>{} scenarios cover {} of the checklist's behaviours and exercise {} of the spec's operations (client-server and server-server, spec {}). Per area: <b>B</b> behaviours covered, <b>O</b> operations exercised.</p>",
        map.scenarios,
        esc(&ratio(&map.behaviours)),
        esc(&ratio(&map.operations)),
        esc(&map.spec_version)
    );
    let _ = write!(out, "<p>");
    for (i, (min, bg, fg)) in STEPS.iter().enumerate() {
        let label = match i {
            0 => "100%".to_owned(),
            _ if *min == 0 => "0%".to_owned(),
            _ => format!("{min}%+"),
        };
        let _ = write!(
            out,
            "<span class=\"cm-c\" style=\"display:inline-block;background:{bg};color:{fg}\">{label}</span> "
        );
    }
    let _ = writeln!(
        out,
        "<span class=\"cm-c\" style=\"display:inline-block;background:#eeeeee;color:#666\">none to cover</span></p>"
    );
    let _ = writeln!(out, "<div class=\"cm\">");
    for a in &map.areas {
        let _ = writeln!(
            out,
            "<div class=\"cm-t\"><b>{}</b>{}{}</div>",
            esc(&a.area),
            cell("B", &a.behaviours),
            cell("O", &a.operations)
        );
    }
    let _ = writeln!(out, "</div>");

    let _ = writeln!(
        out,
        "<h3>By spec version</h3>\n<p class=\"skip\">Operations: added in the version, and all the version has. Scenarios and behaviours: cumulative, the scenarios whose <code>since</code> is at most the version.</p>"
    );
    let _ = writeln!(
        out,
        "<table><tr><th>version</th><th>operations added</th><th>operations in spec</th><th class=\"num\">scenarios</th><th>behaviours</th></tr>"
    );
    for v in &map.versions {
        let td = |r: &Ratio| {
            let (bg, fg) = colours(r);
            format!(
                "<td style=\"background:{bg};color:{fg}\">{}</td>",
                esc(&ratio(r))
            )
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td>{}{}<td class=\"num\">{}</td>{}</tr>",
            esc(&v.version),
            td(&v.operations_added),
            td(&v.operations_current),
            v.scenarios,
            td(&v.behaviours)
        );
    }
    let _ = writeln!(out, "</table>");
    if let Some(n) = crate::plan::coverage_map::msc_only(map) {
        let _ = writeln!(
            out,
            "<p class=\"skip\">{n} scenarios of an MSC only are in no version.</p>"
        );
    }

    let _ = writeln!(
        out,
        "<details><summary>Operations not exercised ({})</summary>\n<table><tr><th>area</th><th>operation</th><th>since</th><th>why</th></tr>",
        map.missing.len()
    );
    for m in &map.missing {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            esc(&m.area),
            esc(&m.id),
            esc(m.since.as_deref().map_or("MSC", |s| s)),
            m.reason
                .as_deref()
                .map_or_else(|| "<i>no reason recorded</i>".to_owned(), esc)
        );
    }
    let _ = writeln!(out, "</table></details>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_steps() {
        let r = |covered, total| Ratio { covered, total };
        assert_eq!(colours(&r(0, 0)).0, "#eeeeee");
        assert_eq!(colours(&r(0, 5)).0, "#b3261e");
        assert_eq!(colours(&r(1, 200)).0, "#f57c00");
        assert_eq!(colours(&r(3, 4)).0, "#7cb342");
        assert_eq!(colours(&r(4, 4)).0, "#137333");
    }

    #[test]
    fn html_snapshot() {
        let map = crate::plan::coverage_map::tests::small_map();
        insta::assert_snapshot!("coverage_map_html", section(&map));
    }
}
