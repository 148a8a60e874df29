//! Variation targets (issue 13, point 7): the client-server suite against real Synapses that
//! differ from the default one only in what the spec leaves to the server: a restrictive
//! configuration must give the same MUST verdicts apart from reported capability skips, and
//! an older release judged at the newest spec version it advertises must fail no MUST check
//! that its own expectations file does not explain.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use common::{describe, mxharness, tempdir};
use serde_json::Value;

/// The suite both tests run.
const SUITE: &str = "scenarios/client-server";

/// The spec-legal configuration that says no wherever the spec lets a server say no.
const RESTRICTIVE: &str = "fixtures/synapse/restrictive.yaml";

/// The older release: the newest Synapse that advertises spec v1.9 and no later version
/// (docs/targets.md, "Variation targets").
const OLDER_SYNAPSE: &str = "1.98.0";

/// Its deviations, each re-read against the spec text of the versions it advertises.
const OLDER_EXPECTATIONS: &str = "fixtures/expectations/synapse-1.98.0.yaml";

/// MUST-level scenarios whose outcome may differ under the restrictive configuration for a
/// reason that is the server's, not the harness's, each with that reason. Keep it empty
/// unless a difference has been traced to the server and written down here.
const SERVER_SIDE_DIFFERENCES: &[(&str, &str)] = &[(
    "cs/sync-sections/filter-not-rooms",
    "Synapse leaves a room listed in room.not_rooms under rooms.join only in room version 12 \
     (a known failure of the default run, whose default room version is 12); the restrictive \
     configuration's default room version 10 does not show the bug",
)];

/// Both tests spawn Synapse and run the whole suite: one at a time keeps each within its
/// time budget on a 2-core machine.
static SERIAL: Mutex<()> = Mutex::new(());

/// What the comparison needs of one scenario in report.json.
#[derive(Debug, Clone, PartialEq)]
struct Verdict {
    level: String,
    outcome: String,
    skip_reason: Option<String>,
    spec_since: Option<String>,
    msc: Option<String>,
    /// The expectation kind applied (`known-failure`, …), if any.
    expectation: Option<String>,
    /// First line of the failure message, for the printed differences.
    message: Option<String>,
}

/// Run the suite with `extra` arguments into a fresh report dir; returns the parsed
/// report.json (kept as JSON so the test reads only the fields it compares).
fn run_suite(label: &str, extra: &[&str]) -> (tempfile::TempDir, std::process::Output, Value) {
    let dir = tempdir();
    let report_dir = dir.path().display().to_string();
    let mut args = vec!["run", SUITE, "--jobs", "4", "--report-dir", &report_dir];
    args.extend_from_slice(extra);
    let started = Instant::now();
    let out = mxharness(&args, &[]);
    eprintln!(
        "{label}: `mxharness {}` exited {:?} after {:.1?}",
        args.join(" "),
        out.status.code(),
        started.elapsed()
    );
    let report =
        read_report(dir.path()).unwrap_or_else(|e| panic!("{label}: {e}\n{}", describe(&out)));
    (dir, out, report)
}

