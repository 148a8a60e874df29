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

/// One result per threshold rule, in plan order, named by the rule
/// (`load/smoke/threshold/p95 < 2s for send`): a JUnit reader sees which rule failed
/// without opening the plan. A rule written twice gets ` (2)`, ` (3)`, ... so ids stay unique.
pub fn thresholds(
    plan_id: &str,
    file: &str,
    rules: &[(Rule, String)],
    report: &LoadReport,
) -> Vec<ScenarioResult> {
    let mut seen: std::collections::BTreeMap<String, usize> = Default::default();
    rules
        .iter()
        .map(|(rule, location)| {
            let v = rule.judge(report);
            let name = rule.text.split_whitespace().collect::<Vec<_>>().join(" ");
            let n = seen.entry(name.clone()).or_insert(0);
            *n += 1;
            let name = if *n > 1 {
                format!("{name} ({n})")
            } else {
                name
            };
            result(
                format!("{plan_id}/threshold/{name}"),
                format!("threshold: {}", rule.text),
                file,
                v.passed,
                v.message,
                location,
            )
        })
        .chain(scenario_actions(plan_id, file, report))
        .collect()
}

/// One result per persona's `scenario:` action, after the thresholds: failed when an
/// iteration failed (the first failure, with its transcript, is the failure shown), or
/// when none finished; skipped when the conformance run would skip the scenario here.
pub fn scenario_actions(plan_id: &str, file: &str, report: &LoadReport) -> Vec<ScenarioResult> {
    report
        .scenario_actions
        .iter()
        .map(|a| {
            let target = a
                .action
                .trim_start_matches(super::scenario_ref::PREFIX)
                .trim();
            let mut r = ScenarioResult::new(
                format!("{plan_id}/{}/scenario/{target}", a.persona),
                format!("persona {} runs {}", a.persona, a.action),
                AREA,
                file,
            );
            r.tags = vec!["load".into(), "scenario-action".into()];
            let kinds = a
                .errors
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", ");
            let observed = format!(
                "{} of {} iterations failed{}",
                a.failed(),
                a.iterations,
                if kinds.is_empty() {
                    String::new()
                } else {
                    format!(" ({kinds})")
                }
            );
            r.properties.insert("observed".into(), observed.clone());
            if let Some(why) = &a.skipped {
                r.outcome = Outcome::Skipped;
                r.skip_reason = Some(why.clone());
                return r;
            }
            let failure = match &a.sample {
                _ if a.iterations == 0 => Some(Failure {
                    kind: "scenario".into(),
                    ..Failure::setup(
                        a.file.clone(),
                        format!("no iterations of {} finished", a.action),
                    )
                }),
                Some(sample) if a.failed() > 0 => Some(Failure {
                    kind: super::scenario_run::error_kind(&sample.kind).to_owned(),
                    message: format!(
                        "{observed}; first: step {}: {}",
                        sample.step, sample.message
                    ),
                    ..sample.clone()
                }),
                _ => None,
            };
            if let Some(f) = failure {
                r.outcome = Outcome::Failed;
                r.failure = Some(f);
            }
            r
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
            (_, Op::Gt) => now >= then * (1.0 - slack),
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::results::load::{DeliveryFigures, LatencyFigures, RequestFigures};

    fn report(p95: f64, errors_pct: f64, rps: f64) -> LoadReport {
        let lat = LatencyFigures {
            count: 100,
            p50_ms: p95 / 2.0,
            p95_ms: p95,
            p99_ms: p95,
            max_ms: p95,
            mean_ms: p95 / 2.0,
        };
        let fig = |name: &str| RequestFigures {
            name: name.into(),
            endpoint: String::new(),
            long_poll: false,
            model: Default::default(),
            latency: lat.clone(),
            errors: 0,
            error_rate_pct: errors_pct,
            rps,
            statuses: BTreeMap::new(),
        };
        LoadReport {
            plan: "load/t".into(),
            plan_file: "t.yaml".into(),
            seed: 1,
            shard: None,
            users: 1,
            rooms: 1,
            personas: BTreeMap::new(),
            profile_ms: [0, 1000, 0],
            setup_ms: 0,
            duration_ms: 1000,
            interrupted: false,
            all: fig("all"),
            requests: vec![fig("send")],
            delivery: DeliveryFigures {
                latency: lat.clone(),
                sent: 10,
                delivered: 10,
                late: 0,
                lost: 0,
            },
            sync_wakeup: LatencyFigures::default(),
            federation: None,
            arrivals: Vec::new(),
            series: Vec::new(),
            notes: Vec::new(),
            histograms: BTreeMap::new(),
            capacity: None,
            scenario_actions: Vec::new(),
        }
    }

    #[test]
    fn a_regression_past_the_tolerance_fails_and_one_within_passes() {
        let base = report(100.0, 0.0, 50.0);
        let within = baseline(
            "load/t",
            "t.yaml",
            "b.json",
            &report(115.0, 0.5, 45.0),
            &base,
            20.0,
        );
        assert!(within.iter().all(|r| r.failure.is_none()), "{within:#?}");
        let worse = baseline(
            "load/t",
            "t.yaml",
            "b.json",
            &report(130.0, 0.0, 30.0),
            &base,
            20.0,
        );
        let failed: Vec<&str> = worse
            .iter()
            .filter(|r| r.failure.is_some())
            .map(|r| r.id.as_str())
            .collect();
        assert!(
            failed.contains(&"load/t/baseline/p95-all-requests"),
            "{failed:?}"
        );
        assert!(
            failed.contains(&"load/t/baseline/throughput-all-requests"),
            "{failed:?}"
        );
        assert!(failed.contains(&"load/t/baseline/p95-send"), "{failed:?}");
        assert!(
            failed.contains(&"load/t/baseline/p95-delivery"),
            "{failed:?}"
        );
    }

    #[test]
    fn thresholds_without_samples_fail() {
        let mut r = report(100.0, 0.0, 1.0);
        r.requests.clear();
        let rule = crate::load::threshold::parse("p95 < 1s for send").unwrap();
        let out = thresholds("load/t", "t.yaml", &[(rule, "t.yaml:1:1".into())], &r);
        let f = out[0].failure.as_ref().expect("failed");
        assert!(f.message.contains("no samples"), "{}", f.message);
    }

    #[test]
    fn thresholds_are_named_by_their_rule() {
        let r = report(100.0, 0.0, 1.0);
        let rule = |text: &str| {
            (
                crate::load::threshold::parse(text).unwrap(),
                "t.yaml:1:1".to_owned(),
            )
        };
        let rules = [
            rule("p95 < 250ms for send"),
            rule("error-rate <  5%"),
            rule("p95 < 250ms for send"),
        ];
        let ids: Vec<String> = thresholds("load/t", "t.yaml", &rules, &r)
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(
            ids,
            [
                "load/t/threshold/p95 < 250ms for send",
                "load/t/threshold/error-rate < 5%",
                "load/t/threshold/p95 < 250ms for send (2)",
            ]
        );
    }
}
