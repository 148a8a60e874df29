//! `mxharness report REPORT.json|results.jsonl`: re-render any format from a saved report,
//! or from the journal a run wrote as it went (also one that was killed), without re-running
//! anything.

use super::args::ReportArgs;
use crate::exit_codes;
use crate::lifecycle::journal;
use crate::report;

pub(super) fn report(args: &ReportArgs) -> u8 {
    let text = match std::fs::read_to_string(&args.report) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", args.report.display());
            return exit_codes::ENVIRONMENT;
        }
    };
    let is_journal = args.report.extension().is_some_and(|e| e == "jsonl")
        || text.trim_start().starts_with("{\"start\"");
    let run = if is_journal {
        match journal::read(&text) {
            Ok(read) => {
                for p in &read.problems {
                    eprintln!("warning: {}: {p}", args.report.display());
                }
                read.report
            }
            Err(e) => {
                eprintln!("error: {}: {e}", args.report.display());
                return exit_codes::ENVIRONMENT;
            }
        }
    } else {
        match report::read_json(&text) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {}: {e}", args.report.display());
                return exit_codes::ENVIRONMENT;
            }
        }
    };
    let mut outputs: Vec<(&std::path::Path, String)> = Vec::new();
    if let Some(p) = &args.json {
        outputs.push((p, report::render_json(&run)));
    }
    if let Some(p) = &args.html {
        outputs.push((p, report::render_html(&run)));
    }
    if let Some(p) = &args.markdown {
        outputs.push((p, report::render_markdown(&run)));
    }
    if let Some(p) = &args.junit {
        match report::render_junit(&run) {
            Ok(x) => outputs.push((p, x)),
            Err(e) => {
                eprintln!("error: {e}");
                return exit_codes::ENVIRONMENT;
            }
        }
    }
    if outputs.is_empty() {
        out!("{}", report::render_summary(&run));
        return exit_codes::SUCCESS;
    }
    for (path, contents) in outputs {
        if let Err(e) = report::write_atomic(path, contents.as_bytes()) {
            eprintln!("error: {e}");
            return exit_codes::ENVIRONMENT;
        }
        eprintln!("wrote {}", path.display());
    }
    exit_codes::SUCCESS
}
