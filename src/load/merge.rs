//! The exact merge of sharded load runs: histograms are added bucket by bucket, so merged
//! percentiles equal those of one run that recorded every sample; counts are summed. The
//! per-second series is approximate (counts summed, percentiles the worst shard's).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::metrics::{
    RequestStats, decode_histogram, encode_histogram, figures, new_histogram, pct, request_figures,
};
use crate::results::load::{DeliveryFigures, LoadReport, RequestFigures, SecondPoint};

fn hist(report: &LoadReport, key: &str) -> Result<Histogram<u64>, String> {
    match report.histograms.get(key) {
        Some(text) => decode_histogram(text).map_err(|e| format!("histogram {key}: {e}")),
        None => Ok(new_histogram()),
    }
}

fn add(into: &mut Histogram<u64>, from: &Histogram<u64>) -> Result<(), String> {
    into.add(from)
        .map_err(|e| format!("cannot add histograms: {e:?}"))
}

fn merge_delivery(parts: &[&DeliveryFigures], h: &Histogram<u64>) -> DeliveryFigures {
    DeliveryFigures {
        latency: figures(h),
        sent: parts.iter().map(|d| d.sent).sum(),
        delivered: parts.iter().map(|d| d.delivered).sum(),
        late: parts.iter().map(|d| d.late).sum(),
        lost: parts.iter().map(|d| d.lost).sum(),
    }
}

