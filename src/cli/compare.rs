//! `mxharness compare`: reads several `report.json` files and writes the comparison as
//! Markdown and/or HTML, or prints a short summary.

use std::path::PathBuf;

use clap::Args;

use crate::compare::{
    Comparison, default_name, load_report, render_html, render_markdown, render_terminal,
    unique_names,
};
use crate::exit_codes;

/// Options of `compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Two or more report.json files, one per candidate implementation.
    #[arg(required = true, num_args = 1..)]
    pub reports: Vec<PathBuf>,
    /// Write the comparison as a self-contained HTML page to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write the comparison as Markdown to FILE.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Candidate names, comma-separated, one per report (default: each target's server
    /// version, else its base URL).
    #[arg(long, value_delimiter = ',')]
    pub names: Option<Vec<String>>,
}

/// Runs `compare` and returns the exit code.
pub fn compare(args: &CompareArgs) -> u8 {
    if args.reports.len() < 2 {
        eprintln!(
            "error: compare needs at least two reports, got {}",
            args.reports.len()
        );
        return exit_codes::USAGE;
    }
    if let Some(names) = &args.names
        && names.len() != args.reports.len()
    {
        eprintln!(
            "error: --names gives {} name(s) for {} report(s)",
            names.len(),
            args.reports.len()
        );
        return exit_codes::USAGE;
    }
    let mut reports = Vec::with_capacity(args.reports.len());
    for path in &args.reports {
        match load_report(path) {
            Ok(r) => reports.push((path.display().to_string(), r)),
            Err(e) => {
                eprintln!("error: {e}");
                return exit_codes::ENVIRONMENT;
            }
        }
    }
    let names = match &args.names {
        Some(names) => names.iter().map(|n| n.trim().to_owned()).collect(),
        None => reports.iter().map(|(_, r)| default_name(r)).collect(),
    };
    let comparison = Comparison::build(&reports, &unique_names(names));

    if args.html.is_none() && args.markdown.is_none() {
        out!("{}", render_terminal(&comparison));
        return exit_codes::SUCCESS;
    }
    let outputs = [
        (
            args.markdown.as_ref(),
            render_markdown as fn(&Comparison) -> String,
        ),
        (args.html.as_ref(), render_html),
    ];
    for (path, render) in outputs {
        let Some(path) = path else { continue };
        if let Err(e) = crate::report::write_atomic(path, render(&comparison).as_bytes()) {
            eprintln!("error: {e}");
            return exit_codes::ENVIRONMENT;
        }
        outln!("wrote {}", path.display());
    }
    exit_codes::SUCCESS
}
