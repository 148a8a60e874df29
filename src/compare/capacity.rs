//! The capacity part of a comparison: each candidate's found population, bracket and limiting
//! threshold side by side, when every report carries a capacity search.

use std::fmt::Write as _;

use crate::results::RunReport;
use crate::results::load::CapacityReport;

/// Each report's capacity, in order; `None` unless every report has one.
pub fn cells(reports: &[(String, RunReport)]) -> Option<Vec<CapacityReport>> {
    reports
        .iter()
        .map(|(_, r)| r.load.as_ref().and_then(|l| l.capacity.clone()))
        .collect()
}

fn users(v: Option<usize>) -> String {
    v.map_or("—".into(), |n| n.to_string())
}

/// Rows `(candidate, holds at, fails at, limiting)` for the renderers, best found marked.
pub fn rows(names: &[String], caps: &[CapacityReport]) -> Vec<[String; 4]> {
    let best = caps.iter().filter_map(|c| c.found).max();
    names
        .iter()
        .zip(caps)
        .map(|(name, c)| {
            let mark = if c.found.is_some() && c.found == best {
                " (best)"
            } else {
                ""
            };
            [
                format!("{name}{mark}"),
                users(c.found),
                users(c.high),
                c.limiting.clone().unwrap_or_else(|| c.ending.clone()),
            ]
        })
        .collect()
}

/// Terminal lines: `capacity NAME: ANSWER`.
pub fn terminal(names: &[String], caps: &[CapacityReport]) -> String {
    let mut out = String::new();
    let best = caps.iter().filter_map(|c| c.found).max();
    for (name, c) in names.iter().zip(caps) {
        let mark = if c.found.is_some() && c.found == best {
            " (best)"
        } else {
            ""
        };
        let _ = writeln!(out, "capacity {name}{mark}: {}", c.answer);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(found: Option<usize>, high: Option<usize>, answer: &str) -> CapacityReport {
        CapacityReport {
            found,
            low: found,
            high,
            ending: "bracketed".into(),
            answer: answer.into(),
            limiting: high.map(|_| "p95 < 500ms for send: observed 612.0ms, limit < 500ms".into()),
            limiting_observed: high.map(|_| 612.0),
            steps: Vec::new(),
        }
    }

    #[test]
    fn capacity_side_by_side() {
        let names = ["synapse".to_owned(), "conduit".to_owned()];
        let caps = [
            cap(
                Some(420),
                Some(460),
                "holds at 420 users, fails at 460: p95 < 500ms for send: observed 612.0ms, limit < 500ms",
            ),
            cap(
                Some(300),
                Some(320),
                "holds at 300 users, fails at 320: p95 < 500ms for send: observed 540.2ms, limit < 500ms",
            ),
        ];
        let mut text = terminal(&names, &caps);
        for r in rows(&names, &caps) {
            text.push_str(&r.join(" | "));
            text.push('\n');
        }
        insta::assert_snapshot!(text);
    }
}
