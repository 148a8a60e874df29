//! `mxharness run scenarios/gateway`: gateway checks against a gateway URL (`--gateway`) or a
//! local gateway the harness starts (`--gateway-kind`, nginx by default), with the run's
//! reports and exit codes as for any run.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;

use super::RunArgs;
use super::progress::Progress;
use crate::exit_codes;
use crate::expectations::Expectations;
use crate::gateway::exec::{self, Setup};
use crate::gateway::identities::{self, Identities, ROLES, Requested, loopback_name};
use crate::gateway::probe::Roles;
use crate::gateway::profile::Profile;
use crate::gateway::raw::Endpoint;
use crate::gateway::suite::{self, Check};
use crate::gateway::tap::Tap;
use crate::gateway::topology::{GatewayKind, LocalGateway};
use crate::lifecycle::{Stop, journal};
use crate::results::{self, RunInfo, RunReport, TargetInfo};
use crate::runner::events::Reporter;
use crate::scenario::source;
use crate::session::finish;

/// Options of gateway runs (used when the selected files are gateway checks).
#[derive(Debug, Clone, Args)]
pub struct GatewayArgs {
    /// Federation entrance of a running gateway (https://HOST:PORT). Without it a local
    /// gateway is started (see --gateway-kind).
    #[arg(long, env = "MXH_GATEWAY")]
    pub gateway: Option<String>,
    /// Local gateway to start when there is no --gateway: nginx (fixtures/gateway/nginx.conf in
    /// front of Synapse), synapse-whitelist (Synapse's federation_domain_whitelist), or
    /// nginx-permissive / nginx-closed (let everything through / nothing; they show the checks
    /// failing).
    #[arg(long, value_enum, default_value_t = GatewayKind::Nginx)]
    pub gateway_kind: GatewayKind,
    /// With --gateway: the server name of the homeserver behind it (the X-Matrix destination).
    #[arg(long)]
    pub gateway_server_name: Option<String>,
    /// With --gateway: the homeserver's own federation URL, bypassing the gateway, for the
    /// "passes unchanged" comparisons (plain http:// or https:// trusted by the system).
    #[arg(long)]
    pub gateway_upstream: Option<String>,
    /// With --gateway and --gateway-upstream: listen here (host:port) as a recording tap that
    /// forwards to the upstream; point the gateway's upstream at it to see what gets through.
    #[arg(long)]
    pub gateway_tap: Option<std::net::SocketAddr>,
    /// With --gateway: the remote server names the gateway allows (one or two, comma-separated,
    /// `localhost:PORT` or `127.0.0.1:PORT`); the harness plays them on those loopback ports.
    /// Without it, free ports are used and their names printed.
    #[arg(long, value_delimiter = ',')]
    pub gateway_allowed: Vec<String>,
    /// With --gateway: a PEM file of the CA that issued the gateway's (and upstream's) TLS
    /// certificate; without it only the run's own CA is trusted.
    #[arg(long)]
    pub gateway_ca: Option<PathBuf>,
    /// With --gateway: a remote server name the gateway does not allow (played likewise).
    #[arg(long)]
    pub gateway_denied: Option<String>,
    /// Keep the played servers' identities in DIR (made there on first use, reused after):
    /// the federation CA and each server's name, port and ed25519 signing key, so a gateway
    /// that pins remote keys can be configured once (`mxharness gateway-config DIR`).
    #[arg(long, env = "MXH_GATEWAY_IDENTITIES", value_name = "DIR")]
    pub gateway_identities: Option<PathBuf>,
    /// The exact refusal statuses of the product under test (YAML, see
    /// fixtures/gateway/profiles/). A local gateway uses its own profile by default.
    #[arg(long)]
    pub gateway_profile: Option<PathBuf>,
}

