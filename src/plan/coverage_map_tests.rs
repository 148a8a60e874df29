//! The coverage map on a small fixed oracle, checklist and set of scenarios.

use super::*;

fn op(api: &str, method: &str, path: &str, since: Option<&str>, until: Option<&str>) -> String {
    let msc = if api == "msc4186" { "\"4186\"" } else { "null" };
    let since = since.map_or("null".to_owned(), |s| format!("\"{s}\""));
    let until = until.map_or("null".to_owned(), |s| format!("\"{s}\""));
    format!(
        r#"{{"api":"{api}","method":"{method}","path":"{path}","operation_id":"x","msc":{msc},
        "since":{since},"until":{until},"deprecated_since":null,"parameters":[],
        "request_fields":[],"responses":[],"errcodes_in_description":[]}}"#
    )
}

/// Three versions; six spec operations (one removed after v1.2, one added at v1.3, two
/// without an area in the table) and one of an MSC.
pub(crate) fn small_oracle() -> Oracle {
    let ops = [
        op(
            "client-server",
            "GET",
            "/_matrix/client/v3/sync",
            Some("1.1"),
            None,
        ),
        op(
            "client-server",
            "POST",
            "/_matrix/client/v3/register",
            Some("1.1"),
            None,
        ),
        op(
            "client-server",
            "GET",
            "/_matrix/client/v3/old",
            Some("1.1"),
            Some("1.2"),
        ),
        op(
            "client-server",
            "GET",
            "/_matrix/client/v1/new",
            Some("1.3"),
            None,
        ),
        op(
            "server-server",
            "PUT",
            "/_matrix/federation/v1/send/{txnId}",
            Some("1.1"),
            None,
        ),
        op(
            "server-server",
            "GET",
            "/_matrix/federation/v1/version",
            Some("1.1"),
            None,
        ),
        op("msc4186", "POST", "/_matrix/client/v4/sync", None, None),
    ];
    let json = format!(
        r#"{{"provenance":{{}},"versions":["1.1","1.2","1.3"],"room_versions":[],
        "common_errcodes":[],"operations":[{}]}}"#,
        ops.join(",")
    );
    serde_json::from_str(&json).expect("the small oracle parses")
}

fn b(id: &str) -> Behaviour {
    Behaviour {
        id: id.into(),
        area: id
            .rsplit_once('-')
            .map(|(a, _)| a.to_owned())
            .unwrap_or_default(),
        level: "MUST".into(),
        text: String::new(),
    }
}

fn area(id: &str) -> Option<&'static str> {
    match id {
        "GET /_matrix/client/v3/sync" | "POST /_matrix/client/v4/sync" => Some("CS-SYNC"),
        "POST /_matrix/client/v3/register" => Some("CS-REG"),
        "PUT /_matrix/federation/v1/send/{txnId}" => Some("FED-TXN"),
        _ => None,
    }
}

fn reason(id: &str) -> Option<&'static str> {
    (id == "POST /_matrix/client/v3/register").then_some("needs a registration token")
}

fn facts(since: Option<Version>, tags: &[&str], ops: &[&str]) -> ScenarioFacts {
    ScenarioFacts {
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        since,
        operations: ops.iter().map(|o| (*o).to_owned()).collect(),
    }
}

/// The map of the fixed input: two scenarios at v1.1 and v1.3, one of an MSC only.
pub(crate) fn small_map() -> CoverageMap {
    let checklist = [
        b("CS-REG-01"),
        b("CS-SYNC-01"),
        b("CS-SYNC-02"),
        b("FED-TXN-01"),
    ];
    let tables = Tables {
        checklist: &checklist,
        area,
        reason,
    };
    let scenarios = [
        facts(
            Some((1, 1)),
            &["CS-SYNC-01", "must"],
            &["GET /_matrix/client/v3/sync"],
        ),
        facts(
            Some((1, 3)),
            &["FED-TXN-01"],
            &[
                "PUT /_matrix/federation/v1/send/{txnId}",
                "GET /_matrix/client/v1/new",
            ],
        ),
        facts(None, &["CS-SYNC-02"], &["POST /_matrix/client/v4/sync"]),
    ];
    CoverageMap::build(&small_oracle(), tables, &scenarios)
}

#[test]
fn areas_put_behaviours_and_operations_side_by_side() {
    let map = small_map();
    assert_eq!(map.spec_version, "v1.3");
    let row = |a: &str| map.areas.iter().find(|r| r.area == a).cloned().unwrap();
    let r = |covered, total| Ratio { covered, total };
    assert_eq!(row("CS-SYNC").behaviours, r(2, 2));
    // The MSC's sync is not a spec operation: only v3/sync counts.
    assert_eq!(row("CS-SYNC").operations, r(1, 1));
    assert_eq!(row("CS-REG").operations, r(0, 1));
    // An operation with no area in the table counts under CS-OTHER; a removed one not at all.
    assert_eq!(row("CS-OTHER").operations, r(1, 1));
    assert_eq!(row("CS-OTHER").behaviours, r(0, 0));
    assert_eq!(row("FED-OTHER").operations, r(0, 1));
    assert_eq!(map.operations, r(3, 5));
    assert_eq!(map.behaviours, r(3, 4));
}

#[test]
fn versions_count_added_and_current_operations_and_cumulative_behaviours() {
    let map = small_map();
    let v: Vec<_> = map.versions.iter().map(|v| v.version.as_str()).collect();
    assert_eq!(v, ["v1.1", "v1.2", "v1.3"]);
    let v11 = &map.versions[0];
    assert_eq!(
        (v11.operations_added.covered, v11.operations_added.total),
        (2, 5)
    );
    assert_eq!(v11.operations_current.total, 5);
    assert_eq!((v11.scenarios, v11.behaviours.covered), (1, 1));
    let v13 = &map.versions[2];
    assert_eq!(
        (v13.operations_added.covered, v13.operations_added.total),
        (1, 1)
    );
    // v1.3 no longer has the operation removed after v1.2.
    assert_eq!(v13.operations_current.total, 5);
    // The MSC-only scenario is in no version.
    assert_eq!((v13.scenarios, v13.behaviours.covered), (2, 2));
}

#[test]
fn missing_operations_carry_their_reason_or_none() {
    let map = small_map();
    let ids: Vec<_> = map
        .missing
        .iter()
        .map(|m| (m.id.as_str(), m.reason.as_deref()))
        .collect();
    assert_eq!(
        ids,
        [
            (
                "POST /_matrix/client/v3/register",
                Some("needs a registration token")
            ),
            ("GET /_matrix/federation/v1/version", None)
        ]
    );
}

#[test]
fn text_snapshot() {
    insta::assert_snapshot!("coverage_map_text", render_text(&small_map()));
}

#[test]
fn every_current_operation_of_the_shipped_oracle_has_a_checklist_area() {
    let oracle = oracle::get().expect("oracle");
    let areas: BTreeSet<&str> = super::super::coverage::checklist()
        .iter()
        .map(|b| b.area.as_str())
        .collect();
    let latest = oracle.latest();
    let orphans: Vec<String> = oracle
        .operations
        .iter()
        .filter(|op| op.msc.is_some() || op.exists_at(latest))
        .map(|op| op.id())
        .filter(|id| operation_area(id).is_none_or(|a| !areas.contains(a)))
        .collect();
    assert!(orphans.is_empty(), "no checklist area: {orphans:#?}");
}

#[test]
fn json_round_trips() {
    let map = small_map();
    let text = serde_json::to_string(&map).unwrap();
    let back: CoverageMap = serde_json::from_str(&text).unwrap();
    assert_eq!(back, map);
}
