//! The options of `run` (conformance and gateway runs) and of the smaller commands, as clap
//! sees them; the commands read them and map them onto the session layer's plain data.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::gateway::topology::GatewayKind;
use crate::session::Registration;

/// Options of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario files or folders (default: the shipped `scenarios/`).
    pub paths: Vec<PathBuf>,
    /// Base URL of a running server; without it a local Synapse is installed and started.
    #[arg(long, env = "MXH_TARGET")]
    pub target: Option<String>,
    /// Base URL serving sliding sync, when it is not the homeserver (a sync proxy).
    #[arg(long, env = "MXH_SYNC_URL")]
    pub sync_url: Option<String>,
    /// Sliding-sync dialect to speak instead of probing: msc4186-v4, simplified-msc3575 or
    /// msc3575-proxy.
    #[arg(long, value_parser = parse_dialect)]
    pub sliding_sync_dialect: Option<crate::matrix::sliding_sync::Dialect>,
    /// Server name of the target, when it cannot be read from the server.
    #[arg(long)]
    pub server_name: Option<String>,
    /// Federation: the target's federation server name (default: its server name).
    #[arg(long)]
    pub federation_server_name: Option<String>,
    /// Federation: where to reach the target's federation API, e.g. `https://hs.example:8448`
    /// (default: `https://` plus the federation server name).
    #[arg(long)]
    pub federation_url: Option<String>,
    /// Federation: keep the certificate authority of fake servers and spawned Synapses in DIR
    /// (`ca.pem`, `ca.key`; made there on first use) instead of a fresh one per run, so a
    /// `--target` can be configured once to trust `DIR/ca.pem`.
    #[arg(long, env = "MXH_FEDERATION_CA", value_name = "DIR")]
    pub federation_ca: Option<PathBuf>,
    /// Federation: the second homeserver (`hs2`) of interop scenarios, by its client-API URL
    /// (default: a second spawned Synapse). Users are made with
    /// MXH_TARGET2_REGISTRATION_SHARED_SECRET if set, else open registration.
    #[arg(long, env = "MXH_TARGET2")]
    pub target2: Option<String>,
    /// Federation: the second homeserver's server name (default: from its key endpoint).
    #[arg(long)]
    pub target2_server_name: Option<String>,
    /// Federation: where to reach the second homeserver's federation API.
    #[arg(long)]
    pub target2_federation_url: Option<String>,
    /// How to create users on the target.
    #[arg(long, value_enum, default_value_t = Registration::Auto)]
    pub registration: Registration,
    /// With --target: the application-service registration file you gave the server for the
    /// harness (its url on loopback, where the harness then listens; the harness's exclusive
    /// namespaces: docs/targets.md). Without it the appservice checks are skipped.
    #[arg(long, value_name = "FILE", requires = "target")]
    pub appservice_registration: Option<PathBuf>,
    /// Select checks (scenarios, or gateway checks): comma-separated alternatives, each
    /// `area:NAME`, `tag:NAME`, `level:LEVEL`, an id glob with `*` (anchored at both ends), or a
    /// word the id contains.
    #[arg(long, short = 'E')]
    pub filter: Option<String>,
    /// Scenarios run at once.
    #[arg(long, short = 'j', default_value_t = 4)]
    pub jobs: usize,
    /// Where junit.xml, report.json and the homeserver log go.
    #[arg(long, default_value = "reports")]
    pub report_dir: PathBuf,
    /// Timeout of one HTTP exchange (e.g. 10s).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub step_timeout: std::time::Duration,
    /// Longest one scenario may take (each retry again): past it the scenario is an error
    /// and the run goes on, whatever the server holds.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub scenario_timeout: std::time::Duration,
    /// Judge the run against a spec version: `matrix-v1.N` selects the scenarios that apply
    /// to v1.N and reports the mandatory (MUST) result apart from the optional one.
    #[arg(long)]
    pub profile: Option<String>,
    /// Re-run a failing scenario up to N times; one that then passes is reported as flaky.
    #[arg(long, default_value_t = 0)]
    pub retries: u32,
    /// Report responses that do not match the spec schema as warnings instead of failures.
    #[arg(long)]
    pub lenient_schema: bool,
    /// Known failures and quarantined scenarios of the implementation under test (YAML).
    /// Without it, a run against the local Synapse applies fixtures/expectations/synapse.yaml.
    #[arg(long, conflicts_with = "no_expectations")]
    pub expectations: Option<PathBuf>,
    /// Apply no expectations file, not even the local Synapse's default one.
    #[arg(long)]
    pub no_expectations: bool,
    /// Fail the run when a known failure passes (an "unexpected pass").
    #[arg(long)]
    pub strict: bool,
    /// The lowest requirement level whose failures fail the run: `must` (MUST and POLICY,
    /// the default), `should` (SHOULD too) or `may` (every failure). Others are listed as
    /// recommendations not met.
    #[arg(long, value_enum, default_value_t = crate::results::FailOn::Must)]
    pub fail_on: crate::results::FailOn,
    /// Print every scenario's result as it finishes, not only failures.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Stop the whole run after this long (e.g. 20m): what finished is reported, the rest is
    /// listed as not run, and the exit code is 124.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub deadline: Option<std::time::Duration>,
    #[command(flatten)]
    pub synapse: SynapseArgs,
    #[command(flatten)]
    pub gateway: GatewayArgs,
    #[command(flatten)]
    pub net: super::net_args::NetArgs,
}