/// Merge shard reports of one plan into one.
pub fn merge(reports: &[LoadReport]) -> Result<LoadReport, String> {
    let first = reports.first().ok_or("nothing to merge")?;
    if let Some(other) = reports.iter().find(|r| r.plan != first.plan) {
        return Err(format!(
            "the reports are of different plans ({} and {})",
            first.plan, other.plan
        ));
    }
    if reports.iter().any(|r| r.histograms.is_empty()) {
        return Err("a report carries no histograms (written by an older mxharness?)".into());
    }
    let duration_ms = reports.iter().map(|r| r.duration_ms).max().unwrap_or(0);
    let secs = (duration_ms as f64 / 1000.0).max(0.001);
    let mut histograms = BTreeMap::new();
    let mut merged_hist = |key: &str| -> Result<Histogram<u64>, String> {
        let mut h = new_histogram();
        for r in reports {
            add(&mut h, &hist(r, key)?)?;
        }
        histograms.insert(key.to_owned(), encode_histogram(&h));
        Ok(h)
    };
    // Requests.
    let mut names: BTreeMap<String, (String, bool)> = BTreeMap::new();
    for r in reports {
        for q in &r.requests {
            names
                .entry(q.name.clone())
                .or_insert((q.endpoint.clone(), q.long_poll));
        }
    }
    let mut requests = Vec::new();
    for (name, (endpoint, long_poll)) in &names {
        let h = merged_hist(&format!("request:{name}"))?;
        let parts: Vec<&RequestFigures> = reports
            .iter()
            .filter_map(|r| r.requests.iter().find(|q| &q.name == name))
            .collect();
        let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
        for p in &parts {
            for (k, v) in &p.statuses {
                *statuses.entry(*k).or_insert(0) += v;
            }
        }
        let stats = RequestStats {
            endpoint: endpoint.clone(),
            long_poll: *long_poll,
            hist: h,
            errors: parts.iter().map(|p| p.errors).sum(),
            statuses,
        };
        requests.push(request_figures(name, &stats, secs));
    }
    let all_h = merged_hist("all")?;
    let mut all_statuses: BTreeMap<u16, u64> = BTreeMap::new();
    for r in reports {
        for (k, v) in &r.all.statuses {
            *all_statuses.entry(*k).or_insert(0) += v;
        }
    }
    let all_errors: u64 = reports.iter().map(|r| r.all.errors).sum();
    let all = RequestFigures {
        name: "all".into(),
        endpoint: first.all.endpoint.clone(),
        long_poll: false,
        latency: figures(&all_h),
        errors: all_errors,
        error_rate_pct: pct(all_errors, all_h.len()),
        rps: all_h.len() as f64 / secs,
        statuses: all_statuses,
    };
    let delivery_h = merged_hist("delivery")?;
    let delivery = merge_delivery(
        &reports.iter().map(|r| &r.delivery).collect::<Vec<_>>(),
        &delivery_h,
    );
    let wakeup_h = merged_hist("sync_wakeup")?;
    let fed_parts: Vec<&DeliveryFigures> = reports
        .iter()
        .filter_map(|r| r.federation.as_ref())
        .collect();
    let federation = if fed_parts.is_empty() {
        None
    } else {
        let h = merged_hist("federation")?;
        Some(merge_delivery(&fed_parts, &h))
    };
    let mut series: Vec<SecondPoint> = Vec::new();
    for r in reports {
        for p in &r.series {
            let i = usize::try_from(p.t).unwrap_or(usize::MAX).min(24 * 3600);
            if series.len() <= i {
                series.resize_with(i + 1, SecondPoint::default);
            }
            let s = &mut series[i];
            s.t = p.t;
            s.requests += p.requests;
            s.errors += p.errors;
            s.users += p.users;
            s.p50_ms = s.p50_ms.max(p.p50_ms);
            s.p95_ms = s.p95_ms.max(p.p95_ms);
            s.p99_ms = s.p99_ms.max(p.p99_ms);
            s.delivery_p95_ms = s.delivery_p95_ms.max(p.delivery_p95_ms);
        }
    }
    let mut personas: BTreeMap<String, usize> = BTreeMap::new();
    for r in reports {
        for (k, v) in &r.personas {
            *personas.entry(k.clone()).or_insert(0) += v;
        }
    }
    let mut notes: Vec<String> = reports
        .iter()
        .flat_map(|r| r.notes.iter().cloned())
        .collect();
    notes.sort();
    notes.dedup();
    notes.push("per-second percentiles of a merged run are the worst shard's".into());
    Ok(LoadReport {
        plan: first.plan.clone(),
        plan_file: first.plan_file.clone(),
        seed: first.seed,
        shard: Some(format!("merged {}", reports.len())),
        users: reports.iter().map(|r| r.users).sum(),
        rooms: reports.iter().map(|r| r.rooms).sum(),
        personas,
        profile_ms: first.profile_ms,
        setup_ms: reports.iter().map(|r| r.setup_ms).max().unwrap_or(0),
        duration_ms,
        interrupted: reports.iter().any(|r| r.interrupted),
        all,
        requests,
        delivery,
        sync_wakeup: figures(&wakeup_h),
        federation,
        series,
        notes,
        histograms,
        capacity: None,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::load::metrics::Recorder;

    fn report_of(r: &Recorder) -> LoadReport {
        let s = r.snapshot(Duration::from_secs(10));
        LoadReport {
            plan: "load/t".into(),
            plan_file: "t.yaml".into(),
            seed: 1,
            shard: None,
            users: 1,
            rooms: 1,
            personas: BTreeMap::new(),
            profile_ms: [0, 10_000, 0],
            setup_ms: 0,
            duration_ms: 10_000,
            interrupted: false,
            all: s.all,
            requests: s.requests,
            delivery: DeliveryFigures {
                latency: s.delivery,
                ..Default::default()
            },
            sync_wakeup: s.wakeup,
            federation: None,
            series: Vec::new(),
            notes: Vec::new(),
            histograms: s.histograms,
            capacity: None,
        }
    }

    #[test]
    fn merging_split_samples_equals_recording_them_all() {
        let (a, b, one) = (Recorder::new(), Recorder::new(), Recorder::new());
        // A skewed, deterministic sample set split unevenly.
        for i in 0..5000u64 {
            let us = 200 + (i * i * 7919) % 250_000;
            let d = Duration::from_micros(us);
            let ok = i % 97 != 0;
            let half = if i % 3 == 0 { &a } else { &b };
            half.request(
                "send",
                "PUT /send",
                false,
                d,
                Some(if ok { 200 } else { 500 }),
                ok,
            );
            one.request(
                "send",
                "PUT /send",
                false,
                d,
                Some(if ok { 200 } else { 500 }),
                ok,
            );
            if i % 5 == 0 {
                half.delivery(d * 3);
                one.delivery(d * 3);
            }
        }
        let merged = merge(&[report_of(&a), report_of(&b)]).unwrap();
        let whole = report_of(&one);
        assert_eq!(merged.all, whole.all);
        assert_eq!(merged.requests, whole.requests);
        assert_eq!(merged.delivery.latency, whole.delivery.latency);
        assert_eq!(
            merged.histograms.get("request:send"),
            whole.histograms.get("request:send")
        );
    }

    #[test]
    fn refuses_reports_of_different_plans() {
        let mut x = report_of(&Recorder::new());
        let y = x.clone();
        x.plan = "load/other".into();
        assert!(merge(&[x, y]).unwrap_err().contains("different plans"));
    }
}
