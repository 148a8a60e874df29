//! Requirement levels of results (`must`, `should`, `may`, `policy`) and the run-wide
//! threshold (`--fail-on`) that decides which levels' failures fail the run.
//!
//! By default MUST and POLICY failures gate (policy: a gateway's deployment rule, which is
//! the product's own requirement); SHOULD and MAY failures are recommendations not met.
//! A level this build does not know is judged as MUST, so nothing slips through.

use serde::{Deserialize, Serialize};

/// The lowest level whose failures fail the run.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    /// MUST and POLICY failures fail the run (the default).
    #[default]
    Must,
    /// SHOULD failures too.
    Should,
    /// Every failure, MAY included.
    May,
}

impl FailOn {
    /// Whether a failure at `level` fails the run under this threshold.
    pub fn gates(self, level: &str) -> bool {
        match normalize(level) {
            "should" => self >= FailOn::Should,
            "may" => self == FailOn::May,
            _ => true,
        }
    }

    /// `must`, `should` or `may`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailOn::Must => "must",
            FailOn::Should => "should",
            FailOn::May => "may",
        }
    }

    /// Whether this is the default threshold (for `skip_serializing_if`).
    pub fn is_default(&self) -> bool {
        *self == FailOn::Must
    }

    /// The levels that gate, in capitals, for headings: `MUST`, `MUST, SHOULD`, ...
    pub fn gating_label(self) -> &'static str {
        match self {
            FailOn::Must => "MUST",
            FailOn::Should => "MUST, SHOULD",
            FailOn::May => "MUST, SHOULD, MAY",
        }
    }
}

/// The level as one of `must`, `should`, `may`, `policy` (unknown levels read as `must`).
pub fn normalize(level: &str) -> &'static str {
    match level.trim().to_ascii_lowercase().as_str() {
        "should" => "should",
        "may" => "may",
        "policy" => "policy",
        _ => "must",
    }
}

/// Whether the level is a requirement (MUST or POLICY) rather than a recommendation
/// (SHOULD, MAY): area scores and the certificate's verdict count requirements only.
pub fn is_requirement(level: &str) -> bool {
    matches!(normalize(level), "must" | "policy")
}

/// `MUST`, `SHOULD`, `MAY` or `POLICY`.
pub fn label(level: &str) -> &'static str {
    match normalize(level) {
        "should" => "SHOULD",
        "may" => "MAY",
        "policy" => "POLICY",
        _ => "MUST",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_threshold_gates_must_and_policy_only() {
        let t = FailOn::default();
        assert!(t.gates("must") && t.gates("policy") && t.gates("MUST"));
        assert!(!t.gates("should") && !t.gates("may"));
        assert!(
            t.gates("something-new"),
            "unknown levels are judged as MUST"
        );
    }

    #[test]
    fn fail_on_should_and_may_widen_the_gate() {
        assert!(FailOn::Should.gates("should") && !FailOn::Should.gates("may"));
        assert!(FailOn::May.gates("should") && FailOn::May.gates("may"));
        assert!(FailOn::May.gates("must") && FailOn::Should.gates("policy"));
    }

    #[test]
    fn levels_are_labelled_and_classified() {
        assert_eq!(label("should"), "SHOULD");
        assert_eq!(label("policy"), "POLICY");
        assert_eq!(label(""), "MUST");
        assert!(is_requirement("policy") && is_requirement("must"));
        assert!(!is_requirement("may") && !is_requirement("should"));
    }
}
