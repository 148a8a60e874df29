//! Runs a plan: scenarios in parallel (bounded by `--jobs`), each with fresh users, steps in
//! order, and emits typed events ([`events`]) as scenarios start and finish, for the
//! reporters subscribed (progress, journal, the collector of the results).

mod appservice;
pub mod events;
pub mod federation;
pub mod request;
mod scenario;
pub(crate) mod step;
mod verdict;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ruma::api::SupportedVersions;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::lifecycle::Stop;
use crate::matrix::http_client::HttpClient;
use crate::plan::ScenarioPlan;
use crate::results::ScenarioResult;
pub use crate::target::users::{BoxFuture, Provision, UserInfo};
pub use events::{Events, RunEvent};

/// Everything a run needs to know about the target.
pub struct RunContext {
    /// Base URL of the client-server API (no trailing slash).
    pub base_url: String,
    /// Server name, for `${server_name}`.
    pub server_name: String,
    /// `/versions` as ruma understands it (chooses endpoint paths).
    pub versions: SupportedVersions,
    /// `versions` as advertised.
    pub spec_versions: Vec<String>,
    /// `unstable_features` as advertised.
    pub unstable_features: BTreeMap<String, bool>,
    /// How users are made.
    pub provisioner: Arc<dyn Provision>,
    /// The HTTP client.
    pub http: HttpClient,
    /// Default timeout of one exchange.
    pub step_timeout: Duration,
    /// Longest one attempt of a scenario may take; past it the scenario is an error.
    pub scenario_timeout: Duration,
    /// Accept responses that do not match the spec schema, recording a warning instead.
    pub lenient_schema: bool,
    /// Where and how the target speaks sliding sync (none: sliding-sync scenarios are skipped).
    pub sliding_sync: Option<crate::matrix::sliding_sync::SlidingSyncTarget>,
    /// Re-run a failing scenario up to this many times (fresh users each time); one that
    /// passes on a retry is reported as flaky.
    pub retries: u32,
    /// Federation peers and the run CA, when the run has federation scenarios.
    pub federation: Option<Arc<federation::FederationContext>>,
    /// Optional features and room versions the server offers, probed once for the run.
    pub capabilities: crate::target::capabilities::Capabilities,
    /// The harness's application-service role, when one is registered with the target.
    pub appservice: Option<Arc<crate::target::appservice::AppServiceRole>>,
    /// The harness's push-gateway role, when the target can reach it.
    pub push_gateway: Option<Arc<crate::target::push_gateway::PushGatewayRole>>,
    /// The harness's SMTP sink, when the target sends mail through it.
    pub email_sink: Option<Arc<crate::target::email_sink::EmailSink>>,
    /// The harness's identity-server role, when the target can reach it.
    pub identity_server: Option<Arc<crate::target::identity_server::IdentityServerRole>>,
}

