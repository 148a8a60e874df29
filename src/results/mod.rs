//! The run's results: [`RunReport`] is the single, versioned source from which every
//! report format is rendered. Secrets are redacted before anything lands here
//! (see [`redact`]).

pub mod coverage;
pub mod level;
pub mod load;
pub mod redact;
pub mod score;

pub use level::FailOn;
pub use score::{area_scores, summarize, summarize_at};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version of the `report.json` format. Bump on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;

/// Everything one run produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// Always [`FORMAT_VERSION`] when written by this build.
    pub format_version: u32,
    /// Tool name and version that produced the report.
    pub tool: ToolInfo,
    /// When the run happened and how long it took.
    pub run: RunInfo,
    /// What was tested.
    pub target: TargetInfo,
    /// Counts over all scenarios.
    pub summary: Summary,
    /// Per-area scores, sorted by area.
    pub areas: Vec<AreaScore>,
    /// The spec-version profile the run was judged against (`--profile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ProfileResult>,
    /// Which of the catalogued Client-Server endpoints the run exercised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<EndpointCoverage>,
    /// Behaviours and spec operations of the run's scenarios, per area and spec version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<coverage::CoverageMap>,
    /// One entry per selected scenario, sorted by id.
    pub scenarios: Vec<ScenarioResult>,
    /// What a load run measured (`mxharness load`); its thresholds are the scenarios.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<load::LoadReport>,
}

/// Tool identification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolInfo {
    /// "mxharness".
    pub name: String,
    /// Crate version.
    pub version: String,
}

/// Run timing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// RFC 3339 UTC timestamp of the start.
    pub started_at: String,
    /// Wall time of the whole run in milliseconds.
    pub duration_ms: u64,
    /// Scenario paths given on the command line.
    pub paths: Vec<String>,
    /// `--filter` expression, if any.
    pub filter: Option<String>,
    /// Number of parallel jobs.
    pub jobs: usize,
    /// SHA-256 over the scenario files that were loaded (sorted paths and contents), so a
    /// certificate can name exactly which suite was run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario_set_sha256: Option<String>,
    /// The run was stopped before its end (signal, deadline, or killed, as read back from
    /// results.jsonl); scenarios it did not finish are skipped as "not run".
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// What stopped it (`SIGTERM`, `deadline 20s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_by: Option<String>,
}

/// The system under test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetInfo {
    /// "url" or "spawned-synapse".
    pub kind: String,
    /// Base URL of the client-server API.
    pub base_url: String,
    /// The server name users were created on.
    pub server_name: String,
    /// Implementation and version, when the server says.
    pub server_version: Option<String>,
    /// `versions` from `/_matrix/client/versions`.
    pub spec_versions: Vec<String>,
    /// How users were provisioned: "shared-secret", "open" or "token".
    pub registration: String,
    /// The sliding-sync dialect the target speaks and where, when the run probed for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sliding_sync: Option<String>,
}

/// The result against a spec-version profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileResult {
    /// `matrix-v1.11`.
    pub name: String,
    /// `v1.11`.
    pub version: String,
    /// MUST-level scenarios of released spec versions up to this one.
    pub mandatory: Tally,
    /// SHOULD/MAY-level and MSC scenarios that apply.
    pub optional: Tally,
}

/// Passed out of total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Passed (known failures and skips do not count as passed).
    pub passed: usize,
    /// All selected scenarios of the set, skipped ones included.
    pub total: usize,
}

/// Endpoint coverage of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointCoverage {
    /// Where the list of endpoints comes from (the ruma crate and version).
    pub catalogue: String,
    /// Endpoints in the catalogue.
    pub total: usize,
    /// `METHOD /path/{template}` of each endpoint the run sent a request to, sorted.
    pub exercised: Vec<String>,
    /// The others, sorted.
    pub not_exercised: Vec<String>,
}

