//! `--filter` (`-E`) expressions, the one language of every mode that selects (`run`, `list`
//! and `coverage` of scenarios, gateway runs and listings, `list` of load plans): comma-separated
//! alternatives, each `area:NAME`, `tag:NAME`, `level:LEVEL` (exact), or an id pattern. An id
//! pattern with `*` is a glob anchored at both ends (`cs/*/send-*`; `*` matches any run of
//! characters, `/` included); one without `*` is a substring (`messaging` selects
//! `cs/messaging/send-text`). docs/decisions.md, "One filter language".

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
    /// Whether it has a requirement level at all (a load plan has none: `level:` never
    /// selects it).
    fn has_level(&self) -> bool {
        true
    }
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
        s.has_level() && s.level().as_str() == level
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

    struct Check(&'static str, &'static str, Option<Level>);
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
            self.2.unwrap_or(Level::Must)
        }
        fn has_level(&self) -> bool {
            self.2.is_some()
        }
    }

    #[test]
    fn one_language_for_every_kind() {
        let gw = Check("gateway/path/dot-segments", "path", Some(Level::Policy));
        assert!(matches(Some("path"), &gw), "a plain term is a substring");
        assert!(matches(Some("gateway/path/*"), &gw));
        assert!(!matches(Some("path/*"), &gw), "a glob covers the whole id");
        assert!(matches(Some("area:path"), &gw));
        assert!(matches(Some("level:policy"), &gw));
        assert!(!matches(Some("level:must"), &gw));
        assert!(matches(Some("level:must, area:path"), &gw));
        assert!(matches(None, &gw));
        let plan = Check("load/smoke", "load", None);
        assert!(matches(Some("smoke"), &plan));
        assert!(matches(Some("area:load"), &plan));
        assert!(!matches(Some("level:must"), &plan), "a plan has no level");
    }

    #[test]
    fn a_plain_word_is_a_substring_in_every_mode() {
        // The same words select the same ids whatever kind of check carries them.
        let ids = [
            ("cs/messaging/send-text", "messaging"),
            ("gateway/messaging/relay", "messaging"),
            ("load/messaging-burst", "load"),
        ];
        for (id, area) in ids {
            let c = Check(id, area, Some(Level::Must));
            assert!(matches(Some("messaging"), &c), "{id}");
            assert!(
                !matches(Some("messaging/*"), &c),
                "{id}: a glob is anchored"
            );
            assert!(matches(Some("*messaging*"), &c), "{id}");
        }
    }

    #[test]
    fn globs() {
        assert!(glob("cs/*/send*", "cs/messaging/send-text"));
        assert!(glob("messaging", "cs/messaging/send-text"));
        assert!(!glob("cs/sync/*", "cs/messaging/send-text"));
        assert!(glob("*", "anything"));
        assert!(glob("cs/messaging/send-text", "cs/messaging/send-text"));
        assert!(
            !glob("cs/*/send", "cs/messaging/send-text"),
            "anchored at the end"
        );
        assert!(glob("*/send-text", "cs/messaging/send-text"));
    }
}
