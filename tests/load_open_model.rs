//! `mxharness load` with open-model arrivals against the spawned Synapse: the shipped
//! open-model smoke plan passes, its report says which model produced each figure, the
//! achieved arrival rates match the intended ones and nothing is dropped.

mod common;

use common::{describe, junit_counts, mxharness, report, tempdir};
use mxharness::results::load::Model;

#[test]
fn open_model_smoke_keeps_its_timetable_against_the_spawned_synapse() {
    let dir = tempdir();
    let out = mxharness(
        &[
            "load",
            "scenarios/load/open-model-smoke.yaml",
            "--report-dir",
            dir.path().to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let (cases, failures, _, _) = junit_counts(dir.path());
    assert_eq!((cases, failures), (4, 0), "one testcase per threshold");
    let load = report(dir.path()).load.expect("a load section");
    // One row per rate: writer's send and typing, joiner's own mix.
    let rows: Vec<(&str, Option<&str>)> = load
        .arrivals
        .iter()
        .map(|a| (a.persona.as_str(), a.action.as_deref()))
        .collect();
    assert_eq!(
        rows,
        [
            ("joiner", None),
            ("writer", Some("send")),
            ("writer", Some("typing"))
        ]
    );
    for a in &load.arrivals {
        assert_eq!(a.dropped, 0, "{a:?}");
        assert_eq!(a.started, a.scheduled, "{a:?}");
        assert!(a.scheduled > 0, "{a:?}");
        let gap = (a.achieved_rps - a.intended_rps).abs() / a.intended_rps;
        assert!(gap < 0.1, "achieved {a:?}");
    }
    let model = |name: &str| {
        load.requests
            .iter()
            .find(|r| r.name == name)
            .map(|r| r.model)
    };
    assert_eq!(model("send"), Some(Model::Open));
    assert_eq!(model("typing"), Some(Model::Open));
    assert_eq!(model("join"), Some(Model::Open));
    assert_eq!(
        model("sync (long-poll)"),
        Some(Model::Closed),
        "long-polls stay closed"
    );
    assert_eq!(
        load.all.model,
        Model::Mixed,
        "open arrivals and the lurkers' initial syncs"
    );
    let send = load.requests.iter().find(|r| r.name == "send").unwrap();
    eprintln!(
        "measured: {} requests, p50 {:.1}ms p95 {:.1}ms (send: {} p50 {:.1}ms p95 {:.1}ms); {}",
        load.all.latency.count,
        load.all.latency.p50_ms,
        load.all.latency.p95_ms,
        send.latency.count,
        send.latency.p50_ms,
        send.latency.p95_ms,
        load.arrivals
            .iter()
            .map(|a| format!(
                "{} {}: intended {}/s achieved {}/s, {} dropped",
                a.persona,
                a.action.as_deref().unwrap_or("(mix)"),
                a.intended_rps,
                a.achieved_rps,
                a.dropped
            ))
            .collect::<Vec<_>>()
            .join("; ")
    );
    for f in ["report.md", "report.html"] {
        let text = std::fs::read_to_string(dir.path().join(f)).unwrap();
        assert!(text.contains("Arrivals (open model)"), "{f}");
    }
    assert!(
        describe(&out).contains("arrivals writer send: intended 4.00/s"),
        "the terminal summary shows the arrivals"
    );
}

#[test]
fn the_load_schema_has_the_arrivals_section() {
    let out = mxharness(&["schema", "--load"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let schema = String::from_utf8_lossy(&out.stdout);
    assert!(
        schema.contains("RawArrivals")
            && schema.contains("max_delay")
            && schema.contains("poisson"),
        "{schema}"
    );
}
