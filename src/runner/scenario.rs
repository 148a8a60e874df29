//! One scenario: skip check, fresh users, variables, then the steps in order.

use std::time::Instant;

use serde_json::Value;

use super::federation::World;
use super::{RunContext, UserInfo, skip_reason, step};
use crate::plan::ScenarioPlan;
use crate::plan::template::Vars;
use crate::results::redact::Redactor;
use crate::results::{Failure, Outcome, ScenarioResult};

/// A result carrying the plan's identity and metadata, not yet judged.
fn blank(plan: &ScenarioPlan) -> ScenarioResult {
    ScenarioResult {
        tags: plan.tags.clone(),
        spec_since: plan.spec_since.clone(),
        spec_section: plan.spec_section.clone(),
        level: plan.level.as_str().to_owned(),
        basis: plan.basis.clone(),
        msc: plan.msc.clone(),
        ..ScenarioResult::new(&plan.id, &plan.title, &plan.area, &plan.file)
    }
}

/// The result of a scenario the run did not start or did not let finish (a stop came).
pub(super) fn not_run(plan: &ScenarioPlan, why: String) -> ScenarioResult {
    ScenarioResult {
        outcome: Outcome::Skipped,
        skip_reason: Some(why),
        ..blank(plan)
    }
}

/// The result of a scenario that could not give a verdict (a deadline passed, a harness bug).
pub(super) fn errored(plan: &ScenarioPlan, kind: &str, message: String) -> ScenarioResult {
    let mut failure = Failure::setup(plan.location.clone(), message);
    failure.kind = kind.to_owned();
    ScenarioResult {
        outcome: Outcome::Errored,
        failure: Some(failure),
        ..blank(plan)
    }
}

pub(super) async fn run_scenario(plan: &ScenarioPlan, ctx: &RunContext) -> ScenarioResult {
    let started = Instant::now();
    let mut result = blank(plan);

    if let Some(reason) = skip_reason(plan, ctx) {
        result.outcome = Outcome::Skipped;
        result.skip_reason = Some(reason);
        return result;
    }
    let mut redactor = Redactor::new();
    let mut vars = Vars::default();
    vars.set("server_name", Value::String(ctx.server_name.clone()));
    if let Some(role) = &ctx.appservice {
        super::appservice::set_vars(role, &ctx.server_name, &mut vars, &mut redactor);
    }
    if let Some(role) = &ctx.identity_server {
        super::appservice::set_identity_vars(role, &mut vars, &mut redactor);
    }
    if let Some(push) = &ctx.push_gateway {
        vars.set("push_gateway.url", Value::String(push.notify_url()));
        vars.set(
            "push_gateway.reject_prefix",
            Value::String(crate::target::push_gateway::REJECT_PREFIX.to_owned()),
        );
    }
    let world = match World::start(plan, ctx).await {
        Ok(w) => w,
        Err(e) => {
            result.outcome = Outcome::Errored;
            result.failure = Some(setup_failure(plan, e));
            result.duration_ms = elapsed_ms(started);
            return result;
        }
    };
    world.set_vars(ctx, &mut vars);
    let mut users = std::collections::BTreeMap::new();
    let run_tag = uuid::Uuid::new_v4().simple().to_string();
    for actor in &plan.actors {
        let localpart = format!("mxh-{}-{}", &run_tag[..12], actor.name.replace('_', "-"));
        let password = uuid::Uuid::new_v4().simple().to_string();
        redactor.add_secret(password.clone());
        match world
            .provisioner(&actor.name, ctx)
            .create_user(&localpart, &password, actor.admin)
            .await
        {
            Ok(user) => {
                redactor.add_secret(user.access_token.clone());
                set_actor_vars(&mut vars, &actor.name, &user);
                users.insert(actor.name.clone(), user);
            }
            Err(e) => {
                result.outcome = Outcome::Errored;
                result.failure = Some(setup_failure(
                    plan,
                    format!(
                        "could not create user `{}`: {}",
                        actor.name,
                        redactor.redact_text(&e)
                    ),
                ));
                result.duration_ms = elapsed_ms(started);
                return result;
            }
        }
    }
    for (name, value) in &plan.vars {
        match vars.value_of(value) {
            Ok(v) => vars.set(name.clone(), v),
            Err(e) => {
                result.outcome = Outcome::Errored;
                result.failure = Some(setup_failure(plan, format!("variable `{name}`: {e}")));
                result.duration_ms = elapsed_ms(started);
                return result;
            }
        }
    }
    let mut trace = step::Trace::default();
    for s in &plan.steps {
        let mut outcome =
            step::run_step(s, ctx, &world, &users, &mut vars, &mut redactor, &mut trace).await;
        if let Some(code) = s.until_status {
            // `until_status`: again while the awaited status has not come; only it is judged.
            let mut sent = 1;
            while sent < s.repeat && awaiting(&outcome, code) {
                outcome =
                    step::run_step(s, ctx, &world, &users, &mut vars, &mut redactor, &mut trace)
                        .await;
                sent += 1;
            }
            if awaiting(&outcome, code) {
                let last = outcome
                    .failure
                    .as_ref()
                    .map(|(_, f)| last_answer(f))
                    .unwrap_or_default();
                result.steps.push(outcome.result);
                result.outcome = Outcome::Skipped;
                result.skip_reason = Some(format!(
                    "step {}: the server did not answer {code} in {sent} requests (last: {last})",
                    s.index
                ));
                break;
            }
        } else {
            // `repeat`: again while it passes; the report keeps the last (or failing) run.
            for _ in 1..s.repeat {
                if outcome.failure.is_some() {
                    break;
                }
                outcome =
                    step::run_step(s, ctx, &world, &users, &mut vars, &mut redactor, &mut trace)
                        .await;
            }
        }
        result.steps.push(outcome.result);
        if let Some((outcome_kind, failure)) = outcome.failure {
            let (outcome_kind, failure) = super::verdict::classify(s, outcome_kind, failure);
            // The failing step's own basis (where the spec requires what it asserts) is the
            // one the report shows next to the failure.
            if outcome_kind == Outcome::Failed
                && let Some(basis) = &s.expect.basis
            {
                result.basis = Some(basis.clone());
            }
            result.outcome = outcome_kind;
            result.failure = Some(failure);
            break;
        }
    }
    let unexpected = world.unexpected();
    if !unexpected.is_empty() && result.failure.is_none() {
        result.outcome = Outcome::Failed;
        let mut failure = setup_failure(
            plan,
            format!(
                "a fake server received requests no handler expected: {}",
                unexpected.join("; ")
            ),
        );
        failure.kind = "unexpected-request".into();
        result.failure = Some(failure);
    }
    result.endpoints = trace.endpoints.into_iter().collect();
    result.properties = trace
        .properties
        .iter()
        .map(|(k, v)| (k.clone(), redactor.redact_text(v)))
        .collect();
    result.warnings = trace
        .warnings
        .iter()
        .map(|w| redactor.redact_text(w))
        .collect();
    result.duration_ms = elapsed_ms(started);
    result
}

