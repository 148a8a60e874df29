//! What a failing step means for its scenario: a set-up step that fails *blocks* the
//! scenario (the behaviour under test was never checked), an operation the server does not
//! implement at all is *unsupported*, and only the rest is a failed behaviour.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::plan::{Action, ScenarioPlan, StepPlan};
use crate::results::{CheckFailure, Exchange, Failure, Outcome, ScenarioResult};

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

/// A step whose expectations a 404/405 `M_UNRECOGNIZED` satisfies (say a bare `status: 404`)
/// did not see the answer it was written for: the spec reserves that error for "the endpoint
/// is not implemented" (or the wrong method), so the step fails as unrecognized and
/// `verdict::classify` reports the scenario unsupported, not passed. Steps that expect
/// `M_UNRECOGNIZED` itself, or call an operation that documents it for that status, are
/// judged as written.
pub(super) fn unknown_route(step: &StepPlan, exchange: Option<&Exchange>) -> Option<CheckFailure> {
    let exchange = exchange?;
    let status = exchange.status?;
    if !matches!(status, 404 | 405) {
        return None;
    }
    let body: Value = serde_json::from_str(exchange.response_body.as_deref()?).ok()?;
    if body.get("errcode").and_then(Value::as_str) != Some("M_UNRECOGNIZED") {
        return None;
    }
    // Only a step written for a "not found" answer (404 or 405 and nothing else): where a
    // 404 is one refusal among several, an `M_UNRECOGNIZED` may be a remote server's error
    // relayed by the target (a join through a resident that refused), not an unknown route.
    let only_not_found = step
        .expect
        .status
        .as_ref()
        .is_some_and(|(codes, _)| codes.iter().all(|c| matches!(c, 404 | 405)));
    if !only_not_found
        || step
            .expect
            .errcode
            .as_ref()
            .is_some_and(|(c, _)| c == "M_UNRECOGNIZED")
        || documents_unrecognized(step, status)
    {
        return None;
    }
    Some(CheckFailure {
        location: step.location.clone(),
        kind: "unrecognized".into(),
        message: format!(
            "the server answered {status} M_UNRECOGNIZED, which the spec reserves for an endpoint \
             it does not implement, so this step's expectation was not really met"
        ),
        expected: None,
        actual: Some(format!("{status} M_UNRECOGNIZED")),
    })
}

/// The spec operation a step calls (`METHOD /path/{template}`), when the oracle knows it.
pub(super) fn endpoint_of(step: &StepPlan) -> Option<String> {
    operation_of(step).map(|o| o.id())
}

/// The oracle's operation for the step's method and path.
fn operation_of(step: &StepPlan) -> Option<&'static crate::oracle::Operation> {
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
    oracle.find(&method, &path).first().copied()
}

/// Whether the step's operation documents `M_UNRECOGNIZED` under `status` itself, as
/// GET /auth_metadata does for a server without the OAuth 2.0 API: then that answer is one
/// of the operation's own, not a sign of an unknown route.
pub(super) fn documents_unrecognized(step: &StepPlan, status: u16) -> bool {
    operation_of(step).is_some_and(|op| {
        op.responses.iter().any(|r| {
            r.status == status.to_string() && r.errcodes.iter().any(|e| e.code == "M_UNRECOGNIZED")
        })
    })
}

/// Names, on each blocked result, the scenarios that test the failing set-up operation
/// directly (a step under test calling it). Built once per run from every plan, applied to
/// each result as it finishes (so the journal and progress see the same message).
pub(super) struct BlockedPointer {
    /// Operation id -> the scenarios with a step under test calling it.
    tested_by: BTreeMap<String, Vec<String>>,
    /// Scenario id -> the operation of each step.
    step_ops: BTreeMap<String, Vec<Option<String>>>,
}

impl BlockedPointer {
    pub(super) fn new(plans: &[ScenarioPlan]) -> Self {
        let mut tested_by: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut step_ops = BTreeMap::new();
        for plan in plans {
            let ops: Vec<Option<String>> = plan.steps.iter().map(endpoint_of).collect();
            for (step, op) in plan.steps.iter().zip(&ops) {
                if let (true, Some(op)) = (step.under_test, op) {
                    let ids = tested_by.entry(op.clone()).or_default();
                    if ids.last() != Some(&plan.id) {
                        ids.push(plan.id.clone());
                    }
                }
            }
            step_ops.insert(plan.id.clone(), ops);
        }
        Self {
            tested_by,
            step_ops,
        }
    }