/// Run every scenario, at most `jobs` at a time, emitting [`RunEvent`]s on `events`:
/// `Planned`, then `ScenarioStarted` / `ScenarioFinished` as each starts and finishes,
/// `Stopping` when a stop comes, `ScenarioNotRun` for each scenario it kept from finishing,
/// and `Finished` last. The final results are what a [`events::Collector`] gathers.
///
/// When `stop` is requested, no further scenario starts; those running get
/// [`crate::lifecycle::stop::GRACE`] and are then cancelled. Scenarios that did not start or
/// finish are skipped with "not run: stopped by …".
pub async fn run(
    plans: Vec<ScenarioPlan>,
    ctx: Arc<RunContext>,
    jobs: usize,
    events: &Events,
    stop: &Stop,
) {
    events.emit(RunEvent::Planned { count: plans.len() });
    let pointer = Arc::new(verdict::BlockedPointer::new(&plans));
    // Once per run, before any scenario with a fake server: a target that cannot
    // authenticate the harness gets one failure, and those scenarios are blocked.
    let all = plans.clone();
    let plans = tokio::select! {
        rest = federation::preflight::gate(plans, &ctx, events) => rest,
        _ = stop.stopped() => all,
    };
    let limit = Arc::new(Semaphore::new(jobs.max(1)));
    let mut set = JoinSet::new();
    let mut pending: BTreeMap<tokio::task::Id, ScenarioPlan> = BTreeMap::new();
    for plan in plans {
        let ctx = Arc::clone(&ctx);
        let limit = Arc::clone(&limit);
        let events = events.clone();
        let pointer = Arc::clone(&pointer);
        let stop_check = stop.clone();
        let task_plan = plan.clone();
        let handle = set.spawn(async move {
            let _permit = limit.acquire_owned().await;
            if stop_check.is_stopped() {
                return false;
            }
            events.emit(RunEvent::ScenarioStarted {
                id: task_plan.id.clone(),
            });
            let attempts = ctx.retries.saturating_add(1);
            let deadline = ctx.scenario_timeout.saturating_mul(attempts);
            let mut result =
                match tokio::time::timeout(deadline, run_with_retries(&task_plan, &ctx)).await {
                    Ok(r) => r,
                    Err(_) => scenario::errored(
                        &task_plan,
                        "timeout",
                        format!(
                            "the scenario did not finish within {} (--scenario-timeout): a request \
                         was held or a wait never ended",
                            humantime::format_duration(deadline)
                        ),
                    ),
                };
            pointer.apply(&mut result);
            events.emit(RunEvent::ScenarioFinished(Box::new(result)));
            true
        });
        pending.insert(handle.id(), plan);
    }
    if stop.is_stopped() && !pending.is_empty() {
        // Stopped during the preflight: nothing starts.
        set.abort_all();
    }
    // Set when a stop comes; once it passes, whatever still runs is cancelled.
    let mut grace_over: Option<tokio::time::Instant> = None;
    let mut cancelled = false;
    let mut told_stopping = false;
    loop {
        if !told_stopping && let Some(reason) = stop.reason() {
            told_stopping = true;
            events.emit(RunEvent::Stopping { reason });
        }
        let joined = tokio::select! {
            joined = set.join_next_with_id() => match joined {
                Some(j) => j,
                None => break,
            },
            _ = stop.stopped(), if grace_over.is_none() => {
                grace_over = Some(tokio::time::Instant::now() + crate::lifecycle::stop::GRACE);
                continue;
            }
            () = sleep_until(grace_over), if grace_over.is_some() && !cancelled => {
                set.abort_all();
                cancelled = true;
                continue;
            }
        };
        match joined {
            Ok((id, true)) => {
                pending.remove(&id);
            }
            Ok((_, false)) => {}
            Err(e) if e.is_cancelled() => {}
            Err(e) => {
                // A panic inside a scenario is a harness bug; it must not take the run down,
                // and the scenario is reported (errored), not lost.
                eprintln!("internal error in a scenario task: {e}");
                if let Some(plan) = pending.remove(&e.id()) {
                    let r = scenario::errored(
                        &plan,
                        "internal",
                        format!("internal error of the harness (please report it): {e}"),
                    );
                    events.emit(RunEvent::ScenarioFinished(Box::new(r)));
                }
            }
        }
    }
    if let Some(reason) = stop.reason() {
        if !told_stopping {
            events.emit(RunEvent::Stopping { reason });
        }
        let why = crate::lifecycle::stop::not_run_reason(reason);
        for p in pending.values() {
            events.emit(RunEvent::ScenarioNotRun(Box::new(scenario::not_run(
                p,
                why.clone(),
            ))));
        }
    }
    events.emit(RunEvent::Finished {
        stopped_by: stop.reason(),
    });
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Run a scenario, re-running it on failure up to `ctx.retries` times.
async fn run_with_retries(plan: &ScenarioPlan, ctx: &RunContext) -> ScenarioResult {
    let mut earlier = Vec::new();
    let mut attempt = 1;
    loop {
        let mut result = scenario::run_scenario(plan, ctx).await;
        let failed = matches!(
            result.outcome,
            crate::results::Outcome::Failed | crate::results::Outcome::Errored
        );
        if failed && attempt <= ctx.retries {
            let why = result.failure.as_ref().map_or_else(
                || "failed".to_owned(),
                |f| format!("{}: {}", f.location, f.message),
            );
            earlier.push(format!("attempt {attempt}: {why}"));
            attempt += 1;
            continue;
        }
        result.attempts = attempt;
        result.flaky = !failed && !earlier.is_empty();
        result.retried_failures = earlier;
        return result;
    }
}

/// Why a scenario is skipped on this target, if it is.
pub fn skip_reason(plan: &ScenarioPlan, ctx: &RunContext) -> Option<String> {
    if let Some((major, minor)) = plan.requires_spec {
        let advertised: Vec<(u32, u32)> = ctx
            .spec_versions
            .iter()
            .filter_map(|v| crate::plan::lower::parse_version(v))
            .collect();
        if !advertised
            .iter()
            .any(|&(ma, mi)| ma == major && mi >= minor || ma > major)
        {
            let newest = advertised.iter().max().map_or_else(
                || "no spec version".to_owned(),
                |(ma, mi)| format!("versions up to v{ma}.{mi}"),
            );
            return Some(format!(
                "requires spec v{major}.{minor}; the server advertises {newest}"
            ));
        }
    }
    if plan.uses_sliding_sync && ctx.sliding_sync.is_none() {
        return Some("requires sliding sync; the target answered none of its dialects (see --sync-url, --sliding-sync-dialect)".to_owned());
    }
    if plan.uses_federation() && ctx.federation.is_none() {
        return Some("requires federation; this run has none set up".to_owned());
    }
    if plan.uses_second_server() && ctx.federation.as_ref().is_none_or(|f| f.hs2.is_none()) {
        return Some("requires a second homeserver; this run has none".to_owned());
    }
    if let Some(reason) = ctx
        .capabilities
        .unmet(&plan.requires_capabilities, &plan.requires_room_versions)
    {
        return Some(reason);
    }
    for feature in &plan.requires_unstable {
        if ctx.unstable_features.get(feature) != Some(&true) {
            return Some(format!(
                "requires the unstable feature {feature}, which the server does not advertise"
            ));
        }
    }
    None
}
