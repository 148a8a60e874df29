//! `report.json`: the [`RunReport`] itself, pretty-printed with a stable key order
//! (struct fields in declaration order, maps sorted), and read back with a check of
//! its `format_version`.

use serde_json::Value;

use super::ReportError;
use crate::results::{FORMAT_VERSION, RunReport};

/// Renders the report as pretty JSON, ending with a newline. The output depends only
/// on the report, so equal reports render byte-identically.
pub fn render_json(report: &RunReport) -> String {
    // RunReport is plain data with derived Serialize and string-keyed maps only, and
    // the writer is a String: serialization cannot fail.
    let mut out = serde_json::to_string_pretty(report)
        .expect("RunReport serializes infallibly (derived impls, string map keys)");
    out.push('\n');
    out
}

/// Parses a `report.json`. A report written by a different format version is
/// rejected with a message saying which versions are involved, before its fields are
/// looked at.
pub fn read_json(text: &str) -> Result<RunReport, ReportError> {
    let value: Value = serde_json::from_str(text).map_err(ReportError::Json)?;
    let version = value
        .get("format_version")
        .ok_or(ReportError::MissingVersion)?;
    match version.as_u64() {
        Some(v) if v == u64::from(FORMAT_VERSION) => {}
        _ => {
            return Err(ReportError::UnsupportedVersion {
                found: version.to_string(),
                supported: FORMAT_VERSION,
            });
        }
    }
    serde_json::from_value(value).map_err(ReportError::Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_other_format_versions_clearly() {
        let err = read_json(r#"{"format_version": 2, "something": "new"}"#).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, ReportError::UnsupportedVersion { .. }),
            "{msg}"
        );
        assert!(msg.contains("format_version 2"), "{msg}");
        assert!(msg.contains("format_version 1"), "{msg}");

        let err = read_json(r#"{"format_version": "1"}"#).unwrap_err();
        assert!(
            matches!(err, ReportError::UnsupportedVersion { .. }),
            "{err}"
        );
    }

    #[test]
    fn rejects_non_reports() {
        assert!(matches!(
            read_json(r#"{"hello": 1}"#),
            Err(ReportError::MissingVersion)
        ));
        assert!(matches!(read_json("not json"), Err(ReportError::Json(_))));
        assert!(matches!(
            read_json(r#"{"format_version": 1}"#),
            Err(ReportError::Json(_))
        ));
    }
}
