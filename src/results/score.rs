//! Derived counts over scenario results: the run [`Summary`] (overall and per level) and
//! the per-area "Are We Synapse Yet" [`AreaScore`]s, which count MUST (and POLICY)
//! scenarios only.

use std::collections::BTreeMap;

use super::{AreaScore, FailOn, LevelCounts, LevelSummary, Outcome, ScenarioResult, Summary};

/// Counts the scenarios by outcome, overall and per level, judged at the default
/// threshold (use [`summarize_at`] for `--fail-on`).
pub fn summarize(scenarios: &[ScenarioResult]) -> Summary {
    summarize_at(scenarios, FailOn::default())
}

/// Counts the scenarios by outcome, overall and per level, recording the run's threshold.
pub fn summarize_at(scenarios: &[ScenarioResult], fail_on: FailOn) -> Summary {
    let mut summary = Summary {
        total: scenarios.len(),
        levels: level_summary(scenarios),
        fail_on,
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

/// `summary.levels`: the scenarios counted by level and outcome.
pub fn level_summary(scenarios: &[ScenarioResult]) -> LevelSummary {
    let mut levels = LevelSummary::default();
    for scenario in scenarios {
        let counts: &mut LevelCounts = levels.get_mut(&scenario.level);
        counts.total += 1;
        match scenario.outcome {
            Outcome::Passed => counts.passed += 1,
            Outcome::Failed => counts.failed += 1,
            Outcome::Errored => counts.errored += 1,
            Outcome::Skipped => counts.skipped += 1,
            Outcome::Blocked => counts.blocked += 1,
            Outcome::Unsupported => counts.unsupported += 1,
        }
        if matches!(
            scenario.expectation.as_ref().map(|e| e.kind),
            Some(super::ExpectationKind::KnownFailure)
        ) {
            counts.known_failures += 1;
        }
    }
    levels
}

/// One score per area, sorted by area id, over the MUST (and POLICY) scenarios only:
/// `ran` counts every such scenario that was neither skipped nor blocked (failed, errored
/// and unsupported ones included). SHOULD/MAY scenarios are counted apart, in
/// `recommendations_passed` out of `recommendations_ran`.
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
                recommendations_passed: 0,
                recommendations_ran: 0,
            });
        if !super::level::is_requirement(&scenario.level) {
            match scenario.outcome {
                Outcome::Skipped | Outcome::Blocked => {}
                Outcome::Passed => {
                    score.recommendations_passed += 1;
                    score.recommendations_ran += 1;
                }
                _ => score.recommendations_ran += 1,
            }
            continue;
        }
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
        let summary = summarize(&sample());
        assert_eq!(
            summary,
            Summary {
                total: 6,
                passed: 2,
                failed: 1,
                errored: 1,
                skipped: 2,
                levels: LevelSummary {
                    must: LevelCounts {
                        total: 6,
                        passed: 2,
                        failed: 1,
                        errored: 1,
                        skipped: 2,
                        ..LevelCounts::default()
                    },
                    ..LevelSummary::default()
                },
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
                    recommendations_passed: 0,
                    recommendations_ran: 0,
                },
                AreaScore {
                    area: "messaging".into(),
                    passed: 2,
                    ran: 3,
                    skipped: 1,
                    recommendations_passed: 0,
                    recommendations_ran: 0,
                },
            ]
        );
        assert_eq!(scores[0].percent(), Some(0));
        assert_eq!(scores[1].percent(), Some(66));
    }

    fn leveled(id: &str, level: &str, outcome: Outcome) -> ScenarioResult {
        ScenarioResult {
            level: level.into(),
            ..scenario(id, "sync", outcome)
        }
    }

    fn mixed() -> Vec<ScenarioResult> {
        let mut known = leveled("k", "must", Outcome::Failed);
        known.expectation = Some(super::super::ExpectationNote {
            kind: super::super::ExpectationKind::KnownFailure,
            reason: "r".into(),
            source: "e.yaml:3".into(),
        });
        vec![
            leveled("m1", "must", Outcome::Passed),
            leveled("m2", "must", Outcome::Failed),
            leveled("m3", "must", Outcome::Unsupported),
            leveled("m4", "must", Outcome::Blocked),
            known,
            leveled("s1", "should", Outcome::Failed),
            leveled("s2", "should", Outcome::Passed),
            leveled("s3", "should", Outcome::Skipped),
            leveled("y1", "may", Outcome::Failed),
            leveled("p1", "policy", Outcome::Failed),
            leveled("p2", "policy", Outcome::Errored),
            leveled("u1", "unheard-of", Outcome::Passed),
        ]
    }

    #[test]
    fn summary_levels_count_each_level_apart() {
        let s = summarize(&mixed());
        assert_eq!(s.failed, 5, "the overall count keeps every level");
        assert_eq!(
            s.levels.must,
            LevelCounts {
                total: 6,
                passed: 2,
                failed: 2,
                unsupported: 1,
                blocked: 1,
                known_failures: 1,
                ..LevelCounts::default()
            },
            "unknown levels count as must"
        );
        assert_eq!(
            s.levels.should,
            LevelCounts {
                total: 3,
                passed: 1,
                failed: 1,
                skipped: 1,
                ..LevelCounts::default()
            }
        );
        assert_eq!(s.levels.may.failed, 1);
        assert_eq!(
            s.levels.policy,
            LevelCounts {
                total: 2,
                failed: 1,
                errored: 1,
                ..LevelCounts::default()
            }
        );
        assert_eq!((s.gating_failures(), s.recommendations_not_met()), (3, 2));
        let should = summarize_at(&mixed(), FailOn::Should);
        assert_eq!(
            (should.gating_failures(), should.recommendations_not_met()),
            (4, 1)
        );
        let may = summarize_at(&mixed(), FailOn::May);
        assert_eq!(
            (may.gating_failures(), may.recommendations_not_met()),
            (5, 0)
        );
    }

    #[test]
    fn summary_levels_round_trip_and_default_when_absent() {
        let s = summarize_at(&mixed(), FailOn::Should);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["levels"]["should"]["failed"], 1);
        assert_eq!(json["fail_on"], "should");
        assert_eq!(serde_json::from_value::<Summary>(json).unwrap(), s);
        let old: Summary =
            serde_json::from_str(r#"{"total":1,"passed":1,"failed":0,"errored":0,"skipped":0}"#)
                .unwrap();
        assert_eq!(old.levels, LevelSummary::default());
        assert_eq!(old.fail_on, FailOn::Must);
        let default_json = serde_json::to_value(summarize(&mixed())).unwrap();
        assert!(default_json.get("fail_on").is_none());
    }

    #[test]
    fn the_exit_decision_follows_the_threshold() {
        let fails = |fail_on| -> Vec<&'static str> {
            let ids = [
                "m1", "m2", "m3", "m4", "k", "s1", "s2", "s3", "y1", "p1", "p2", "u1",
            ];
            mixed()
                .iter()
                .zip(ids)
                .filter(|(s, _)| s.fails_run_at(fail_on))
                .map(|(_, id)| id)
                .collect()
        };
        // blocked (m4) never fails; a known failure (k) never fails; errored always does.
        assert_eq!(fails(FailOn::Must), ["m2", "m3", "p1", "p2"]);
        assert_eq!(fails(FailOn::Should), ["m2", "m3", "s1", "p1", "p2"]);
        assert_eq!(fails(FailOn::May), ["m2", "m3", "s1", "y1", "p1", "p2"]);
        let recommendations: Vec<String> = mixed()
            .into_iter()
            .filter(|s| s.recommendation_not_met(FailOn::Must))
            .map(|s| s.id)
            .collect();
        assert_eq!(recommendations, ["s1", "y1"]);
    }

    #[test]
    fn area_scores_count_requirements_and_keep_recommendations_apart() {
        let scores = area_scores(&mixed());
        assert_eq!(scores.len(), 1);
        let s = &scores[0];
        // m1, u1 passed; m2, m3, k, p1, p2 ran; m4 blocked.
        assert_eq!((s.passed, s.ran, s.skipped), (2, 7, 1));
        assert_eq!((s.recommendations_passed, s.recommendations_ran), (1, 3));
    }

    #[test]
    fn percent_is_none_when_nothing_ran() {
        let score = AreaScore {
            area: "x".into(),
            passed: 0,
            ran: 0,
            skipped: 3,
            recommendations_passed: 0,
            recommendations_ran: 0,
        };
        assert_eq!(score.percent(), None);
    }
}
