//! The comparison as Markdown (for pull requests, wikis and tender documents) and as a short
//! terminal summary.

use std::fmt::Write as _;

use super::{Comparison, Row, ScenarioDiff, outcome_word};

/// Escapes text for a Markdown table cell: pipes, angle brackets and line breaks.
fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

fn header(out: &mut String, first: &str, names: &[String]) {
    let _ = write!(out, "| {}", cell(first));
    for n in names {
        let _ = write!(out, " | {}", cell(n));
    }
    out.push_str(" |\n|---");
    for _ in names {
        out.push_str("|---:");
    }
    out.push_str("|\n");
}

fn figure_row(out: &mut String, row: &Row) {
    let _ = write!(out, "| {}", cell(&row.label));
    for (c, best) in row.cells.iter().zip(&row.best) {
        let text = c.map(|s| s.label()).unwrap_or_else(|| "—".to_owned());
        if *best {
            let _ = write!(out, " | **{text}**");
        } else {
            let _ = write!(out, " | {text}");
        }
    }
    out.push_str(" |\n");
}

fn diff_table(out: &mut String, names: &[String], rows: &[ScenarioDiff]) {
    let _ = write!(out, "| Scenario | Area");
    for n in names {
        let _ = write!(out, " | {}", cell(n));
    }
    out.push_str(" |\n|---|---");
    for _ in names {
        out.push_str("|---");
    }
    out.push_str("|\n");
    for d in rows {
        let _ = write!(
            out,
            "| `{}` {} | {}",
            d.id.replace('`', "'"),
            cell(&d.title),
            cell(&crate::report::area_display_name(&d.area))
        );
        for c in &d.cells {
            match c {
                None => out.push_str(" | *missing*"),
                Some(c) => {
                    let _ = write!(out, " | {}", outcome_word(c.outcome));
                    if let Some(e) = &c.expectation {
                        let _ = write!(out, " ({})", cell(e));
                    }
                    if let Some(m) = &c.message {
                        let _ = write!(out, ": {}", cell(m));
                    }
                }
            }
        }
        out.push_str(" |\n");
    }
}

/// The whole comparison as Markdown: candidates, totals, areas, profile, endpoints, load
/// (when present) and where the candidates differ. The best figure of each row is bold.
pub fn render_markdown(c: &Comparison) -> String {
    let names: Vec<String> = c.candidates.iter().map(|c| c.name.clone()).collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Comparison of {} Matrix homeservers\n",
        c.candidates.len()
    );
    out.push_str("## Candidates\n\n");
    out.push_str("| Candidate | Target | Server version | Sliding sync | Spec versions | Run | MUST passed/ran | Profile |\n");
    out.push_str("|---|---|---|---|---|---|---:|---|\n");
    for (cand, best) in c.candidates.iter().zip(&c.totals.best) {
        let score = cand.totals.score().label();
        let score = if *best { format!("**{score}**") } else { score };
        let _ = writeln!(
            out,
            "| {} | {} ({}) | {} | {} | {} | {} | {} | {} |",
            cell(&cand.name),
            cell(&cand.base_url),
            cell(&cand.server_name),
            cell(cand.server_version.as_deref().unwrap_or("—")),
            cell(cand.dialect.as_deref().unwrap_or("—")),
            cell(&super::spec_summary(&cand.spec_versions)),
            cell(&cand.started_at),
            score,
            cell(cand.profile_line.as_deref().unwrap_or("—")),
        );
    }
    out.push('\n');
    for note in &c.notes {
        let _ = writeln!(out, "> {}", cell(note));
    }
    if !c.notes.is_empty() {
        out.push('\n');
    }

    out.push_str("## Totals\n\n");
    out.push_str(
        "Scores count MUST (and POLICY) scenarios only; SHOULD/MAY recommendations are shown apart.\n\n",
    );
    header(&mut out, "", &names);
    figure_row(&mut out, &c.totals);
    figure_row(&mut out, &c.recommendations);
    out.push_str("\n| Outcome");
    for n in &names {
        let _ = write!(out, " | {}", cell(n));
    }
    out.push_str(" |\n|---");
    for _ in &names {
        out.push_str("|---:");
    }
    out.push_str("|\n");
    for (label, pick) in super::OUTCOME_ROWS {
        let _ = write!(out, "| {label}");
        for cand in &c.candidates {
            let _ = write!(out, " | {}", pick(&cand.totals));
        }
        out.push_str(" |\n");
    }
    out.push('\n');

    out.push_str("## Per area\n\n");
    header(&mut out, "Area", &names);
    for row in &c.areas {
        figure_row(&mut out, row);
    }
    out.push('\n');

    if let Some(p) = &c.profile {
        out.push_str("## Profile\n\n");
        header(&mut out, "Requirement", &names);
        let _ = write!(out, "| Profile");
        for n in &p.names {
            let _ = write!(out, " | {}", cell(n.as_deref().unwrap_or("—")));
        }
        out.push_str(" |\n");
        figure_row(&mut out, &p.mandatory);
        figure_row(&mut out, &p.optional);
        out.push('\n');
    }

    if let (Some(cov), Some(row)) = (&c.endpoints, &c.endpoints_row) {
        out.push_str("## Endpoint coverage\n\n");
        header(&mut out, "", &names);
        figure_row(&mut out, row);
        let _ = write!(out, "| Catalogue");
        for e in cov {
            let _ = write!(
                out,
                " | {}",
                cell(e.as_ref().map(|e| e.catalogue.as_str()).unwrap_or("—"))
            );
        }
        out.push_str(" |\n\n");
    }

    if !c.load.is_empty() {
        out.push_str("## Load\n\n");
        header(&mut out, "Metric", &names);
        for row in &c.load {
            let _ = write!(out, "| {} ({})", cell(&row.metric), cell(&row.unit));
            let best = row
                .values
                .iter()
                .flatten()
                .copied()
                .fold(f64::INFINITY, f64::min);
            for v in &row.values {
                match v {
                    Some(v) if *v == best => {
                        let _ = write!(out, " | **{v:.1}**");
                    }
                    Some(v) => {
                        let _ = write!(out, " | {v:.1}");
                    }
                    None => out.push_str(" | —"),
                }
            }
            out.push_str(" |\n");
        }
        out.push('\n');
    }

    if let Some(rows) = super::capacity_rows(c) {
        out.push_str("## Capacity\n\n| Candidate | Holds at (users) | Fails at (users) | Limiting threshold |\n|---|---:|---:|---|\n");
        for r in rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                cell(&r[0]),
                cell(&r[1]),
                cell(&r[2]),
                cell(&r[3])
            );
        }
        out.push('\n');
    }

    out.push_str("## Where they differ\n\n");
    if c.differences.is_empty() {
        out.push_str("Every scenario present in all reports has the same outcome everywhere.\n\n");
    } else {
        let _ = writeln!(
            out,
            "{} scenario(s) have different outcomes:\n",
            c.differences.len()
        );
        diff_table(&mut out, &names, &c.differences);
        out.push('\n');
    }
    if !c.missing.is_empty() {
        out.push_str("### Missing from some reports\n\n");
        diff_table(&mut out, &names, &c.missing);
        out.push('\n');
    }
    out
}

