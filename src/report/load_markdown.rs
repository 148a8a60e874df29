//! The load section of the Markdown report: the run's shape, delivery latency with the
//! message accounting, and per-request percentiles.

use std::fmt::Write as _;

use crate::results::load::{DeliveryFigures, LatencyFigures, LoadReport};

fn latency(l: &LatencyFigures) -> String {
    format!(
        "{} | {:.1} | {:.1} | {:.1} | {:.1}",
        l.count, l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms
    )
}

fn delivery(out: &mut String, name: &str, d: &DeliveryFigures) {
    let _ = writeln!(
        out,
        "| {name} | {} | {} | {} | {} | {} |",
        latency(&d.latency),
        d.sent,
        d.delivered,
        d.late,
        d.lost
    );
}

/// The open-model arrivals table (nothing when every persona is closed-loop).
fn arrivals(out: &mut String, l: &LoadReport) {
    if l.arrivals.is_empty() {
        return;
    }
    let _ = writeln!(out, "### Arrivals (open model)\n");
    let _ = writeln!(
        out,
        "| persona | action | spacing | intended /s | achieved /s | scheduled | started | dropped | max delay ms |\n|---|---|---|--:|--:|--:|--:|--:|--:|"
    );
    for a in &l.arrivals {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.2} | {:.2} | {} | {} | {} | {} |",
            a.persona,
            a.action.as_deref().unwrap_or("(mix)"),
            a.spacing,
            a.intended_rps,
            a.achieved_rps,
            a.scheduled,
            a.started,
            if a.dropped > 0 {
                format!("**{}**", a.dropped)
            } else {
                a.dropped.to_string()
            },
            a.max_delay_ms
        );
    }
    let _ = writeln!(out);
}

/// The `scenario:` actions table: iterations, errors by kind, the first failure.
fn scenario_actions(out: &mut String, l: &LoadReport) {
    if l.scenario_actions.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "### Scenario actions
"
    );
    let _ = writeln!(
        out,
        "| persona | action | iterations | passed | errors | first failure |\n|---|---|--:|--:|---|---|"
    );
    for a in &l.scenario_actions {
        let errors = a
            .errors
            .iter()
            .map(|(k, n)| format!("**{k} {n}**"))
            .collect::<Vec<_>>()
            .join(", ");
        let first = match (&a.skipped, &a.sample) {
            (Some(why), _) => format!("skipped: {why}"),
            (None, Some(f)) => format!("step {} ({}): {}", f.step, f.location, f.message),
            (None, None) => String::new(),
        };
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} | {} | {} |",
            a.persona,
            a.action,
            a.iterations,
            a.passed,
            errors,
            first.replace('|', "\\|")
        );
    }
    let _ = writeln!(out);
}

/// The `load` section.
pub fn section(l: &LoadReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Load: {}\n", l.plan);
    let _ = writeln!(
        out,
        "{} users ({}), {} rooms, seed {}{}; setup {:.1} s (not measured), attack {:.1} s{}.\n",
        l.users,
        l.personas
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        l.rooms,
        l.seed,
        l.shard
            .as_deref()
            .map(|s| format!(", shard {s}"))
            .unwrap_or_default(),
        l.setup_ms as f64 / 1000.0,
        l.duration_ms as f64 / 1000.0,
        if l.interrupted {
            " (**stopped early by Ctrl-C**)"
        } else {
            ""
        }
    );
    for n in &l.notes {
        let _ = writeln!(out, "- note: {n}");
    }
    if !l.notes.is_empty() {
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "### Delivery latency\n");
    let _ = writeln!(
        out,
        "| measure | samples | p50 ms | p95 ms | p99 ms | max ms | sent | seen | late | lost |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
    );
    delivery(&mut out, "delivery", &l.delivery);
    if let Some(f) = &l.federation {
        delivery(&mut out, "federation", f);
    }
    let _ = writeln!(
        out,
        "| sync wake-up | {} | | | | |\n",
        latency(&l.sync_wakeup)
    );
    arrivals(&mut out, l);
    scenario_actions(&mut out, l);
    let _ = writeln!(out, "### Requests\n");
    let _ = writeln!(
        out,
        "| request | model | count | p50 ms | p95 ms | p99 ms | max ms | errors | req/s |\n|---|---|--:|--:|--:|--:|--:|--:|--:|"
    );
    for r in std::iter::once(&l.all).chain(&l.requests) {
        let _ = writeln!(
            out,
            "| {}{} | {} | {} | {} ({:.2}%) | {:.2} |",
            if r.name == "all" { "**all**" } else { &r.name },
            if r.long_poll { " (not in all)" } else { "" },
            r.model.as_str(),
            latency(&r.latency),
            r.errors,
            r.error_rate_pct,
            r.rps
        );
    }
    let _ = writeln!(out);
    out
}