/// Counts by outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Scenarios selected.
    pub total: usize,
    /// Passed.
    pub passed: usize,
    /// A check failed.
    pub failed: usize,
    /// The scenario could not run (setup or harness problem).
    pub errored: usize,
    /// Not run, with a reason.
    pub skipped: usize,
    /// A set-up step failed, so the behaviour under test was not checked.
    #[serde(default)]
    pub blocked: usize,
    /// The server does not implement an operation the scenario checks.
    #[serde(default)]
    pub unsupported: usize,
    /// Failed as the expectations file says they do (included in `failed`/`errored`).
    #[serde(default)]
    pub known_failures: usize,
    /// Listed as known failures but passed (included in `passed`, or in `failed` under
    /// `--strict`).
    #[serde(default)]
    pub unexpected_passes: usize,
    /// Quarantined scenarios (their outcome never fails the run).
    #[serde(default)]
    pub quarantined: usize,
    /// Scenarios that passed only on a retry (`--retries`).
    #[serde(default)]
    pub flaky: usize,
    /// Responses that did not match the spec schema but were accepted (`--lenient-schema`).
    #[serde(default)]
    pub schema_warnings: usize,
    /// The same counts per requirement level. `failed` above counts every level; the exit
    /// code and the headline count only the levels [`Summary::fail_on`] gates.
    #[serde(default)]
    pub levels: LevelSummary,
    /// The lowest level whose failures fail the run (`--fail-on`; absent means `must`).
    #[serde(default, skip_serializing_if = "FailOn::is_default")]
    pub fail_on: FailOn,
}

/// Counts per requirement level (`summary.levels`). A scenario of an unknown level is
/// counted as `must`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelSummary {
    /// MUST / REQUIRED / SHALL, normative schemas, behaviour the spec states as fact.
    #[serde(default)]
    pub must: LevelCounts,
    /// SHOULD / RECOMMENDED.
    #[serde(default)]
    pub should: LevelCounts,
    /// MAY / OPTIONAL.
    #[serde(default)]
    pub may: LevelCounts,
    /// Deployment rules the spec does not state (gateway checks).
    #[serde(default)]
    pub policy: LevelCounts,
}

impl LevelSummary {
    /// The counts of `level` (one of the four; unknown levels are `must`).
    pub fn get(&self, level: &str) -> &LevelCounts {
        match level::normalize(level) {
            "should" => &self.should,
            "may" => &self.may,
            "policy" => &self.policy,
            _ => &self.must,
        }
    }

    /// The counts of `level`, for filling in.
    pub fn get_mut(&mut self, level: &str) -> &mut LevelCounts {
        match level::normalize(level) {
            "should" => &mut self.should,
            "may" => &mut self.may,
            "policy" => &mut self.policy,
            _ => &mut self.must,
        }
    }

    /// `(level, counts)` in the order must, should, may, policy.
    pub fn iter(&self) -> [(&'static str, &LevelCounts); 4] {
        [
            ("must", &self.must),
            ("should", &self.should),
            ("may", &self.may),
            ("policy", &self.policy),
        ]
    }
}

/// Counts by outcome of the scenarios of one level. Known failures are counted in `failed`
/// (or `errored`) like every failure, and again in `known_failures`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelCounts {
    /// Scenarios of this level.
    #[serde(default)]
    pub total: usize,
    /// Passed.
    #[serde(default)]
    pub passed: usize,
    /// Failed (known failures included).
    #[serde(default)]
    pub failed: usize,
    /// Could not run.
    #[serde(default)]
    pub errored: usize,
    /// Not run, with a reason.
    #[serde(default)]
    pub skipped: usize,
    /// A set-up step failed.
    #[serde(default)]
    pub blocked: usize,
    /// An operation the scenario checks is not implemented.
    #[serde(default)]
    pub unsupported: usize,
    /// Failed as the expectations file says (also in `failed`/`errored`).
    #[serde(default)]
    pub known_failures: usize,
}

impl Summary {
    /// Failed scenarios whose level the run's threshold gates (known failures included):
    /// the headline "failed" count.
    pub fn gating_failures(&self) -> usize {
        self.levels
            .iter()
            .iter()
            .filter(|(level, _)| self.fail_on.gates(level))
            .map(|(_, c)| c.failed)
            .sum()
    }

    /// Failures at gating levels that no expectation covers (what makes the run fail).
    pub fn gating_unexpected_failures(&self) -> usize {
        self.levels
            .iter()
            .iter()
            .filter(|(level, _)| self.fail_on.gates(level))
            .map(|(_, c)| c.failed.saturating_sub(c.known_failures))
            .sum()
    }

    /// Failed scenarios whose level does not gate: recommendations not met.
    pub fn recommendations_not_met(&self) -> usize {
        self.levels
            .iter()
            .iter()
            .filter(|(level, _)| !self.fail_on.gates(level))
            .map(|(_, c)| c.failed)
            .sum()
    }
}

impl Failure {
    /// A scenario that could not run (step 0, kind "setup"), with no transcript.
    pub fn setup(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            step: 0,
            location: location.into(),
            kind: "setup".into(),
            message: message.into(),
            expected: None,
            actual: None,
            checks: Vec::new(),
            transcript: Vec::new(),
        }
    }
}

