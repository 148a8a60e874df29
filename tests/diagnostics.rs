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
    // The other two kinds, classified on the way, through the same positioned parser.
    let mut problems = Vec::new();
    let checks = mxharness::gateway::suite::load_sources(&outcome.gateway_checks, &mut problems);
    for file in &outcome.load_plans {
        mxharness::load::plan::lower(file, &mut problems);
    }
    let mut sources = outcome.gateway_checks.clone();
    sources.extend(outcome.load_plans.iter().cloned());
    assert!(
        problems.is_empty(),
        "{}",
        diagnostics::render(&problems, &sources, false)
    );
    assert_eq!(checks.len(), outcome.gateway_checks.len());
    assert!(!checks.is_empty() && !outcome.load_plans.is_empty());
}

/// Gateway check files go through the same positioned parser: every problem at
/// file:line:col, unknown keys and values with "did you mean" (fixtures/gateway/invalid/).
#[test]
fn invalid_gateway_checks_render_every_problem() {
    insta::glob!("../fixtures/gateway/invalid", "*.yaml", |path| {
        let rendered = render_invalid(path);
        insta::assert_snapshot!(rendered);
    });
}

/// The classifier: a file whose kind is unknown, ambiguous or misdeclared is a positioned
/// problem (fixtures/kinds/invalid/).
#[test]
fn files_of_no_clear_kind_render_a_problem() {
    insta::glob!("../fixtures/kinds/invalid", "*.yaml", |path| {
        let rendered = render_invalid(path);
        insta::assert_snapshot!(rendered);
    });
}

/// A declared `kind:` is read by the classifier only: files that declare it are valid.
#[test]
fn a_declared_kind_is_accepted_by_every_loader() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let outcome = plan::load(&[root.join("fixtures/kinds/valid")]).expect("readable");
    let mut problems = outcome.problems.clone();
    let checks = mxharness::gateway::suite::load_sources(&outcome.gateway_checks, &mut problems);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(outcome.scenarios.len(), 1);
    assert_eq!(checks.len(), 1);
}

/// Load `path` (one file) as every command does, classified by kind, and render its problems.
fn render_invalid(path: &std::path::Path) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let rel = path.strip_prefix(&root).unwrap_or(path).to_path_buf();
    let outcome = plan::load(std::slice::from_ref(&rel)).expect("fixture is readable");
    let mut problems = outcome.problems.clone();
    let checks = mxharness::gateway::suite::load_sources(&outcome.gateway_checks, &mut problems);
    assert!(
        outcome.scenarios.is_empty() && checks.is_empty(),
        "{} must be invalid",
        rel.display()
    );
    assert!(!problems.is_empty(), "{} has no problem", rel.display());
    let mut sources = outcome.sources.clone();
    sources.extend(outcome.gateway_checks.iter().cloned());
    diagnostics::render(&problems, &sources, false)
}
