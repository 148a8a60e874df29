//! Derived counts over scenario results: the run [`Summary`] and the per-area
//! "Are We Synapse Yet" [`AreaScore`]s.

use std::collections::BTreeMap;

use super::{AreaScore, Outcome, ScenarioResult, Summary};

/// Counts the scenarios by outcome.
pub fn summarize(scenarios: &[ScenarioResult]) -> Summary {
    let mut summary = Summary {
        total: scenarios.len(),
        ..Summary::default()
    };
    for scenario in scenarios {
        match scenario.outcome {
            Outcome::Passed => summary.passed += 1,
            Outcome::Failed => summary.failed += 1,
            Outcome::Errored => summary.errored += 1,
            Outcome::Skipped => summary.skipped += 1,
            Outcome::Blocked => summary.blocked += 1,
            Outcome::Unsupported => summary.unsupported += 1,
        }
        match scenario.expectation.as_ref().map(|e| e.kind) {
            Some(super::ExpectationKind::KnownFailure) => summary.known_failures += 1,
            Some(super::ExpectationKind::UnexpectedPass) => summary.unexpected_passes += 1,
            Some(super::ExpectationKind::Quarantined) => summary.quarantined += 1,
            None => {}
        }
        if scenario.flaky {
            summary.flaky += 1;
        }
        summary.schema_warnings += scenario.warnings.len();
    }
    summary
}

/// One score per area, sorted by area id. `ran` counts every scenario that was not
/// skipped (failed and errored ones included).
pub fn area_scores(scenarios: &[ScenarioResult]) -> Vec<AreaScore> {
    let mut by_area: BTreeMap<&str, AreaScore> = BTreeMap::new();
    for scenario in scenarios {
        let score = by_area
            .entry(scenario.area.as_str())
            .or_insert_with(|| AreaScore {
                area: scenario.area.clone(),
                passed: 0,
                ran: 0,
                skipped: 0,
            });
        match scenario.outcome {
            Outcome::Skipped | Outcome::Blocked => score.skipped += 1,
            Outcome::Passed => {
                score.passed += 1;
                score.ran += 1;
            }
            Outcome::Failed | Outcome::Errored | Outcome::Unsupported => score.ran += 1,
        }
    }
    by_area.into_values().collect()
}

/// Passed out of total over the scenarios `in_set` selects.
pub fn tally(
    scenarios: &[ScenarioResult],
    in_set: impl Fn(&ScenarioResult) -> bool,
) -> super::Tally {
    let mut t = super::Tally::default();
    for s in scenarios.iter().filter(|s| in_set(s)) {
        t.total += 1;
        if s.outcome == Outcome::Passed {
            t.passed += 1;
        }
    }
    t
}

/// Which catalogued endpoints (`METHOD /path`, from `catalogue`) the scenarios exercised.
pub fn endpoint_coverage(
    scenarios: &[ScenarioResult],
    catalogue_name: &str,
    catalogue: &[String],
) -> super::EndpointCoverage {
    let exercised: std::collections::BTreeSet<&str> = scenarios
        .iter()
        .flat_map(|s| s.endpoints.iter().map(String::as_str))
        .collect();
    let mut all: Vec<&String> = catalogue.iter().collect();
    all.sort();
    all.dedup();
    super::EndpointCoverage {
        catalogue: catalogue_name.to_owned(),
        total: all.len(),
        exercised: all
            .iter()
            .filter(|e| exercised.contains(e.as_str()))
            .map(|e| (*e).clone())
            .collect(),
        not_exercised: all
            .iter()
            .filter(|e| !exercised.contains(e.as_str()))
            .map(|e| (*e).clone())
            .collect(),
    }
}

impl AreaScore {
    /// Whole percentage of the scenarios that ran which passed, rounded down;
    /// `None` when nothing ran.
    pub fn percent(&self) -> Option<usize> {
        (self.ran > 0).then(|| self.passed * 100 / self.ran)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(id: &str, area: &str, outcome: Outcome) -> ScenarioResult {
        ScenarioResult {
            outcome,
            duration_ms: 1,
            ..ScenarioResult::new(id, id, area, format!("{id}.yaml"))
        }
    }

    fn sample() -> Vec<ScenarioResult> {
        vec![
            scenario("b/1", "messaging", Outcome::Passed),
            scenario("b/2", "messaging", Outcome::Passed),
            scenario("b/3", "messaging", Outcome::Failed),
            scenario("b/4", "messaging", Outcome::Skipped),
            scenario("a/1", "account", Outcome::Errored),
            scenario("a/2", "account", Outcome::Skipped),
        ]
    }

    #[test]
    fn summarize_counts_each_outcome() {
        assert_eq!(
            summarize(&sample()),
            Summary {
                total: 6,
                passed: 2,
                failed: 1,
                errored: 1,
                skipped: 2,
                ..Summary::default()
            }
        );
        assert_eq!(summarize(&[]), Summary::default());
    }

    #[test]
    fn area_scores_are_sorted_and_exclude_skips_from_ran() {
        let scores = area_scores(&sample());
        assert_eq!(
            scores,
            vec![
                AreaScore {
                    area: "account".into(),
                    passed: 0,
                    ran: 1,
                    skipped: 1,
                },
                AreaScore {
                    area: "messaging".into(),
                    passed: 2,
                    ran: 3,
                    skipped: 1,
                },
            ]
        );
        assert_eq!(scores[0].percent(), Some(0));
        assert_eq!(scores[1].percent(), Some(66));
    }

    #[test]
    fn percent_is_none_when_nothing_ran() {
        let score = AreaScore {
            area: "x".into(),
            passed: 0,
            ran: 0,
            skipped: 3,
        };
        assert_eq!(score.percent(), None);
    }
}
