//! The federation preflight, run once per run before any scenario with a fake server: can the
//! target fetch a fake server's key and accept one request it signed? When it cannot, the run
//! gets one failure (`fed/preflight`) carrying the target's own answer, and every scenario
//! with a fake server is blocked with a pointer to it instead of failing on its own.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{FederationContext, Peer};
use crate::federation::{FakeServer, SignedRequest};
use crate::plan::ScenarioPlan;
use crate::results::{Exchange, Failure, Outcome, ScenarioResult};
use crate::scenario::model::ServerKind;

/// Id of the preflight's result.
pub const ID: &str = "fed/preflight";
/// Title of the preflight's result.
pub const TITLE: &str = "The target fetches a fake server's key and accepts one request it signed";
/// Area of the preflight's result.
pub const AREA: &str = "federation";
/// Spec section the preflight rests on.
pub const SECTION: &str = "server-server-api/#request-authentication";
/// Where the spec requires what the preflight checks (for reports that show a basis).
pub const BASIS: &str = "'Every HTTP request made by a homeserver is authenticated using public \
key digital signatures' and the receiver fetches the origin's keys to check them (server-server \
API, Request Authentication; Retrieving server keys)";

/// An authenticated endpoint that needs no room: a profile query for a user who does not exist.
const PROBE_PATH: &str = "/_matrix/federation/v1/query/profile";
/// Where a fake server serves its keys.
const KEY_PATH: &str = "/_matrix/key/v2/server";

/// Why the preflight failed.
#[derive(Debug, Clone, PartialEq)]
pub struct PreflightFailure {
    /// One line: what the target answered and whether it fetched the key.
    pub message: String,
    /// The signed request and the target's answer.
    pub transcript: Vec<Exchange>,
}

/// What the preflight found.
#[derive(Debug, Clone, PartialEq)]
pub enum Preflight {
    /// The target fetched the key (or knew how to) and did not refuse the signature.
    Passed,
    /// The target refused the signed request, or did not answer.
    Failed(PreflightFailure),
    /// The harness could not run the preflight (no fake server could start); the scenarios
    /// then run, and fail, on their own.
    NotRun(String),
}

/// Whether a scenario depends on the preflight: it has a fake server, whose requests the
/// target must authenticate (interop scenarios between two real servers do not).
pub fn needed(plan: &ScenarioPlan) -> bool {
    plan.servers
        .iter()
        .any(|(_, kind)| matches!(kind, ServerKind::Fake | ServerKind::FakeIp))
}

/// Send one signed `GET /_matrix/federation/v1/query/profile?user_id=@nobody:<target>` from a
/// fresh fake server to `peer` and judge the answer with [`judge`].
pub async fn check(fed: &FederationContext, peer: &Peer, timeout: Duration) -> Preflight {
    let fake = match FakeServer::start(&fed.ca, "mxh").await {
        Ok(f) => f,
        Err(e) => return Preflight::NotRun(format!("cannot start a fake server: {e}")),
    };
    let user = format!("@nobody:{}", peer.server_name);
    let path = format!(
        "{PROBE_PATH}?user_id={}",
        crate::matrix::encode_component(&user)
    );
    let mut req = SignedRequest::new("GET", &peer.server_name, &path);
    req.base_url = peer.federation_url.clone();
    let (exchange, received) = fake.client().send(&req, timeout).await;
    let key_fetches = fake
        .requests()
        .iter()
        .filter(|r| r.path == KEY_PATH || r.path.starts_with(&format!("{KEY_PATH}/")))
        .count();
    let answer = received.as_ref().map(|r| (r.status, r.json()));
    let answer = answer.as_ref().map(|(s, j)| (*s, j.as_ref()));
    match judge(answer, exchange.error.as_deref(), key_fetches) {
        Ok(()) => Preflight::Passed,
        Err(why) => Preflight::Failed(PreflightFailure {
            message: format!(
                "{why}; {} (signed by {} as {})",
                fetch_note(key_fetches),
                fake.server_name(),
                fake.key().key_id()
            ),
            transcript: vec![exchange],
        }),
    }
}

fn fetch_note(key_fetches: usize) -> String {
    match key_fetches {
        0 => format!("it never fetched the fake server's key ({KEY_PATH})"),
        1 => "it fetched the fake server's key once".to_owned(),
        n => format!("it fetched the fake server's key {n} times"),
    }
}

