//! The sliding-sync operation's arguments are checked where they are written: lowering a
//! scenario refuses a call without its required keys, at the key's line and column.

use std::sync::Arc;

use crate::plan::lower::lower_file;
use crate::scenario::diagnostics::Problem;
use crate::scenario::source::SourceFile;

fn validate(steps: &str) -> Vec<Problem> {
    let text = format!(
        "schema: 1\nid: t/ss\ntitle: t\narea: sliding-sync\nlevel: must\nbasis: \"b\"\nspec: {{ msc: \"4186\" }}\nactors: {{ alice: {{}} }}\nsteps:\n{steps}"
    );
    let file = SourceFile {
        path: "t.yaml".into(),
        text: Arc::new(text),
    };
    let mut problems = Vec::new();
    lower_file(&file, &mut problems);
    problems
}

fn messages(problems: &[Problem]) -> Vec<String> {
    problems
        .iter()
        .map(|p| format!("{}:{}: {}", p.line, p.col, p.message))
        .collect()
}

#[test]
fn a_call_without_timeout_is_refused_where_it_is_written() {
    let p = validate("  - as: alice\n    call: sliding_sync\n    with: { conn_id: c }\n");
    assert_eq!(
        messages(&p),
        vec!["12:11: missing required key `timeout` (in the arguments of `sliding_sync`)"]
    );
    let p = validate("  - as: alice\n    call: sliding_sync\n");
    assert_eq!(
        messages(&p),
        vec!["11:11: missing required key `timeout` (in the arguments of `sliding_sync`)"]
    );
    assert!(
        validate("  - as: alice\n    call: sliding_sync\n    with: { timeout: 0 }\n").is_empty()
    );
    assert!(
        validate("  - as: alice\n    call: sliding_sync\n    with: { timeout: omit }\n").is_empty()
    );
}

#[test]
fn lists_and_subscriptions_without_their_required_fields_are_refused() {
    let p = validate(
        "  - as: alice\n    call: sliding_sync\n    with:\n      timeout: 0\n      lists:\n        all: { range: [0, 9], timeline_limit: 1 }\n      room_subscriptions:\n        \"!r:hs\": { required_state: [] }\n",
    );
    let m = messages(&p);
    assert_eq!(m.len(), 2, "{m:?}");
    assert!(
        m[0].starts_with("15:14: missing required key `required_state`"),
        "{m:?}"
    );
    assert!(
        m[1].starts_with("17:18: missing required key `timeline_limit`"),
        "{m:?}"
    );
    let ok = validate(
        "  - as: alice\n    call: sliding_sync\n    with:\n      timeout: 0\n      lists: { all: { timeline_limit: 0, required_state: [] } }\n      room_subscriptions: { \"!r:hs\": { timeline_limit: 1, required_state: [[\"*\", \"*\"]] } }\n",
    );
    assert!(ok.is_empty(), "{:?}", messages(&ok));
}