/// A short, Markdown-like summary for the terminal: candidates with totals, the per-area
/// table and the ids of the differing scenarios.
pub fn render_terminal(c: &Comparison) -> String {
    const MAX_LISTED: usize = 20;
    let names: Vec<String> = c.candidates.iter().map(|c| c.name.clone()).collect();
    let mut out = String::new();
    let _ = writeln!(out, "Comparing {} reports\n", c.candidates.len());
    for (cand, best) in c.candidates.iter().zip(&c.totals.best) {
        let _ = writeln!(
            out,
            "- {}{}: MUST {} passed, {} failed; recommendations {} met, {} not met ({}){}",
            cand.name,
            if *best { " (best)" } else { "" },
            cand.totals.score().label(),
            cand.totals.failed,
            cand.totals.recommendations().label(),
            cand.totals.recommendations_not_met,
            cand.source,
            cand.profile_line
                .as_deref()
                .map(|p| format!("; {p}"))
                .unwrap_or_default(),
        );
    }
    out.push('\n');
    header(&mut out, "Area", &names);
    for row in &c.areas {
        figure_row(&mut out, row);
    }
    out.push('\n');
    out.push_str(&super::capacity_terminal(c));
    for note in &c.notes {
        let _ = writeln!(out, "note: {note}");
    }
    let _ = writeln!(
        out,
        "{} scenario(s) differ, {} missing from some reports",
        c.differences.len(),
        c.missing.len()
    );
    for d in c.differences.iter().chain(&c.missing).take(MAX_LISTED) {
        let outcomes: Vec<String> = d
            .cells
            .iter()
            .zip(&names)
            .map(|(cell, name)| {
                let word = cell
                    .as_ref()
                    .map(|c| outcome_word(c.outcome))
                    .unwrap_or("missing");
                format!("{name}: {word}")
            })
            .collect();
        let _ = writeln!(out, "  {}  ({})", d.id, outcomes.join(", "));
    }
    let listed = c.differences.len() + c.missing.len();
    if listed > MAX_LISTED {
        let _ = writeln!(
            out,
            "  ... and {} more (use --markdown or --html for all)",
            listed - MAX_LISTED
        );
    }
    out
}