    pub(super) fn apply(&self, r: &mut ScenarioResult) {
        if r.outcome != Outcome::Blocked {
            return;
        }
        let Some(f) = r.failure.as_mut() else {
            return;
        };
        let op = self
            .step_ops
            .get(r.id.as_str())
            .and_then(|ops| ops.get(f.step.checked_sub(1)?))
            .cloned()
            .flatten();
        let Some(op) = op else { return };
        let others: Vec<&str> = self
            .tested_by
            .get(&op)
            .map(|ids| {
                ids.iter()
                    .map(String::as_str)
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use super::*;
    use crate::results::Exchange;
    use crate::scenario::source::SourceFile;

    fn plan(id: &str, steps: &str) -> ScenarioPlan {
        let text = format!(
            "schema: 1\nid: {id}\ntitle: t\narea: t\nlevel: must\nbasis: b\nactors: {{ alice: {{}} }}\nsteps:\n{steps}"
        );
        let file = SourceFile {
            path: "t.yaml".into(),
            text: Arc::new(text),
        };
        let mut problems = Vec::new();
        let plan = crate::plan::lower::lower_file(&file, &mut problems);
        plan.unwrap_or_else(|| panic!("{problems:?}"))
    }

    fn failed_with(status: u16, body: &str, step: usize) -> Failure {
        let mut f = Failure::setup("t.yaml:1:1", "expected a successful (2xx) response");
        f.step = step;
        f.kind = "status".into();
        f.transcript = vec![Exchange {
            method: "POST".into(),
            url: "http://127.0.0.1:1/_matrix/client/v3/createRoom".into(),
            request_headers: BTreeMap::new(),
            request_body: None,
            status: Some(status),
            response_headers: BTreeMap::new(),
            response_body: Some(body.into()),
            error: None,
            duration_ms: 1,
        }];
        f
    }

    const TWO_STEPS: &str = "  - as: alice\n    call: create_room\n  - as: alice\n    call: whoami\n    expect: { status: 200 }\n";

    #[test]
    fn a_failing_set_up_step_blocks_and_a_failing_test_step_fails() {
        let p = plan("t/a", TWO_STEPS);
        assert!(!p.steps[0].under_test && p.steps[1].under_test);
        let (o, f) = classify(&p.steps[0], Outcome::Failed, failed_with(500, "{}", 1));
        assert_eq!(o, Outcome::Blocked);
        assert!(
            f.message.starts_with("blocked: set-up step 1"),
            "{}",
            f.message
        );
        let (o, _) = classify(&p.steps[1], Outcome::Failed, failed_with(500, "{}", 2));
        assert_eq!(o, Outcome::Failed);
        let (o, _) = classify(&p.steps[0], Outcome::Errored, failed_with(500, "{}", 1));
        assert_eq!(o, Outcome::Errored);
    }

    #[test]
    fn a_bare_404_met_by_m_unrecognized_is_not_a_pass() {
        let p = plan(
            "t/u",
            "  - request: { method: GET, path: /_matrix/client/v3/login/sso/redirect/x }\n    expect: { status: 404 }\n  - request: { method: GET, path: /_matrix/client/v1/auth_metadata }\n    expect: { status: [200, 404] }\n  - request: { method: GET, path: /_matrix/client/v3/nope }\n    expect: { status: 404, errcode: M_UNRECOGNIZED }\n",
        );
        let unrecognized = failed_with(404, r#"{"errcode":"M_UNRECOGNIZED"}"#, 1);
        let exchange = unrecognized.transcript.first();
        let f = unknown_route(&p.steps[0], exchange).expect("not a pass");
        assert_eq!(f.kind, "unrecognized");
        // The failure it becomes is then reported unsupported.
        let mut failure = failed_with(404, r#"{"errcode":"M_UNRECOGNIZED"}"#, 1);
        failure.kind = f.kind;
        assert_eq!(
            classify(&p.steps[0], Outcome::Failed, failure).0,
            Outcome::Unsupported
        );
        // GET /auth_metadata documents 404 M_UNRECOGNIZED as its own answer.
        assert!(unknown_route(&p.steps[1], exchange).is_none());
        // A step that expects M_UNRECOGNIZED is judged as written.
        assert!(unknown_route(&p.steps[2], exchange).is_none());
        // Where 404 is one refusal among several, M_UNRECOGNIZED may be relayed from a remote.
        let broad = plan(
            "t/b",
            "  - as: alice\n    request: { method: GET, path: /_matrix/client/v3/profile/@u:x }\n    expect: { status: [403, 404] }\n",
        );
        assert!(unknown_route(&broad.steps[0], exchange).is_none());
        // Another 404 is the server's answer.
        let not_found = failed_with(404, r#"{"errcode":"M_NOT_FOUND"}"#, 1);
        assert!(unknown_route(&p.steps[0], not_found.transcript.first()).is_none());
    }

    #[test]
    fn an_unknown_route_is_unsupported_once_named_by_its_operation() {
        let p = plan("t/a", TWO_STEPS);
        let body = r#"{"errcode":"M_UNRECOGNIZED","error":"Unrecognized request"}"#;
        let (o, f) = classify(&p.steps[0], Outcome::Failed, failed_with(404, body, 1));
        assert_eq!(o, Outcome::Unsupported);
        assert!(
            f.message.contains("POST /_matrix/client/v3/createRoom"),
            "{}",
            f.message
        );
        // A 404 with a Matrix error other than M_UNRECOGNIZED is the server's answer.
        let (o, _) = classify(
            &p.steps[1],
            Outcome::Failed,
            failed_with(404, r#"{"errcode":"M_NOT_FOUND"}"#, 2),
        );
        assert_eq!(o, Outcome::Failed);
    }

    #[test]
    fn blocked_results_name_the_scenario_that_tests_the_operation_directly() {
        let direct = plan(
            "t/create",
            "  - as: alice\n    call: create_room\n    expect: { status: 200 }\n",
        );
        let user = plan("t/user", TWO_STEPS);
        let mut r = ScenarioResult::new("t/user", "t", "t", "t.yaml");
        r.outcome = Outcome::Blocked;
        r.failure = Some(failed_with(500, "{}", 1));
        BlockedPointer::new(&[direct, user]).apply(&mut r);
        let message = &r.failure.as_ref().unwrap().message;
        assert!(message.contains("tested directly by t/create"), "{message}");
    }
}
