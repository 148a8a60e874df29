//! `mxharness run scenarios/gateway`: gateway checks against a gateway URL (`--gateway`) or a
//! local gateway the harness starts (`--gateway-kind`, nginx by default), with the run's
//! reports and exit codes as for any run.

use super::args::{GatewayArgs, ListArgs, RunArgs};
use super::inputs::Inputs;
use super::paths::{default_paths, shipped};
use super::progress::Progress;
use crate::exit_codes;
use crate::gateway::exec;
use crate::gateway::identities::loopback_name;
use crate::gateway::overhead::{self, Plan as OverheadPlan};
use crate::gateway::profile::Profile;
use crate::gateway::suite::Check;
use crate::lifecycle::{Stop, journal};
use crate::plan::filter;
use crate::results::TargetInfo;
use crate::session::{ExpectationsSource, GatewaySpec, finish};

/// If the selected files are gateway checks, run them and return the exit code; `None` when
/// the run is an ordinary scenario run (gateway checks in a mixed or default run are left
/// out, with a note).
pub(super) async fn maybe_run(args: &RunArgs, inputs: &Inputs, stop: &Stop) -> Option<u8> {
    let checks = &inputs.checks;
    if inputs.check_files == 0 {
        return None;
    }
    if args.paths.is_empty() || !inputs.only_gateway_checks() {
        eprintln!(
            "note: {} gateway checks left out of this run (run them on their own: mxharness run scenarios/gateway)",
            checks.len()
        );
        return None;
    }
    if let Err(e) = check_flags(&args.gateway) {
        eprintln!("error: {e}");
        return Some(exit_codes::USAGE);
    }
    let overhead = (args.gateway.gateway_overhead > 0
        && filter::matches(args.filter.as_deref(), &overhead::Testcase))
    .then_some(OverheadPlan {
        repetitions: args.gateway.gateway_overhead,
        max_p95_ms: args.gateway.gateway_overhead_max_ms,
    });
    let mut selected: Vec<Check> = checks
        .iter()
        .filter(|c| filter::matches(args.filter.as_deref(), *c))
        .cloned()
        .collect();
    if selected.is_empty() && overhead.is_none() {
        eprintln!("error: no gateway check selected");
        return Some(exit_codes::NOTHING_SELECTED);
    }
    match product_profile(args) {
        Ok(Some(profile)) => {
            eprintln!(
                "Expecting the refusal statuses of {} ({} entries)",
                profile.product,
                profile.refusals.len()
            );
            let unused = profile.apply(&mut selected);
            if !unused.is_empty() && args.filter.is_none() {
                eprintln!(
                    "note: profile entries matching no check: {}",
                    unused.join(", ")
                );
            }
        }
        Ok(None) => {}
        Err(e) => {
            eprintln!("error: {e}");
            return Some(exit_codes::USAGE);
        }
    }
    let overhead = overhead.map(|plan| (plan, checks.as_slice()));
    Some(run(args, selected, overhead, stop).await)
}

/// One gateway check as `list --format json` shows it.
pub(super) fn list_item(c: &Check) -> serde_json::Value {
    serde_json::json!({
        "id": c.id, "kind": "gateway-check", "title": c.title, "area": c.area, "file": c.file,
        "tags": c.tags, "level": c.level, "basis": c.basis,
    })
}

/// `list` of gateway checks (every file given is one).
pub(super) fn list(args: &ListArgs, checks: &[Check]) -> u8 {
    let selected: Vec<&Check> = checks
        .iter()
        .filter(|c| filter::matches(args.filter.as_deref(), *c))
        .collect();
    if selected.is_empty() {
        eprintln!("error: no gateway check matches");
        return exit_codes::NOTHING_SELECTED;
    }
    match args.format {
        super::args::Format::Human => {
            for c in &selected {
                outln!("{:<48} {:<18} {}", c.id, c.area, c.title);
            }
            eprintln!("{} gateway checks", selected.len());
        }
        super::args::Format::Json => {
            let items: Vec<serde_json::Value> = selected.iter().map(|c| list_item(c)).collect();
            outln!(
                "{}",
                serde_json::to_string_pretty(&items).unwrap_or_default()
            );
        }
    }
    exit_codes::SUCCESS
}

/// The gateway run's target as plain data.
fn gateway_spec(args: &RunArgs) -> GatewaySpec {
    let g = &args.gateway;
    GatewaySpec {
        gateway: g.gateway.clone(),
        kind: g.gateway_kind,
        server_name: g.gateway_server_name.clone(),
        upstream: g.gateway_upstream.clone(),
        tap: g.gateway_tap,
        allowed: g.gateway_allowed.clone(),
        denied: g.gateway_denied.clone(),
        gateway_ca: g.gateway_ca.clone(),
        identities: g.gateway_identities.clone(),
        client: g.gateway_client.clone(),
        registration: args.registration,
        report_dir: args.report_dir.clone(),
        synapse: args.synapse.spec(),
        step_timeout: args.step_timeout,
    }
}

