//! `mxharness load` and `merge` end to end against a real Synapse: the shipped smoke plan
//! passes against the spawned server; a plan with an impossible threshold exits 1; two
//! shards against one shared Synapse merge into one report; bad plans and unsafe targets are
//! refused before anything runs.

mod common;

use std::process::Command;

use common::{cache_dir, describe, junit_counts, mxharness, report, root, tempdir};
use mxharness::target::{SpawnedSynapse, SynapseOptions, ensure_venv};

#[test]
fn smoke_plan_passes_against_the_spawned_synapse() {
    let dir = tempdir();
    let out = mxharness(
        &[
            "load",
            "scenarios/load/smoke.yaml",
            "--report-dir",
            dir.path().to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let (cases, failures, errors, _) = junit_counts(dir.path());
    assert_eq!(
        (cases, failures, errors),
        (5, 0, 0),
        "one testcase per threshold"
    );
    let r = report(dir.path());
    // Testcases are named by their rule, not by their position in the plan.
    assert!(
        r.scenarios
            .iter()
            .any(|s| s.id == "load/smoke/threshold/p95 < 2s for send"),
        "{:?}",
        r.scenarios.iter().map(|s| &s.id).collect::<Vec<_>>()
    );
    let load = r.load.expect("report.json has a load section");
    let send = load
        .requests
        .iter()
        .find(|q| q.name == "send")
        .expect("send was measured");
    assert!(send.latency.count > 0 && send.latency.p95_ms >= send.latency.p50_ms);
    assert!(send.latency.p99_ms >= send.latency.p95_ms);
    assert!(load.delivery.sent > 0, "{:?}", load.delivery);
    assert!(load.delivery.latency.count > 0, "{:?}", load.delivery);
    assert_eq!(load.delivery.lost, 0);
    // Long-polls are measured but kept out of the all-request figures.
    let polls = load
        .requests
        .iter()
        .filter(|q| q.long_poll)
        .map(|q| q.latency.count)
        .sum::<u64>();
    assert!(polls > 0);
    let non_polls = load
        .requests
        .iter()
        .filter(|q| !q.long_poll)
        .map(|q| q.latency.count)
        .sum::<u64>();
    assert_eq!(load.all.latency.count, non_polls);
    // The federation persona sends on the spawned hs1 and reads on the spawned hs2.
    let federation = load.federation.expect("federation delivery was measured");
    assert!(federation.sent > 0, "{federation:?}");
    assert!(federation.latency.count > 0, "{federation:?}");
    assert!(
        dir.path().join("homeserver2.log").exists(),
        "the second Synapse's log is kept beside the reports"
    );
    for f in ["report.html", "report.md"] {
        let text = std::fs::read_to_string(dir.path().join(f)).unwrap();
        assert!(
            text.contains("Delivery latency"),
            "{f} shows the load section"
        );
    }
    // `report` re-renders a load report.
    let html = dir.path().join("again.html");
    let out = mxharness(
        &[
            "report",
            dir.path().join("report.json").to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(std::fs::read_to_string(html).unwrap().contains("<svg"));
}

fn load_cmd(args: &[&str], target: &str, secret: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mxharness"));
    cmd.current_dir(root())
        .arg("load")
        .args(args)
        .args(["--target", target])
        .env("MXH_CACHE_DIR", cache_dir())
        .env("MXH_REGISTRATION_SHARED_SECRET", secret)
        .env_remove("MXH_TARGET");
    cmd
}

/// One Synapse shared by the impossible-threshold run and the two shards.
#[tokio::test(flavor = "multi_thread")]
async fn thresholds_fail_and_shards_merge_against_one_synapse() {
    let opts = SynapseOptions {
        cache_dir: cache_dir(),
        log_path: cache_dir()
            .join("logs")
            .join(format!("load-{}.log", std::process::id())),
        ..SynapseOptions::default()
    };
    ensure_venv(&opts).await.unwrap_or_else(|e| panic!("{e}"));
    let synapse = SpawnedSynapse::start(&opts)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let url = synapse.base_url().to_owned();
    let secret = synapse.shared_secret().to_owned();

    // An impossible threshold fails the run with exit 1 and one failed testcase.
    let dir = tempdir();
    let out = load_cmd(
        &[
            "fixtures/load/impossible.yaml",
            "--report-dir",
            dir.path().to_str().unwrap(),
        ],
        &url,
        &secret,
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let (cases, failures, _, _) = junit_counts(dir.path());
    assert_eq!((cases, failures), (2, 1));
    let r = report(dir.path());
    let failed = r
        .scenarios
        .iter()
        .find(|s| s.failure.is_some())
        .expect("a failed threshold");
    assert!(failed.title.contains("p95 < 1us for send"), "{failed:?}");

    // Two shards at once, then the exact merge.
    let (d0, d1, merged) = (tempdir(), tempdir(), tempdir());
    let spawn = |shard: &str, d: &std::path::Path| {
        load_cmd(
            &[
                "fixtures/load/impossible.yaml",
                "--shard",
                shard,
                "--report-dir",
                d.to_str().unwrap(),
            ],
            &url,
            &secret,
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
    };
    let mut a = spawn("0/2", d0.path());
    let mut b = spawn("1/2", d1.path());
    let (sa, sb) = (a.wait().unwrap(), b.wait().unwrap());
    assert_eq!((sa.code(), sb.code()), (Some(1), Some(1)));
    let (r0, r1) = (report(d0.path()), report(d1.path()));
    let (l0, l1) = (r0.load.unwrap(), r1.load.unwrap());
    assert_eq!(l0.shard.as_deref(), Some("0/2"));
    assert_eq!(l0.users + l1.users, 4, "the shards split the population");
    let out = mxharness(
        &[
            "merge",
            d0.path().join("report.json").to_str().unwrap(),
            d1.path().join("report.json").to_str().unwrap(),
            "--report-dir",
            merged.path().to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let m = report(merged.path()).load.unwrap();
    assert_eq!(m.shard.as_deref(), Some("merged 2"));
    assert_eq!(m.users, 4);
    assert_eq!(
        m.all.latency.count,
        l0.all.latency.count + l1.all.latency.count
    );
    let max = l0.all.latency.max_ms.max(l1.all.latency.max_ms);
    assert!((m.all.latency.max_ms - max).abs() < 1e-9);
    assert_eq!(junit_counts(merged.path()).0, 2, "thresholds judged again");

    synapse.stop().await.unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn invalid_plans_are_reported_with_positions() {
    let out = mxharness(&["load", "fixtures/load/invalid.yaml", "--check"], &[]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("fixtures/load/invalid.yaml:12:16"), "{err}");
    assert!(err.contains("did you mean `send`?"), "{err}");
    let out = mxharness(&["validate", "fixtures/load"], &[]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let out = mxharness(&["validate", "scenarios/load"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

#[test]
fn unsafe_runs_are_refused_before_anything_starts() {
    let out = mxharness(
        &[
            "load",
            "scenarios/load/smoke.yaml",
            "--target",
            "https://matrix.example.org",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-remote"));
    let out = mxharness(
        &[
            "load",
            "scenarios/load/smoke.yaml",
            "--target",
            "http://127.0.0.1:9",
            "--max-users",
            "3",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--max-users"));
}
