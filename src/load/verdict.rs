//! Judging a load run: each threshold, and each baseline comparison, becomes one
//! [`ScenarioResult`] in area `load`, so JUnit, compare and certify treat them like any
//! other check.

use crate::results::load::LoadReport;
use crate::results::{Failure, Outcome, ScenarioResult};

use super::threshold::{Metric, Op, Rule};

/// Area of threshold and baseline results.
pub const AREA: &str = "load";

fn result(
    id: String,
    title: String,
    file: &str,
    passed: bool,
    message: String,
    location: &str,
) -> ScenarioResult {
    let mut r = ScenarioResult::new(id, title, AREA, file);
    r.tags = vec!["load".into()];
    r.properties.insert("observed".into(), message.clone());
    if !passed {
        r.outcome = Outcome::Failed;
        r.failure = Some(Failure {
            step: 0,
            location: location.to_owned(),
            kind: "threshold".into(),
            message,
            expected: None,
            actual: None,
            checks: Vec::new(),
            transcript: Vec::new(),
        });
    }
    r
}

/// One result per threshold rule, in plan order.
pub fn thresholds(
    plan_id: &str,
    file: &str,
    rules: &[(Rule, String)],
    report: &LoadReport,
) -> Vec<ScenarioResult> {
    rules
        .iter()
        .enumerate()
        .map(|(i, (rule, location))| {
            let v = rule.judge(report);
            result(
                format!("{plan_id}/threshold/{:02}", i + 1),
                format!("threshold: {}", rule.text),
                file,
                v.passed,
                v.message,
                location,
            )
        })
        .collect()
}

/// The figures compared against a baseline: (name, rule text), lower is better for all
/// but throughput.
fn baseline_metrics(report: &LoadReport) -> Vec<String> {
    let mut out = vec![
        "p95 < 0ms".to_owned(),
        "error-rate < 0%".to_owned(),
        "rps > 0".to_owned(),
    ];
    for r in report.requests.iter().filter(|r| !r.long_poll) {
        out.push(format!("p95 < 0ms for {}", r.name));
    }
    if report.delivery.latency.count > 0 {
        out.push("p95 < 0ms for delivery".into());
    }
    out
}

/// One result per figure that both runs measured: failed when this run is worse than the
/// baseline by more than `tolerance_pct` percent.
pub fn baseline(
    plan_id: &str,
    file: &str,
    baseline_file: &str,
    report: &LoadReport,
    base: &LoadReport,
    tolerance_pct: f64,
) -> Vec<ScenarioResult> {
    let mut out = Vec::new();
    for text in baseline_metrics(report) {
        let Ok(rule) = super::threshold::parse(&text) else {
            continue;
        };
        let (Some(now), Some(then)) = (rule.observe(report), rule.observe(base)) else {
            continue;
        };
        let subject = rule
            .subject
            .clone()
            .unwrap_or_else(|| "all requests".into());
        let (label, unit) = match rule.metric {
            Metric::ErrorRate => ("error rate", "%"),
            Metric::Rps => ("throughput", " req/s"),
            _ => ("p95", "ms"),
        };
        let slack = tolerance_pct / 100.0;
        let passed = match (rule.metric, rule.op) {
            // Error rates: allow the tolerance in percentage points of 1% at least.
            (Metric::ErrorRate, _) => now <= then * (1.0 + slack) + 1.0_f64.max(then * slack),
            (_, op) if op == Op::Gt => now >= then * (1.0 - slack),
            _ => now <= then * (1.0 + slack),
        };
        let change = if then > 0.0 {
            (now - then) / then * 100.0
        } else {
            0.0
        };
        let message = format!(
            "{label} of {subject}: {:.2}{unit} now, {:.2}{unit} in the baseline ({change:+.1}%, tolerance {tolerance_pct}%)",
            now, then
        );
        let slug: String = subject
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        out.push(result(
            format!("{plan_id}/baseline/{}-{slug}", label.replace(' ', "-")),
            format!("baseline: {label} of {subject} within {tolerance_pct}%"),
            file,
            passed,
            message,
            baseline_file,
        ));
    }
    out
}
