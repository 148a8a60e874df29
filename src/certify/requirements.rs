//! The requirement-to-result matrix: for every behaviour ID tag (`CS-SYNC-03`, `SS-12`)
//! the scenarios of a run that cover it, the strongest level among them, and one verdict
//! over them. Only MUST (and POLICY) failures make a requirement fail; a SHOULD/MAY failure
//! is a recommendation not met. The run's verdict ([`run_verdict`]) rests on MUST only.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::results::{ExpectationKind, FailOn, Outcome, ScenarioResult, level};

static BEHAVIOUR_ID: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^[A-Z]+(-[A-Z0-9]+)*-\d+$").ok());

/// Whether a tag is a behaviour ID (`^[A-Z]+(-[A-Z0-9]+)*-\d+$`, e.g. `CS-SYNC-03` or
/// `SS-12`; the middle group is optional because the suite's sliding-sync IDs are `SS-NN`).
pub fn is_behaviour_id(tag: &str) -> bool {
    BEHAVIOUR_ID.as_ref().is_some_and(|re| re.is_match(tag))
}

/// The verdict on one requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every covering scenario passed.
    Pass,
    /// At least one covering scenario failed or errored and no expectation covers it.
    Fail,
    /// Nothing failed unexpectedly, but at least one covering scenario failed as a known
    /// failure (or was quarantined and failed).
    KnownFailure,
    /// No MUST failure, but a covering SHOULD/MAY scenario failed.
    RecommendationNotMet,
    /// Nothing failed, and at least one covering scenario was skipped (so the requirement
    /// was not fully exercised).
    Skipped,
}

impl Verdict {
    /// The word used in the bundle and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::KnownFailure => "known-failure",
            Verdict::RecommendationNotMet => "recommendation-not-met",
            Verdict::Skipped => "skipped",
        }
    }
}

/// One row of the matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirement {
    /// Scenario ids carrying the behaviour ID tag, sorted.
    pub scenarios: Vec<String>,
    /// The strongest level among those scenarios: `must` (MUST or POLICY), else `should`,
    /// else `may`. Absent in certificates made before levels were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// The verdict over those scenarios.
    pub verdict: Verdict,
}

/// Behaviour ID -> requirement, sorted by ID.
pub type RequirementMatrix = BTreeMap<String, Requirement>;

/// Derives the matrix from a run's scenarios. Scenarios without behaviour ID tags do
/// not appear; a scenario with several IDs covers each of them.
pub fn derive_matrix(scenarios: &[ScenarioResult]) -> RequirementMatrix {
    let mut covering: BTreeMap<String, Vec<&ScenarioResult>> = BTreeMap::new();
    for scenario in scenarios {
        for tag in &scenario.tags {
            if is_behaviour_id(tag) {
                let list = covering.entry(tag.clone()).or_default();
                if !list.iter().any(|s| s.id == scenario.id) {
                    list.push(scenario);
                }
            }
        }
    }
    covering
        .into_iter()
        .map(|(id, list)| {
            let verdict = verdict(&list);
            let mut ids: Vec<String> = list.iter().map(|s| s.id.clone()).collect();
            ids.sort();
            (
                id,
                Requirement {
                    scenarios: ids,
                    level: Some(strongest_level(&list).to_owned()),
                    verdict,
                },
            )
        })
        .collect()
}

/// `must` when any scenario is MUST or POLICY, else `should` when any is SHOULD, else `may`.
fn strongest_level(scenarios: &[&ScenarioResult]) -> &'static str {
    let levels: Vec<&str> = scenarios
        .iter()
        .map(|s| level::normalize(&s.level))
        .collect();
    if levels.iter().any(|l| matches!(*l, "must" | "policy")) {
        "must"
    } else if levels.contains(&"should") {
        "should"
    } else {
        "may"
    }
}

