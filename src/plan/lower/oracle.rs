//! Judging a scenario against the spec oracle (src/oracle): expected statuses and errcodes
//! the operation does not document need a `basis:`, optional fields may not be asserted at
//! the `must` level, and `spec.since` must be at least the version of every operation,
//! parameter (used or left out) and room version the scenario relies on.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{Lowering, Predicate, StepPlan};
use crate::oracle::{self, Operation, Version};
use crate::plan::Action;
use crate::scenario::model::{Level, RawScenario};

/// What one step sends, as far as the oracle cares.
struct Sent<'a> {
    method: String,
    path: String,
    /// Names of query parameters (or typed-call arguments) given.
    given: BTreeSet<String>,
    /// A body or arguments to look for `room_version` in.
    body: Option<&'a Value>,
}

fn sent(step: &StepPlan) -> Option<Sent<'_>> {
    match &step.action {
        Action::Call { op, args } => {
            let (method, path) = op.endpoint();
            let path = path.split(' ').next().unwrap_or(path);
            let given = args
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            Some(Sent {
                method: method.to_owned(),
                path: path.to_owned(),
                given,
                body: Some(args),
            })
        }
        Action::Request(r) => {
            let mut given: BTreeSet<String> = r.query.iter().map(|(k, _)| k.clone()).collect();
            if let Some((_, q)) = r.path.split_once('?') {
                for pair in q.split('&') {
                    given.insert(pair.split('=').next().unwrap_or(pair).to_owned());
                }
            }
            let body = match &r.body {
                crate::plan::Body::Json(v) => Some(v),
                _ => None,
            };
            Some(Sent {
                method: r.method.as_str().to_owned(),
                path: r.path.clone(),
                given,
                body,
            })
        }
        Action::Federation(f) => Some(Sent {
            method: f.method.to_uppercase(),
            path: f.path.clone(),
            given: f.query.keys().cloned().collect(),
            body: f.json.as_ref(),
        }),
        _ => None,
    }
}

/// A version the scenario needs, and why.
struct Need {
    version: Version,
    pointer: String,
    why: String,
}

