//! `mxharness run scenarios/gateway`: gateway checks against a gateway URL (`--gateway`) or a
//! local gateway the harness starts (`--gateway-kind`, nginx by default), with the run's
//! reports and exit codes as for any run.

use std::path::PathBuf;
use std::time::Instant;

use super::args::{GatewayArgs, ListArgs, RunArgs};
use super::paths::{default_paths, shipped};
use super::progress::Progress;
use crate::exit_codes;
use crate::expectations::Expectations;
use crate::gateway::exec;
use crate::gateway::identities::loopback_name;
use crate::gateway::overhead::{self, Plan as OverheadPlan};
use crate::gateway::profile::Profile;
use crate::gateway::suite::{self, Check};
use crate::lifecycle::{Stop, journal};
use crate::results::{self, RunInfo, RunReport, TargetInfo};
use crate::runner::events::Reporter;
use crate::scenario::source;
use crate::session::{GatewaySpec, finish};

/// If the selected files are gateway checks, run them and return the exit code; `None` when
/// the run is an ordinary scenario run (gateway checks in a default run are left out).
pub(super) async fn maybe_run(args: &RunArgs, stop: &Stop) -> Option<u8> {
    let paths = default_paths(&args.paths);
    let files = match source::discover(&paths) {
        Ok(f) => f,
        Err(_) => return None, // the ordinary loader reports it
    };
    let (checks, problems) = suite::load(&files);
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("error: {p}");
        }
        eprintln!("error: {} invalid gateway check file(s)", problems.len());
        return Some(exit_codes::INVALID_SCENARIO);
    }
    if checks.is_empty() {
        return None;
    }
    if args.paths.is_empty() || checks.len() < files.len() {
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
        && crate::plan::filter::matches(args.filter.as_deref(), &overhead::Testcase))
    .then_some(OverheadPlan {
        repetitions: args.gateway.gateway_overhead,
        max_p95_ms: args.gateway.gateway_overhead_max_ms,
    });
    let mut selected: Vec<Check> = checks
        .iter()
        .filter(|c| crate::plan::filter::matches(args.filter.as_deref(), *c))
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

/// `list` of gateway checks when every selected file is one; `None` lets scenario listing go on.
pub(super) fn list(args: &ListArgs) -> Option<u8> {
    if args.paths.is_empty() {
        return None;
    }
    let files = source::discover(&args.paths).ok()?;
    let (checks, problems) = suite::load(&files);
    if !problems.is_empty() || checks.is_empty() || checks.len() < files.len() {
        return None;
    }
    let selected: Vec<&Check> = checks
        .iter()
        .filter(|c| crate::plan::filter::matches(args.filter.as_deref(), *c))
        .collect();
    if selected.is_empty() {
        eprintln!("error: no gateway check matches");
        return Some(exit_codes::NOTHING_SELECTED);
    }
    match args.format {
        super::args::Format::Human => {
            for c in &selected {
                outln!("{:<48} {:<18} {}", c.id, c.area, c.title);
            }
            eprintln!("{} gateway checks", selected.len());
        }
        super::args::Format::Json => {
            let items: Vec<serde_json::Value> = selected
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "id": c.id, "title": c.title, "area": c.area, "file": c.file,
                        "tags": c.tags, "level": c.level, "basis": c.basis,
                    })
                })
                .collect();
            outln!(
                "{}",
                serde_json::to_string_pretty(&items).unwrap_or_default()
            );
        }
    }
    Some(exit_codes::SUCCESS)
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

/// `validate` of gateway check files: problems fail it; valid ones are counted. `None` lets
/// the scenario validation go on.
pub(super) fn validate(paths: &[PathBuf]) -> Option<u8> {
    let files = source::discover(&default_paths(paths)).ok()?;
    let (checks, problems) = suite::load(&files);
    for p in &problems {
        eprintln!("error: {p}");
    }
    if !problems.is_empty() {
        return Some(exit_codes::INVALID_SCENARIO);
    }
    if !checks.is_empty() {
        outln!("{} gateway check file(s) valid", checks.len());
    }
    None
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
    let expectations = match load_expectations(args) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let started_at = time::OffsetDateTime::now_utc();
    let clock = Instant::now();
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
    let run_info = finish::run_info(
        &default_paths(&args.paths),
        args.filter.clone(),
        started_at,
        clock,
        1,
        None,
    );
    let mut reporters: Vec<Box<dyn Reporter>> = vec![Box::new(Progress::new(
        args.verbose,
        expectations.clone(),
        args.fail_on,
    ))];
    reporters.extend(finish::journal_reporter(
        &args.report_dir,
        &run_info,
        target.clone(),
        args.fail_on,
        checks
            .iter()
            .map(|c| journal::Planned {
                id: c.id.clone(),
                title: c.title.clone(),
                area: c.area.clone(),
                file: c.file.clone(),
                level: c.level.as_str().to_owned(),
            })
            .collect(),
        (expectations.clone(), args.strict),
        clock,
    ));
    let (events, collected) = crate::runner::events::collecting(reporters);
    exec::run_all(&checks, setup, overhead, &events, stop).await;
    let mut results = collected.take();
    prepared.stop().await;
    if let Some(e) = &expectations {
        e.apply(&mut results, args.strict);
    }
    let report = RunReport {
        format_version: results::FORMAT_VERSION,
        tool: finish::tool_info(),
        run: finish::stopped(
            RunInfo {
                duration_ms: finish::elapsed_ms(clock),
                ..run_info
            },
            stop,
        ),
        target,
        summary: results::score::summarize_at(&results, args.fail_on),
        profile: None,
        endpoints: None,
        coverage: None,
        areas: results::score::area_scores(&results),
        scenarios: results,
        load: None,
    };
    finish::finish(&report, &args.report_dir, stop)
}

/// `--expectations FILE`; else, for a local gateway, fixtures/expectations/gateway-<kind>.yaml.
fn load_expectations(args: &RunArgs) -> Result<Option<Expectations>, u8> {
    if args.no_expectations {
        return Ok(None);
    }
    let (path, implicit) = match (&args.expectations, &args.gateway.gateway) {
        (Some(p), _) => (p.clone(), false),
        (None, None) => (
            shipped(&format!(
                "fixtures/expectations/gateway-{}.yaml",
                args.gateway.gateway_kind.label()
            )),
            true,
        ),
        (None, Some(_)) => return Ok(None),
    };
    if implicit && !path.exists() {
        return Ok(None);
    }
    match Expectations::load(&path) {
        Ok(e) => {
            finish::announce_expectations(&e);
            Ok(Some(e))
        }
        Err(e) => Err(finish::expectations_error(e)),
    }
}