/// The verdict over the scenarios covering one requirement, worst first: fail (a MUST or
/// POLICY failure, or an error), then known-failure, then recommendation-not-met (a SHOULD
/// or MAY failure), then skipped, else pass. Always judged at the default threshold: a
/// certificate does not depend on `--fail-on`.
pub fn verdict(scenarios: &[&ScenarioResult]) -> Verdict {
    if scenarios.iter().any(|s| s.fails_run()) {
        return Verdict::Fail;
    }
    let excused_failure = |s: &ScenarioResult| {
        matches!(s.outcome, Outcome::Failed | Outcome::Errored)
            && matches!(
                s.expectation.as_ref().map(|e| e.kind),
                Some(ExpectationKind::KnownFailure | ExpectationKind::Quarantined)
            )
    };
    if scenarios.iter().any(|s| excused_failure(s)) {
        return Verdict::KnownFailure;
    }
    if scenarios
        .iter()
        .any(|s| s.recommendation_not_met(FailOn::Must))
    {
        return Verdict::RecommendationNotMet;
    }
    if scenarios.is_empty() || scenarios.iter().any(|s| s.outcome != Outcome::Passed) {
        return Verdict::Skipped;
    }
    Verdict::Pass
}

/// The verdict of the whole run, from its MUST (and POLICY) scenarios only: fail when one
/// of them fails the run, known-failure when one failed as expected, else pass. SHOULD/MAY
/// results never change it.
pub fn run_verdict(scenarios: &[ScenarioResult]) -> Verdict {
    let requirements: Vec<&ScenarioResult> = scenarios
        .iter()
        .filter(|s| level::is_requirement(&s.level))
        .collect();
    match verdict(&requirements) {
        Verdict::Fail => Verdict::Fail,
        Verdict::KnownFailure => Verdict::KnownFailure,
        _ => Verdict::Pass,
    }
}

/// Counts of verdicts over a matrix: (pass, fail, known-failure, skipped).
pub fn count_verdicts(matrix: &RequirementMatrix) -> VerdictCounts {
    let mut counts = VerdictCounts::default();
    for requirement in matrix.values() {
        match requirement.verdict {
            Verdict::Pass => counts.pass += 1,
            Verdict::Fail => counts.fail += 1,
            Verdict::KnownFailure => counts.known_failure += 1,
            Verdict::RecommendationNotMet => counts.recommendation_not_met += 1,
            Verdict::Skipped => counts.skipped += 1,
        }
    }
    counts
}

