//! What a command wants tested, as plain data: the command line (or a caller in a test)
//! fills a [`TargetSpec`]; [`super::prepare`] turns it into a ready target.

use std::path::PathBuf;
use std::time::Duration;

/// How users are created on a `--target`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Registration {
    /// Shared-secret if MXH_REGISTRATION_SHARED_SECRET is set, else a token if
    /// MXH_REGISTRATION_TOKEN is set, else open registration.
    Auto,
    /// Synapse's shared-secret admin API (secret in MXH_REGISTRATION_SHARED_SECRET).
    SharedSecret,
    /// Open registration with m.login.dummy.
    Open,
    /// Registration token (in MXH_REGISTRATION_TOKEN).
    Token,
}

/// The local Synapse the harness installs and starts when no target URL is given.
#[derive(Debug, Clone)]
pub struct SynapseSpec {
    /// The release installed from PyPI.
    pub version: String,
    /// The interpreter that creates its virtual environment.
    pub python: String,
    /// Extra configuration files applied last.
    pub overlays: Vec<PathBuf>,
}

/// The target of a run and how to reach, provision and judge it.
#[derive(Debug, Clone)]
pub struct TargetSpec {
    /// Base URL of a running server; `None` starts the local Synapse.
    pub target: Option<String>,
    /// Base URL serving sliding sync, when it is not the homeserver.
    pub sync_url: Option<String>,
    /// A sliding-sync dialect forced instead of detected.
    pub sliding_sync_dialect: Option<crate::matrix::sliding_sync::Dialect>,
    /// The server name, when the target cannot be asked.
    pub server_name: Option<String>,
    /// How users are created on a target URL.
    pub registration: Registration,
    /// Where reports (and the local servers' logs) go.
    pub report_dir: PathBuf,
    /// The local Synapse.
    pub synapse: SynapseSpec,
    /// The per-step timeout.
    pub step_timeout: Duration,
    /// The per-scenario deadline.
    pub scenario_timeout: Duration,
    /// Retries of a failing scenario (flaky detection).
    pub retries: u32,
    /// Schema mismatches as warnings.
    pub lenient_schema: bool,
    /// A kept federation CA directory (`--federation-ca`).
    pub federation_ca: Option<PathBuf>,
    /// The target's federation server name, when it differs from its client one.
    pub federation_server_name: Option<String>,
    /// The target's federation base URL, when it is served apart.
    pub federation_url: Option<String>,
    /// A second running homeserver for interop checks; `None` starts a second Synapse.
    pub target2: Option<String>,
    /// Its server name, when it cannot be asked.
    pub target2_server_name: Option<String>,
    /// Its federation base URL.
    pub target2_federation_url: Option<String>,
    /// With `target`: the registration file the operator gave the server for the harness's
    /// application service (the role listens at its loopback `url`).
    pub appservice_registration: Option<PathBuf>,
}
