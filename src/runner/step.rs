//! One step: build, send, judge; under `eventually`, re-send until the expectations hold or
//! the deadline passes; then capture variables.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::federation::{self, World};
use super::scenario::elapsed_ms;
use super::{RunContext, UserInfo, request};
use crate::check::{self, Observed};
use crate::matrix::http_client::Received;
use crate::plan::template::Vars;
use crate::plan::{Action, StepPlan};
use crate::results::redact::Redactor;
use crate::results::{CheckFailure, Exchange, Failure, Outcome, StepResult};

/// What a scenario's steps leave behind besides pass/fail.
#[derive(Debug, Default)]
pub(super) struct Trace {
    /// Catalogued endpoints requests went to.
    pub endpoints: BTreeSet<String>,
    /// Accepted schema deviations (`--lenient-schema`).
    pub warnings: Vec<String>,
    /// Recorded properties.
    pub properties: BTreeMap<String, String>,
}

pub(super) struct StepOutcome {
    pub result: StepResult,
    pub failure: Option<(Outcome, Failure)>,
}

enum Attempt {
    Passed {
        json: Option<Value>,
    },
    Failed {
        checks: Vec<CheckFailure>,
        kind: &'static str,
    },
    Broken {
        message: String,
    },
}

pub(super) async fn run_step(
    step: &StepPlan,
    ctx: &RunContext,
    world: &World,
    users: &BTreeMap<String, UserInfo>,
    vars: &mut Vars,
    redactor: &mut Redactor,
    trace: &mut Trace,
) -> StepOutcome {
    let started = Instant::now();
    let user = step.actor.as_ref().and_then(|a| users.get(a));
    let deadline = step.eventually.map(|e| started + e.within);
    let timeout = step.timeout.unwrap_or(ctx.step_timeout);
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let (attempt, exchange, warning) = attempt(
            step,
            ctx,
            world,
            started,
            user,
            vars,
            timeout,
            redactor,
            &mut trace.properties,
        )
        .await;
        if let Some(e) = &exchange
            && let Some(endpoint) = crate::matrix::endpoints::identify(&e.method, &e.url)
        {
            trace.endpoints.insert(endpoint.id());
        }
        let passed_now = matches!(attempt, Attempt::Passed { .. });
        if let (true, Some(w)) = (passed_now, warning) {
            trace.warnings.push(w);
        }
        let outcome = match attempt {
            Attempt::Passed { .. }
                if let Some(f) = super::verdict::unknown_route(step, exchange.as_ref()) =>
            {
                Some((Outcome::Failed, "unrecognized", vec![f]))
            }
            Attempt::Passed { json } => match capture(step, json.as_ref(), vars) {
                Ok(()) => None,
                Err(f) => Some((Outcome::Failed, "capture", vec![f])),
            },
            Attempt::Failed { checks, kind } => {
                if let (Some(deadline), Some(ev)) = (deadline, step.eventually)
                    && Instant::now() + ev.interval < deadline
                {
                    tokio::time::sleep(ev.interval).await;
                    continue;
                }
                Some((Outcome::Failed, kind, checks))
            }
            Attempt::Broken { message } => Some((
                Outcome::Errored,
                "scenario",
                vec![CheckFailure {
                    location: step.location.clone(),
                    kind: "scenario".into(),
                    message,
                    expected: None,
                    actual: None,
                }],
            )),
        };
        let result = StepResult {
            index: step.index,
            label: step.label.clone(),
            passed: outcome.is_none(),
            duration_ms: elapsed_ms(started),
            attempts,
        };
        let failure = outcome.map(|(o, kind, checks)| {
            let mut transcript: Vec<Exchange> = exchange.into_iter().collect();
            for e in &mut transcript {
                redactor.redact_exchange(e);
            }
            let first = checks.first().cloned().unwrap_or_else(|| CheckFailure {
                location: step.location.clone(),
                kind: kind.into(),
                message: "the step failed".into(),
                expected: None,
                actual: None,
            });
            let mut message = redactor.redact_text(&first.message);
            if attempts > 1 {
                message.push_str(&format!(" (still failing after {attempts} attempts)"));
            }
            let failure = Failure {
                step: step.index,
                location: first.location.clone(),
                kind: first.kind.clone(),
                message,
                expected: first.expected.as_deref().map(|t| redactor.redact_text(t)),
                actual: first.actual.as_deref().map(|t| redactor.redact_text(t)),
                checks: checks
                    .iter()
                    .map(|c| CheckFailure {
                        message: redactor.redact_text(&c.message),
                        expected: c.expected.as_deref().map(|t| redactor.redact_text(t)),
                        actual: c.actual.as_deref().map(|t| redactor.redact_text(t)),
                        ..c.clone()
                    })
                    .collect(),
                transcript,
            };
            (o, failure)
        });
        return StepOutcome { result, failure };
    }
}