impl Lowering<'_> {
    /// Apply the oracle rules to a lowered scenario.
    pub(super) fn oracle_rules(&mut self, raw: &RawScenario, steps: &[StepPlan], level: Level) {
        let Some(oracle) = oracle::get() else { return };
        let since = raw
            .spec
            .as_ref()
            .and_then(|s| s.since.as_deref())
            .and_then(oracle::parse);
        let at = since.unwrap_or_else(|| oracle.latest());
        let mut needs: Vec<Need> = Vec::new();
        for v in raw.requires.iter().flat_map(|r| &r.room_versions) {
            if let Some(w) = oracle.room_version_since(v) {
                needs.push(Need {
                    version: w,
                    pointer: "/requires/room_versions".into(),
                    why: format!("room version {v} appeared in v{}", oracle::show(w)),
                });
            }
        }
        for step in steps {
            let Some(sent) = sent(step) else { continue };
            let base = format!("/steps/{}", step.index - 1);
            if let Some(v) = sent
                .body
                .and_then(|b| b.get("room_version"))
                .and_then(Value::as_str)
                && let Some(w) = oracle.room_version_since(v)
            {
                needs.push(Need {
                    version: w,
                    pointer: base.clone(),
                    why: format!("room version {v} appeared in v{}", oracle::show(w)),
                });
            }
            let ops = oracle.find(&sent.method, &sent.path);
            let Some(first) = ops.first() else { continue };
            let spec_op = first.msc.is_none();
            if spec_op && since.is_some() {
                self.operation_needs(&ops, &sent, &base, at, &mut needs);
            }
            let op_at = if spec_op { at } else { oracle.latest() };
            self.documented_responses(&ops, step, &base, op_at, since.is_some() && spec_op);
            // An expect block with a basis names where the spec requires what it asserts (a
            // prose rule such as whoami's "Otherwise this is required").
            if level == Level::Must && step.expect.basis.is_none() {
                self.optional_fields(&ops, step, &base, op_at);
            }
        }
        if let Some(since) = since {
            for need in needs.into_iter().filter(|n| n.version > since) {
                self.problem(
                    &need.pointer,
                    format!(
                        "spec.since is {} but {}",
                        oracle::show(since),
                        need.why
                    ),
                    Some(format!(
                        "set `spec: {{ since: \"{}\" }}`: since is the first version with everything the scenario uses",
                        oracle::show(need.version)
                    )),
                );
            }
        }
    }

    /// Versions the operation and its parameters need.
    fn operation_needs(
        &mut self,
        ops: &[&Operation],
        sent: &Sent<'_>,
        base: &str,
        at: Version,
        needs: &mut Vec<Need>,
    ) {
        let op = ops
            .iter()
            .find(|o| o.exists_at(at))
            .copied()
            .or_else(|| ops.iter().copied().min_by_key(|o| o.first_version()));
        let Some(op) = op else { return };
        if !op.exists_at(at)
            && let Some(w) = op.first_version()
            && w > at
        {
            needs.push(Need {
                version: w,
                pointer: base.to_owned(),
                why: format!("{} appeared in v{}", op.id(), oracle::show(w)),
            });
            return;
        }
        let query: Vec<&oracle::Parameter> = op
            .parameters
            .iter()
            .filter(|p| p.location == "query")
            .collect();
        let names: BTreeSet<&str> = query.iter().map(|p| p.name.as_str()).collect();
        for name in names {
            let now = op.parameter_at(name, at);
            let later = |required: bool| {
                query
                    .iter()
                    .filter(|p| p.name == name && p.required == required)
                    .filter_map(|p| p.since.as_deref().and_then(oracle::parse))
                    .filter(|w| *w > at)
                    .min()
            };
            if sent.given.contains(name) {
                if now.is_none()
                    && let Some(w) = later(false).or_else(|| later(true))
                {
                    needs.push(Need {
                        version: w,
                        pointer: base.to_owned(),
                        why: format!(
                            "the parameter `{name}` of {} appeared in v{}",
                            op.id(),
                            oracle::show(w)
                        ),
                    });
                }
            } else if now.is_some_and(|p| p.required)
                && let Some(w) = later(false)
            {
                needs.push(Need {
                    version: w,
                    pointer: base.to_owned(),
                    why: format!(
                        "the step leaves out `{name}`, which {} requires up to v{}",
                        op.id(),
                        oracle::show((w.0, w.1.saturating_sub(1)))
                    ),
                });
            }
        }
    }

    /// Expected statuses and errcodes must be documented for the operation, or carry a basis.
    fn documented_responses(
        &mut self,
        ops: &[&Operation],
        step: &StepPlan,
        base: &str,
        at: Version,
        versioned: bool,
    ) {
        if step.expect.basis.is_some() {
            return;
        }
        let Some((codes, _)) = &step.expect.status else {
            return;
        };
        if codes.len() >= 100 {
            return; // a class such as "4xx": no particular code is claimed
        }
        let op_id = ops[0].id();
        for &code in codes {
            if ops.iter().any(|o| !o.responses_for(code, at).is_empty()) {
                continue;
            }
            let later = ops.iter().filter_map(|o| o.status_since(code)).min();
            let documented: BTreeSet<&str> = ops
                .iter()
                .flat_map(|o| &o.responses)
                .filter(|r| oracle::holds_at(r.since.as_deref(), r.until.as_deref(), at))
                .map(|r| r.status.as_str())
                .collect();
            let help = match later {
                Some(w) if versioned && w > at => format!(
                    "the spec documents {code} from v{}: set `spec: {{ since: \"{}\" }}`",
                    oracle::show(w),
                    oracle::show(w)
                ),
                _ => format!(
                    "add `basis:` to the expect block naming where the spec requires {code}, or accept what {op_id} documents: {}",
                    documented.into_iter().collect::<Vec<_>>().join(", ")
                ),
            };
            self.problem(
                &format!("{base}/expect/status"),
                format!(
                    "the spec does not document HTTP {code} for {op_id} at v{}",
                    oracle::show(at)
                ),
                Some(help),
            );
        }
        let Some((errcode, _)) = &step.expect.errcode else {
            return;
        };
        if errcode.contains("${") {
            return;
        }
        let status = match codes.as_slice() {
            [one] => Some(*one),
            _ => None,
        };
        if ops.iter().any(|o| o.names_errcode(errcode, status, at)) {
            return;
        }
        let api = if ops[0].api == "server-server" {
            "server-server"
        } else {
            "client-server"
        };
        let common = oracle::get().is_some_and(|o| o.is_common_errcode(api, errcode, at));
        let help = if common {
            format!(
                "{errcode} is one of the spec's common error codes, but {op_id} does not name it: add `basis:` to the expect block saying why it applies (e.g. \"common error codes: {errcode}\"), or drop `errcode` if any M_ code would do"
            )
        } else {
            format!(
                "add `basis:` to the expect block naming where the spec requires {errcode}, or drop `errcode`"
            )
        };
        self.problem(
            &format!("{base}/expect/errcode"),
            format!(
                "{op_id} does not name {errcode}{} at v{}",
                status.map(|s| format!(" for HTTP {s}")).unwrap_or_default(),
                oracle::show(at)
            ),
            Some(help),
        );
    }

    /// `exists`/`type`/`equals` on a field the schema marks optional.
    fn optional_fields(&mut self, ops: &[&Operation], step: &StepPlan, base: &str, at: Version) {
        let status = match &step.expect.status {
            Some((codes, _)) if codes.len() == 1 => codes[0],
            Some(_) => return,
            None => 200,
        };
        let responses: Vec<&oracle::Response> = ops
            .iter()
            .flat_map(|o| o.responses_for(status, at))
            .collect();
        if responses.is_empty() {
            return;
        }
        for check in &step.expect.body {
            let asserts_presence = check.predicates.iter().any(|p| {
                matches!(
                    p,
                    Predicate::Exists(true) | Predicate::Type(_) | Predicate::Equals(_)
                )
            });
            if !asserts_presence || check.pointer.is_empty() {
                continue;
            }
            // The asserted field itself: its optional ancestors are implied by behaviour
            // the scenario caused (a room appearing under `rooms.join` after a join), while an
            // optional leaf is the server's to leave out.
            let optional = responses.iter().find_map(|r| {
                let leaf = r.field_chain(&check.pointer, at)?.pop()?;
                (!leaf.required && !leaf.pointer.ends_with("/*")).then(|| leaf.pointer.clone())
            });
            let Some(field) = optional else { continue };
            let mp = format!(
                "{base}/expect/body/{}",
                check.pointer.replace('~', "~0").replace('/', "~1")
            );
            self.key_problem(
                &mp,
                format!(
                    "`{field}` is optional in the spec's {status} response of {} (v{}): asserting it fails servers that leave it out",
                    ops[0].id(),
                    oracle::show(at)
                ),
                Some("use `default: V` where the spec gives a default, `level: should`/`may`, or an expect `basis:` quoting the prose that requires it here; else drop the assertion".into()),
            );
        }
    }
}