/// Options of the local Synapse.
#[derive(Debug, Clone, Args)]
pub struct SynapseArgs {
    /// Synapse version installed from PyPI for the local target.
    #[arg(long, default_value = crate::target::synapse::SYNAPSE_VERSION)]
    pub synapse_version: String,
    /// Python interpreter used to create the Synapse virtual environment.
    #[arg(long, default_value = "python3")]
    pub python: String,
    /// An extra Synapse configuration file applied last (repeatable), e.g.
    /// fixtures/synapse/restrictive.yaml: a spec-legal configuration that says no wherever
    /// the spec lets a server say no.
    #[arg(long = "synapse-overlay", value_name = "FILE")]
    pub synapse_overlay: Vec<std::path::PathBuf>,
}

impl SynapseArgs {
    /// The local Synapse these flags ask for.
    pub fn spec(&self) -> crate::session::SynapseSpec {
        crate::session::SynapseSpec {
            version: self.synapse_version.clone(),
            python: self.python.clone(),
            overlays: self.synapse_overlay.clone(),
        }
    }
}

impl RunArgs {
    /// The target these flags ask for.
    pub fn target_spec(&self) -> crate::session::TargetSpec {
        crate::session::TargetSpec {
            target: self.target.clone(),
            sync_url: self.sync_url.clone(),
            sliding_sync_dialect: self.sliding_sync_dialect,
            server_name: self.server_name.clone(),
            registration: self.registration,
            report_dir: self.report_dir.clone(),
            synapse: self.synapse.spec(),
            step_timeout: self.step_timeout,
            scenario_timeout: self.scenario_timeout,
            retries: self.retries,
            lenient_schema: self.lenient_schema,
            federation_ca: self.federation_ca.clone(),
            federation_server_name: self.federation_server_name.clone(),
            federation_url: self.federation_url.clone(),
            target2: self.target2.clone(),
            target2_server_name: self.target2_server_name.clone(),
            target2_federation_url: self.target2_federation_url.clone(),
            appservice_registration: self.appservice_registration.clone(),
        }
    }
}

/// Paths only.
#[derive(Debug, Args)]
pub struct PathsArgs {
    /// Scenario files or folders (default: the shipped `scenarios/`).
    pub paths: Vec<PathBuf>,
}

/// Options of `schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// The schema of load plans instead of scenarios.
    #[arg(long)]
    pub load: bool,
}

/// Options of `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Scenario files or folders (default: the shipped `scenarios/`).
    pub paths: Vec<PathBuf>,
    /// Select scenarios, as for `run`.
    #[arg(long, short = 'E')]
    pub filter: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// Options of `coverage`.
#[derive(Debug, Args)]
pub struct CoverageArgs {
    /// Scenario files or folders (default: the shipped `scenarios/`).
    pub paths: Vec<PathBuf>,
    /// Select scenarios, as for `run`.
    #[arg(long, short = 'E')]
    pub filter: Option<String>,
    /// Also list the behaviours no scenario covers.
    #[arg(long)]
    pub uncovered: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Human,
    /// For programs.
    Json,
}

/// Options of `report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A report.json written by `mxharness run`, or its results.jsonl (also of a run that was
    /// killed: the scenarios it did not finish are listed as not run).
    pub report: PathBuf,
    /// Write report.json here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the self-contained HTML report here.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Write the Markdown report here.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Write the JUnit XML report here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
}

/// Options of `up` / `down`.
#[derive(Debug, Args)]
pub struct LocalArgs {
    #[command(flatten)]
    pub synapse: SynapseArgs,
}

fn parse_dialect(s: &str) -> Result<crate::matrix::sliding_sync::Dialect, String> {
    crate::matrix::sliding_sync::Dialect::parse(s).ok_or_else(|| {
        format!("unknown dialect {s:?}: use msc4186-v4, simplified-msc3575 or msc3575-proxy")
    })
}

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
    /// With --gateway: the client-server API of the homeserver behind the gateway. The harness
    /// registers an observer account there (--registration, as for --target) and makes the
    /// homeserver send federation requests to the played allowed and denied servers: the
    /// outbound checks. How those requests are routed (the gateway as outbound proxy, DNS or
    /// well-known pointing at it) is the deployment's; the checks judge what the remote saw.
    #[arg(long, value_name = "URL")]
    pub gateway_client: Option<String>,
    /// Repetitions of each pass-through probe for the overhead figure (through the gateway
    /// and straight to the homeserver, reused and fresh connections); 0 leaves it out. Needs
    /// the homeserver's own listener (local gateways, or --gateway-upstream).
    #[arg(long, default_value_t = 30, value_name = "N")]
    pub gateway_overhead: usize,
    /// The largest acceptable p95 overhead on a reused connection (the overhead testcase).
    #[arg(long, default_value_t = 10.0, value_name = "MS")]
    pub gateway_overhead_max_ms: f64,
}
