//! The command line without a server: validation diagnostics, exit codes, schema, listing.

mod common;

use common::{describe, mxharness};

#[test]
fn validate_reports_file_line_col_and_exits_3() {
    let out = mxharness(&["validate", "fixtures/scenarios/invalid/typos.yaml"], &[]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("fixtures/scenarios/invalid/typos.yaml:13:5: error: unknown key `cal`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `call`?"), "{stderr}");
}

#[test]
fn validate_accepts_the_shipped_suite() {
    let out = mxharness(&["validate"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

#[test]
fn every_listed_check_has_a_level_and_a_basis() {
    // The shipped scenarios and the gateway checks, as `list --format json` shows them.
    for args in [
        &["list", "--format", "json"][..],
        &["list", "scenarios/gateway", "--format", "json"][..],
    ] {
        let out = mxharness(args, &[]);
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        let items: Vec<serde_json::Value> =
            serde_json::from_slice(&out.stdout).expect("list prints JSON");
        assert!(items.len() >= 50, "{args:?}: only {} checks", items.len());
        for item in &items {
            let level = item["level"].as_str().unwrap_or_default();
            assert!(
                ["must", "should", "may", "policy"].contains(&level),
                "{}: level {level:?}",
                item["id"]
            );
            assert!(
                item["basis"].as_str().is_some_and(|b| !b.trim().is_empty()),
                "{}: no basis",
                item["id"]
            );
        }
    }
}

#[test]
fn nothing_selected_exits_4() {
    let out = mxharness(&["run", "--filter", "area:no-such-area"], &[]);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
}

#[test]
fn bad_usage_exits_2() {
    let out = mxharness(&["run", "--jobs", "many"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
}

#[test]
fn unreachable_target_exits_5() {
    // A port nothing listens on: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let out = mxharness(
        &[
            "run",
            "--target",
            &url,
            "--filter",
            "area:discovery",
            "--report-dir",
            "target/tmp-unreachable",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&url),
        "{}",
        describe(&out)
    );
}

#[test]
fn schema_is_json_for_editors() {
    let out = mxharness(&["schema"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(schema["properties"]["steps"]["type"], "array");
}

#[test]
fn list_json_names_every_scenario() {
    let out = mxharness(
        &["list", "--format", "json", "--filter", "area:messaging"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let items: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(!items.is_empty());
    assert!(items.iter().all(|i| i["area"] == "messaging"));
}

#[test]
fn unknown_profile_is_a_usage_error() {
    let out = mxharness(&["run", "--profile", "matrix-v9.9"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("known profiles: matrix-v1.1,"),
        "{}",
        describe(&out)
    );
}

#[test]
fn report_re_renders_a_saved_report_identically() {
    let dir = common::tempdir();
    let html = dir.path().join("r.html");
    let md = dir.path().join("r.md");
    let out = mxharness(
        &[
            "report",
            "fixtures/reports/run-report.json",
            "--html",
            &html.display().to_string(),
            "--markdown",
            &md.display().to_string(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let report: mxharness::results::RunReport = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("fixtures/reports/run-report.json"))
            .expect("fixture"),
    )
    .expect("parses");
    assert_eq!(
        std::fs::read_to_string(&html).expect("html"),
        mxharness::report::render_html(&report)
    );
    assert_eq!(
        std::fs::read_to_string(&md).expect("md"),
        mxharness::report::render_markdown(&report)
    );
    let out = mxharness(&["report", "Cargo.toml"], &[]);
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
}

#[test]
fn coverage_counts_checklist_behaviours_and_flags_unknown_ids() {
    let out = mxharness(&["coverage"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let total = stdout
        .lines()
        .find_map(|l| l.strip_prefix("behaviours covered: "))
        .expect("a total line");
    assert!(total.contains("/548"), "{total}");
    let covered: usize = total
        .split('/')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count");
    assert!(covered > 250, "{total}");
    // Operations are counted against the spec's own table (the oracle), per API.
    let ops = stdout
        .lines()
        .find(|l| l.starts_with("operations client-server"))
        .expect("an operations line");
    let exercised: usize = ops
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.split('/').next())
        .and_then(|n| n.parse().ok())
        .expect("a count");
    assert!(exercised > 80, "{ops}");
    assert!(stdout.contains("operations server-server"), "{stdout}");
    // Per area, behaviours and the area's spec operations side by side; then per version.
    let sync = stdout
        .lines()
        .find(|l| l.starts_with("CS-SYNC "))
        .expect("a CS-SYNC row");
    assert_eq!(sync.matches('/').count(), 2, "{sync}");
    assert!(stdout.contains("\nby spec version"), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("v1.1 ")), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("v1.19 ")), "{stdout}");
    assert!(stdout.contains("operations not exercised ("), "{stdout}");
    // The shipped suite has no mistyped behaviour IDs...
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("warning: tag"),
        "{}",
        describe(&out)
    );
    // ...and a mistyped one is named with its scenario.
    let out = mxharness(
        &[
            "coverage",
            "fixtures/scenarios/coverage",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("tag CS-CAPZ-01 looks like a behaviour ID")
            && stderr.contains("fixture/coverage/typo-tag"),
        "{stderr}"
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["covered"], 1);
    assert_eq!(json["total"], 548);
    let apis = json["operations"]["apis"]
        .as_array()
        .expect("operations per API");
    assert!(
        apis.iter().any(|a| a["api"] == "client-server"
            && a["missing"].as_array().is_some_and(|m| !m.is_empty()))
    );
    // The coverage map: areas, versions and the missing operations with their reasons.
    let map = &json["map"];
    let sync = map["areas"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["area"] == "CS-SYNC"))
        .expect("a CS-SYNC area");
    assert!(
        sync["operations"]["total"].as_u64().is_some_and(|t| t > 0),
        "{sync}"
    );
    assert_eq!(map["versions"].as_array().map(Vec::len), Some(19), "{map}");
    let missing = map["missing"].as_array().expect("missing operations");
    assert!(!missing.is_empty() && missing.iter().all(|m| m.get("reason").is_some()));
}

/// `mxharness list | head -1`: the reader goes away after one line; the listing ends quietly
/// with exit 0 (no panic message, no death by SIGPIPE).
#[test]
fn a_closed_stdout_ends_a_listing_quietly() {
    use std::io::{BufRead, Read};
    for args in [
        &["list"][..],
        &["list", "--format", "json"][..],
        &["schema"][..],
    ] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mxharness"))
            .current_dir(common::root())
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the mxharness binary starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut first = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut first)
            .expect("one line");
        // The reader is dropped here: the rest of the listing meets a closed pipe.
        assert!(!first.is_empty(), "{args:?}");
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut stderr);
        }
        let status = child.wait().expect("wait");
        assert_eq!(status.code(), Some(0), "{args:?}: {status:?}\n{stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn every_operation_not_exercised_has_a_reason() {
    // Issue 12: every spec operation is exercised, or coverage says why not
    // (src/plan/operations_reasons.tsv).
    let out = mxharness(&["coverage", "--uncovered"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let bare: Vec<&str> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("not exercised: ") && !l.ends_with(')'))
        .collect();
    assert!(bare.is_empty(), "operations with no reason: {bare:#?}");
    let reasons = std::fs::read_to_string("src/plan/operations_reasons.tsv").expect("reasons");
    let listed: Vec<&str> = reasons
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t').map(|(op, _)| op))
        .collect();
    let stale: Vec<&&str> = listed
        .iter()
        .filter(|op| !stdout.contains(&format!("not exercised: {op}  (")))
        .collect();
    assert!(
        stale.is_empty(),
        "reasons for operations that are exercised or unknown (delete them): {stale:?}"
    );
}
