//! Expectations as data: the known failures and quarantined (flaky) scenarios of one
//! implementation, and the two-way ratchet that applies them to results. A known failure
//! that fails does not fail the run; one that passes is an "unexpected pass" (and fails the
//! run under `--strict`), so the list can only shrink as the implementation improves.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::results::{ExpectationKind, ExpectationNote, Failure, Outcome, ScenarioResult};
use crate::scenario::diagnostics::Problem;
use crate::scenario::node;
use crate::scenario::schema_check::{self, CheckOptions};
use crate::scenario::source::{self, SourceFile};

/// An expectations file (format v1).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawExpectations {
    /// Format version; must be 1.
    pub schema: u32,
    /// The implementation and version these expectations describe, e.g. "Synapse 1.163.2".
    pub implementation: String,
    /// Scenario id -> why it fails on this implementation.
    #[serde(default)]
    pub known_failures: BTreeMap<String, String>,
    /// Scenario id -> why it is flaky; its outcome never fails the run.
    #[serde(default)]
    pub quarantine: BTreeMap<String, String>,
}

/// A loaded, validated expectations file.
#[derive(Debug, Clone)]
pub struct Expectations {
    /// The file as shown to the user.
    pub file: String,
    /// What implementation it describes.
    pub implementation: String,
    entries: BTreeMap<String, Entry>,
}

#[derive(Debug, Clone)]
struct Entry {
    quarantined: bool,
    reason: String,
    location: String,
}

static SCHEMA: LazyLock<Value> = LazyLock::new(|| {
    serde_json::to_value(schemars::schema_for!(RawExpectations)).unwrap_or(Value::Bool(true))
});

/// Why an expectations file could not be used.
#[derive(Debug)]
pub enum LoadError {
    /// It could not be read.
    Io(String),
    /// It is invalid; the problems point into it.
    Invalid(Vec<Problem>, SourceFile),
}

