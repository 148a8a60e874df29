//! Load plans without a server: diagnostics of invalid plans (snapshots), the shipped plans
//! are valid, and the load section of a saved report renders the same every time.

use std::path::PathBuf;

use mxharness::load::plan;
use mxharness::report::{read_json, render_html, render_markdown};
use mxharness::scenario::diagnostics;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn invalid_plans_render_every_problem() {
    insta::glob!("../fixtures/load", "invalid*.yaml", |path| {
        let rel = path.strip_prefix(root()).unwrap_or(path).to_path_buf();
        std::env::set_current_dir(root()).expect("cd");
        match plan::load_file(&rel) {
            Ok(_) => panic!("{} must be invalid", rel.display()),
            Err(plan::PlanError::Io(e)) => panic!("{e}"),
            Err(plan::PlanError::Invalid(problems, file)) => {
                insta::assert_snapshot!(diagnostics::render(&problems, &[file], false));
            }
        }
    });
}

#[test]
fn shipped_plans_are_valid() {
    std::env::set_current_dir(root()).expect("cd");
    let mut n = 0;
    for entry in std::fs::read_dir("scenarios/load").expect("scenarios/load") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        if let Err(e) = plan::load_file(&path) {
            panic!("{}: {e:?}", path.display());
        }
        n += 1;
    }
    assert!(
        n >= 5,
        "smoke, steady chat, sync storm, sliding-sync storm, federation"
    );
}

#[test]
fn the_load_section_renders_deterministically() {
    let text =
        std::fs::read_to_string(root().join("fixtures/load/smoke-report.json")).expect("fixture");
    let report = read_json(&text).expect("a valid report");
    let md = render_markdown(&report);
    let start = md.find("## Load").expect("a load section");
    let end = md.find("## Areas").unwrap_or(md.len());
    insta::assert_snapshot!("load_markdown", &md[start..end]);
    let html = render_html(&report);
    assert_eq!(html, render_html(&report));
    assert_eq!(
        html.matches("<svg").count(),
        4,
        "three load charts and the area chart"
    );
    assert!(!html.contains("<script"));
}

#[test]
fn the_arrivals_table_renders_with_the_model_of_each_row() {
    use mxharness::results::load::{ArrivalFigures, Model};
    let text =
        std::fs::read_to_string(root().join("fixtures/load/smoke-report.json")).expect("fixture");
    let mut report = read_json(&text).expect("a valid report");
    let load = report.load.as_mut().expect("a load section");
    for r in load.requests.iter_mut().filter(|r| r.name == "send") {
        r.model = Model::Open;
    }
    load.all.model = Model::Mixed;
    load.arrivals = vec![ArrivalFigures {
        persona: "writer".into(),
        action: Some("send".into()),
        spacing: "uniform".into(),
        max_delay_ms: 1000,
        window_ms: 10_000,
        intended_rps: 10.0,
        achieved_rps: 9.8,
        scheduled: 100,
        started: 98,
        dropped: 2,
    }];
    let md = render_markdown(&report);
    let start = md.find("### Arrivals").expect("an arrivals table");
    let end = md.find("## Areas").unwrap_or(md.len());
    insta::assert_snapshot!("load_markdown_arrivals", &md[start..end]);
    let html = render_html(&report);
    assert!(html.contains("<h3>Arrivals (open model)</h3>"));
    assert!(html.contains("<td>open</td>") && html.contains("<td>mixed</td>"));
    assert!(
        html.contains("<td class=\"num fail\">2</td>"),
        "dropped is marked"
    );
}