#[allow(clippy::too_many_arguments)]
async fn attempt(
    step: &StepPlan,
    ctx: &RunContext,
    world: &World,
    step_started: Instant,
    user: Option<&UserInfo>,
    vars: &Vars,
    timeout: Duration,
    redactor: &mut Redactor,
    properties: &mut BTreeMap<String, String>,
) -> (Attempt, Option<Exchange>, Option<String>) {
    let broken = |message: String| (Attempt::Broken { message }, None, None);
    let token = match &step.token {
        Some(t) => match vars.text_of(t) {
            Ok(t) => {
                redactor.add_secret(t.clone());
                Some(t)
            }
            Err(e) => return broken(format!("token: {e}")),
        },
        None => user.map(|u| u.access_token.clone()),
    };
    let user_id = user.map(|u| u.user_id.as_str());
    let base_url = world.base_url(step.actor.as_deref(), ctx);
    // Whether a request a role or fake server received meets the step's expectations.
    let judge = |r: &Received| {
        let json = r.json();
        let seen = Observed {
            status: r.status,
            json: json.as_ref(),
            schema: None,
            headers: Some(&r.headers),
            text: None,
        };
        check::evaluate(&step.expect, &seen, vars).is_empty()
    };
    if let Some(wait) = none_wait(&step.action) {
        return watch_none(step, ctx, vars, wait, step_started, &judge).await;
    }
    let (exchange, received) = if is_federation(&step.action) {
        let outcome = match &step.action {
            Action::Appservice(a) => super::appservice::inbound(a, ctx, vars, &judge),
            Action::PushGateway(a) => super::appservice::push_inbound(a, ctx, vars, &judge),
            Action::Email(a) if a.follow.is_some() => {
                super::appservice::email_follow(a, ctx, base_url, vars, timeout).await
            }
            Action::Email(a) => super::appservice::email_inbound(a, ctx, vars, &judge),
            Action::IdentityServer(a) => super::appservice::identity_inbound(a, ctx, vars, &judge),
            _ => federation::execute(&step.action, ctx, world, vars, timeout, &judge).await,
        };
        match outcome {
            federation::Outcome::Response(pair) => *pair,
            federation::Outcome::Broken(message) => return broken(message),
            federation::Outcome::NotYet(message) => {
                let check = CheckFailure {
                    location: step.location.clone(),
                    kind: "check".into(),
                    message,
                    expected: None,
                    actual: None,
                };
                return (
                    Attempt::Failed {
                        checks: vec![check],
                        kind: "check",
                    },
                    None,
                    None,
                );
            }
        }
    } else {
        let http_request =
            match request::build(&step.action, ctx, base_url, vars, token.as_deref(), user_id) {
                Ok(r) => r,
                Err(message) => return broken(message),
            };
        ctx.http.send(http_request, timeout).await
    };
    let Some(received) = received else {
        let message = exchange
            .error
            .clone()
            .unwrap_or_else(|| "no response".into());
        let held = crate::matrix::http_client::is_held(&message);
        let kind = if held || message.contains("timed out") {
            "timeout"
        } else {
            "transport"
        };
        // A held request did reach the server: "no response" would send the reader after
        // the network, not the server's choice to wait.
        let message = if held || crate::matrix::http_client::answered(&message) {
            message
        } else {
            format!("no response from the server: {message}")
        };
        let check = CheckFailure {
            location: step.location.clone(),
            kind: kind.into(),
            message,
            expected: None,
            actual: None,
        };
        return (
            Attempt::Failed {
                checks: vec![check],
                kind,
            },
            Some(exchange),
            None,
        );
    };
    let mut json = received.json();
    // Recorded whatever the checks say: a property is an observation, not a verdict.
    record(
        step,
        json.as_ref(),
        received.status,
        (exchange.duration_ms, elapsed_ms(step_started)),
        vars,
        properties,
    );
    if let Some(j) = &json {
        remember_secrets(j, redactor);
    }
    let mut schema = None;
    if let Action::Call { op, .. } = &step.action {
        let op_ctx = crate::matrix::ops::OpContext {
            base_url,
            access_token: token.as_deref(),
            user_id,
            versions: &ctx.versions,
            sliding_sync: ctx.sliding_sync.as_ref(),
        };
        schema = Some(
            op.check_response_in(received.as_http(), &op_ctx)
                .map_err(|e| e.detail),
        );
        json = json.map(|j| op.normalize(j, &op_ctx));
    }
    let mut warning = None;
    if let (true, Some(Err(detail))) = (ctx.lenient_schema, &schema) {
        warning = Some(format!(
            "{}: response does not match the spec schema: {detail}",
            step.location
        ));
        schema = None;
    }
    let text = String::from_utf8_lossy(&received.body);
    let seen = Observed {
        status: received.status,
        json: json.as_ref(),
        schema,
        headers: Some(&received.headers),
        text: Some(&text),
    };
    let failures = check::evaluate(&step.expect, &seen, vars);
    let attempt = if failures.is_empty() {
        Attempt::Passed { json }
    } else {
        Attempt::Failed {
            checks: failures,
            kind: "check",
        }
    };
    (attempt, Some(exchange), warning)
}