impl ScenarioResult {
    /// A passed result with no steps yet; the runner fills it in.
    pub fn new(
        id: impl Into<String>,
        title: impl Into<String>,
        area: impl Into<String>,
        file: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            title: title.into(),
            area: area.into(),
            file: file.into(),
            tags: Vec::new(),
            spec_since: None,
            spec_section: None,
            level: default_level(),
            basis: None,
            msc: None,
            outcome: Outcome::Passed,
            duration_ms: 0,
            steps: Vec::new(),
            failure: None,
            skip_reason: None,
            attempts: 1,
            flaky: false,
            retried_failures: Vec::new(),
            warnings: Vec::new(),
            properties: BTreeMap::new(),
            endpoints: Vec::new(),
            expectation: None,
        }
    }

    /// Whether this result fails the run under the default threshold (MUST and POLICY
    /// gate); see [`ScenarioResult::fails_run_at`].
    pub fn fails_run(&self) -> bool {
        self.fails_run_at(FailOn::Must)
    }

    /// Whether this result fails the run under `fail_on`: a failure, or an unsupported
    /// operation, at a level the threshold gates, an error at any level (the check could
    /// not run), or an unexpected pass under `--strict` at any level; never when an
    /// expectation covers it. Blocked, skipped and passed
    /// scenarios never fail the run.
    pub fn fails_run_at(&self, fail_on: FailOn) -> bool {
        let strict_unexpected_pass = matches!(
            self.expectation.as_ref().map(|e| e.kind),
            Some(ExpectationKind::UnexpectedPass)
        );
        let gated = match self.outcome {
            Outcome::Errored => true,
            // `--strict` turned an unexpected pass into a failure: the list is wrong,
            // whatever the level.
            Outcome::Failed if strict_unexpected_pass => true,
            Outcome::Failed | Outcome::Unsupported => fail_on.gates(&self.level),
            Outcome::Passed | Outcome::Skipped | Outcome::Blocked => false,
        };
        gated && !self.excused()
    }

    /// A failure at a level `fail_on` does not gate (SHOULD/MAY by default): a
    /// recommendation not met. Known failures are not counted here (they are listed apart).
    pub fn recommendation_not_met(&self, fail_on: FailOn) -> bool {
        self.outcome == Outcome::Failed && !self.fails_run_at(fail_on) && !self.excused()
    }

    /// Whether an expectations entry (known failure, quarantine) covers this result.
    pub fn excused(&self) -> bool {
        matches!(
            self.expectation.as_ref().map(|e| e.kind),
            Some(ExpectationKind::KnownFailure | ExpectationKind::Quarantined)
        )
    }

    /// `MUST`, `SHOULD`, `MAY` or `POLICY`.
    pub fn level_label(&self) -> &'static str {
        level::label(&self.level)
    }
}

impl RunReport {
    /// The summary with `levels` filled in from the scenarios when the report predates
    /// them (every count zero although scenarios ran).
    pub fn summary_with_levels(&self) -> Summary {
        let mut summary = self.summary.clone();
        let counted: usize = summary.levels.iter().iter().map(|(_, c)| c.total).sum();
        if counted == 0 && !self.scenarios.is_empty() {
            summary.levels = score::level_summary(&self.scenarios);
        }
        summary
    }

    /// Whether the run fails: some scenario fails it under the report's `--fail-on`.
    pub fn fails(&self) -> bool {
        self.scenarios
            .iter()
            .any(|s| s.fails_run_at(self.summary.fail_on))
    }
}

/// An "Are We Synapse Yet" style score for one area.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AreaScore {
    /// Area id as written in scenarios (e.g. "messaging").
    pub area: String,
    /// Passed scenarios.
    pub passed: usize,
    /// Scenarios that ran (skips excluded).
    pub ran: usize,
    /// Skipped scenarios.
    pub skipped: usize,
    /// SHOULD/MAY scenarios that passed (not part of the score).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub recommendations_passed: usize,
    /// SHOULD/MAY scenarios that ran (not part of the score).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub recommendations_ran: usize,
}

/// The outcome of one scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Every step's expectations held.
    Passed,
    /// An expectation did not hold (including a broken or unreachable server).
    Failed,
    /// The scenario could not be run (e.g. users could not be provisioned).
    Errored,
    /// Not run; see `skip_reason`.
    Skipped,
    /// A step that only sets up the behaviour under test failed, so the behaviour was not
    /// checked; `failure` names the step (not a failure of the behaviour).
    Blocked,
    /// The server does not implement an operation the scenario checks (404/405
    /// `M_UNRECOGNIZED`); reported once per operation, apart from failed behaviours.
    Unsupported,
}

