//! Running gateway checks: each inbound check sends its probe to the gateway (and, to compare,
//! straight to the homeserver), reads what reached the homeserver from the tap, and is judged;
//! each outbound check asks the homeserver's client API for a remote user's profile and looks
//! at what the remote (a fake server) received. Checks run one after another, in id order.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::judge::{self, Observed, Upstream};
use super::level;
use super::overhead;
use super::probe::{self, Roles};
use super::raw::{self, Endpoint, RawRequest};
use super::suite::{Action, Check, Outbound, Probe, Remote, Verdict};
use super::tap::Tap;
use crate::federation::FakeServer;
use crate::lifecycle::{Stop, StopReason};
use crate::results::{CheckFailure, Exchange, Failure, Outcome, ScenarioResult, StepResult};
use crate::runner::events::{Events, RunEvent};
use crate::scenario::model::Level;

/// A client of the homeserver behind the gateway (for outbound checks).
#[derive(Clone)]
pub struct HomeserverClient {
    /// The client-server API.
    pub endpoint: Endpoint,
    /// A user's access token.
    pub access_token: String,
}

impl std::fmt::Debug for HomeserverClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HomeserverClient")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// Everything a check needs: where the gateway is, who the harness plays, what it can observe.
#[derive(Debug)]
pub struct Setup {
    /// The remote servers' keys and the homeserver's name.
    pub roles: Roles,
    /// The gateway's federation entrance.
    pub gateway: Endpoint,
    /// The homeserver's federation listener, bypassing the gateway (for `same_as_direct`).
    pub direct: Option<Endpoint>,
    /// What reached the homeserver through the gateway.
    pub tap: Option<Arc<Tap>>,
    /// Why the homeserver side cannot be observed, when `tap` is None.
    pub no_tap_reason: String,
    /// Why there is no direct comparison, when `direct` is None.
    pub no_direct_reason: String,
    /// The fake remote servers (to see outbound traffic), by role.
    pub remotes: BTreeMap<&'static str, Arc<FakeServer>>,
    /// A client of the homeserver, for outbound checks.
    pub client: Option<HomeserverClient>,
    /// Timeout of one exchange.
    pub timeout: Duration,
    /// Distinguishes this run's markers.
    pub run_tag: String,
}

fn role_name(r: Remote) -> &'static str {
    match r {
        Remote::Allowed => "allowed",
        Remote::Allowed2 => "allowed2",
        Remote::Denied => "denied",
        Remote::Anonymous => "anonymous",
    }
}

/// Run every check, in order, emitting the run's events on `events` (as the conformance
/// runner does): `Planned`, `ScenarioStarted` / `ScenarioFinished` per check, `Stopping` when a
/// stop comes, `ScenarioNotRun` for each check it kept from finishing, `Finished` last.
/// With `overhead`, the gateway's overhead is measured after the checks, as one more testcase,
/// repeating the pass-through probes of the checks given with it (selected or not).
pub async fn run_all(
    checks: &[Check],
    setup: &Setup,
    overhead: Option<(overhead::Plan, &[Check])>,
    events: &Events,
    stop: &Stop,
) {
    let measured = overhead.map(|(plan, all)| (plan, overhead_probes(all)));
    let measured = measured.filter(|(_, probes)| !probes.is_empty());
    events.emit(RunEvent::Planned {
        count: checks.len() + usize::from(measured.is_some()),
    });
    let mut told_stopping = false;
    for (i, check) in checks.iter().enumerate() {
        if let Some(reason) = stop.reason() {
            if !told_stopping {
                told_stopping = true;
                events.emit(RunEvent::Stopping { reason });
            }
            events.emit(RunEvent::ScenarioNotRun(Box::new(not_run(check, reason))));
            continue;
        }
        events.emit(RunEvent::ScenarioStarted {
            id: check.id.clone(),
        });
        let marker = format!("mxh{}n{i:03}", setup.run_tag);
        // A stop lets the running check go on for the grace period, then cancels it.
        let cut = async {
            let reason = stop.stopped().await;
            tokio::time::sleep(crate::lifecycle::stop::GRACE).await;
            reason
        };
        tokio::select! {
            r = run_one(check, setup, &marker) => {
                events.emit(RunEvent::ScenarioFinished(Box::new(r)));
            }
            reason = cut => {
                told_stopping = true;
                events.emit(RunEvent::Stopping { reason });
                events.emit(RunEvent::ScenarioNotRun(Box::new(not_run(check, reason))));
            }
        }
    }
    if let Some((plan, probes)) = measured {
        if let Some(reason) = stop.reason() {
            let mut r = overhead::verdict(&[], plan, Duration::ZERO);
            r.outcome = Outcome::Skipped;
            r.failure = None;
            r.skip_reason = Some(crate::lifecycle::stop::not_run_reason(reason));
            events.emit(RunEvent::ScenarioNotRun(Box::new(r)));
            events.emit(RunEvent::Finished {
                stopped_by: stop.reason(),
            });
            return;
        }
        let result = overhead_testcase(&probes, plan, setup, stop);
        events.emit(RunEvent::ScenarioStarted {
            id: overhead::ID.to_owned(),
        });
        let result = result.await;
        events.emit(RunEvent::ScenarioFinished(Box::new(result)));
    }
    events.emit(RunEvent::Finished {
        stopped_by: stop.reason(),
    });
}

