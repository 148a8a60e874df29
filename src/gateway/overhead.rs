//! Gateway overhead: each pass-through probe sent N times through the gateway and N times
//! straight to the homeserver, over one reused connection and over fresh ones; p50/p95 of
//! each and the difference, and one testcase judging the largest p95 overhead on a reused
//! connection against a limit (a deployment policy, not a spec rule). A gateway that delays
//! every request on a kept-alive connection (a missing TCP_NODELAY, say) passes every
//! functional check; only this figure shows it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::raw::{self, Connection, Endpoint, RawRequest};
use crate::results::{CheckFailure, Failure, Outcome, ScenarioResult};

/// How the overhead is measured and judged.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Repetitions per probe, per path and per connection kind.
    pub repetitions: usize,
    /// The largest acceptable p95 overhead on a reused connection, in milliseconds.
    pub max_p95_ms: f64,
}

impl Default for Plan {
    fn default() -> Self {
        Self {
            repetitions: 30,
            max_p95_ms: 10.0,
        }
    }
}

/// Latencies of one probe on one path, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Latencies {
    /// One per repetition, sorted.
    sorted_ms: Vec<f64>,
}

impl Latencies {
    fn from_samples(mut samples: Vec<f64>) -> Self {
        samples.sort_by(f64::total_cmp);
        Self { sorted_ms: samples }
    }

    /// The nearest-rank percentile (`q` in 0..=100); 0 with no samples.
    pub fn percentile(&self, q: f64) -> f64 {
        if self.sorted_ms.is_empty() {
            return 0.0;
        }
        let rank = ((q / 100.0) * self.sorted_ms.len() as f64).ceil() as usize;
        self.sorted_ms[rank.clamp(1, self.sorted_ms.len()) - 1]
    }
}

/// One probe's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeOverhead {
    /// The check whose probe was repeated.
    pub check_id: String,
    /// `METHOD target`.
    pub request: String,
    /// Through the gateway, one kept-alive connection.
    pub gateway_reused: Latencies,
    /// Straight to the homeserver, one kept-alive connection.
    pub direct_reused: Latencies,
    /// Through the gateway, a new connection (TCP and TLS) each time.
    pub gateway_fresh: Latencies,
    /// Straight to the homeserver, a new connection each time.
    pub direct_fresh: Latencies,
}

impl ProbeOverhead {
    /// p95 through the gateway minus p95 direct, on reused connections.
    pub fn p95_overhead_ms(&self) -> f64 {
        self.gateway_reused.percentile(95.0) - self.direct_reused.percentile(95.0)
    }

    /// The figures as report properties (milliseconds, one decimal).
    pub fn properties(&self) -> BTreeMap<String, String> {
        let mut p = BTreeMap::new();
        let rows = [
            ("reused", &self.gateway_reused, &self.direct_reused),
            ("fresh", &self.gateway_fresh, &self.direct_fresh),
        ];
        for (kind, gateway, direct) in rows {
            for q in [50.0, 95.0] {
                let (g, d) = (gateway.percentile(q), direct.percentile(q));
                p.insert(
                    format!("{} {kind} p{q:.0}", self.check_id),
                    format!(
                        "gateway {g:.1} ms, direct {d:.1} ms, overhead {:+.1} ms",
                        g - d
                    ),
                );
            }
        }
        p
    }
}

/// Send `request` `n` times over one connection; the time of each exchange in ms.
async fn reused(
    endpoint: &Endpoint,
    request: &RawRequest,
    n: usize,
    timeout: Duration,
) -> Result<Vec<f64>, String> {
    let mut connection = tokio::time::timeout(timeout, Connection::open(endpoint))
        .await
        .map_err(|_| format!("no connection to {} within {timeout:?}", endpoint.base))??;
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let answer = tokio::time::timeout(timeout, connection.send(request))
            .await
            .map_err(|_| format!("no answer from {} within {timeout:?}", endpoint.base))?;
        let answer = match answer {
            Ok(a) => a,
            // The peer may close a kept-alive connection: the next request opens another,
            // as a federation client would, and this sample counts the reconnect.
            Err(_) => {
                connection = Connection::open(endpoint).await?;
                connection.send(request).await?
            }
        };
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
        if answer.status >= 500 {
            return Err(format!(
                "{} answered {} to {} {}",
                endpoint.base, answer.status, request.method, request.target
            ));
        }
    }
    Ok(samples)
}

/// Send `request` `n` times, each over a new connection.
async fn fresh(
    endpoint: &Endpoint,
    request: &RawRequest,
    n: usize,
    timeout: Duration,
) -> Result<Vec<f64>, String> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let (answer, _) = raw::send(endpoint, request, timeout).await;
        answer?;
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(samples)
}

/// Measure one probe on both paths and both connection kinds. The paths alternate so a
/// change in the machine's load falls on both.
pub async fn measure(
    check_id: &str,
    gateway: &Endpoint,
    direct: &Endpoint,
    request: &RawRequest,
    plan: Plan,
    timeout: Duration,
) -> Result<ProbeOverhead, String> {
    let n = plan.repetitions;
    let direct_reused = reused(direct, request, n, timeout).await?;
    let gateway_reused = reused(gateway, request, n, timeout).await?;
    let gateway_fresh = fresh(gateway, request, n, timeout).await?;
    let direct_fresh = fresh(direct, request, n, timeout).await?;
    Ok(ProbeOverhead {
        check_id: check_id.to_owned(),
        request: format!("{} {}", request.method, request.target),
        gateway_reused: Latencies::from_samples(gateway_reused),
        direct_reused: Latencies::from_samples(direct_reused),
        gateway_fresh: Latencies::from_samples(gateway_fresh),
        direct_fresh: Latencies::from_samples(direct_fresh),
    })
}

