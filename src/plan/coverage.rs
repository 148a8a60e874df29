//! Behaviour coverage: which of the checklist's behaviour IDs (`CS-SYNC-07`, `FED-PDU-02`, ...)
//! the selected scenarios are tagged with, per checklist area, and which tags look like
//! behaviour IDs but name none (a typo would otherwise silently count for nothing).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use serde::Serialize;

/// One behaviour of the checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Behaviour {
    /// Stable ID, e.g. `CS-SYNC-07`.
    pub id: String,
    /// Checklist area, e.g. `CS-SYNC`.
    pub area: String,
    /// `MUST`, `SHOULD`, ... or `-` when the spec uses no keyword.
    pub level: String,
    /// The first words of the behaviour.
    pub text: String,
}

static CHECKLIST: LazyLock<Vec<Behaviour>> = LazyLock::new(|| parse(include_str!("checklist.tsv")));

/// The checklist shipped with this build (see scripts/gen-checklist.py).
pub fn checklist() -> &'static [Behaviour] {
    &CHECKLIST
}

fn parse(tsv: &str) -> Vec<Behaviour> {
    tsv.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut cols = l.splitn(4, '\t');
            Some(Behaviour {
                id: cols.next()?.to_owned(),
                area: cols.next()?.to_owned(),
                level: cols.next()?.to_owned(),
                text: cols.next().unwrap_or_default().to_owned(),
            })
        })
        .collect()
}

/// Whether a tag has the shape of a behaviour ID (`CS-...-NN` or `FED-...-NN`).
pub fn looks_like_behaviour_id(tag: &str) -> bool {
    let Some((prefix, number)) = tag.rsplit_once('-') else {
        return false;
    };
    (prefix.starts_with("CS-") || prefix.starts_with("FED-"))
        && prefix.len() > 3
        && prefix
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
        && number.len() == 2
        && number.chars().all(|c| c.is_ascii_digit())
}

/// Covered out of total for one checklist area.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AreaCoverage {
    /// Checklist area, e.g. `CS-SYNC`.
    pub area: String,
    /// Behaviours of the area that at least one scenario is tagged with.
    pub covered: usize,
    /// Behaviours of the area.
    pub total: usize,
    /// IDs of the area no scenario is tagged with.
    pub uncovered: Vec<String>,
}

/// Coverage of the checklist by a set of scenarios.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// Behaviours covered by at least one scenario.
    pub covered: usize,
    /// Behaviours in the checklist.
    pub total: usize,
    /// Per checklist area, sorted by area.
    pub areas: Vec<AreaCoverage>,
    /// Tags shaped like behaviour IDs that the checklist does not have, with the scenarios
    /// carrying them.
    pub unknown: BTreeMap<String, Vec<String>>,
}

impl Coverage {
    /// Coverage of `checklist` by scenarios given as (scenario id, tags).
    pub fn build<'a>(
        checklist: &[Behaviour],
        scenarios: impl IntoIterator<Item = (&'a str, &'a [String])>,
    ) -> Self {
        let known: BTreeSet<&str> = checklist.iter().map(|b| b.id.as_str()).collect();
        let mut tagged: BTreeSet<&str> = BTreeSet::new();
        let mut unknown: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (id, tags) in scenarios {
            for tag in tags {
                if let Some(k) = known.get(tag.as_str()) {
                    tagged.insert(k);
                } else if looks_like_behaviour_id(tag) {
                    unknown.entry(tag.clone()).or_default().push(id.to_owned());
                }
            }
        }
        let mut by_area: BTreeMap<&str, AreaCoverage> = BTreeMap::new();
        for b in checklist {
            let entry = by_area
                .entry(b.area.as_str())
                .or_insert_with(|| AreaCoverage {
                    area: b.area.clone(),
                    covered: 0,
                    total: 0,
                    uncovered: Vec::new(),
                });
            entry.total += 1;
            if tagged.contains(b.id.as_str()) {
                entry.covered += 1;
            } else {
                entry.uncovered.push(b.id.clone());
            }
        }
        for list in unknown.values_mut() {
            list.sort();
            list.dedup();
        }
        Self {
            covered: tagged.len(),
            total: checklist.len(),
            areas: by_area.into_values().collect(),
            unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(id: &str) -> Behaviour {
        Behaviour {
            id: id.into(),
            area: id.rsplit_once('-').map(|(a, _)| a.to_owned()).unwrap(),
            level: "MUST".into(),
            text: String::new(),
        }
    }

    #[test]
    fn the_shipped_checklist_has_every_behaviour_once() {
        let list = checklist();
        assert_eq!(list.len(), 548);
        let ids: BTreeSet<_> = list.iter().map(|b| &b.id).collect();
        assert_eq!(ids.len(), list.len());
        assert!(list.iter().all(|b| looks_like_behaviour_id(&b.id)));
    }

    #[test]
    fn counts_covered_behaviours_per_area_and_flags_unknown_ids() {
        let list = [b("CS-SYNC-01"), b("CS-SYNC-02"), b("FED-PDU-01")];
        let t1 = vec!["CS-SYNC-01".to_owned(), "must".to_owned()];
        let t2 = vec!["CS-SYNC-01".to_owned(), "CS-SYNC-99".to_owned()];
        let t3 = vec!["FED-PDU-01".to_owned(), "SS-01".to_owned()];
        let cov = Coverage::build(
            &list,
            [
                ("a", t1.as_slice()),
                ("b", t2.as_slice()),
                ("c", t3.as_slice()),
            ],
        );
        assert_eq!((cov.covered, cov.total), (2, 3));
        assert_eq!(cov.areas.len(), 2);
        assert_eq!(cov.areas[0].area, "CS-SYNC");
        assert_eq!((cov.areas[0].covered, cov.areas[0].total), (1, 2));
        assert_eq!(cov.areas[0].uncovered, vec!["CS-SYNC-02".to_owned()]);
        // A typo'd ID is reported with its scenario; other tag kinds are not IDs.
        assert_eq!(cov.unknown.get("CS-SYNC-99"), Some(&vec!["b".to_owned()]));
        assert_eq!(cov.unknown.len(), 1);
    }

    #[test]
    fn behaviour_id_shape() {
        assert!(looks_like_behaviour_id("CS-SYNC-07"));
        assert!(looks_like_behaviour_id("FED-PDU-02"));
        assert!(looks_like_behaviour_id("CS-3PINV-01"));
        assert!(!looks_like_behaviour_id("must"));
        assert!(!looks_like_behaviour_id("SS-01"));
        assert!(!looks_like_behaviour_id("CS-SYNC-7"));
        assert!(!looks_like_behaviour_id("B.2-1"));
    }
}
