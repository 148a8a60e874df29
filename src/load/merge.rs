//! The exact merge of sharded load runs: histograms are added bucket by bucket, so merged
//! percentiles equal those of one run that recorded every sample; counts are summed. The
//! per-second series is approximate (counts summed, percentiles the worst shard's).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::metrics::{
    RequestStats, decode_histogram, encode_histogram, figures, new_histogram, pct, request_figures,
};
use crate::results::load::{
    ArrivalFigures, DeliveryFigures, LoadReport, Model, RequestFigures, ScenarioActionFigures,
    SecondPoint,
};

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
    let mut models: BTreeMap<String, Model> = BTreeMap::new();
    for r in reports {
        for q in &r.requests {
            names
                .entry(q.name.clone())
                .or_insert((q.endpoint.clone(), q.long_poll));
            models
                .entry(q.name.clone())
                .and_modify(|m| *m = m.join(q.model))
                .or_insert(q.model);
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
            model: models.get(name).copied(),
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
        model: reports
            .iter()
            .filter(|r| r.all.latency.count > 0)
            .map(|r| r.all.model)
            .reduce(Model::join)
            .unwrap_or_default(),
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
        arrivals: merge_arrivals(reports),
        series,
        notes,
        histograms,
        capacity: None,
        scenario_actions: merge_scenario_actions(reports),
    })
}

/// The shards' scenario actions by persona and action: counts summed, the first sample kept.
fn merge_scenario_actions(reports: &[LoadReport]) -> Vec<ScenarioActionFigures> {
    let mut rows: BTreeMap<(String, String), ScenarioActionFigures> = BTreeMap::new();
    for a in reports.iter().flat_map(|r| &r.scenario_actions) {
        match rows.get_mut(&(a.persona.clone(), a.action.clone())) {
            None => {
                rows.insert((a.persona.clone(), a.action.clone()), a.clone());
            }
            Some(row) => {
                row.iterations += a.iterations;
                row.passed += a.passed;
                for (k, n) in &a.errors {
                    *row.errors.entry(k.clone()).or_insert(0) += n;
                }
                if row.sample.is_none() {
                    row.sample = a.sample.clone();
                }
                if row.skipped.is_none() {
                    row.skipped = a.skipped.clone();
                }
            }
        }
    }
    rows.into_values().collect()
}

/// The shards' arrivals by persona and action: counts and intended rates summed (each shard
/// ran its share of the plan's rate), the achieved rate recomputed over the longest window.
fn merge_arrivals(reports: &[LoadReport]) -> Vec<ArrivalFigures> {
    let mut rows: BTreeMap<(String, Option<String>), ArrivalFigures> = BTreeMap::new();
    for a in reports.iter().flat_map(|r| &r.arrivals) {
        let row = rows
            .entry((a.persona.clone(), a.action.clone()))
            .or_insert_with(|| ArrivalFigures {
                intended_rps: 0.0,
                scheduled: 0,
                started: 0,
                dropped: 0,
                window_ms: 0,
                ..a.clone()
            });
        row.intended_rps = ((row.intended_rps + a.intended_rps) * 1000.0).round() / 1000.0;
        row.scheduled += a.scheduled;
        row.started += a.started;
        row.dropped += a.dropped;
        row.window_ms = row.window_ms.max(a.window_ms);
    }
    rows.into_values()
        .map(|mut a| {
            let secs = (a.window_ms as f64 / 1000.0).max(0.001);
            a.achieved_rps = (a.started as f64 / secs * 1000.0).round() / 1000.0;
            a
        })
        .collect()
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
            arrivals: Vec::new(),
            series: Vec::new(),
            notes: Vec::new(),
            histograms: s.histograms,
            capacity: None,
            scenario_actions: Vec::new(),
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
    fn arrivals_and_models_merge_across_shards() {
        let (a, b) = (Recorder::new(), Recorder::new());
        let ms = Duration::from_millis;
        a.open_request("send", "PUT /send", ms(3), Some(200), true);
        b.open_request("send", "PUT /send", ms(4), Some(200), true);
        b.request("typing", "PUT /typing", false, ms(4), Some(200), true);
        let row = |intended_rps, started, dropped| ArrivalFigures {
            persona: "writer".into(),
            action: Some("send".into()),
            spacing: "uniform".into(),
            max_delay_ms: 1000,
            window_ms: 10_000,
            intended_rps,
            achieved_rps: started as f64 / 10.0,
            scheduled: started + dropped,
            started,
            dropped,
        };
        let (mut ra, mut rb) = (report_of(&a), report_of(&b));
        ra.arrivals = vec![row(5.0, 50, 0)];
        rb.arrivals = vec![row(5.0, 45, 5)];
        let merged = merge(&[ra.clone(), rb]).unwrap();
        assert_eq!(merged.arrivals, vec![row(10.0, 95, 5)]);
        let model = |name: &str| {
            merged
                .requests
                .iter()
                .find(|q| q.name == name)
                .map(|q| q.model)
        };
        assert_eq!(model("send"), Some(Model::Open));
        assert_eq!(model("typing"), Some(Model::Closed));
        assert_eq!(
            merged.all.model,
            Model::Mixed,
            "open in one shard, mixed in the other"
        );
        assert_eq!(merge(&[ra.clone(), ra]).unwrap().all.model, Model::Open);
    }

    #[test]
    fn refuses_reports_of_different_plans() {
        let mut x = report_of(&Recorder::new());
        let y = x.clone();
        x.plan = "load/other".into();
        assert!(merge(&[x, y]).unwrap_err().contains("different plans"));
    }
}
