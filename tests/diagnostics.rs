//! Snapshot tests of the diagnostics printed for invalid scenario files
//! (fixtures/scenarios/invalid/): every problem, with file:line:col and hints.

use std::path::PathBuf;

use mxharness::plan;
use mxharness::scenario::diagnostics;

#[test]
fn invalid_scenarios_render_every_problem() {
    insta::glob!("../fixtures/scenarios/invalid", "*.yaml", |path| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let rel = path.strip_prefix(&root).unwrap_or(path).to_path_buf();
        let outcome = plan::load(std::slice::from_ref(&rel)).expect("fixture is readable");
        assert!(
            outcome.scenarios.is_empty(),
            "{} must be invalid",
            rel.display()
        );
        assert!(!outcome.problems.is_empty());
        let rendered = diagnostics::render(&outcome.problems, &outcome.sources, false);
        insta::assert_snapshot!(rendered);
    });
}

#[test]
fn shipped_scenarios_are_valid() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    std::env::set_current_dir(&root).expect("cd");
    let outcome = plan::load(&[PathBuf::from("scenarios")]).expect("scenarios are readable");
    let rendered = diagnostics::render(&outcome.problems, &outcome.sources, false);
    assert!(outcome.problems.is_empty(), "{rendered}");
    assert!(
        outcome.scenarios.len() >= 40,
        "only {} scenarios",
        outcome.scenarios.len()
    );
}
