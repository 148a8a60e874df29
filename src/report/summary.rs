//! The end-of-run summary printed on the terminal, in the style of "Are We Synapse
//! Yet": one score line per area (MUST and POLICY scenarios only), the failures that fail
//! the run (grouped by root cause), the recommendations not met (SHOULD/MAY), then the
//! totals.

use std::fmt::Write as _;

use super::groups::{self, Group};
use crate::results::{AreaScore, ExpectationKind, FailOn, Outcome, RunReport, ScenarioResult};

/// Said under the area scores.
pub const SCORE_NOTE: &str = "(area scores count MUST and POLICY scenarios only; SHOULD and MAY \
                              results are recommendations, counted apart)";

/// Renders the summary. Plain text (no colour), ending with a newline:
///
/// ```text
/// Messaging: 66% (2/3), 1 skipped
/// (area scores count MUST and POLICY scenarios only; ...)
///
/// FAIL [MUST] cs/messaging/edit (scenarios/cs/messaging/edit.yaml:12:7): status 403, expected 200
///       basis: 'The server MUST ...' (Client-Server API, Editing)
/// FAIL [MUST] 3 checks fail with POST /_matrix/client/v3/createRoom → 500 M_UNKNOWN: cs/a, cs/b, cs/c
///
/// Recommendations not met (SHOULD; they do not fail the run, --fail-on should makes them):
///   SHOULD cs/sync/x (scenarios/cs/sync/x.yaml:4:3): ...
///
/// 7 scenarios: 2 passed, 4 failed (MUST), 1 recommendation not met, 0 errored, 0 blocked, 0 unsupported, 0 skipped in 3.2s
/// ```
pub fn render_summary(report: &RunReport) -> String {
    let mut out = String::new();

    let mut areas: Vec<&AreaScore> = report.areas.iter().collect();
    areas.sort_by(|a, b| a.area.cmp(&b.area));
    for score in &areas {
        out.push_str(&area_line(score));
        out.push('\n');
    }
    if !areas.is_empty() {
        out.push_str(SCORE_NOTE);
        out.push('\n');
    }

    for line in headline_lines(report) {
        out.push_str(&line);
        out.push('\n');
    }

    let problems = problem_lines(report);
    if !problems.is_empty() {
        if !out.is_empty() {
            out.push('\n');
        }
        for line in problems {
            out.push_str(&line);
            out.push('\n');
        }
    }

    let recommendations = recommendation_lines(report);
    if !recommendations.is_empty() {
        if !out.is_empty() {
            out.push('\n');
        }
        for line in recommendations {
            out.push_str(&line);
            out.push('\n');
        }
    }

    let skips = skip_lines(report);
    if !skips.is_empty() {
        if !out.is_empty() {
            out.push('\n');
        }
        for line in skips {
            out.push_str(&line);
            out.push('\n');
        }
    }

    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(&counts_line(report));
    out.push('\n');
    if let Some(line) = interrupted_line(report) {
        let _ = writeln!(out, "INTERRUPTED {line}");
    }
    let s = &report.summary;
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

/// `by SIGTERM: 120 of 477 scenarios not run (listed as skipped)` when the run was stopped.
pub fn interrupted_line(report: &RunReport) -> Option<String> {
    if !report.run.interrupted {
        return None;
    }
    let not_run = report
        .scenarios
        .iter()
        .filter(|s| {
            s.skip_reason
                .as_deref()
                .is_some_and(crate::lifecycle::stop::is_not_run_reason)
        })
        .count();
    Some(format!(
        "by {}: {not_run} of {} scenarios not run (listed as skipped)",
        report.run.stopped_by.as_deref().unwrap_or("a stop"),
        report.scenarios.len()
    ))
}

/// Skipped scenarios, one line per reason (a capability the server does not offer is
/// named once with its evidence: `SKIP  requires presence: not offered by the server
/// (PUT own presence online: 200; reads back "offline"): 5 checks`).
pub fn skip_lines(report: &RunReport) -> Vec<String> {
    let mut by_reason: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for s in report
        .scenarios
        .iter()
        .filter(|s| s.outcome == crate::results::Outcome::Skipped)
    {
        let reason = s.skip_reason.as_deref().unwrap_or("no reason recorded");
        by_reason.entry(reason).or_default().push(s.id.as_str());
    }
    by_reason
        .into_iter()
        .map(|(reason, ids)| {
            let shown: Vec<&str> = ids.iter().take(3).copied().collect();
            let more = ids.len() - shown.len();
            format!(
                "SKIP  {reason}: {} {} ({}{})",
                ids.len(),
                if ids.len() == 1 { "check" } else { "checks" },
                shown.join(", "),
                if more > 0 {
                    format!(", and {more} more")
                } else {
                    String::new()
                }
            )
        })
        .collect()
}

/// `483 scenarios: 450 passed, 3 failed (MUST), 5 recommendations not met, 0 errored,
/// 2 blocked, 1 unsupported, 22 skipped in 3.2s`. "failed" counts the failures at the levels
/// the run's `--fail-on` gates that no expectation covers; the ones a known-failure entry
/// covers (failed or errored) are counted as known, and "errored" leaves out the errors an
/// expectation excuses: nothing a known failure explains reads as a failure.
pub fn counts_line(report: &RunReport) -> String {
    let s = report.summary_with_levels();
    let recommendations = s.recommendations_not_met();
    let errored_excused = report
        .scenarios
        .iter()
        .filter(|r| r.outcome == Outcome::Errored && r.excused())
        .count();
    let errored_known = report
        .scenarios
        .iter()
        .filter(|r| {
            r.outcome == Outcome::Errored
                && r.expectation.as_ref().map(|e| e.kind) == Some(ExpectationKind::KnownFailure)
        })
        .count();
    let errored = s.errored.saturating_sub(errored_excused);
    let known = s.gating_failures() - s.gating_unexpected_failures() + errored_known;
    let known = if known > 0 {
        format!(
            ", {known} known {}",
            if known == 1 { "failure" } else { "failures" }
        )
    } else {
        String::new()
    };
    format!(
        "{} {}: {} passed, {} failed ({}){known}, {recommendations} {} not met, {} errored, {} blocked, {} unsupported, {} skipped in {}",
        s.total,
        if s.total == 1 {
            "scenario"
        } else {
            "scenarios"
        },
        s.passed,
        s.gating_unexpected_failures(),
        gating_levels(report),
        if recommendations == 1 {
            "recommendation"
        } else {
            "recommendations"
        },
        errored,
        s.blocked,
        s.unsupported,
        s.skipped,
        format_duration(report.run.duration_ms),
    ) + &rate(s.total.saturating_sub(s.skipped), report.run.duration_ms)
}

/// " (12.3 checks/s)" for the checks that ran, or nothing when no time was measured.
fn rate(ran: usize, ms: u64) -> String {
    if ms == 0 || ran == 0 {
        return String::new();
    }
    format!(" ({:.1} checks/s)", ran as f64 * 1000.0 / ms as f64)
}

/// The levels whose failures fail this run: `MUST`, `MUST, SHOULD`, ..., with `POLICY`
/// added when the run has policy checks.
pub fn gating_levels(report: &RunReport) -> String {
    let mut label = report.summary.fail_on.gating_label().to_owned();
    let has_policy = report
        .scenarios
        .iter()
        .any(|s| crate::results::level::normalize(&s.level) == "policy");
    if has_policy {
        label.push_str(", POLICY");
    }
    label
}

/// The lines of everything that fails the run or needs a look, grouped by root cause:
/// failures (per level), errors, unsupported operations (once per operation), blocked
/// scenarios (per failing set-up step), then known failures, unexpected passes, flaky
/// scenarios and schema warnings. A line may carry a `basis:` continuation line.
pub fn problem_lines(report: &RunReport) -> Vec<String> {
    let fail_on = report.summary.fail_on;
    let mut lines = Vec::new();
    let failing = report
        .scenarios
        .iter()
        .filter(|s| s.outcome == Outcome::Failed && s.fails_run_at(fail_on));
    for g in groups::group_per_level(failing) {
        lines.push(failure_entry("FAIL", "", &g));
    }
    let errored = report
        .scenarios
        .iter()
        .filter(|s| s.outcome == Outcome::Errored && s.fails_run_at(fail_on));
    for g in groups::group(errored) {
        lines.push(match g.scenarios.as_slice() {
            [one] => single_line("ERROR", one),
            _ => format!(
                "ERROR {} checks could not run: {}: {}",
                g.scenarios.len(),
                g.cause.describe(),
                g.ids()
            ),
        });
    }
    let unsupported = report
        .scenarios
        .iter()
        .filter(|s| s.outcome == Outcome::Unsupported);
    for g in groups::group_by_operation(unsupported) {
        lines.push(unsupported_line(&g, fail_on));
    }
    let blocked = report
        .scenarios
        .iter()
        .filter(|s| s.outcome == Outcome::Blocked);
    for g in groups::group(blocked) {
        lines.push(match g.scenarios.as_slice() {
            [one] => single_line("BLOCKED", one),
            _ => format!(
                "BLOCKED {} checks by a failing set-up step, {}: {}",
                g.scenarios.len(),
                g.cause.describe(),
                g.ids()
            ),
        });
    }
    lines.extend(report.scenarios.iter().filter_map(expectation_line));
    lines.extend(report.scenarios.iter().filter_map(flaky_line));
    lines.extend(report.scenarios.iter().flat_map(|s| {
        s.warnings
            .iter()
            .map(move |w| format!("WARN {}: {w}", s.id))
    }));
    lines
}

/// The heading and lines of the SHOULD/MAY failures the run's threshold does not gate,
/// grouped by level and root cause; empty when there are none.
pub fn recommendation_lines(report: &RunReport) -> Vec<String> {
    let fail_on = report.summary.fail_on;
    let mut lines = Vec::new();
    let mut levels: Vec<&str> = Vec::new();
    let not_met = report
        .scenarios
        .iter()
        .filter(|s| s.recommendation_not_met(fail_on));
    for g in groups::group_per_level(not_met) {
        let level = g.scenarios.first().map_or("MUST", |s| s.level_label());
        if !levels.contains(&level) {
            levels.push(level);
        }
        lines.push(failure_entry(level, "  ", &g));
    }
    if lines.is_empty() {
        return lines;
    }
    lines.insert(
        0,
        format!(
            "Recommendations not met ({}; they do not fail the run{}):",
            levels.join(", "),
            match fail_on {
                FailOn::Must => ", --fail-on should makes SHOULD failures fail it",
                FailOn::Should => ", --fail-on may makes MAY failures fail it",
                FailOn::May => "",
            }
        ),
    );
    lines
}

/// One failure (`FAIL [MUST] id (location): message` and its basis) or one group of them
/// (`FAIL [MUST] 3 checks fail with OPERATION → ERROR: a, b, c`). `word` is `FAIL` or,
/// for recommendations, the level.
fn failure_entry(word: &str, indent: &str, g: &Group<'_>) -> String {
    let level = g.scenarios.first().map_or("MUST", |s| s.level_label());
    let head = if word == "FAIL" {
        format!("{indent}FAIL [{level}]")
    } else {
        format!("{indent}{word}")
    };
    match g.scenarios.as_slice() {
        [one] => {
            let (location, message) = location_and_message(one);
            let mut line = format!("{head} {} ({location}): {message}", one.id);
            if let Some(basis) = &one.basis {
                let _ = write!(line, "\n{indent}      basis: {}", first_line(basis));
            }
            line
        }
        _ => format!(
            "{head} {} checks fail with {}: {}",
            g.scenarios.len(),
            g.cause.describe(),
            g.ids()
        ),
    }
}

/// `UNSUPPORTED POST /_matrix/client/v3/... (3 checks): a, b, c`; says when such checks
/// are at a level that fails the run.
fn unsupported_line(g: &Group<'_>, fail_on: FailOn) -> String {
    let n = g.scenarios.len();
    let gating = g
        .scenarios
        .iter()
        .filter(|s| s.fails_run_at(fail_on))
        .count();
    let note = match gating {
        0 => String::new(),
        k if k == n => ", failing the run".to_owned(),
        k => format!(", {k} failing the run"),
    };
    format!(
        "UNSUPPORTED {} ({n} check{}{note}): {}",
        g.cause.describe(),
        if n == 1 { "" } else { "s" },
        g.ids()
    )
}

/// `WORD id (location): message`.
fn single_line(word: &str, scenario: &ScenarioResult) -> String {
    let (location, message) = location_and_message(scenario);
    format!("{word} {} ({location}): {message}", scenario.id)
}

fn location_and_message(scenario: &ScenarioResult) -> (&str, &str) {
    match &scenario.failure {
        Some(f) => {
            let location = if f.location.is_empty() {
                scenario.file.as_str()
            } else {
                f.location.as_str()
            };
            (location, first_line(&f.message))
        }
        None => (scenario.file.as_str(), "no reason recorded"),
    }
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
    if score.recommendations_ran > 0 {
        let _ = write!(
            line,
            "; recommendations {}/{}",
            score.recommendations_passed, score.recommendations_ran
        );
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

/// `XFAIL`/`QUARANTINED` for failures an expectation covers, `XPASS` for a known failure
/// that passed.
fn expectation_line(scenario: &ScenarioResult) -> Option<String> {
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
        _ => return None,
    };
    Some(single_line(word, scenario))
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
            recommendations_passed: 0,
            recommendations_ran: 0,
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
        let with_recommendations = AreaScore {
            recommendations_passed: 1,
            recommendations_ran: 2,
            ..score(5, 5, 0)
        };
        assert_eq!(
            area_line(&with_recommendations),
            "Messaging: 100% (5/5); recommendations 1/2"
        );
    }

    #[test]
    fn durations_are_truncated_to_tenths() {
        assert_eq!(format_duration(3_249), "3.2s");
        assert_eq!(format_duration(999), "0.9s");
        assert_eq!(format_duration(61_000), "61.0s");
    }
}
