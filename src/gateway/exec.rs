//! Running gateway checks: each inbound check sends its probe to the gateway (and, to compare,
//! straight to the homeserver), reads what reached the homeserver from the tap, and is judged;
//! each outbound check asks the homeserver's client API for a remote user's profile and looks
//! at what the remote (a fake server) received. Checks run one after another, in id order.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::decoy::Decoy;
use super::diagnosis::{self, HiddenFate, Scene};
use super::judge::{self, Observed, Upstream};
use super::level;
use super::overhead;
use super::probe::{self, Roles};
use super::raw::{self, Endpoint, RawRequest};
use super::suite::{Action, Check, Expect, Framing, Outbound, Probe, Remote, Verdict};
use super::tap::Tap;
use super::wire;
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
    /// Where requests routed by a spoofed header go (`${decoy}`), when one listens.
    pub decoy: Option<Arc<Decoy>>,
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
            mut properties,
            diagnosis,
        }) => {
            if let (Some(d), false) = (&diagnosis, failures.is_empty()) {
                properties.insert("diagnosis".into(), d.clone());
            }
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
            if let Some(first) = headline(&failures) {
                result.outcome = Outcome::Failed;
                let message = match &diagnosis {
                    Some(d) => format!("{}: {d}", first.message),
                    None => first.message.clone(),
                };
                result.failure = Some(Failure {
                    step: 1,
                    location: first.location.clone(),
                    kind: first.kind.clone(),
                    message,
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

/// The failure a failed check is named by: what went astray (misrouted, reached the
/// homeserver, a hidden or second request got through) before how the answer looked.
fn headline(failures: &[CheckFailure]) -> Option<&CheckFailure> {
    const FIRST: [&str; 6] = [
        "misrouted",
        "reached-upstream",
        "hidden-request-arrived",
        "second-reached-upstream",
        "hidden-request-answered",
        "not-forwarded",
    ];
    FIRST
        .iter()
        .find_map(|k| failures.iter().find(|f| f.kind == *k))
        .or_else(|| failures.first())
}

enum Judged {
    Skipped(String),
    Done {
        steps: Vec<Step>,
        failures: Vec<CheckFailure>,
        properties: BTreeMap<String, String>,
        /// The failure in words (what was sent, answered, and reached the homeserver).
        diagnosis: Option<String>,
    },
}

/// Who a probe claims to be, in words: `allowed (localhost:8481)`, `an unsigned remote`.
fn sender(probe: &Probe, roles: &Roles) -> String {
    let Some(key) = roles.key(probe.from) else {
        return if probe.authorization.is_some() {
            "a remote with a hand-written Authorization header".into()
        } else {
            "an unsigned remote".into()
        };
    };
    let mut how = Vec::new();
    if let Some(other) = probe.sign_as.key_of.filter(|k| *k != probe.from) {
        how.push(format!("signed with {}'s key", role_name(other)));
    }
    if let Some(t) = probe.tamper {
        how.push(match t {
            super::suite::Tamper::FlipSignature => "with a flipped signature".into(),
            super::suite::Tamper::TruncateSignature => "with a truncated signature".into(),
        });
    }
    let base = format!("{} ({}", role_name(probe.from), key.server_name());
    if how.is_empty() {
        format!("{base})")
    } else {
        format!("{base}, {})", how.join(", "))
    }
}

/// `${decoy}` replaced by the decoy's address in the probe (and its second request).
fn with_decoy(probe: &Probe, addr: &str) -> Probe {
    let mut p = probe.clone();
    p.target = p.target.replace("${decoy}", addr);
    for (_, v) in &mut p.headers {
        *v = v.replace("${decoy}", addr);
    }
    if let Some(w) = &mut p.wire
        && let Some(then) = &mut w.then
    {
        **then = with_decoy(then, addr);
    }
    p
}

fn uses_decoy(probe: &Probe) -> bool {
    probe.target.contains("${decoy}")
        || probe.headers.iter().any(|(_, v)| v.contains("${decoy}"))
        || probe
            .wire
            .as_ref()
            .and_then(|w| w.then.as_deref())
            .is_some_and(uses_decoy)
}

/// A bare expectation for the second request on a connection: a refusal may also be the
/// connection closing before it.
fn second_expect(verdict: Verdict) -> Expect {
    Expect {
        verdict,
        status: None,
        errcode: None,
        same_as_direct: false,
        ignore: Vec::new(),
        upstream_lacks: Vec::new(),
        upstream_not: BTreeMap::new(),
        authorization_intact: false,
        any_refusal: verdict == Verdict::Refused,
        then: None,
    }
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
    let decoyed;
    let probe = match (&setup.decoy, uses_decoy(probe)) {
        (_, false) => probe,
        (Some(d), true) => {
            decoyed = with_decoy(probe, &d.addr().to_string());
            &decoyed
        }
        (None, true) => {
            return Ok(Judged::Skipped(
                "needs the harness's decoy listener for a spoofed routing header".into(),
            ));
        }
    };
    if probe.wire.is_some() {
        return inbound_wire(check, probe, setup, marker, location).await;
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
    let decoy_hits = setup.decoy.as_ref().map(|d| d.seen_with(marker));
    let seen = Observed {
        response: &response,
        upstream: &upstream,
        direct: direct.as_ref(),
        authorization,
        sent_headers: &request.headers,
        decoy: decoy_hits.as_deref(),
    };
    let (failures, mut properties) = judge::judge(expect, &seen, location);
    if expect.same_as_direct && direct.is_none() {
        properties.insert(
            "direct comparison".into(),
            format!("not made: {}", setup.no_direct_reason),
        );
    }
    let decoy_addr = setup.decoy.as_ref().map(|d| d.addr().to_string());
    let diagnosis = diagnosis::describe(&Scene {
        sender: sender(probe, &setup.roles),
        request: &request,
        notes: Vec::new(),
        response: &response,
        upstream: &upstream,
        decoy: decoy_hits.as_deref().zip(decoy_addr.as_deref()),
        hidden: None,
    });
    Ok(Judged::Done {
        steps,
        failures,
        properties,
        diagnosis: Some(diagnosis),
    })
}

/// What reached the homeserver with `marker`.
fn upstream_of(setup: &Setup, marker: &str) -> Upstream {
    match &setup.tap {
        Some(tap) => Upstream::Seen(tap.seen_with(marker)),
        None => Upstream::NotObservable(setup.no_tap_reason.clone()),
    }
}

/// A probe sent at the byte level (`wire:`): plaintext, chunked or contradictory framing with a
/// hidden request, or a second request on the same connection. The first request is judged
/// as any probe; the hidden and the second requests each get their own verdict.
async fn inbound_wire(
    check: &Check,
    probe: &Probe,
    setup: &Setup,
    marker: &str,
    location: &str,
) -> Result<Judged, String> {
    let expect = &check.expect;
    let w = probe.wire.clone().unwrap_or_default();
    let host = setup.gateway.host_port().to_owned();
    let roles = &setup.roles;
    let request = probe::build(probe, roles, marker)?;
    // Markers of the hidden and the second request: neither contains the other.
    let hidden_marker = marker.replacen("mxh", "mxs", 1);
    let second_marker = marker.replacen("mxh", "mxk", 1);
    let hidden = w
        .hidden
        .as_ref()
        .map(|h| format!("{} {}", h.method, roles.subst(&h.target, &hidden_marker)));
    let hidden_bytes = w
        .hidden
        .as_ref()
        .map(|h| wire::hidden_request(&h.method, &roles.subst(&h.target, &hidden_marker), &host));
    let second = match w.then.as_deref() {
        Some(p) => Some((p, probe::build(p, roles, &second_marker)?)),
        None => None,
    };
    let started = Instant::now();
    let outcome = wire::exchange(
        &setup.gateway,
        w.plaintext,
        wire::encode(&request, &host, w.framing, hidden_bytes.as_deref()),
        second
            .as_ref()
            .map(|(_, r)| wire::encode(r, &host, None, None)),
        setup.timeout,
    )
    .await;
    let mut notes = Vec::new();
    if w.plaintext {
        notes.push("in plain HTTP on the TLS port".to_owned());
    }
    match w.framing {
        Some(Framing::Chunked) => notes.push("sent chunked".to_owned()),
        Some(Framing::ContentLengthAndChunked) => notes.push(match &hidden {
            Some(h) => format!(
                "with both Content-Length and Transfer-Encoding: chunked, and {h} hidden after \
                 the chunked body"
            ),
            None => "with both Content-Length and Transfer-Encoding: chunked".to_owned(),
        }),
        None => {}
    }
    let mut shown = request.clone();
    match w.framing {
        Some(Framing::Chunked) => shown
            .headers
            .push(("transfer-encoding".into(), "chunked".into())),
        Some(Framing::ContentLengthAndChunked) => {
            shown
                .headers
                .push(("transfer-encoding".into(), "chunked".into()));
            shown.headers.push((
                "content-length".into(),
                "(covers the hidden request)".into(),
            ));
        }
        None => {}
    }
    let mut steps = vec![Step {
        label: format!(
            "{} {} (as {}{})",
            request.method,
            request.target,
            role_name(probe.from),
            if w.plaintext { ", plaintext" } else { "" }
        ),
        exchange: raw::transcript(&setup.gateway, &shown, &outcome.first, started),
    }];
    let upstream = upstream_of(setup, marker);
    let decoy_hits = setup.decoy.as_ref().map(|d| d.seen_with(marker));
    let authorization = request
        .headers
        .iter()
        .find(|(n, _)| n == "authorization")
        .map(|(_, v)| v.as_str());
    let (mut failures, mut properties) = judge::judge(
        expect,
        &Observed {
            response: &outcome.first,
            upstream: &upstream,
            direct: None,
            authorization,
            sent_headers: &request.headers,
            decoy: decoy_hits.as_deref(),
        },
        location,
    );
    properties.insert(
        "connection".into(),
        if outcome.closed {
            "closed by the gateway".into()
        } else {
            "left open".into()
        },
    );
    // The hidden request: never a request of its own at the homeserver, never answered.
    let arrived: Vec<_> = match &setup.tap {
        Some(tap) => tap
            .seen_with(&hidden_marker)
            .into_iter()
            .filter(|t| t.target.contains(&hidden_marker))
            .collect(),
        None => Vec::new(),
    };
    if let Some(h) = &hidden {
        if let Some(t) = arrived.first() {
            failures.push(crate::check::failure(
                location,
                "hidden-request-arrived",
                "the request hidden after the chunked body reached the homeserver as a request \
                 of its own"
                    .into(),
                Some(format!("{h} never reaches the homeserver")),
                Some(format!("{} {}", t.method, t.target)),
            ));
        }
        if let Some(extra) = &outcome.extra {
            failures.push(crate::check::failure(
                location,
                "hidden-request-answered",
                "the gateway answered the hidden request as a second request on the connection"
                    .into(),
                Some("one answer, then the connection closed (RFC 9112 6.3)".into()),
                Some(format!("a second answer: {}", extra.status)),
            ));
        }
    }
    let decoy_addr = setup.decoy.as_ref().map(|d| d.addr().to_string());
    let mut diagnosis = diagnosis::describe(&Scene {
        sender: sender(probe, roles),
        request: &request,
        notes,
        response: &outcome.first,
        upstream: &upstream,
        decoy: decoy_hits.as_deref().zip(decoy_addr.as_deref()),
        hidden: hidden.as_deref().map(|h| HiddenFate {
            request: h,
            marker: &hidden_marker,
            arrived: &arrived,
            answered: outcome.extra.as_ref().map(|r| r.status),
        }),
    });
    if let (Some((p, r)), Some(answer)) = (&second, &outcome.second) {
        let verdict = expect.then.unwrap_or(Verdict::Refused);
        let upstream2 = upstream_of(setup, &second_marker);
        let hits2 = setup.decoy.as_ref().map(|d| d.seen_with(&second_marker));
        let (more, props2) = judge::judge(
            &second_expect(verdict),
            &Observed {
                response: answer,
                upstream: &upstream2,
                direct: None,
                authorization: None,
                sent_headers: &r.headers,
                decoy: hits2.as_deref(),
            },
            location,
        );
        for f in more {
            failures.push(CheckFailure {
                kind: format!("second-{}", f.kind),
                message: format!("second request on the connection: {}", f.message),
                ..f
            });
        }
        for (k, v) in props2 {
            properties.insert(format!("second {k}"), v);
        }
        diagnosis.push_str("; then, on the same connection, ");
        diagnosis.push_str(&diagnosis::describe(&Scene {
            sender: sender(p, roles),
            request: r,
            notes: Vec::new(),
            response: answer,
            upstream: &upstream2,
            decoy: hits2.as_deref().zip(decoy_addr.as_deref()),
            hidden: None,
        }));
        steps.push(Step {
            label: format!(
                "then on the same connection: {} {} (as {})",
                r.method,
                r.target,
                role_name(p.from)
            ),
            exchange: raw::transcript(&setup.gateway, r, answer, started),
        });
    }
    Ok(Judged::Done {
        steps,
        failures,
        properties,
        diagnosis: Some(diagnosis),
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
    let diagnosis = format!(
        "the harness asked the homeserver for the profile of {user}; {}; {}",
        match &response {
            Ok(r) => format!("the homeserver answered its client {}", r.status),
            Err(e) => format!("the homeserver gave its client no answer ({e})"),
        },
        match contacted.first() {
            Some(c) => format!(
                "the {} server ({}) received {} {}",
                role_name(outbound.to),
                remote.server_name(),
                c.method,
                c.uri
            ),
            None => format!(
                "nothing reached the {} server ({})",
                role_name(outbound.to),
                remote.server_name()
            ),
        }
    );
    Ok(Judged::Done {
        steps: vec![Step {
            label: format!("client: GET profile of {user}"),
            exchange,
        }],
        failures,
        properties,
        diagnosis: Some(diagnosis),
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