/// Flags that only make sense together.
fn check_flags(g: &GatewayArgs) -> Result<(), String> {
    if g.gateway.is_none() {
        if g.gateway_server_name.is_some()
            || g.gateway_upstream.is_some()
            || g.gateway_tap.is_some()
            || !g.gateway_allowed.is_empty()
            || g.gateway_denied.is_some()
            || g.gateway_client.is_some()
        {
            return Err("--gateway-server-name, --gateway-upstream, --gateway-tap, \
                 --gateway-allowed, --gateway-denied and --gateway-client go with --gateway URL"
                .into());
        }
        return Ok(());
    }
    if g.gateway_allowed.len() > 2 {
        return Err("--gateway-allowed takes one or two server names".into());
    }
    for name in g.gateway_allowed.iter().chain(&g.gateway_denied) {
        loopback_name(name)?;
    }
    if g.gateway_server_name.is_none() {
        return Err("--gateway needs --gateway-server-name (the homeserver's server name)".into());
    }
    match (&g.gateway_tap, g.gateway_upstream.as_deref()) {
        (Some(_), None) => Err("--gateway-tap needs --gateway-upstream".into()),
        (Some(_), Some(u)) if !u.starts_with("http://") => {
            Err("--gateway-tap forwards plain HTTP: give an http:// --gateway-upstream".into())
        }
        _ => Ok(()),
    }
}

/// `--gateway-profile FILE`; else, for a local gateway, fixtures/gateway/profiles/<kind>.yaml
/// when there is one.
fn product_profile(args: &RunArgs) -> Result<Option<Profile>, String> {
    let g = &args.gateway;
    let path = match (&g.gateway_profile, &g.gateway) {
        (Some(p), _) => p.clone(),
        (None, None) => {
            let p = shipped(&format!(
                "fixtures/gateway/profiles/{}.yaml",
                g.gateway_kind.label()
            ));
            if !p.exists() {
                return Ok(None);
            }
            p
        }
        (None, Some(_)) => return Ok(None),
    };
    Profile::load(&path).map(Some)
}

async fn run(
    args: &RunArgs,
    checks: Vec<Check>,
    overhead: Option<(OverheadPlan, &[Check])>,
    stop: &Stop,
) -> u8 {
    if let Err(e) = std::fs::create_dir_all(&args.report_dir) {
        eprintln!("error: cannot create {}: {e}", args.report_dir.display());
        return exit_codes::ENVIRONMENT;
    }
    let expectations = match crate::session::expectations::load(expectations_source(args)) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let started = finish::Started::now();
    let prepared = match crate::session::interruptible_prepare(
        crate::session::gateway::prepare(&gateway_spec(args)),
        "gateway",
        stop,
    )
    .await
    {
        Ok(p) => p,
        Err(code) => return code,
    };
    let setup = prepared.setup();
    eprintln!(
        "Running {} gateway checks against {} ({}; homeserver {}; allowed {}, {}; denied {})",
        checks.len(),
        setup.gateway.base,
        prepared.label(),
        setup.roles.server_name,
        setup.roles.allowed.server_name(),
        setup.roles.allowed2.server_name(),
        setup.roles.denied.server_name(),
    );
    let base_url = setup.gateway.base.clone();
    let server_name = setup.roles.server_name.clone();
    let (kind, server_version) = (prepared.label(), prepared.server_version());
    let target = TargetInfo {
        kind: format!("gateway:{kind}"),
        base_url,
        server_name,
        server_version,
        spec_versions: Vec::new(),
        registration: "none".into(),
        sliding_sync: None,
    };
    let run_info = started.run_info(&default_paths(&args.paths), args.filter.clone(), 1, None);
    let planned = checks
        .iter()
        .map(|c| journal::Planned {
            id: c.id.clone(),
            title: c.title.clone(),
            area: c.area.clone(),
            file: c.file.clone(),
            level: c.level.as_str().to_owned(),
        })
        .collect();
    let progress = Progress::new(args.verbose, expectations.clone(), args.fail_on);
    let journal = finish::JournalStart {
        dir: &args.report_dir,
        run: &run_info,
        target: target.clone(),
        fail_on: args.fail_on,
        planned,
    };
    let subscribed = finish::subscribe(
        Box::new(progress),
        journal,
        expectations,
        args.strict,
        started.clock,
    );
    exec::run_all(&checks, setup, overhead, &subscribed.events, stop).await;
    let results = subscribed.results();
    prepared.stop().await;
    let report = finish::Outcome {
        fail_on: args.fail_on,
        ..finish::Outcome::new(started.ended(run_info), target, results)
    }
    .report(Some(stop));
    finish::finish(&report, &args.report_dir, Some(stop))
}

/// `--expectations FILE`; else, for a local gateway, fixtures/expectations/gateway-<kind>.yaml.
fn expectations_source(args: &RunArgs) -> ExpectationsSource {
    if args.no_expectations {
        return ExpectationsSource::Off;
    }
    match (&args.expectations, &args.gateway.gateway) {
        (Some(p), _) => ExpectationsSource::Given(p.clone()),
        (None, None) => ExpectationsSource::Shipped {
            path: shipped(&format!(
                "fixtures/expectations/gateway-{}.yaml",
                args.gateway.gateway_kind.label()
            )),
            implementation: None,
        },
        (None, Some(_)) => ExpectationsSource::Off,
    }
}