/// Judge the target's answer (status and JSON body, or the transport error). Any answer other
/// than a refusal of the request's authentication passes: the preflight checks that the target
/// can authenticate the harness, not the endpoint (a 404 for the unknown user is fine, and so
/// is a 403 for a server that denies profile lookups by policy, once it fetched the key).
pub fn judge(
    answer: Option<(u16, Option<&Value>)>,
    transport_error: Option<&str>,
    key_fetches: usize,
) -> Result<(), String> {
    let Some((status, body)) = answer else {
        return Err(format!(
            "no answer to a signed request: {}",
            transport_error.unwrap_or("no response")
        ));
    };
    let field = |name: &str| {
        body.and_then(|b| b.get(name))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let (errcode, error) = (field("errcode"), field("error"));
    let refused = match status {
        // "Request Authentication" names 401 for a request that fails authentication.
        401 => true,
        403 if errcode == "M_UNAUTHORIZED" => true,
        // M_FORBIDDEN is also a policy answer (profile lookups denied). It is about the
        // signature when the target never fetched the key, or says so.
        403 if errcode == "M_FORBIDDEN" => key_fetches == 0 || about_authentication(&error),
        _ => false,
    };
    if !refused {
        return Ok(());
    }
    let errcode = if errcode.is_empty() {
        "no errcode".to_owned()
    } else {
        errcode
    };
    Err(format!(
        "the target refused a signed request: {status} {errcode} {:?}",
        one_line(&error)
    ))
}

fn about_authentication(error: &str) -> bool {
    let e = error.to_ascii_lowercase();
    [
        "signature",
        "x-matrix",
        "key",
        "authori",
        "origin",
        "denied",
    ]
    .iter()
    .any(|w| e.contains(w))
}

fn one_line(s: &str) -> String {
    let line: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > 200 {
        format!("{}…", line.chars().take(200).collect::<String>())
    } else {
        line
    }
}

/// The failed result `fed/preflight`, with the target's answer as its transcript.
pub fn failed_result(failure: &PreflightFailure, duration_ms: u64) -> ScenarioResult {
    let mut result = ScenarioResult {
        tags: vec!["federation".into(), "preflight".into()],
        spec_since: Some("1.1".into()),
        spec_section: Some(SECTION.into()),
        level: "must".into(),
        basis: Some(BASIS.into()),
        outcome: Outcome::Failed,
        duration_ms,
        ..ScenarioResult::new(ID, TITLE, AREA, "(built-in)")
    };
    result.failure = Some(Failure {
        step: 1,
        location: ID.into(),
        kind: "preflight".into(),
        message: failure.message.clone(),
        expected: Some(
            "the signed request authenticated (any answer but an authentication refusal)".into(),
        ),
        actual: failure.transcript.first().map(|e| {
            e.status
                .map_or_else(|| "no response".into(), |s| s.to_string())
        }),
        checks: Vec::new(),
        transcript: failure.transcript.clone(),
    });
    result
}

/// The message of a scenario blocked by a failed preflight.
pub fn blocked_message(failure: &PreflightFailure) -> String {
    format!(
        "blocked: the federation preflight failed ({ID}): {}",
        failure.message
    )
}

/// `plan` blocked by the failed preflight (not run).
pub fn blocked_result(plan: &ScenarioPlan, failure: &PreflightFailure) -> ScenarioResult {
    let mut result = ScenarioResult {
        tags: plan.tags.clone(),
        spec_since: plan.spec_since.clone(),
        spec_section: plan.spec_section.clone(),
        level: plan.level.as_str().to_owned(),
        msc: plan.msc.clone(),
        outcome: Outcome::Blocked,
        ..ScenarioResult::new(&plan.id, &plan.title, &plan.area, &plan.file)
    };
    let mut f = Failure::setup(plan.location.clone(), blocked_message(failure));
    f.kind = "blocked".into();
    result.failure = Some(f);
    result
}

/// Run the preflight when a plan that will run needs it. Returns the plans still to run; the
/// results it decides are emitted as finished: nothing when the preflight passed (or was not
/// needed); the failed `fed/preflight` and a blocked result per dependent plan when it failed.
pub async fn gate(
    plans: Vec<ScenarioPlan>,
    ctx: &super::super::RunContext,
    events: &crate::runner::Events,
) -> Vec<ScenarioPlan> {
    let Some(fed) = ctx.federation.as_ref() else {
        return plans;
    };
    let will_run = |p: &ScenarioPlan| needed(p) && super::super::skip_reason(p, ctx).is_none();
    if !plans.iter().any(will_run) {
        return plans;
    }
    let started = Instant::now();
    let failure = match check(fed, &fed.hs1, ctx.step_timeout).await {
        Preflight::Passed => return plans,
        Preflight::NotRun(why) => {
            eprintln!("warning: the federation preflight did not run: {why}");
            return plans;
        }
        Preflight::Failed(f) => f,
    };
    let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut decided = vec![failed_result(&failure, elapsed)];
    let mut rest = Vec::new();
    for plan in plans {
        if will_run(&plan) {
            decided.push(blocked_result(&plan, &failure));
        } else {
            rest.push(plan);
        }
    }
    for r in decided {
        events.emit(crate::runner::RunEvent::ScenarioFinished(Box::new(r)));
    }
    rest
}

#[cfg(test)]
mod tests;
