//! The command line: clap definitions, dispatch, and the mapping of outcomes to exit codes.

/// `print!` to stdout through [`stdout::write`] (a closed pipe ends the command quietly).
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::stdout::write(format_args!($($arg)*))
    };
}

/// `println!` to stdout through [`stdout::write`] (a closed pipe ends the command quietly).
macro_rules! outln {
    () => {
        $crate::cli::stdout::write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::stdout::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}

mod capacity;
mod certify;
mod compare;
mod gateway;
mod gateway_config;
mod load;
mod local;
mod merge;
mod net_args;
mod progress;
mod report;
mod run;
mod stdout;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit_codes;

/// Conformance and load-testing harness for Matrix homeservers.
#[derive(Debug, Parser)]
#[command(name = "mxharness", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios against a target (by default a local Synapse the harness starts).
    Run(Box<RunArgs>),
    /// Check scenario files and report every problem with file:line:col.
    Validate(PathsArgs),
    /// List the scenarios that would run.
    List(ListArgs),
    /// Which behaviour IDs of the coverage checklist the scenarios are tagged with, per area.
    Coverage(CoverageArgs),
    /// Print the JSON Schema of scenario files (for editors); `--load` for load plans.
    Schema(SchemaArgs),
    /// Re-render a saved report.json as HTML, Markdown, JUnit or the terminal summary.
    Report(ReportArgs),
    /// List the typed operations usable as `call:` in scenarios.
    Ops,
    /// Start the local Synapse for manual use and print how to reach it.
    Up(LocalArgs),
    /// Stop the local Synapse started by `up`.
    Down(LocalArgs),
    /// Compare two or more report.json files side by side (Markdown, HTML or a summary).
    Compare(compare::CompareArgs),
    /// Make a new Ed25519 signing key (PKCS#8 PEM, mode 0600) and print its public key.
    Keygen(certify::KeygenArgs),
    /// Sign a certificate of a run's report.json with an Ed25519 key.
    Certify(certify::CertifyArgs),
    /// Check a certificate bundle's signature (and optionally signer and report).
    Verify(certify::VerifyArgs),
    /// Run a load plan with Goose and judge its thresholds (by default against a local Synapse).
    Load(Box<load::LoadArgs>),
    /// Find the largest population at which every threshold of a load plan holds (its
    /// `capacity:` section): step up, then bisect.
    Capacity(Box<capacity::CapacityArgs>),
    /// Merge the report.json files of a sharded load run exactly.
    Merge(merge::MergeArgs),
    /// Print what a key-pinning gateway's configuration needs for the identities in DIR
    /// (`run --gateway-identities DIR`): server names, key ids, public keys, roles, the CA.
    GatewayConfig(gateway_config::GatewayConfigArgs),
}

pub use crate::session::Registration;

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
    /// Select scenarios: comma-separated `area:NAME`, `tag:NAME` or id globs.
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
    pub gateway: gateway::GatewayArgs,
    #[command(flatten)]
    pub net: net_args::NetArgs,
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

/// Parse the command line, run, and return the exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit_codes::USAGE
            } else {
                exit_codes::SUCCESS
            });
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit_codes::ENVIRONMENT);
        }
    };
    let code = runtime.block_on(dispatch(cli));
    ExitCode::from(code)
}

async fn dispatch(cli: Cli) -> u8 {
    let net = match &cli.command {
        Command::Run(args) => Some(&args.net),
        Command::Load(args) => Some(&args.net),
        Command::Capacity(args) => Some(&args.load.net),
        _ => None,
    };
    if let Some(Err(e)) = net.map(net_args::NetArgs::install) {
        eprintln!("error: {e}");
        return exit_codes::USAGE;
    }
    match cli.command {
        Command::Run(args) => run::run(*args).await,
        Command::Validate(args) => validate::validate(&args.paths),
        Command::List(args) => validate::list(&args),
        Command::Coverage(args) => validate::coverage(&args),
        Command::Schema(args) => validate::schema(args.load),
        Command::Report(args) => report::report(&args),
        Command::Ops => validate::ops(),
        Command::Up(args) => local::up(&args).await,
        Command::Down(args) => local::down(&args).await,
        Command::Compare(args) => compare::compare(&args),
        Command::Keygen(args) => certify::keygen(&args),
        Command::Certify(args) => certify::certify(&args),
        Command::Verify(args) => certify::verify(&args),
        Command::Load(args) => load::load(*args).await,
        Command::Capacity(args) => capacity::capacity(*args).await,
        Command::Merge(args) => merge::merge(&args),
        Command::GatewayConfig(args) => gateway_config::gateway_config(&args),
    }
}

fn parse_dialect(s: &str) -> Result<crate::matrix::sliding_sync::Dialect, String> {
    crate::matrix::sliding_sync::Dialect::parse(s).ok_or_else(|| {
        format!("unknown dialect {s:?}: use msc4186-v4, simplified-msc3575 or msc3575-proxy")
    })
}

/// A file shipped in the source tree: relative to the working directory if it exists there,
/// else in the tree this binary was built from.
pub fn shipped(path: &str) -> PathBuf {
    let local = PathBuf::from(path);
    if local.exists() {
        return local;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The default scenario folder: `./scenarios` if it exists, else the one shipped in the
/// source tree this binary was built from.
pub fn default_paths(paths: &[PathBuf]) -> Vec<PathBuf> {
    if !paths.is_empty() {
        return paths.to_vec();
    }
    vec![shipped("scenarios")]
}
