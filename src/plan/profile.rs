//! Spec-version profiles (`--profile matrix-v1.N`): which scenarios apply to a spec version,
//! and which of those are mandatory (MUST-level, in a released version, not an MSC).

use super::ScenarioPlan;
use super::lower::parse_version;
use crate::scenario::model::Level;

/// The newest spec release the suite knows (v1.19, 2026-07).
pub const NEWEST: (u32, u32) = (1, 19);

/// A spec-version profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// As written: `matrix-v1.11`.
    pub name: String,
    /// (1, 11).
    pub version: (u32, u32),
}

impl Profile {
    /// Parse `matrix-v1.N` for a version the suite knows.
    pub fn parse(name: &str) -> Result<Self, String> {
        let known = || {
            (1..=NEWEST.1)
                .map(|m| format!("matrix-v1.{m}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let version = name
            .strip_prefix("matrix-")
            .and_then(parse_version)
            .ok_or_else(|| format!("unknown profile {name:?}; known profiles: {}", known()))?;
        if version.0 != 1 || version.1 == 0 || version > NEWEST {
            return Err(format!(
                "unknown profile {name:?}; known profiles: {}",
                known()
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            version,
        })
    }

    /// `v1.11`.
    pub fn version_label(&self) -> String {
        format!("v{}.{}", self.version.0, self.version.1)
    }

    /// Whether the scenario's behaviour exists in this version (MSC-only behaviour applies as
    /// optional).
    pub fn applies(&self, s: &ScenarioPlan) -> bool {
        let since = s.spec_since.as_deref().and_then(parse_version);
        since.is_none_or(|v| v <= self.version) && s.spec_removed.is_none_or(|r| r > self.version)
    }

    /// Whether a conformant server of this version must pass the scenario.
    pub fn mandatory(&self, s: &ScenarioPlan) -> bool {
        self.applies(s) && s.level == Level::Must && s.msc.is_none() && s.spec_since.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_versions_only() {
        assert_eq!(
            Profile::parse("matrix-v1.11").map(|p| p.version),
            Ok((1, 11))
        );
        assert!(Profile::parse("matrix-v1.99").is_err());
        assert!(Profile::parse("matrix-v2.0").is_err());
        let err = Profile::parse("v1.11").expect_err("needs the prefix");
        assert!(err.contains("matrix-v1.11"), "{err}");
    }
}
