//! `--filter` expressions: comma-separated alternatives, each `area:NAME`, `tag:NAME`, or a
//! glob (`*`) over the scenario id.

use super::ScenarioPlan;

/// Whether a scenario is selected by the filter (no filter selects everything).
pub fn matches(filter: Option<&str>, s: &ScenarioPlan) -> bool {
    let Some(filter) = filter else { return true };
    filter
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .any(|term| {
            if let Some(area) = term.strip_prefix("area:") {
                s.area == area
            } else if let Some(tag) = term.strip_prefix("tag:") {
                s.tags.iter().any(|t| t == tag)
            } else {
                glob(term, &s.id)
            }
        })
}

fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return text == pattern || text.contains(pattern);
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            let Some(idx) = rest.find(part) else {
                return false;
            };
            rest = &rest[idx + part.len()..];
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs() {
        assert!(glob("cs/*/send*", "cs/messaging/send-text"));
        assert!(glob("messaging", "cs/messaging/send-text"));
        assert!(!glob("cs/sync/*", "cs/messaging/send-text"));
    }
}
