//! Report formats rendered from a [`RunReport`]: `junit.xml` for CI, `report.json`
//! (the report itself, versioned), `report.html` (self-contained), `report.md` and the
//! terminal summary.
//!
//! Every renderer is a pure function of the report, so equal reports give
//! byte-identical files; files are written atomically (see [`write_atomic`]).

mod atomic;
mod capacity_html;
mod coverage_html;
pub mod groups;
mod html;
mod json;
mod junit;
mod load_html;
mod load_markdown;
mod markdown;
mod summary;

use std::path::{Path, PathBuf};

pub use atomic::write_atomic;
pub use html::{esc as html_escape, render_html};
pub use json::{read_json, render_json};
pub use junit::render_junit;
pub use markdown::render_markdown;
pub use summary::{area_display_name, render_summary};

use crate::results::RunReport;

/// File name of the JUnit report inside the report directory.
pub const JUNIT_FILE: &str = "junit.xml";
/// File name of the JSON report inside the report directory.
pub const JSON_FILE: &str = "report.json";
/// File name of the HTML report inside the report directory.
pub const HTML_FILE: &str = "report.html";
/// File name of the Markdown report inside the report directory.
pub const MARKDOWN_FILE: &str = "report.md";

/// Why a report could not be rendered, written or read.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file or directory could not be written.
    #[error("could not write {}: {source}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The JUnit XML writer failed.
    #[error("could not render JUnit XML: {0}")]
    Xml(String),
    /// `run.started_at` is not an RFC 3339 timestamp.
    #[error("run.started_at {value:?} is not an RFC 3339 timestamp: {reason}")]
    Timestamp {
        /// The offending value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `report.json` is not valid JSON or does not have the expected fields.
    #[error("not a valid mxharness report.json: {0}")]
    Json(#[source] serde_json::Error),
    /// `report.json` has no `format_version`.
    #[error("not an mxharness report.json: it has no format_version field")]
    MissingVersion,
    /// `report.json` was written in a format this build does not read.
    #[error(
        "report.json has format_version {found}, but this build of mxharness reads only \
         format_version {supported}; read it with the mxharness version that wrote it"
    )]
    UnsupportedVersion {
        /// The version found in the file, as written there.
        found: String,
        /// The version this build reads ([`crate::results::FORMAT_VERSION`]).
        supported: u32,
    },
}

/// Writes `junit.xml`, `report.json`, `report.html` and `report.md` into `dir` (created if missing), each
/// atomically, and returns their paths in that order. Both are rendered before either
/// is written, so a rendering error leaves the directory untouched.
pub fn write_all(report: &RunReport, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let junit = render_junit(report)?;
    let json = render_json(report);
    let html = render_html(report);
    let markdown = render_markdown(report);
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::with_capacity(4);
    for (name, contents) in [
        (JUNIT_FILE, junit),
        (JSON_FILE, json),
        (HTML_FILE, html),
        (MARKDOWN_FILE, markdown),
    ] {
        let path = dir.join(name);
        write_atomic(&path, contents.as_bytes())?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod known_tests;
#[cfg(test)]
mod level_tests;
#[cfg(test)]
mod tests;
