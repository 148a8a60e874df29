//! The coverage map as reports carry it: behaviours and spec operations side by side, per
//! area and per spec version (built by `plan::coverage_map`, rendered by `report`).

use serde::{Deserialize, Serialize};

/// Covered out of total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ratio {
    /// Covered (behaviours) or exercised (operations).
    pub covered: usize,
    /// All of them.
    pub total: usize,
}

impl Ratio {
    /// Whole percentage, rounded down; `None` when the total is 0.
    pub fn percent(&self) -> Option<usize> {
        (self.total > 0).then(|| self.covered * 100 / self.total)
    }

    pub(crate) fn add(&mut self, hit: bool) {
        self.total += 1;
        if hit {
            self.covered += 1;
        }
    }
}

/// One checklist area.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AreaRow {
    /// Checklist area, e.g. `CS-SYNC` (`CS-OTHER`/`FED-OTHER` for operations without one).
    pub area: String,
    /// Behaviours of the area tagged by a scenario.
    pub behaviours: Ratio,
    /// Spec operations of the area (at the newest version) exercised by a scenario.
    pub operations: Ratio,
}

/// One spec version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRow {
    /// `v1.11`.
    pub version: String,
    /// Operations this version added (still current or not), exercised.
    pub operations_added: Ratio,
    /// Operations that exist at this version (cumulative), exercised.
    pub operations_current: Ratio,
    /// Scenarios whose `since` is this version or older (cumulative).
    pub scenarios: usize,
    /// Checklist behaviours those scenarios cover (cumulative; the total is the checklist).
    pub behaviours: Ratio,
}

/// A spec operation no scenario exercises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingOperation {
    /// `METHOD /path`.
    pub id: String,
    /// "client-server", "server-server" or "msc4186".
    pub api: String,
    /// Checklist area.
    pub area: String,
    /// First spec version with it (none for an MSC).
    pub since: Option<String>,
    /// Why no scenario exercises it (src/plan/operations_reasons.tsv), if recorded.
    pub reason: Option<String>,
}

/// Behaviours and operations side by side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageMap {
    /// The spec version the operation list is judged at (`v1.19`).
    pub spec_version: String,
    /// Scenarios counted.
    pub scenarios: usize,
    /// All checklist behaviours.
    pub behaviours: Ratio,
    /// All spec operations (client-server and server-server) at `spec_version`.
    pub operations: Ratio,
    /// Per area, sorted.
    pub areas: Vec<AreaRow>,
    /// Per spec version, oldest first.
    pub versions: Vec<VersionRow>,
    /// Operations current at `spec_version` (and MSC4186's) that no scenario exercises.
    pub missing: Vec<MissingOperation>,
}