/// The `wait` of a role step with `none: true` (zero when not given); `None` for other steps.
fn none_wait(action: &Action) -> Option<Duration> {
    let a = match action {
        Action::Appservice(a) | Action::PushGateway(a) | Action::IdentityServer(a) => a,
        _ => return None,
    };
    a.none.then(|| {
        a.wait
            .as_deref()
            .and_then(|w| humantime::parse_duration(w).ok())
            .unwrap_or(Duration::ZERO)
    })
}

/// A role step with `none: true`: fail at the first matching request, pass when none came
/// by `wait` after the step started.
async fn watch_none(
    step: &StepPlan,
    ctx: &RunContext,
    vars: &Vars,
    wait: Duration,
    step_started: Instant,
    judge: &(dyn Fn(&Received) -> bool + Sync),
) -> (Attempt, Option<Exchange>, Option<String>) {
    use super::appservice::{Unwanted, unwanted};
    loop {
        match unwanted(&step.action, ctx, vars, judge) {
            Unwanted::Broken(message) => return (Attempt::Broken { message }, None, None),
            Unwanted::Arrived(pair) => {
                let (exchange, _) = *pair;
                let check = CheckFailure {
                    location: step.expect.location.clone(),
                    kind: "check".into(),
                    message: format!(
                        "a {} {} request matching the expectations arrived, and none may",
                        exchange.method, exchange.url
                    ),
                    expected: Some("no such request".into()),
                    actual: exchange.request_body.clone(),
                };
                let failed = Attempt::Failed {
                    checks: vec![check],
                    kind: "check",
                };
                return (failed, Some(exchange), None);
            }
            Unwanted::Nothing if step_started.elapsed() >= wait => {
                return (Attempt::Passed { json: None }, None, None);
            }
            Unwanted::Nothing => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Tokens a server hands out (login, register, refresh) are secrets from then on.
pub(crate) fn remember_secrets(json: &Value, redactor: &mut Redactor) {
    for key in ["access_token", "refresh_token"] {
        if let Some(t) = json.get(key).and_then(Value::as_str) {
            redactor.add_secret(t.to_owned());
        }
    }
}

/// Take the step's captures from a response body into `vars`.
pub(crate) fn capture(
    step: &StepPlan,
    json: Option<&Value>,
    vars: &mut Vars,
) -> Result<(), CheckFailure> {
    for c in &step.captures {
        let fail = |message: String| CheckFailure {
            location: c.location.clone(),
            kind: "capture".into(),
            message,
            expected: None,
            actual: None,
        };
        let pointer = vars
            .pointer_of(&c.pointer)
            .map_err(|e| fail(e.to_string()))?;
        let value = json
            .and_then(|j| j.pointer(&pointer))
            .cloned()
            .ok_or_else(|| {
                fail(format!(
                    "cannot capture `{}`: nothing at {pointer} in the response body",
                    c.name
                ))
            })?;
        let value = match &c.regex {
            None => value,
            Some(re) => {
                let text = value.as_str().ok_or_else(|| {
                    fail(format!(
                        "cannot capture `{}`: {pointer} is not a string",
                        c.name
                    ))
                })?;
                let caps = re.captures(text).ok_or_else(|| {
                    fail(format!(
                        "cannot capture `{}`: {text:?} does not match /{}/",
                        c.name,
                        re.as_str()
                    ))
                })?;
                let m = caps
                    .get(1)
                    .or_else(|| caps.get(0))
                    .map_or("", |m| m.as_str());
                Value::String(m.to_owned())
            }
        };
        vars.set(c.name.clone(), value);
    }
    Ok(())
}

/// Keep the values a step asks to record as properties of the testcase (the last attempt's).
fn record(
    step: &StepPlan,
    json: Option<&Value>,
    status: u16,
    (duration_ms, elapsed_ms): (u64, u64),
    vars: &Vars,
    properties: &mut BTreeMap<String, String>,
) {
    for (name, what) in &step.records {
        let value = match what.as_str() {
            "@duration_ms" => duration_ms.to_string(),
            "@elapsed_ms" => elapsed_ms.to_string(),
            "@status" => status.to_string(),
            pointer => match vars
                .pointer_of(pointer)
                .ok()
                .and_then(|p| json.and_then(|j| j.pointer(&p)).cloned())
            {
                Some(Value::String(s)) => s,
                Some(other) => other.to_string(),
                None => "(absent)".to_owned(),
            },
        };
        properties.insert(name.clone(), value);
    }
}

fn is_federation(action: &Action) -> bool {
    matches!(
        action,
        Action::Federation(_)
            | Action::Serve(_)
            | Action::Inbound(_)
            | Action::Remote(_)
            | Action::Appservice(_)
            | Action::PushGateway(_)
            | Action::Email(_)
            | Action::IdentityServer(_)
    )
}
