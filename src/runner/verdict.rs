//! What a failing step means for its scenario: a set-up step that fails *blocks* the
//! scenario (the behaviour under test was never checked), an operation the server does not
//! implement at all is *unsupported*, and only the rest is a failed behaviour.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::plan::{Action, ScenarioPlan, StepPlan};
use crate::results::{Failure, Outcome, ScenarioResult};

/// Reclassify a failed step's outcome.
pub(super) fn classify(
    step: &StepPlan,
    outcome: Outcome,
    mut failure: Failure,
) -> (Outcome, Failure) {
    if outcome != Outcome::Failed {
        return (outcome, failure);
    }
    if let Some(op) = unimplemented(step, &failure) {
        failure.kind = "unsupported".into();
        failure.message = format!(
            "unsupported: the server does not implement {op} ({})",
            failure.message
        );
        return (Outcome::Unsupported, failure);
    }
    if !step.under_test {
        failure.message = format!(
            "blocked: set-up step {} ({}) failed: {}",
            step.index, step.label, failure.message
        );
        return (Outcome::Blocked, failure);
    }
    (outcome, failure)
}

/// `METHOD /path` of the step's endpoint when the server answered as for an unknown route:
/// 404 or 405 with `M_UNRECOGNIZED`, or a 404 with no JSON body, where the step expected
/// something else.
fn unimplemented(step: &StepPlan, failure: &Failure) -> Option<String> {
    let exchange = failure.transcript.last()?;
    let status = exchange.status?;
    if !matches!(status, 404 | 405) {
        return None;
    }
    let body: Option<Value> = exchange
        .response_body
        .as_deref()
        .and_then(|b| serde_json::from_str(b).ok());
    let errcode = body
        .as_ref()
        .and_then(|b| b.get("errcode"))
        .and_then(Value::as_str);
    let expected_status = step
        .expect
        .status
        .as_ref()
        .is_some_and(|(codes, _)| codes.contains(&status));
    let expected_code = step
        .expect
        .errcode
        .as_ref()
        .is_some_and(|(c, _)| c == "M_UNRECOGNIZED");
    let unknown_route = match errcode {
        Some("M_UNRECOGNIZED") => !expected_code,
        None => body.is_none() && status == 404 && !expected_status,
        Some(_) => false,
    };
    unknown_route.then(|| {
        endpoint_of(step).unwrap_or_else(|| format!("{} {}", exchange.method, exchange.url))
    })
}

/// The spec operation a step calls (`METHOD /path/{template}`), when the oracle knows it.
pub(super) fn endpoint_of(step: &StepPlan) -> Option<String> {
    let (method, path) = match &step.action {
        Action::Call { op, .. } => {
            let (m, p) = op.endpoint();
            (m.to_owned(), p.split(' ').next().unwrap_or(p).to_owned())
        }
        Action::Request(r) => (r.method.as_str().to_owned(), r.path.clone()),
        Action::Federation(f) => (f.method.to_uppercase(), f.path.clone()),
        _ => return None,
    };
    let oracle = crate::oracle::get()?;
    oracle.find(&method, &path).first().map(|o| o.id())
}

/// Name, on each blocked result, the scenarios that test the failing set-up operation
/// directly (a step under test calling it).
pub(super) fn point_blocked_to_direct_tests(
    plans: &[ScenarioPlan],
    results: &mut [ScenarioResult],
) {
    let mut tested_by: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut step_ops: BTreeMap<&str, Vec<Option<String>>> = BTreeMap::new();
    for plan in plans {
        let ops: Vec<Option<String>> = plan.steps.iter().map(endpoint_of).collect();
        for (step, op) in plan.steps.iter().zip(&ops) {
            if let (true, Some(op)) = (step.under_test, op) {
                let ids = tested_by.entry(op.clone()).or_default();
                if ids.last() != Some(&plan.id.as_str()) {
                    ids.push(plan.id.as_str());
                }
            }
        }
        step_ops.insert(plan.id.as_str(), ops);
    }
    for r in results.iter_mut().filter(|r| r.outcome == Outcome::Blocked) {
        let Some(f) = r.failure.as_mut() else {
            continue;
        };
        let op = step_ops
            .get(r.id.as_str())
            .and_then(|ops| ops.get(f.step.checked_sub(1)?))
            .cloned()
            .flatten();
        let Some(op) = op else { continue };
        let others: Vec<&str> = tested_by
            .get(&op)
            .map(|ids| {
                ids.iter()
                    .copied()
                    .filter(|id| *id != r.id)
                    .take(3)
                    .collect()
            })
            .unwrap_or_default();
        if !others.is_empty() {
            f.message = format!(
                "{} ({op} is tested directly by {})",
                f.message,
                others.join(", ")
            );
        }
    }
}
