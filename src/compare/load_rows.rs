//! The load rows of a comparison: overall and per-request latency percentiles, delivery and
//! wake-up latency, error rate and lost messages of each candidate's load run (all lower is
//! better). Empty when no report carries a load section.

use std::collections::BTreeSet;

use super::LoadRow;
use crate::results::RunReport;
use crate::results::load::LoadReport;

type Pick = Box<dyn Fn(&LoadReport) -> Option<f64>>;

/// Rows for `reports`, in a fixed order.
pub fn rows(reports: &[(String, RunReport)]) -> Vec<LoadRow> {
    let loads: Vec<Option<&LoadReport>> = reports.iter().map(|(_, r)| r.load.as_ref()).collect();
    if loads.iter().all(Option::is_none) {
        return Vec::new();
    }
    let present = |c: u64, v: f64| (c > 0).then_some(v);
    let mut metrics: Vec<(String, &'static str, Pick)> = vec![
        (
            "all requests p50".into(),
            "ms",
            Box::new(move |l: &LoadReport| present(l.all.latency.count, l.all.latency.p50_ms)),
        ),
        (
            "all requests p95".into(),
            "ms",
            Box::new(move |l: &LoadReport| present(l.all.latency.count, l.all.latency.p95_ms)),
        ),
        (
            "all requests p99".into(),
            "ms",
            Box::new(move |l: &LoadReport| present(l.all.latency.count, l.all.latency.p99_ms)),
        ),
        (
            "error rate".into(),
            "%",
            Box::new(move |l: &LoadReport| present(l.all.latency.count, l.all.error_rate_pct)),
        ),
        (
            "delivery p95".into(),
            "ms",
            Box::new(move |l: &LoadReport| {
                present(l.delivery.latency.count, l.delivery.latency.p95_ms)
            }),
        ),
        (
            "delivery p99".into(),
            "ms",
            Box::new(move |l: &LoadReport| {
                present(l.delivery.latency.count, l.delivery.latency.p99_ms)
            }),
        ),
        (
            "lost messages".into(),
            "count",
            Box::new(move |l: &LoadReport| present(l.delivery.sent, l.delivery.lost as f64)),
        ),
        (
            "sync wake-up p95".into(),
            "ms",
            Box::new(move |l: &LoadReport| present(l.sync_wakeup.count, l.sync_wakeup.p95_ms)),
        ),
    ];
    let names: BTreeSet<String> = loads
        .iter()
        .flatten()
        .flat_map(|l| {
            l.requests
                .iter()
                .filter(|r| !r.long_poll)
                .map(|r| r.name.clone())
        })
        .collect();
    for name in names {
        let key = name.clone();
        metrics.push((
            format!("{name} p95"),
            "ms",
            Box::new(move |l: &LoadReport| {
                l.requests
                    .iter()
                    .find(|r| r.name == key)
                    .and_then(|r| present(r.latency.count, r.latency.p95_ms))
            }),
        ));
    }
    metrics
        .into_iter()
        .map(|(metric, unit, pick)| LoadRow {
            metric,
            unit: unit.into(),
            values: loads.iter().map(|l| l.and_then(&pick)).collect(),
        })
        .filter(|row| row.values.iter().any(Option::is_some))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_reports_give_rows_and_others_none() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/load/smoke-report.json"
        ))
        .unwrap();
        let load = crate::report::read_json(&text).unwrap();
        let mut plain = load.clone();
        plain.load = None;
        assert!(rows(&[("a".into(), plain.clone())]).is_empty());
        let r = rows(&[("a".into(), load), ("b".into(), plain)]);
        let send = r
            .iter()
            .find(|x| x.metric == "send p95")
            .expect("a send row");
        assert!(send.values[0].is_some() && send.values[1].is_none());
        assert!(r.iter().any(|x| x.metric == "delivery p95"));
        assert!(!r.iter().any(|x| x.metric.contains("long-poll")));
    }
}