/// The id of the overhead testcase.
pub const ID: &str = "gateway/overhead/p95";

/// The overhead testcase as `--filter` sees it (id [`ID`], area `overhead`, level policy).
pub struct Testcase;

impl crate::plan::filter::Selectable for Testcase {
    fn id(&self) -> &str {
        ID
    }
    fn area(&self) -> &str {
        "overhead"
    }
    fn tags(&self) -> &[String] {
        &[]
    }
    fn level(&self) -> crate::scenario::model::Level {
        crate::scenario::model::Level::Policy
    }
}

/// The testcase judging the largest reused-connection p95 overhead against the limit.
/// `measured` holds each probe's figures or why it could not be measured.
pub fn verdict(
    measured: &[Result<ProbeOverhead, (String, String)>],
    plan: Plan,
    duration: Duration,
) -> ScenarioResult {
    let mut r = ScenarioResult::new(
        ID,
        format!(
            "The gateway adds at most {} ms at p95 to a request on a reused connection",
            plan.max_p95_ms
        ),
        "overhead",
        "(built in: gateway overhead)",
    );
    r.level = "policy".into();
    r.basis = Some(format!(
        "gateway policy (the federation spec sets no latency budget): p95 overhead <= {} ms \
         on loopback, over {} repetitions per probe, gateway vs direct",
        plan.max_p95_ms, plan.repetitions
    ));
    r.duration_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    let mut worst: Option<&ProbeOverhead> = None;
    let mut errors = Vec::new();
    for m in measured {
        match m {
            Ok(p) => {
                r.properties.extend(p.properties());
                if worst.is_none_or(|w| p.p95_overhead_ms() > w.p95_overhead_ms()) {
                    worst = Some(p);
                }
            }
            Err((id, e)) => errors.push(format!("{id}: {e}")),
        }
    }
    let Some(worst) = worst else {
        r.outcome = Outcome::Errored;
        r.failure = Some(Failure::setup(
            ID.to_owned(),
            format!("no probe could be measured: {}", errors.join("; ")),
        ));
        return r;
    };
    let overhead = worst.p95_overhead_ms();
    r.properties.insert(
        "largest p95 overhead".into(),
        format!("{overhead:+.1} ms ({}, {})", worst.check_id, worst.request),
    );
    for e in &errors {
        r.warnings.push(format!("not measured: {e}"));
    }
    if overhead <= plan.max_p95_ms {
        r.outcome = Outcome::Passed;
        return r;
    }
    let message = format!(
        "the gateway added {overhead:.1} ms at p95 to {} on a reused connection \
         (gateway {:.1} ms, direct {:.1} ms; the limit is {} ms)",
        worst.request,
        worst.gateway_reused.percentile(95.0),
        worst.direct_reused.percentile(95.0),
        plan.max_p95_ms
    );
    let check = CheckFailure {
        location: ID.to_owned(),
        kind: "overhead".into(),
        message: message.clone(),
        expected: Some(format!("p95 overhead <= {} ms", plan.max_p95_ms)),
        actual: Some(format!("{overhead:.1} ms")),
    };
    r.outcome = Outcome::Failed;
    r.failure = Some(Failure {
        step: 1,
        location: ID.to_owned(),
        kind: "overhead".into(),
        message,
        expected: check.expected.clone(),
        actual: check.actual.clone(),
        checks: vec![check],
        transcript: Vec::new(),
    });
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(gateway: &[f64], direct: &[f64]) -> ProbeOverhead {
        ProbeOverhead {
            check_id: "gateway/pass/version".into(),
            request: "GET /_matrix/federation/v1/version".into(),
            gateway_reused: Latencies::from_samples(gateway.to_vec()),
            direct_reused: Latencies::from_samples(direct.to_vec()),
            gateway_fresh: Latencies::from_samples(gateway.to_vec()),
            direct_fresh: Latencies::from_samples(direct.to_vec()),
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let l = Latencies::from_samples((1..=20).map(f64::from).rev().collect());
        assert_eq!(l.percentile(50.0), 10.0);
        assert_eq!(l.percentile(95.0), 19.0);
        assert_eq!(l.percentile(100.0), 20.0);
        assert_eq!(Latencies::default().percentile(95.0), 0.0);
    }

    #[test]
    fn a_small_overhead_passes_and_a_delay_fails_naming_the_probe() {
        let plan = Plan::default();
        let fast = [Ok(probe(&[2.0, 2.5, 3.0], &[1.0, 1.5, 2.0]))];
        let r = verdict(&fast, plan, Duration::ZERO);
        assert_eq!(r.outcome, Outcome::Passed);
        assert_eq!(r.level, "policy");
        // 40 ms on every request: the Nagle/delayed-ACK pattern.
        let slow = [Ok(probe(&[41.0, 42.0, 43.0], &[1.0, 1.5, 2.0]))];
        let r = verdict(&slow, plan, Duration::ZERO);
        assert_eq!(r.outcome, Outcome::Failed);
        let message = r.failure.map(|f| f.message).unwrap_or_default();
        assert!(message.contains("added 41.0 ms"), "{message}");
        assert!(
            message.contains("/_matrix/federation/v1/version"),
            "{message}"
        );
    }

    #[test]
    fn nothing_measured_is_an_error_with_the_reasons() {
        let r = verdict(
            &[Err(("gateway/pass/version".into(), "refused".into()))],
            Plan::default(),
            Duration::ZERO,
        );
        assert_eq!(r.outcome, Outcome::Errored);
    }
}