/// How many requirements got each verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerdictCounts {
    /// Passed.
    pub pass: usize,
    /// Failed.
    pub fail: usize,
    /// Known failures.
    pub known_failure: usize,
    /// Only SHOULD/MAY scenarios failed.
    pub recommendation_not_met: usize,
    /// Skipped (not fully exercised).
    pub skipped: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::ExpectationNote;

    fn scenario(id: &str, tags: &[&str], outcome: Outcome) -> ScenarioResult {
        let mut s = ScenarioResult::new(id, id, "sync", "x.yaml");
        s.tags = tags.iter().map(|t| (*t).to_owned()).collect();
        s.outcome = outcome;
        s
    }

    fn note(kind: ExpectationKind) -> Option<ExpectationNote> {
        Some(ExpectationNote {
            kind,
            reason: "r".to_owned(),
            source: "e.yaml:1".to_owned(),
        })
    }

    #[test]
    fn recognises_behaviour_ids_only() {
        for ok in ["CS-SYNC-03", "SS-12", "CS-E2E2-1", "A-B-C-0"] {
            assert!(is_behaviour_id(ok), "{ok}");
        }
        for no in [
            "cs-sync-03",
            "CS-SYNC",
            "CS",
            "SS12",
            "uia",
            "cs.account.password",
            "CS-SYNC-03a",
            "CS--03",
            " SS-12",
        ] {
            assert!(!is_behaviour_id(no), "{no}");
        }
    }

    #[test]
    fn groups_scenarios_by_id_and_judges_each_requirement() {
        let mut known = scenario("c/known", &["CS-KNOWN-1"], Outcome::Failed);
        known.expectation = note(ExpectationKind::KnownFailure);
        let mut quarantined = scenario("c/quarantined", &["CS-KNOWN-1"], Outcome::Errored);
        quarantined.expectation = note(ExpectationKind::Quarantined);
        let mut strict_unexpected = scenario("c/unexpected", &["CS-STRICT-1"], Outcome::Failed);
        strict_unexpected.expectation = note(ExpectationKind::UnexpectedPass);
        let scenarios = vec![
            scenario("b/two", &["CS-SYNC-03", "slow"], Outcome::Passed),
            scenario("a/one", &["CS-SYNC-03", "SS-12"], Outcome::Passed),
            scenario("a/three", &["SS-12"], Outcome::Failed),
            scenario("d/skip", &["CS-SKIP-1"], Outcome::Skipped),
            scenario("d/skip-and-pass", &["CS-MIXED-1"], Outcome::Skipped),
            scenario("d/pass", &["CS-MIXED-1"], Outcome::Passed),
            scenario("e/errored", &["CS-ERR-1"], Outcome::Errored),
            scenario("f/untagged", &["uia"], Outcome::Failed),
            known,
            quarantined,
            strict_unexpected,
        ];
        let matrix = derive_matrix(&scenarios);
        let got: Vec<(&str, Vec<&str>, Verdict)> = matrix
            .iter()
            .map(|(id, r)| {
                (
                    id.as_str(),
                    r.scenarios.iter().map(String::as_str).collect(),
                    r.verdict,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("CS-ERR-1", vec!["e/errored"], Verdict::Fail),
                (
                    "CS-KNOWN-1",
                    vec!["c/known", "c/quarantined"],
                    Verdict::KnownFailure
                ),
                (
                    "CS-MIXED-1",
                    vec!["d/pass", "d/skip-and-pass"],
                    Verdict::Skipped
                ),
                ("CS-SKIP-1", vec!["d/skip"], Verdict::Skipped),
                ("CS-STRICT-1", vec!["c/unexpected"], Verdict::Fail),
                ("CS-SYNC-03", vec!["a/one", "b/two"], Verdict::Pass),
                ("SS-12", vec!["a/one", "a/three"], Verdict::Fail),
            ]
        );
        let counts = count_verdicts(&matrix);
        assert_eq!(
            counts,
            VerdictCounts {
                pass: 1,
                fail: 3,
                known_failure: 1,
                recommendation_not_met: 0,
                skipped: 2
            }
        );
    }

    #[test]
    fn a_known_failure_does_not_hide_an_unexpected_failure() {
        let mut known = scenario("a", &["CS-X-1"], Outcome::Failed);
        known.expectation = note(ExpectationKind::KnownFailure);
        let real = scenario("b", &["CS-X-1"], Outcome::Failed);
        assert_eq!(verdict(&[&known, &real]), Verdict::Fail);
        let passed = scenario("c", &["CS-X-1"], Outcome::Passed);
        assert_eq!(verdict(&[&known, &passed]), Verdict::KnownFailure);
    }

    #[test]
    fn only_must_failures_fail_a_requirement_and_the_run() {
        let leveled = |id: &str, level: &str, outcome| {
            let mut s = scenario(id, &["CS-L-1"], outcome);
            s.level = level.to_owned();
            s
        };
        let should_failed = leveled("s", "should", Outcome::Failed);
        let must_passed = leveled("m", "must", Outcome::Passed);
        assert_eq!(
            verdict(&[&should_failed, &must_passed]),
            Verdict::RecommendationNotMet
        );
        let matrix = derive_matrix(&[should_failed.clone(), must_passed.clone()]);
        assert_eq!(matrix["CS-L-1"].level.as_deref(), Some("must"));
        let only_may = derive_matrix(&[leveled("y", "may", Outcome::Passed)]);
        assert_eq!(only_may["CS-L-1"].level.as_deref(), Some("may"));
        assert_eq!(
            run_verdict(&[should_failed.clone(), must_passed.clone()]),
            Verdict::Pass,
            "SHOULD failures do not change the run's verdict"
        );
        let policy_failed = leveled("p", "policy", Outcome::Failed);
        assert_eq!(
            run_verdict(&[should_failed, must_passed, policy_failed]),
            Verdict::Fail
        );
        let mut known = leveled("k", "must", Outcome::Failed);
        known.expectation = note(ExpectationKind::KnownFailure);
        assert_eq!(run_verdict(&[known]), Verdict::KnownFailure);
        assert_eq!(
            run_verdict(&[leveled("b", "must", Outcome::Blocked)]),
            Verdict::Pass,
            "blocked is not a failure"
        );
        assert_eq!(
            run_verdict(&[leveled("u", "must", Outcome::Unsupported)]),
            Verdict::Fail,
            "a MUST operation not implemented fails"
        );
    }

    #[test]
    fn a_scenario_repeating_a_tag_is_listed_once() {
        let s = scenario("a", &["SS-1", "SS-1"], Outcome::Passed);
        let matrix = derive_matrix(&[s]);
        assert_eq!(matrix["SS-1"].scenarios, vec!["a"]);
    }
}
