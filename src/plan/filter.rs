//! `--filter` expressions, one language for every kind of check (scenarios and gateway
//! checks): comma-separated alternatives, each `area:NAME`, `tag:NAME`, `level:LEVEL`, or an
//! id pattern. A pattern with `*` is a glob over the whole id; one without matches any id that
//! contains it (`messaging` selects `cs/messaging/send-text`).

use super::ScenarioPlan;
use crate::scenario::model::Level;

/// What a filter can select on.
pub trait Selectable {
    /// The check's id (`cs/messaging/send-text`, `gateway/path/dot-segments`).
    fn id(&self) -> &str;
    /// Its area.
    fn area(&self) -> &str;
    /// Its tags (behaviour ids and others).
    fn tags(&self) -> &[String];
    /// Its requirement level.
    fn level(&self) -> Level;
}

impl Selectable for ScenarioPlan {
    fn id(&self) -> &str {
        &self.id
    }
    fn area(&self) -> &str {
        &self.area
    }
    fn tags(&self) -> &[String] {
        &self.tags
    }
    fn level(&self) -> Level {
        self.level
    }
}

/// Whether a check is selected by the filter (no filter selects everything).
pub fn matches<S: Selectable + ?Sized>(filter: Option<&str>, s: &S) -> bool {
    let Some(filter) = filter else { return true };
    filter
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .any(|term| term_matches(term, s))
}

fn term_matches<S: Selectable + ?Sized>(term: &str, s: &S) -> bool {
    if let Some(area) = term.strip_prefix("area:") {
        s.area() == area
    } else if let Some(tag) = term.strip_prefix("tag:") {
        s.tags().iter().any(|t| t == tag)
    } else if let Some(level) = term.strip_prefix("level:") {
        s.level().as_str() == level
    } else {
        glob(term, s.id())
    }
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
    use super::*;

    struct Check(&'static str, &'static str, Level);
    impl Selectable for Check {
        fn id(&self) -> &str {
            self.0
        }
        fn area(&self) -> &str {
            self.1
        }
        fn tags(&self) -> &[String] {
            &[]
        }
        fn level(&self) -> Level {
            self.2
        }
    }

    #[test]
    fn one_language_for_every_kind() {
        let gw = Check("gateway/path/dot-segments", "path", Level::Policy);
        assert!(matches(Some("path"), &gw), "a plain term is a substring");
        assert!(matches(Some("gateway/path/*"), &gw));
        assert!(!matches(Some("path/*"), &gw), "a glob covers the whole id");
        assert!(matches(Some("area:path"), &gw));
        assert!(matches(Some("level:policy"), &gw));
        assert!(!matches(Some("level:must"), &gw));
        assert!(matches(Some("level:must, area:path"), &gw));
        assert!(matches(None, &gw));
    }

    #[test]
    fn globs() {
        assert!(glob("cs/*/send*", "cs/messaging/send-text"));
        assert!(glob("messaging", "cs/messaging/send-text"));
        assert!(!glob("cs/sync/*", "cs/messaging/send-text"));
    }
}
