//! `--filter` is one language in every mode: the same words select the same way in scenario,
//! gateway-check and load-plan listings (a plain word is a substring, a glob is anchored), and
//! `validate` reports a file of no clear kind, or a bad gateway check, at file:line:col.

mod common;

use common::{describe, mxharness};

/// The ids `list PATHS -E FILTER --format json` prints, and its exit code.
fn listed(paths: &[&str], filter: &str) -> (Option<i32>, Vec<String>) {
    let mut args = vec!["list"];
    args.extend_from_slice(paths);
    args.extend_from_slice(&["-E", filter, "--format", "json"]);
    let out = mxharness(&args, &[]);
    let ids = serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout)
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v["id"].as_str().map(str::to_owned))
        .collect();
    (out.status.code(), ids)
}

#[test]
fn the_same_filter_means_the_same_in_every_mode() {
    // A plain word is a substring of the id, whatever the kind of check.
    let (code, ids) = listed(&[], "messaging");
    assert_eq!(code, Some(0));
    assert!(
        !ids.is_empty() && ids.iter().all(|i| i.contains("messaging")),
        "{ids:?}"
    );
    let (code, ids) = listed(&["scenarios/gateway"], "dot-segments");
    assert_eq!(code, Some(0));
    assert!(
        ids.contains(&"gateway/path/dot-segments".to_owned()),
        "{ids:?}"
    );
    assert!(ids.iter().all(|i| i.contains("dot-segments")), "{ids:?}");
    let (code, ids) = listed(&["scenarios/load"], "smoke");
    assert_eq!(code, Some(0));
    assert!(ids.contains(&"load/smoke".to_owned()), "{ids:?}");
    assert!(ids.iter().all(|i| i.contains("smoke")), "{ids:?}");

    // A glob is anchored at both ends, in every mode: `messaging/*` matches no id (they all
    // start with `cs/`), `*/dot-segments` and `load/*` do.
    let (code, _) = listed(&[], "messaging/*");
    assert_eq!(code, Some(4), "an anchored glob selects nothing here");
    let (_, ids) = listed(&["scenarios/gateway"], "*/dot-segments");
    assert_eq!(ids, vec!["gateway/path/dot-segments".to_owned()]);
    let (code, _) = listed(&["scenarios/gateway"], "path/*");
    assert_eq!(code, Some(4));
    let (_, all) = listed(&["scenarios/load"], "load/*");
    assert!(all.len() >= 5, "{all:?}");

    // Exact keys: a load plan has no level, so `level:` never selects one.
    let (code, _) = listed(&["scenarios/load"], "level:must");
    assert_eq!(code, Some(4));
    let (_, ids) = listed(&["scenarios/load"], "area:load");
    assert_eq!(ids, all);
}

#[test]
fn validate_gives_positions_for_every_kind_of_mistake() {
    let out = mxharness(
        &[
            "validate",
            "fixtures/gateway/invalid",
            "fixtures/kinds/invalid",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    for want in [
        "fixtures/gateway/invalid/unknown-key.yaml:13:3: error: unknown key `verdikt`",
        "help: did you mean `verdict`?",
        "fixtures/gateway/invalid/bad-value.yaml:9:9: error: expected one of",
        "help: did you mean `denied`?",
        "fixtures/gateway/invalid/wrong-type.yaml:15:11: error: expected a list, found integer",
        "fixtures/kinds/invalid/ambiguous.yaml:9:1: error: ambiguous file kind",
        "fixtures/kinds/invalid/unknown.yaml:3:1: error: cannot tell what kind of file this is",
        "help: did you mean `gateway-check`?",
    ] {
        assert!(err.contains(want), "missing {want:?} in\n{err}");
    }
    let out = mxharness(&["validate", "fixtures/kinds/valid"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}
