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

mod args;
mod capacity;
mod certify;
mod compare;
mod gateway;
mod gateway_config;
mod inputs;
mod load;
mod local;
mod merge;
mod net_args;
mod paths;
mod progress;
mod report;
mod run;
mod stdout;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
pub use args::{
    CoverageArgs, Format, GatewayArgs, ListArgs, LocalArgs, PathsArgs, ReportArgs, RunArgs,
    SchemaArgs, SynapseArgs,
};

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
