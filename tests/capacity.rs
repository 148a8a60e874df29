//! `mxharness capacity` end to end: the shipped smoke plan brackets a capacity against the
//! spawned Synapse and report.json carries it; a plan without `capacity:` is refused.

mod common;

use common::{describe, junit_counts, mxharness, report, tempdir};

#[test]
fn capacity_smoke_brackets_a_capacity_against_the_spawned_synapse() {
    let dir = tempdir();
    let out = mxharness(
        &[
            "capacity",
            "scenarios/load/capacity-smoke.yaml",
            "--report-dir",
            dir.path().to_str().unwrap(),
        ],
        &[],
    );
    let r = report(dir.path());
    let cap = r
        .load
        .as_ref()
        .and_then(|l| l.capacity.clone())
        .expect("report.json has a capacity section");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&cap.answer), "{}", describe(&out));
    assert!(!cap.steps.is_empty());
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(
        html.contains("<h2>Capacity</h2>"),
        "the HTML report shows the search"
    );
    match cap.found {
        Some(found) => {
            assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
            assert_eq!(cap.low, Some(found));
            let held = cap.steps.iter().any(|s| s.users == found && s.held);
            assert!(held, "the found population held: {cap:?}");
            if let Some(high) = cap.high {
                assert!(high > found, "{cap:?}");
                if cap.ending == "bracketed" {
                    assert!(high - found <= 2, "bisected to the resolution: {cap:?}");
                }
                assert!(cap.limiting.is_some(), "{cap:?}");
            } else {
                assert_eq!(cap.ending, "holds at the cap");
            }
            // One testcase per threshold, at the found capacity, all passing.
            assert_eq!(junit_counts(dir.path()).0, 3);
            assert_eq!(r.load.as_ref().map(|l| l.users), Some(found));
        }
        // A machine too loaded to carry even two users: exit 1 and say so.
        None => {
            assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
            assert!(cap.answer.starts_with("no capacity"), "{cap:?}");
        }
    }
}

#[test]
fn a_plan_without_a_capacity_section_is_refused() {
    let out = mxharness(&["capacity", "scenarios/load/smoke.yaml", "--check"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no `capacity:` section"));
}

#[test]
fn a_bad_capacity_section_is_reported_at_file_line_col() {
    let out = mxharness(
        &["capacity", "fixtures/load/bad-capacity.yaml", "--check"],
        &[],
    );
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "give `step` or `factor`, not both",
        "max_users 3 is below start 4",
        "hold must be longer than zero",
        "bad-capacity.yaml:13:",
    ] {
        assert!(err.contains(needle), "{needle}: {err}");
    }
}

#[test]
fn the_load_schema_has_the_capacity_section() {
    let out = mxharness(&["schema", "--load"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let schema = String::from_utf8_lossy(&out.stdout);
    assert!(
        schema.contains("RawCapacity") && schema.contains("resolution"),
        "{schema}"
    );
}

#[test]
fn compare_shows_capacities_side_by_side() {
    let dir = tempdir();
    let md = dir.path().join("cmp.md");
    let a = "fixtures/load/capacity-report.json";
    let out = mxharness(&["compare", a, a, "--names", "A,B"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("capacity A (best): holds at 6 users, fails at 8")
            && text.contains("capacity B (best): holds at 6 users, fails at 8"),
        "{text}"
    );
    let out = mxharness(
        &[
            "compare",
            a,
            a,
            "--names",
            "A,B",
            "--markdown",
            md.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(
        text.contains("## Capacity") && text.contains("| A (best) | 6 | 8 |"),
        "{text}"
    );
}