/// If the selected files are gateway checks, run them and return the exit code; `None` when
/// the run is an ordinary scenario run (gateway checks in a default run are left out).
pub(super) async fn maybe_run(args: &RunArgs, stop: &Stop) -> Option<u8> {
    let paths = super::default_paths(&args.paths);
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
    let mut selected: Vec<Check> = checks
        .into_iter()
        .filter(|c| crate::plan::filter::matches(args.filter.as_deref(), c))
        .collect();
    if selected.is_empty() {
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
    Some(run(args, selected, stop).await)
}

/// `list` of gateway checks when every selected file is one; `None` lets scenario listing go on.
pub(super) fn list(args: &super::ListArgs) -> Option<u8> {
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
        super::Format::Human => {
            for c in &selected {
                outln!("{:<48} {:<18} {}", c.id, c.area, c.title);
            }
            eprintln!("{} gateway checks", selected.len());
        }
        super::Format::Json => {
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

/// TLS trusting the run CA, the CA in `extra` (PEM, `--gateway-ca`) when given, and the
/// `--ca-cert` certificates.
fn client_tls(
    ca: &crate::federation::RunCa,
    extra: Option<&std::path::Path>,
) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let ca_certs = &crate::matrix::net::policy().ca_certs;
    if extra.is_none() && ca_certs.is_empty() {
        return ca.client_config().map_err(|e| e.to_string());
    }
    let mut roots = ca.root_store().map_err(|e| e.to_string())?;
    if let Some(extra) = extra {
        let certs = CertificateDer::pem_file_iter(extra)
            .map_err(|e| format!("{}: {e}", extra.display()))?;
        for cert in certs {
            let cert = cert.map_err(|e| format!("{}: {e}", extra.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("{}: not a usable CA certificate: {e}", extra.display()))?;
        }
    }
    for cert in ca_certs {
        roots
            .add(cert.clone())
            .map_err(|e| format!("--ca-cert: not a usable CA certificate: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The stored identities (made first when `dir` has none), announced on stderr.
fn load_identities(dir: &std::path::Path, requested: &Requested) -> Result<Identities, String> {
    let made = !dir.join(identities::INDEX).exists();
    let ids = Identities::load_or_create(dir, requested).map_err(|e| e.to_string())?;
    eprintln!(
        "{} gateway identities in {} (print the gateway configuration with `mxharness \
         gateway-config {}`)",
        if made { "Made" } else { "Using" },
        dir.display(),
        dir.display()
    );
    announce_identities(&ids);
    Ok(ids)
}

/// One line per played server: what a key-pinning gateway must have.
fn announce_identities(ids: &Identities) {
    for id in &ids.servers {
        eprintln!(
            "  identity {} {} {} {}",
            id.role,
            id.key.server_name(),
            id.key.key_id(),
            id.key.public_key_base64()
        );
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
        {
            return Err("--gateway-server-name, --gateway-upstream, --gateway-tap, \
                 --gateway-allowed and --gateway-denied go with --gateway URL"
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
    let files = source::discover(&super::default_paths(paths)).ok()?;
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
            let p = super::shipped(&format!(
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

async fn run(args: &RunArgs, checks: Vec<Check>, stop: &Stop) -> u8 {
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
    let prepared = match crate::session::interruptible_prepare(prepare(args), "gateway", stop).await
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
        &super::default_paths(&args.paths),
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
    exec::run_all(&checks, setup, &events, stop).await;
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
        areas: results::score::area_scores(&results),
        scenarios: results,
        load: None,
    };
    finish::finish(&report, &args.report_dir, stop)
}

/// A local gateway, or the pieces the harness runs beside a `--gateway URL`.
enum Prepared {
    Local(Box<LocalGateway>),
    Remote {
        setup: Box<Setup>,
        _remotes: Vec<Arc<crate::federation::FakeServer>>,
        /// What the homeserver behind the gateway says it is (federation `/version`).
        server_version: Option<String>,
    },
}

impl Prepared {
    fn setup(&self) -> &Setup {
        match self {
            Prepared::Local(l) => &l.setup,
            Prepared::Remote { setup, .. } => setup,
        }
    }

    fn label(&self) -> String {
        match self {
            Prepared::Local(l) => l.kind.label().to_owned(),
            Prepared::Remote { .. } => "url".into(),
        }
    }

    fn server_version(&self) -> Option<String> {
        match self {
            Prepared::Local(l) => Some(format!(
                "{} in front of Synapse {}",
                l.kind.label(),
                l.synapse.version()
            )),
            Prepared::Remote { server_version, .. } => server_version.clone(),
        }
    }

    async fn stop(self) {
        if let Prepared::Local(l) = self {
            l.stop().await;
        }
    }
}

async fn prepare(args: &RunArgs) -> Result<Prepared, String> {
    let g = &args.gateway;
    match &g.gateway {
        None => {
            let opts = crate::session::synapse_options(
                &args.synapse.spec(),
                args.report_dir.join("homeserver.log"),
            );
            eprintln!(
                "Starting the local gateway ({}) in front of Synapse {} ...",
                g.gateway_kind.label(),
                opts.version
            );
            crate::target::ensure_venv(&opts)
                .await
                .map_err(|e| e.to_string())?;
            let identities = match &g.gateway_identities {
                Some(dir) => Some(load_identities(dir, &Requested::default())?),
                None => None,
            };
            let local = LocalGateway::start(
                g.gateway_kind,
                &opts,
                Some(args.report_dir.clone()),
                args.step_timeout,
                identities.as_ref(),
            )
            .await
            .map_err(|e| e.to_string())?;
            Ok(Prepared::Local(Box::new(local)))
        }
        Some(url) => prepare_remote(args, url).await,
    }
}

/// Beside a gateway URL: fake remote servers on loopback (their names must be on the
/// gateway's allow-list, and the homeserver must trust the CA written to the report folder),
/// and optionally the tap and the direct comparison.
async fn prepare_remote(args: &RunArgs, url: &str) -> Result<Prepared, String> {
    let g = &args.gateway;
    let server_name = g
        .gateway_server_name
        .clone()
        .ok_or("--gateway needs --gateway-server-name")?;
    // allowed, allowed2, denied: on the ports of the names given, else on free ports.
    let mut names = g.gateway_allowed.clone();
    if names.len() == 1 {
        names.push(names[0].clone());
    }
    names.resize(2, String::new());
    names.push(g.gateway_denied.clone().unwrap_or_default());
    let identities = match &g.gateway_identities {
        Some(dir) => {
            let mut requested = Requested::default();
            for (role, name) in ROLES.iter().zip(&names) {
                if !name.is_empty() {
                    requested.names.insert(role, name.clone());
                }
            }
            Some(load_identities(dir, &requested)?)
        }
        None => None,
    };
    let ca = match &identities {
        Some(ids) => Arc::clone(&ids.ca),
        None => Arc::new(crate::federation::RunCa::new().map_err(|e| e.to_string())?),
    };
    let ca_path: PathBuf = args.report_dir.join("gateway-run-ca.pem");
    ca.write_pem(&ca_path).map_err(|e| e.to_string())?;
    let mut fakes: Vec<Arc<crate::federation::FakeServer>> = match &identities {
        Some(ids) => ids.start_servers().await.map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    for name in names.iter().skip(fakes.len()) {
        let (ip_literal, port) = if name.is_empty() {
            (false, 0)
        } else {
            loopback_name(name)?
        };
        if let Some(same) = fakes.iter().find(|f| f.server_name() == name) {
            fakes.push(Arc::clone(same));
            continue;
        }
        fakes.push(Arc::new(
            crate::federation::FakeServer::start_on(&ca, "k1", ip_literal, port)
                .await
                .map_err(|e| format!("cannot play {name}: {e}"))?,
        ));
    }
    let tls = Arc::new(client_tls(&ca, g.gateway_ca.as_deref())?);
    let gateway = Endpoint::new(url, Some(Arc::clone(&tls)))?;
    let direct = match &g.gateway_upstream {
        Some(u) => Some(Endpoint::new(u, Some(Arc::clone(&tls)))?),
        None => None,
    };
    let tap = match (g.gateway_tap, &direct) {
        (Some(listen), Some(d)) => {
            let upstream = tokio::net::lookup_host(d.host_port())
                .await
                .map_err(|e| e.to_string())?
                .next()
                .ok_or("the upstream host does not resolve")?;
            if d.base.starts_with("https://") {
                return Err(
                    "--gateway-tap forwards plain HTTP: give an http:// --gateway-upstream".into(),
                );
            }
            Some(Arc::new(
                Tap::start(listen, upstream)
                    .await
                    .map_err(|e| e.to_string())?,
            ))
        }
        (Some(_), None) => return Err("--gateway-tap needs --gateway-upstream".into()),
        _ => None,
    };
    eprintln!(
        "The gateway must allow {} and {} (not {}); the homeserver must trust {}",
        fakes[0].server_name(),
        fakes[1].server_name(),
        fakes[2].server_name(),
        ca_path.display()
    );
    let mut remotes = std::collections::BTreeMap::new();
    remotes.insert("allowed", Arc::clone(&fakes[0]));
    remotes.insert("allowed2", Arc::clone(&fakes[1]));
    remotes.insert("denied", Arc::clone(&fakes[2]));
    let setup = Setup {
        roles: Roles {
            server_name,
            allowed: fakes[0].key().clone(),
            allowed2: fakes[1].key().clone(),
            denied: fakes[2].key().clone(),
        },
        gateway,
        direct,
        tap,
        no_tap_reason: "no --gateway-tap in front of the homeserver".into(),
        no_direct_reason: "no --gateway-upstream given".into(),
        remotes,
        client: None,
        timeout: args.step_timeout,
        run_tag: uuid::Uuid::new_v4().simple().to_string()[..8].to_owned(),
    };
    let server_version = remote_implementation(url, g).await;
    Ok(Prepared::Remote {
        setup: Box::new(setup),
        _remotes: fakes,
        server_version,
    })
}

/// The implementation behind a remote gateway, for reports: federation `/version` through the
/// gateway (trusting `--gateway-ca` when given), else the upstream's client `/versions`.
async fn remote_implementation(url: &str, g: &GatewayArgs) -> Option<String> {
    let root = g
        .gateway_ca
        .as_deref()
        .and_then(|p| std::fs::read(p).ok())
        .and_then(|pem| reqwest::Certificate::from_pem(&pem).ok());
    crate::target::implementation::identify(crate::target::implementation::Sources {
        client_url: g.gateway_upstream.as_deref().unwrap_or(url),
        federation_url: Some(url),
        federation_root: root,
    })
    .await
    .map(|v| format!("{v} (behind the gateway)"))
}

/// `--expectations FILE`; else, for a local gateway, fixtures/expectations/gateway-<kind>.yaml.
fn load_expectations(args: &RunArgs) -> Result<Option<Expectations>, u8> {
    if args.no_expectations {
        return Ok(None);
    }
    let (path, implicit) = match (&args.expectations, &args.gateway.gateway) {
        (Some(p), _) => (p.clone(), false),
        (None, None) => (
            super::shipped(&format!(
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