/// The checks whose probe is repeated for the overhead figure: forwarded probes compared
/// with the direct answer, except PUTs (a repeated transaction is not free of effects).
fn overhead_probes(checks: &[Check]) -> Vec<(&Check, &Probe)> {
    checks
        .iter()
        .filter_map(|c| match &c.action {
            Action::Inbound(p)
                if c.expect.verdict == Verdict::Forwarded
                    && c.expect.same_as_direct
                    && !p.method.eq_ignore_ascii_case("PUT") =>
            {
                Some((c, p.as_ref()))
            }
            _ => None,
        })
        .collect()
}

/// Repeat each probe through the gateway and directly, and judge the overhead.
async fn overhead_testcase(
    probes: &[(&Check, &Probe)],
    plan: overhead::Plan,
    setup: &Setup,
    stop: &Stop,
) -> ScenarioResult {
    let started = Instant::now();
    let Some(direct) = &setup.direct else {
        let mut r = overhead::verdict(&[], plan, Duration::ZERO);
        r.outcome = Outcome::Skipped;
        r.failure = None;
        r.skip_reason = Some(format!(
            "the overhead is measured against the homeserver's own listener: {}",
            setup.no_direct_reason
        ));
        return r;
    };
    let mut measured = Vec::new();
    for (i, (check, probe)) in probes.iter().enumerate() {
        if stop.reason().is_some() {
            break;
        }
        let marker = format!("mxh{}ovh{i:03}", setup.run_tag);
        let one = match probe::build(probe, &setup.roles, &marker) {
            Ok(request) => {
                overhead::measure(
                    &check.id,
                    &setup.gateway,
                    direct,
                    &request,
                    plan,
                    setup.timeout,
                )
                .await
            }
            Err(e) => Err(e),
        };
        measured.push(one.map_err(|e| (check.id.clone(), e)));
    }
    overhead::verdict(&measured, plan, started.elapsed())
}

fn not_run(check: &Check, reason: StopReason) -> ScenarioResult {
    let mut r = blank(check);
    r.outcome = Outcome::Skipped;
    r.skip_reason = Some(crate::lifecycle::stop::not_run_reason(reason));
    r
}

struct Step {
    label: String,
    exchange: Exchange,
}

async fn run_one(check: &Check, setup: &Setup, marker: &str) -> ScenarioResult {
    let started = Instant::now();
    let mut result = blank(check);
    let location = format!("{}:1:1", check.file);
    let outcome = match &check.action {
        Action::Inbound(p) => inbound(check, p, setup, marker, &location).await,
        Action::Outbound(o) => outbound(check, o, setup, marker, &location).await,
    };
    result.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match outcome {
        Err(message) => {
            result.outcome = Outcome::Errored;
            result.failure = Some(Failure::setup(location, message));
        }
        Ok(Judged::Skipped(reason)) => {
            result.outcome = Outcome::Skipped;
            result.skip_reason = Some(reason);
        }
        Ok(Judged::Done {
            steps,
            failures,
            properties,
        }) => {
            result.properties = properties;
            result.steps = steps
                .iter()
                .enumerate()
                .map(|(i, s)| StepResult {
                    index: i + 1,
                    label: s.label.clone(),
                    passed: failures.is_empty(),
                    duration_ms: s.exchange.duration_ms,
                    attempts: 1,
                })
                .collect();
            if let Some(basis) = level::policy_only_failure(check, &failures) {
                result.properties.insert(
                    "spec requirement".into(),
                    format!("met ({}); a gateway policy failed", check.level.as_str()),
                );
                result.level = Level::Policy.as_str().to_owned();
                result.basis = Some(basis);
            }
            if let Some(first) = failures.first() {
                result.outcome = Outcome::Failed;
                result.failure = Some(Failure {
                    step: 1,
                    location: first.location.clone(),
                    kind: first.kind.clone(),
                    message: first.message.clone(),
                    expected: first.expected.clone(),
                    actual: first.actual.clone(),
                    checks: failures.clone(),
                    transcript: steps.into_iter().map(|s| s.exchange).collect(),
                });
            } else {
                result.outcome = Outcome::Passed;
            }
        }
    }
    result
}

enum Judged {
    Skipped(String),
    Done {
        steps: Vec<Step>,
        failures: Vec<CheckFailure>,
        properties: BTreeMap<String, String>,
    },
}

