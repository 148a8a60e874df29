//! The end-of-run summary printed on the terminal, in the style of "Are We Synapse
//! Yet": one score line per area, the failing scenarios, then the totals.

use std::fmt::Write as _;

use crate::results::{AreaScore, ExpectationKind, Outcome, RunReport, ScenarioResult};

/// Renders the summary. Plain text (no colour), ending with a newline:
///
/// ```text
/// Messaging: 66% (2/3), 1 skipped
///
/// FAIL cs/messaging/edit (scenarios/cs/messaging/edit.yaml:12:7): status 403, expected 200
///
/// 4 scenarios: 2 passed, 1 failed, 0 errored, 1 skipped in 3.2s
/// ```
pub fn render_summary(report: &RunReport) -> String {
    let mut out = String::new();

    let mut areas: Vec<&AreaScore> = report.areas.iter().collect();
    areas.sort_by(|a, b| a.area.cmp(&b.area));
    for score in &areas {
        out.push_str(&area_line(score));
        out.push('\n');
    }

    for line in headline_lines(report) {
        out.push_str(&line);
        out.push('\n');
    }

    let mut problems: Vec<String> = report.scenarios.iter().filter_map(problem_line).collect();
    problems.extend(report.scenarios.iter().filter_map(flaky_line));
    problems.extend(report.scenarios.iter().flat_map(|s| {
        s.warnings
            .iter()
            .map(move |w| format!("WARN {}: {w}", s.id))
    }));
    if !problems.is_empty() {
        if !areas.is_empty() {
            out.push('\n');
        }
        for line in problems {
            out.push_str(&line);
            out.push('\n');
        }
    }

    if !out.is_empty() {
        out.push('\n');
    }
    let s = &report.summary;
    let _ = writeln!(
        out,
        "{} {}: {} passed, {} failed, {} errored, {} skipped in {}",
        s.total,
        if s.total == 1 {
            "scenario"
        } else {
            "scenarios"
        },
        s.passed,
        s.failed,
        s.errored,
        s.skipped,
        format_duration(report.run.duration_ms),
    );
    if s.flaky + s.schema_warnings > 0 {
        let _ = writeln!(
            out,
            "{} flaky (passed on a retry), {} schema warnings (accepted with --lenient-schema)",
            s.flaky, s.schema_warnings
        );
    }
    if s.known_failures + s.unexpected_passes + s.quarantined > 0 {
        let _ = writeln!(
            out,
            "expectations: {} known failures (not failing the run), {} unexpected passes, {} quarantined",
            s.known_failures, s.unexpected_passes, s.quarantined
        );
    }
    out
}

/// The profile result and endpoint coverage, when the report has them.
pub fn headline_lines(report: &RunReport) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(p) = &report.profile {
        lines.push(format!(
            "matrix {} mandatory: {}/{} passed; optional (SHOULD, MAY, MSC): {}/{} passed",
            p.version, p.mandatory.passed, p.mandatory.total, p.optional.passed, p.optional.total
        ));
    }
    if let Some(e) = &report.endpoints {
        lines.push(format!(
            "Client-Server endpoints exercised: {}/{} ({})",
            e.exercised.len(),
            e.total,
            e.catalogue
        ));
    }
    lines
}

/// `FLAKY id (passed on attempt 2 of 3): first failure` for scenarios that passed on a retry.
fn flaky_line(scenario: &ScenarioResult) -> Option<String> {
    scenario.flaky.then(|| {
        let first = scenario.retried_failures.first().map_or("", String::as_str);
        format!(
            "FLAKY {} (passed on attempt {}): {}",
            scenario.id,
            scenario.attempts,
            first_line(first)
        )
    })
}

/// `Room membership: 50% (1/2), 1 skipped`.
fn area_line(score: &AreaScore) -> String {
    let percent = match score.percent() {
        Some(p) => format!("{p}%"),
        None => "n/a".to_owned(),
    };
    let mut line = format!(
        "{}: {percent} ({}/{})",
        area_display_name(&score.area),
        score.passed,
        score.ran
    );
    if score.skipped > 0 {
        let _ = write!(line, ", {} skipped", score.skipped);
    }
    line
}

/// `room-membership` → `Room membership`.
pub fn area_display_name(area: &str) -> String {
    let spaced = area.replace(['-', '_'], " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `FAIL id (file:line:col): message` for failed scenarios, `ERROR ...` for errored.
fn problem_line(scenario: &ScenarioResult) -> Option<String> {
    let kind = scenario.expectation.as_ref().map(|e| e.kind);
    let word = match (scenario.outcome, kind) {
        (Outcome::Passed, Some(ExpectationKind::UnexpectedPass)) => {
            let e = scenario.expectation.as_ref()?;
            return Some(format!(
                "XPASS {} passed but is listed as a known failure ({}): remove the entry",
                scenario.id, e.source
            ));
        }
        (Outcome::Failed | Outcome::Errored, Some(ExpectationKind::KnownFailure)) => "XFAIL",
        (Outcome::Failed | Outcome::Errored, Some(ExpectationKind::Quarantined)) => "QUARANTINED",
        (Outcome::Failed, _) => "FAIL",
        (Outcome::Errored, _) => "ERROR",
        (Outcome::Blocked, _) => "BLOCKED",
        (Outcome::Unsupported, _) => "UNSUPPORTED",
        (Outcome::Passed | Outcome::Skipped, _) => return None,
    };
    let (location, message) = match &scenario.failure {
        Some(f) => {
            let location = if f.location.is_empty() {
                scenario.file.as_str()
            } else {
                f.location.as_str()
            };
            (location, first_line(&f.message))
        }
        None => (scenario.file.as_str(), "no reason recorded"),
    };
    Some(format!("{word} {} ({location}): {message}", scenario.id))
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// `3.2s`.
fn format_duration(ms: u64) -> String {
    format!("{}.{}s", ms / 1000, (ms % 1000) / 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_names_are_humanized() {
        assert_eq!(area_display_name("messaging"), "Messaging");
        assert_eq!(area_display_name("room-membership"), "Room membership");
        assert_eq!(area_display_name("account_data"), "Account data");
        assert_eq!(area_display_name(""), "");
    }

    #[test]
    fn area_lines_floor_and_mention_skips() {
        let score = |passed, ran, skipped| AreaScore {
            area: "messaging".into(),
            passed,
            ran,
            skipped,
        };
        assert_eq!(area_line(&score(12, 13, 0)), "Messaging: 92% (12/13)");
        assert_eq!(
            area_line(&score(2, 3, 2)),
            "Messaging: 66% (2/3), 2 skipped"
        );
        assert_eq!(
            area_line(&score(0, 0, 1)),
            "Messaging: n/a (0/0), 1 skipped"
        );
        assert_eq!(area_line(&score(5, 5, 0)), "Messaging: 100% (5/5)");
    }

    #[test]
    fn durations_are_truncated_to_tenths() {
        assert_eq!(format_duration(3_249), "3.2s");
        assert_eq!(format_duration(999), "0.9s");
        assert_eq!(format_duration(61_000), "61.0s");
    }
}
