//! Product profiles of gateways (`fixtures/gateway/profiles/*.yaml`, `--gateway-profile`):
//! the exact status a product answers each refusal with. Check files accept every code the
//! spec allows (any 4xx where it names none) or, for policies, the codes products use (e.g.
//! 401 or 403); a profile narrows that to the one code its product is expected to send, so a
//! product that changes its answer fails the check (at level policy: `super::level`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::suite::{Check, Verdict};

/// One product's expected refusal statuses.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Always 1.
    pub schema: u32,
    /// The product described.
    pub product: String,
    /// Status of a refusal, keyed by check id or `area:NAME` (a check id wins).
    #[serde(default)]
    pub refusals: BTreeMap<String, u16>,
}

impl Profile {
    /// Read and check a profile file.
    pub fn load(path: &Path) -> Result<Profile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let profile: Profile =
            serde_saphyr::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if profile.schema != 1 {
            return Err(format!("{}: schema must be 1", path.display()));
        }
        if let Some((key, code)) = profile
            .refusals
            .iter()
            .find(|(_, c)| !(400..600).contains(*c))
        {
            return Err(format!(
                "{}: {key}: {code} is not an error status",
                path.display()
            ));
        }
        Ok(profile)
    }

    /// The status this product is expected to refuse `check` with, if the profile says.
    pub fn refusal_for(&self, check: &Check) -> Option<u16> {
        self.refusals
            .get(&check.id)
            .or_else(|| self.refusals.get(&format!("area:{}", check.area)))
            .copied()
    }

    /// Narrow every refusal check the profile names to its one expected status. Returns the
    /// profile keys that matched no selected check (probably typos).
    pub fn apply<'a>(&'a self, checks: &mut [Check]) -> Vec<&'a str> {
        for check in checks.iter_mut() {
            if check.expect.verdict != Verdict::Refused {
                continue;
            }
            if let Some(code) = self.refusal_for(check) {
                check.expect.status = Some(vec![code]);
            }
        }
        self.refusals
            .keys()
            .filter(|k| {
                !checks
                    .iter()
                    .any(|c| c.id == **k || k.strip_prefix("area:").is_some_and(|a| a == c.area))
            })
            .map(String::as_str)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::suite;

    #[test]
    fn a_check_id_wins_over_its_area_and_only_refusals_are_narrowed() {
        let check = |id: &str, verdict: &str| {
            let text = format!(
                "schema: 1\nid: {id}\ntitle: t\narea: deny\nlevel: policy\nbasis: b\ngateway: {{ from: denied, method: GET, target: /x }}\nexpect: {{ verdict: {verdict}, status: [401, 403] }}\n"
            );
            suite::parse(Path::new("x.yaml"), &text).unwrap()
        };
        let mut checks = vec![
            check("gateway/deny/a", "refused"),
            check("gateway/deny/b", "refused"),
            check("gateway/deny/c", "forwarded"),
        ];
        let profile = Profile {
            schema: 1,
            product: "p".into(),
            refusals: [
                ("area:deny".to_owned(), 403),
                ("gateway/deny/b".to_owned(), 401),
                ("gateway/deny/typo".to_owned(), 401),
            ]
            .into(),
        };
        assert_eq!(profile.apply(&mut checks), ["gateway/deny/typo"]);
        assert_eq!(checks[0].expect.status, Some(vec![403]));
        assert_eq!(checks[1].expect.status, Some(vec![401]));
        assert_eq!(checks[2].expect.status, Some(vec![401, 403]));
    }
}
