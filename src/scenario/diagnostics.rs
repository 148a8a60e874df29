//! Problems found in scenario files, and their rendering with miette: every problem points
//! at file:line:col with a snippet and, where it fits, a "did you mean" hint.

use std::fmt::Write as _;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, NamedSource, SourceSpan};

use super::node::Pos;
use super::source::SourceFile;

/// One problem in one scenario file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// File as shown to the user.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub col: u32,
    /// What is wrong.
    pub message: String,
    /// Hint, e.g. "did you mean `expect`?".
    pub help: Option<String>,
    /// Short label under the snippet.
    pub label: String,
    #[serde(skip)]
    offset: usize,
    #[serde(skip)]
    len: usize,
}

impl Problem {
    /// A problem at a position in a file.
    pub fn new(
        file: &SourceFile,
        pos: Pos,
        message: impl Into<String>,
        help: Option<String>,
    ) -> Self {
        let message = message.into();
        Self {
            file: file.display(),
            line: pos.line.max(1),
            col: pos.col.max(1),
            label: short_label(&message),
            message,
            help,
            offset: pos.offset,
            len: pos.len,
        }
    }

    /// `file:line:col`.
    pub fn location(&self) -> String {
        format!("{}:{}:{}", self.file, self.line, self.col)
    }
}

fn short_label(message: &str) -> String {
    if message.starts_with("unknown") {
        "not recognised".into()
    } else if message.starts_with("missing") {
        "in this mapping".into()
    } else {
        "here".into()
    }
}

#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{message}")]
struct Rendered {
    message: String,
    #[source_code]
    src: NamedSource<String>,
    #[label("{label}")]
    span: SourceSpan,
    label: String,
    #[help]
    help: Option<String>,
}

/// Render problems for a terminal (`color`) or for logs and snapshots (no colour).
/// Each problem starts with a `file:line:col: error: message` line, then the snippet.
pub fn render(problems: &[Problem], sources: &[SourceFile], color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_links(false);
    let mut out = String::new();
    for p in problems {
        let _ = writeln!(out, "{}: error: {}", p.location(), p.message);
        let Some(src) = sources.iter().find(|s| s.display() == p.file) else {
            continue;
        };
        let (offset, len) = clamp(&src.text, p.offset, p.len);
        let diag = Rendered {
            message: p.message.clone(),
            src: NamedSource::new(p.file.clone(), src.text.as_ref().clone()),
            span: SourceSpan::new(offset.into(), len),
            label: p.label.clone(),
            help: p.help.clone(),
        };
        let mut text = String::new();
        if handler.render_report(&mut text, &diag).is_ok() {
            out.push_str(&text);
        }
        out.push('\n');
    }
    out
}

fn clamp(text: &str, offset: usize, len: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let mut len = len.min(text.len() - offset);
    // Point at one line at most.
    if let Some(nl) = text[offset..offset + len].find('\n') {
        len = nl.max(1).min(text.len() - offset);
    }
    (offset, len)
}