async fn inbound(
    check: &Check,
    probe: &Probe,
    setup: &Setup,
    marker: &str,
    location: &str,
) -> Result<Judged, String> {
    let expect = &check.expect;
    let needs_upstream = !expect.upstream_lacks.is_empty()
        || !expect.upstream_not.is_empty()
        || expect.authorization_intact;
    if needs_upstream && setup.tap.is_none() {
        return Ok(Judged::Skipped(format!(
            "needs to see what reaches the homeserver: {}",
            setup.no_tap_reason
        )));
    }
    let request = probe::build(probe, &setup.roles, marker)?;
    let (response, exchange) = raw::send(&setup.gateway, &request, setup.timeout).await;
    let mut steps = vec![Step {
        label: format!(
            "{} {} (as {})",
            request.method,
            request.target,
            role_name(probe.from)
        ),
        exchange,
    }];
    let upstream = match &setup.tap {
        Some(tap) => Upstream::Seen(tap.seen_with(marker)),
        None => Upstream::NotObservable(setup.no_tap_reason.clone()),
    };
    let direct = match (
        &setup.direct,
        expect.same_as_direct && expect.verdict == Verdict::Forwarded,
    ) {
        (Some(direct), true) => {
            let direct_marker = format!("{marker}d");
            let request: RawRequest = probe::build(probe, &setup.roles, &direct_marker)?;
            let (mut r, exchange) = raw::send(direct, &request, setup.timeout).await;
            // Answers may quote the request (error messages): compare them marker for marker.
            if let Ok(r) = &mut r {
                let text = String::from_utf8_lossy(&r.body).replace(&direct_marker, marker);
                r.body = text.into_bytes();
            }
            steps.push(Step {
                label: format!("direct: {} {}", request.method, request.target),
                exchange,
            });
            Some(r)
        }
        _ => None,
    };
    let authorization = request
        .headers
        .iter()
        .find(|(n, _)| n == "authorization")
        .map(|(_, v)| v.as_str());
    let seen = Observed {
        response: &response,
        upstream: &upstream,
        direct: direct.as_ref(),
        authorization,
        sent_headers: &request.headers,
    };
    let (failures, mut properties) = judge::judge(expect, &seen, location);
    if expect.same_as_direct && direct.is_none() {
        properties.insert(
            "direct comparison".into(),
            format!("not made: {}", setup.no_direct_reason),
        );
    }
    Ok(Judged::Done {
        steps,
        failures,
        properties,
    })
}

async fn outbound(
    check: &Check,
    outbound: &Outbound,
    setup: &Setup,
    marker: &str,
    location: &str,
) -> Result<Judged, String> {
    let Some(client) = &setup.client else {
        return Ok(Judged::Skipped(
            "outbound checks need a client account on the homeserver behind the gateway \
             (--gateway-client URL)"
                .into(),
        ));
    };
    let Some(remote) = setup.remotes.get(role_name(outbound.to)) else {
        return Ok(Judged::Skipped(format!(
            "no fake server plays `{}`",
            role_name(outbound.to)
        )));
    };
    let user = format!("@{marker}:{}", remote.server_name());
    let request = RawRequest {
        method: "GET".into(),
        target: format!("/_matrix/client/v3/profile/{user}"),
        headers: vec![(
            "authorization".into(),
            format!("Bearer {}", client.access_token),
        )],
        body: Vec::new(),
    };
    let (response, mut exchange) = raw::send(&client.endpoint, &request, setup.timeout).await;
    exchange
        .request_headers
        .insert("authorization".into(), "Bearer <redacted>".into());
    let contacted: Vec<_> = remote
        .requests()
        .into_iter()
        .filter(|r| r.uri.contains(marker))
        .collect();
    let mut properties = BTreeMap::new();
    if let Ok(r) = &response {
        properties.insert("client status".into(), r.status.to_string());
    }
    properties.insert(
        "remote".into(),
        if contacted.is_empty() {
            "not contacted".into()
        } else {
            format!("contacted: {} {}", contacted[0].method, contacted[0].uri)
        },
    );
    let mut failures = Vec::new();
    let failure = |kind: &str, message: &str, expected: &str, actual: String| CheckFailure {
        location: location.to_owned(),
        kind: kind.to_owned(),
        message: message.to_owned(),
        expected: Some(expected.to_owned()),
        actual: Some(actual),
    };
    match (check.expect.verdict, contacted.first()) {
        (Verdict::Refused, Some(first)) => failures.push(failure(
            "left-the-border",
            "the homeserver's federation request reached a server that is not allowed",
            "no request leaves for a denied server",
            format!("{} {}", first.method, first.uri),
        )),
        (Verdict::Forwarded, None) => failures.push(failure(
            "not-sent",
            "the homeserver's federation request never reached an allowed server",
            "the query reaches the allowed server",
            match &response {
                Ok(r) => format!("client got {}", r.status),
                Err(e) => e.clone(),
            },
        )),
        _ => {}
    }
    if let Err(e) = &response {
        failures.push(failure(
            "transport",
            "the client request failed",
            "an answer",
            e.clone(),
        ));
    }
    Ok(Judged::Done {
        steps: vec![Step {
            label: format!("client: GET profile of {user}"),
            exchange,
        }],
        failures,
        properties,
    })
}

fn blank(check: &Check) -> ScenarioResult {
    let mut r = ScenarioResult::new(&check.id, &check.title, &check.area, &check.file);
    r.tags = check.tags.clone();
    r.spec_section = check.spec.clone();
    r.level = check.level.as_str().to_owned();
    r.basis = Some(check.basis.clone());
    r
}