fn read_report(dir: &Path) -> Result<Value, String> {
    let path = dir.join("report.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// `scenarios[]` of a report by id.
fn verdicts(report: &Value) -> BTreeMap<String, Verdict> {
    let scenarios = report
        .get("scenarios")
        .and_then(Value::as_array)
        .expect("report.json has a scenarios array");
    scenarios
        .iter()
        .map(|s| {
            let id = text(s, "id").expect("every scenario has an id");
            let verdict = Verdict {
                level: text(s, "level").unwrap_or_else(|| "must".into()),
                outcome: text(s, "outcome").expect("every scenario has an outcome"),
                skip_reason: text(s, "skip_reason"),
                spec_since: text(s, "spec_since"),
                msc: text(s, "msc"),
                expectation: s.get("expectation").and_then(|e| text(e, "kind")),
                message: s
                    .get("failure")
                    .and_then(|f| text(f, "message"))
                    .map(|m| m.lines().next().unwrap_or_default().to_owned()),
            };
            (id, verdict)
        })
        .collect()
}

/// Outcome counts, for the printed figures.
fn counts(verdicts: &BTreeMap<String, Verdict>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for v in verdicts.values() {
        *counts.entry(v.outcome.clone()).or_insert(0) += 1;
    }
    counts
}

/// A skip for a capability the server does not offer (`requires: …` unmet).
fn is_capability_skip(v: &Verdict) -> bool {
    v.outcome == "skipped"
        && v.skip_reason
            .as_deref()
            .is_some_and(|r| r.starts_with("requires "))
}

/// The MUST-level scenarios whose verdict differs between the two runs, one line each.
fn must_differences(
    default: &BTreeMap<String, Verdict>,
    restrictive: &BTreeMap<String, Verdict>,
) -> Vec<String> {
    let mut differences = Vec::new();
    for (id, d) in default {
        if d.level != "must" || SERVER_SIDE_DIFFERENCES.iter().any(|(s, _)| s == id) {
            continue;
        }
        let Some(r) = restrictive.get(id) else {
            differences.push(format!(
                "{id}: {} by default, not run restrictive",
                d.outcome
            ));
            continue;
        };
        if is_capability_skip(r) || r.outcome == d.outcome {
            continue;
        }
        let why = |v: &Verdict| {
            v.message
                .clone()
                .or_else(|| v.skip_reason.clone())
                .unwrap_or_default()
        };
        differences.push(format!(
            "{id}: {} by default{}, {} restrictive ({})",
            d.outcome,
            match why(d) {
                w if w.is_empty() => String::new(),
                w => format!(" ({w})"),
            },
            r.outcome,
            why(r)
        ));
    }
    for (id, r) in restrictive {
        if r.level == "must" && !default.contains_key(id) {
            differences.push(format!(
                "{id}: {} restrictive, not run by default",
                r.outcome
            ));
        }
    }
    differences
}

#[test]
fn restrictive_configuration_gives_the_same_must_verdicts() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    // Each run drives its own single-threaded Synapse: side by side they use both cores.
    let (
        (_default_dir, default_out, default_report),
        (_restrictive_dir, restrictive_out, restrictive_report),
    ) = std::thread::scope(|scope| {
        let default = scope.spawn(|| run_suite("default", &[]));
        let restrictive =
            scope.spawn(|| run_suite("restrictive", &["--synapse-overlay", RESTRICTIVE]));
        (
            default.join().expect("the default run"),
            restrictive.join().expect("the restrictive run"),
        )
    });
    let default = verdicts(&default_report);
    let restrictive = verdicts(&restrictive_report);
    let capability_skips: Vec<&String> = restrictive
        .iter()
        .filter(|(id, v)| {
            is_capability_skip(v) && default.get(*id).is_some_and(|d| !is_capability_skip(d))
        })
        .map(|(id, _)| id)
        .collect();
    eprintln!(
        "default: {} scenarios {:?}; restrictive: {} scenarios {:?}; {} newly skipped for a capability; {:.1?} in all",
        default.len(),
        counts(&default),
        restrictive.len(),
        counts(&restrictive),
        capability_skips.len(),
        started.elapsed()
    );
    for (id, v) in restrictive
        .iter()
        .filter(|(id, _)| capability_skips.contains(id))
    {
        eprintln!(
            "  skipped restrictive: {id} ({}): {}",
            v.level,
            v.skip_reason.as_deref().unwrap_or_default()
        );
    }
    for (id, reason) in SERVER_SIDE_DIFFERENCES {
        let outcome = |v: &BTreeMap<String, Verdict>| v.get(*id).map(|v| v.outcome.clone());
        if outcome(&default) != outcome(&restrictive) {
            eprintln!(
                "  tolerated server-side difference: {id}: {:?} by default, {:?} restrictive ({reason})",
                outcome(&default),
                outcome(&restrictive)
            );
        }
    }
    let differences = must_differences(&default, &restrictive);
    for line in &differences {
        eprintln!("  MUST difference: {line}");
    }
    // Every problem at once, so one run shows all there is to fix.
    let mut problems = Vec::new();
    for (label, out, verdicts) in [
        ("default", &default_out, &default),
        ("restrictive", &restrictive_out, &restrictive),
    ] {
        if out.status.code() != Some(0) {
            problems.push(format!(
                "the {label} run exited {:?} (fixtures/expectations/synapse.yaml applies to both); \
                 failures no expectation covers: {:?}\n--- last lines of its stderr ---\n{}",
                out.status.code(),
                unexpected_failures(verdicts),
                tail(&out.stderr, 30)
            ));
        }
    }
    if capability_skips.is_empty() {
        problems.push(
            "the restrictive configuration turns no capability off: is the overlay applied?".into(),
        );
    }
    if !differences.is_empty() {
        problems.push(format!(
            "{} MUST verdicts differ between the default and the restrictive configuration \
             (apart from capability skips); each is a harness or scenario bug:\n  {}",
            differences.len(),
            differences.join("\n  ")
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// Failed or errored scenarios that no known-failure or quarantine entry covers.
fn unexpected_failures(verdicts: &BTreeMap<String, Verdict>) -> Vec<&String> {
    verdicts
        .iter()
        .filter(|(_, v)| {
            matches!(v.outcome.as_str(), "failed" | "errored")
                && !matches!(
                    v.expectation.as_deref(),
                    Some("known-failure" | "quarantined")
                )
        })
        .map(|(id, _)| id)
        .collect()
}

/// The last `n` lines of a process's output.
fn tail(bytes: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[test]
fn older_release_fails_no_must_check_from_a_later_spec_version() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    // The newest version it advertises is read from the run itself (report.json target),
    // and must be the one the profile names.
    let profile = "matrix-v1.9";
    let (_dir, out, report) = run_suite(
        "older release",
        &[
            "--synapse-version",
            OLDER_SYNAPSE,
            "--profile",
            profile,
            "--expectations",
            OLDER_EXPECTATIONS,
        ],
    );
    let advertised: Vec<String> = report
        .pointer("/target/spec_versions")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let newest = advertised
        .iter()
        .filter_map(|v| v.strip_prefix("v1.").and_then(|m| m.parse::<u32>().ok()))
        .max()
        .unwrap_or_else(|| panic!("no v1.N in /versions: {advertised:?}\n{}", describe(&out)));
    assert_eq!(
        format!("matrix-v1.{newest}"),
        profile,
        "Synapse {OLDER_SYNAPSE} advertises {advertised:?}: run it with the profile of its newest version"
    );
    assert_eq!(
        report
            .pointer("/target/server_version")
            .and_then(Value::as_str),
        Some(format!("Synapse {OLDER_SYNAPSE}").as_str()),
        "the run targets the older release"
    );

    let all = verdicts(&report);
    let version = (1, newest);
    let mandatory: BTreeMap<&String, &Verdict> = all
        .iter()
        .filter(|(_, v)| {
            v.level == "must"
                && v.msc.is_none()
                && v.spec_since
                    .as_deref()
                    .and_then(parse_version)
                    .is_some_and(|since| since <= version)
        })
        .collect();
    let later: Vec<&String> = all
        .iter()
        .filter(|(_, v)| {
            v.spec_since
                .as_deref()
                .and_then(parse_version)
                .is_some_and(|since| since > version)
        })
        .map(|(id, _)| id)
        .collect();
    let failing_unlisted: Vec<String> = mandatory
        .iter()
        .filter(|(_, v)| {
            matches!(v.outcome.as_str(), "failed" | "errored")
                && v.expectation.as_deref() != Some("known-failure")
        })
        .map(|(id, v)| {
            format!(
                "{id} (since {}): {} {}",
                v.spec_since.as_deref().unwrap_or("?"),
                v.outcome,
                v.message.as_deref().unwrap_or_default()
            )
        })
        .collect();
    let not_checked: Vec<String> = mandatory
        .iter()
        .filter(|(_, v)| matches!(v.outcome.as_str(), "blocked" | "unsupported"))
        .map(|(id, v)| {
            format!(
                "{id}: {} {}",
                v.outcome,
                v.message.as_deref().unwrap_or_default()
            )
        })
        .collect();
    eprintln!(
        "Synapse {OLDER_SYNAPSE} at {profile}: {} scenarios {:?}, {} mandatory ({} passed), profile {}; {:.1?}",
        all.len(),
        counts(&all),
        mandatory.len(),
        mandatory.values().filter(|v| v.outcome == "passed").count(),
        report
            .get("profile")
            .map(Value::to_string)
            .unwrap_or_default(),
        started.elapsed()
    );
    for line in &not_checked {
        eprintln!("  mandatory but not checked: {line}");
    }
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "the run did not complete\n{}",
        describe(&out)
    );
    assert!(
        later.is_empty(),
        "{profile} selected scenarios from later spec versions: {later:?}"
    );
    assert!(
        mandatory.len() >= 100,
        "only {} mandatory scenarios at {profile}",
        mandatory.len()
    );
    assert!(
        failing_unlisted.is_empty(),
        "{} mandatory scenarios fail on Synapse {OLDER_SYNAPSE} at {profile} without an entry in \
         {OLDER_EXPECTATIONS}: each is either a deviation of that release (list it with the spec \
         text it breaks) or a scenario whose `since` is earlier than the behaviour it relies on:\n  {}",
        failing_unlisted.len(),
        failing_unlisted.join("\n  ")
    );
}

/// `1.9` → (1, 9).
fn parse_version(v: &str) -> Option<(u32, u32)> {
    let (major, minor) = v.trim_start_matches('v').split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}