impl Expectations {
    /// Read and validate an expectations file.
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        let file = source::read(path).map_err(|e| LoadError::Io(e.to_string()))?;
        let root = match node::parse(&file.text) {
            Ok(root) => root,
            Err((message, pos)) => {
                let p = Problem::new(
                    &file,
                    pos.unwrap_or_default(),
                    format!("invalid YAML: {message}"),
                    None,
                );
                return Err(LoadError::Invalid(vec![p], file));
            }
        };
        let mut problems: Vec<Problem> =
            schema_check::check(&root, &SCHEMA, CheckOptions::default())
                .into_iter()
                .map(|p| Problem::new(&file, root.locate(&p.pointer, p.at_key), p.message, p.help))
                .collect();
        if !problems.is_empty() {
            return Err(LoadError::Invalid(problems, file));
        }
        let raw: RawExpectations = match serde_json::from_value(root.to_json()) {
            Ok(raw) => raw,
            Err(e) => {
                let p = Problem::new(&file, root.pos, format!("invalid expectations: {e}"), None);
                return Err(LoadError::Invalid(vec![p], file));
            }
        };
        if raw.schema != 1 {
            problems.push(Problem::new(
                &file,
                root.locate("/schema", false),
                format!(
                    "unsupported expectations format {}; this mxharness reads format 1",
                    raw.schema
                ),
                None,
            ));
        }
        let mut entries = BTreeMap::new();
        for (section, quarantined, map) in [
            ("known_failures", false, &raw.known_failures),
            ("quarantine", true, &raw.quarantine),
        ] {
            for (id, reason) in map {
                let pointer = format!("/{section}/{}", id.replace('~', "~0").replace('/', "~1"));
                let pos = root.locate(&pointer, true);
                let location = format!("{}:{}", file.display(), pos.line);
                if reason.trim().is_empty() {
                    problems.push(Problem::new(
                        &file,
                        pos,
                        format!("`{id}` needs a reason"),
                        Some(
                            "say why it fails, so the entry can be removed when it is fixed".into(),
                        ),
                    ));
                }
                if entries
                    .insert(
                        id.clone(),
                        Entry {
                            quarantined,
                            reason: reason.clone(),
                            location,
                        },
                    )
                    .is_some()
                {
                    problems.push(Problem::new(
                        &file,
                        pos,
                        format!("`{id}` is both a known failure and quarantined"),
                        Some("keep one".into()),
                    ));
                }
            }
        }
        if !problems.is_empty() {
            return Err(LoadError::Invalid(problems, file));
        }
        Ok(Self {
            file: file.display(),
            implementation: raw.implementation,
            entries,
        })
    }

    /// How many scenarios the file lists.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the file lists nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Ids the file lists that are not among `known` (stale entries or typos).
    pub fn unknown_ids<'a>(&'a self, known: &[&str]) -> Vec<&'a str> {
        self.entries
            .keys()
            .map(String::as_str)
            .filter(|id| !known.contains(id))
            .collect()
    }

    /// Apply the ratchet to the results of a run.
    pub fn apply(&self, results: &mut [ScenarioResult], strict: bool) {
        for r in results.iter_mut() {
            let Some(entry) = self.entries.get(&r.id) else {
                continue;
            };
            if r.outcome == Outcome::Skipped {
                continue;
            }
            let note = |kind| ExpectationNote {
                kind,
                reason: entry.reason.clone(),
                source: entry.location.clone(),
            };
            if entry.quarantined {
                r.expectation = Some(note(ExpectationKind::Quarantined));
            } else if r.outcome == Outcome::Passed {
                r.expectation = Some(note(ExpectationKind::UnexpectedPass));
                if strict {
                    r.outcome = Outcome::Failed;
                    r.failure = Some(Failure {
                        step: 0,
                        location: entry.location.clone(),
                        kind: "unexpected-pass".into(),
                        message: format!(
                            "listed as a known failure ({}) but passed: remove the entry",
                            entry.reason
                        ),
                        expected: Some("failure".into()),
                        actual: Some("passed".into()),
                        checks: Vec::new(),
                        transcript: Vec::new(),
                    });
                }
            } else {
                r.expectation = Some(note(ExpectationKind::KnownFailure));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(id: &str, outcome: Outcome) -> ScenarioResult {
        ScenarioResult {
            outcome,
            ..ScenarioResult::new(id, "", "a", "")
        }
    }

    fn load(text: &str) -> Result<Expectations, LoadError> {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("e.yaml");
        std::fs::write(&path, text).expect("write");
        Expectations::load(&path)
    }

    #[test]
    fn the_ratchet_works_both_ways() {
        let e = load("schema: 1\nimplementation: X 1\nknown_failures:\n  a/fails: bug 1\n  a/fixed: bug 2\nquarantine:\n  a/flaky: races\n").expect("valid");
        let mut results = vec![
            result("a/fails", Outcome::Failed),
            result("a/fixed", Outcome::Passed),
            result("a/flaky", Outcome::Failed),
            result("a/other", Outcome::Failed),
        ];
        e.apply(&mut results, false);
        assert_eq!(
            results[0].expectation.as_ref().map(|n| n.kind),
            Some(ExpectationKind::KnownFailure)
        );
        assert!(!results[0].fails_run());
        assert_eq!(
            results[1].expectation.as_ref().map(|n| n.kind),
            Some(ExpectationKind::UnexpectedPass)
        );
        assert!(
            !results[1].fails_run(),
            "an unexpected pass only fails under --strict"
        );
        assert!(!results[2].fails_run());
        assert!(results[3].fails_run());

        let mut strict = vec![result("a/fixed", Outcome::Passed)];
        e.apply(&mut strict, true);
        assert!(strict[0].fails_run());
        assert_eq!(
            strict[0].failure.as_ref().map(|f| f.kind.as_str()),
            Some("unexpected-pass")
        );
    }

    #[test]
    fn expectations_and_levels_combine() {
        use crate::results::FailOn;
        let e = load("schema: 1\nimplementation: X 1\nknown_failures:\n  a/should-known: bug 1\n  a/should-fixed: bug 2\n").expect("valid");
        let leveled = |id, outcome| ScenarioResult {
            level: "should".into(),
            ..result(id, outcome)
        };
        let mut results = vec![
            leveled("a/should-known", Outcome::Failed),
            leveled("a/should-fixed", Outcome::Passed),
            leveled("a/should-other", Outcome::Failed),
        ];
        e.apply(&mut results, true);
        // A known SHOULD failure neither gates nor counts as a recommendation not met.
        assert!(!results[0].fails_run_at(FailOn::May));
        assert!(!results[0].recommendation_not_met(FailOn::Must));
        // Under --strict an unexpected pass fails the run whatever the level.
        assert!(results[1].fails_run_at(FailOn::Must));
        assert!(!results[1].recommendation_not_met(FailOn::Must));
        // An unlisted SHOULD failure is a recommendation, unless --fail-on should.
        assert!(!results[2].fails_run());
        assert!(results[2].recommendation_not_met(FailOn::Must));
        assert!(results[2].fails_run_at(FailOn::Should));
    }

    #[test]
    fn invalid_files_point_at_the_problem() {
        let Err(LoadError::Invalid(problems, _)) =
            load("schema: 1\nimplementation: X\nknown_failure:\n  a: b\n")
        else {
            panic!("must be invalid")
        };
        assert_eq!((problems[0].line, problems[0].col), (3, 1));
        assert_eq!(
            problems[0].help.as_deref(),
            Some("did you mean `known_failures`?")
        );
        let Err(LoadError::Invalid(problems, _)) =
            load("schema: 1\nimplementation: X\nknown_failures:\n  a: ''\n")
        else {
            panic!("must be invalid")
        };
        assert!(problems[0].message.contains("needs a reason"));
    }
}