/// The result of one scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// Scenario id (`cs/messaging/send-text`).
    pub id: String,
    /// Human title.
    pub title: String,
    /// Spec area.
    pub area: String,
    /// Scenario file, relative to the working directory.
    pub file: String,
    /// Tags, including behaviour IDs.
    pub tags: Vec<String>,
    /// Spec version the behaviour appeared in.
    pub spec_since: Option<String>,
    /// Spec section (URL fragment or path).
    pub spec_section: Option<String>,
    /// Requirement level: "must", "should", "may" or "policy".
    #[serde(default = "default_level")]
    pub level: String,
    /// Where the spec states the requirement: a short quote or an OpenAPI pointer, shown
    /// next to a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
    /// MSC number, for behaviour from a proposal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msc: Option<String>,
    /// Outcome.
    pub outcome: Outcome,
    /// Wall time in milliseconds (setup included).
    pub duration_ms: u64,
    /// Per-step results, in order, up to and including the first failing step.
    pub steps: Vec<StepResult>,
    /// Why it failed or errored.
    pub failure: Option<Failure>,
    /// Why it was skipped.
    pub skip_reason: Option<String>,
    /// How many times the scenario ran (more than 1 with `--retries`).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub attempts: u32,
    /// Passed only on a retry; the earlier failures are in `retried_failures`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub flaky: bool,
    /// Messages of the failed attempts before the final one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retried_failures: Vec<String>,
    /// Accepted deviations (`--lenient-schema`): `file:line:col: message`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Observed values recorded by `record:` steps (where implementations legitimately differ).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, String>,
    /// Catalogued endpoints the scenario sent requests to (`METHOD /path/{template}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<String>,
    /// What the expectations file says about this scenario, when it says something.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expectation: Option<ExpectationNote>,
}

/// How an expectations file judged a scenario's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExpectationKind {
    /// Listed as a known failure, and it failed: does not fail the run.
    KnownFailure,
    /// Listed as a known failure, but it passed: remove it from the list (fails the run
    /// under `--strict`).
    UnexpectedPass,
    /// Quarantined (flaky): its outcome never fails the run.
    Quarantined,
}

/// The expectation applied to one scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectationNote {
    /// Known failure, unexpected pass or quarantined.
    pub kind: ExpectationKind,
    /// The reason written in the expectations file.
    pub reason: String,
    /// The expectations file (and line) that says so.
    pub source: String,
}

/// The result of one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    /// 1-based step number.
    pub index: usize,
    /// What the step does: `alice: call send` or `request PUT /_matrix/...`.
    pub label: String,
    /// Passed or failed.
    pub passed: bool,
    /// Wall time including every `eventually` attempt.
    pub duration_ms: u64,
    /// How many times it was sent (more than 1 under `eventually`).
    pub attempts: u32,
}

/// Why a scenario failed or errored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// 1-based number of the failing step (0 for setup).
    pub step: usize,
    /// `file:line:col` of the failing step or expectation.
    pub location: String,
    /// Kind: "status", "errcode", "body", "schema", "transport", "timeout", "setup", ...
    pub kind: String,
    /// One-line message.
    pub message: String,
    /// What was expected, rendered.
    pub expected: Option<String>,
    /// What was seen, rendered.
    pub actual: Option<String>,
    /// Every check of the step that failed (the first is repeated in the fields above).
    pub checks: Vec<CheckFailure>,
    /// HTTP exchanges of the failing step (last attempt), secrets redacted.
    pub transcript: Vec<Exchange>,
}

/// One failed check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckFailure {
    /// `file:line:col` of the expectation.
    pub location: String,
    /// Kind, as in [`Failure::kind`].
    pub kind: String,
    /// One-line message.
    pub message: String,
    /// What was expected.
    pub expected: Option<String>,
    /// What was seen.
    pub actual: Option<String>,
}

/// One HTTP request and its response, as the harness saw them (secrets redacted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    /// HTTP method.
    pub method: String,
    /// Full URL, query included.
    pub url: String,
    /// Request headers (sorted; Authorization redacted).
    pub request_headers: BTreeMap<String, String>,
    /// Request body as text (truncated).
    pub request_body: Option<String>,
    /// Response status, if a response came.
    pub status: Option<u16>,
    /// Response headers (sorted).
    pub response_headers: BTreeMap<String, String>,
    /// Response body as text (truncated).
    pub response_body: Option<String>,
    /// Transport error (connection refused, reset, timeout), if any.
    pub error: Option<String>,
    /// Time from sending to the end of the response body.
    pub duration_ms: u64,
}

fn default_level() -> String {
    "must".to_owned()
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}