/// Whether an `until_status` step is still waiting: it failed on an answer of another status
/// (a step expecting only `code` passes only on it).
fn awaiting(outcome: &step::StepOutcome, code: u16) -> bool {
    outcome
        .failure
        .as_ref()
        .is_some_and(|(_, f)| f.transcript.last().and_then(|e| e.status) != Some(code))
}

/// `403 M_FORBIDDEN` of a failure's last exchange, or its message when there was no answer.
fn last_answer(failure: &Failure) -> String {
    let Some(exchange) = failure.transcript.last() else {
        return failure.message.clone();
    };
    let errcode = exchange
        .response_body
        .as_deref()
        .and_then(|b| serde_json::from_str::<Value>(b).ok())
        .and_then(|b| b.get("errcode").and_then(Value::as_str).map(str::to_owned));
    match (exchange.status, errcode) {
        (Some(s), Some(c)) => format!("{s} {c}"),
        (Some(s), None) => s.to_string(),
        (None, _) => failure.message.clone(),
    }
}

fn set_actor_vars(vars: &mut Vars, name: &str, user: &UserInfo) {
    vars.set(
        format!("{name}.user_id"),
        Value::String(user.user_id.clone()),
    );
    vars.set(
        format!("{name}.localpart"),
        Value::String(user.localpart.clone()),
    );
    vars.set(
        format!("{name}.password"),
        Value::String(user.password.clone()),
    );
    vars.set(
        format!("{name}.access_token"),
        Value::String(user.access_token.clone()),
    );
    vars.set(
        format!("{name}.device_id"),
        Value::String(user.device_id.clone()),
    );
}

fn setup_failure(plan: &ScenarioPlan, message: String) -> Failure {
    Failure {
        step: 0,
        location: plan.location.clone(),
        kind: "setup".into(),
        message,
        expected: None,
        actual: None,
        checks: Vec::new(),
        transcript: Vec::new(),
    }
}

pub(super) fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}
