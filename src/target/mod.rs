//! Where the system under test comes from: a URL (`--target`) or a locally spawned Synapse.

use std::collections::BTreeMap;
use std::path::PathBuf;

pub mod appservice;
pub mod capabilities;
pub mod email_sink;
pub mod federated;
pub mod identity_server;
pub mod implementation;
pub mod provision;
pub mod push_gateway;
pub mod recorder;
pub mod synapse;
pub mod url_target;
pub mod users;
pub mod venv;

pub use federated::{FederationEndpoint, FederationSetup};
pub use provision::{NewUser, ProvisionError, Provisioner, RegistrationMethod};
pub use synapse::{SYNAPSE_VERSION, SpawnedSynapse, SynapseOptions, UpState, down, up};
pub use url_target::{Probe, probe};
pub use venv::ensure_venv;

/// The homeserver a run talks to, as resolved before the first scenario starts.
#[derive(Debug, Clone)]
pub struct Target {
    /// Base URL of the client-server API, without a trailing slash.
    pub base_url: String,
    /// The server name user IDs end with (`@alice:<server_name>`).
    pub server_name: String,
    /// Where the server came from.
    pub kind: TargetKind,
    /// How fresh users are created on it.
    pub registration: RegistrationMethod,
    /// Implementation name and version, e.g. "Synapse 1.163.2", when the server says.
    pub server_version: Option<String>,
    /// Spec versions advertised by `/_matrix/client/versions`.
    pub spec_versions: Vec<String>,
    /// Unstable features advertised by `/_matrix/client/versions`.
    pub unstable_features: BTreeMap<String, bool>,
    /// The server's log file, when the harness spawned it.
    pub log_path: Option<PathBuf>,
}

/// Where the system under test came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// A server the user pointed at with `--target URL`.
    Url,
    /// The embedded default: a Synapse the harness installed and started itself.
    SpawnedSynapse,
}

impl TargetKind {
    /// Stable name used in reports.
    pub fn label(&self) -> &'static str {
        match self {
            TargetKind::Url => "url",
            TargetKind::SpawnedSynapse => "spawned-synapse",
        }
    }
}

/// Why the target could not be installed, started, reached or stopped.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The Python interpreter is not on PATH.
    #[error("{python} not found: install it (Debian: apt-get install python3 python3-venv)")]
    PythonMissing {
        /// The interpreter that was tried.
        python: String,
    },
    /// `python3 -m venv` does not work (Debian ships the venv module separately).
    #[error("{python} cannot create virtual environments: apt-get install python3-venv\n{detail}")]
    VenvUnavailable {
        /// The interpreter that was tried.
        python: String,
        /// What `python3 -m venv` printed.
        detail: String,
    },
    /// `pip install matrix-synapse==<version>` failed.
    #[error(
        "installing matrix-synapse=={version} with pip failed (full log: {log}); \
         check network access to PyPI, or point --target at an existing server. Last lines:\n{tail}"
    )]
    Install {
        /// The Synapse version being installed.
        version: String,
        /// The pip log.
        log: PathBuf,
        /// The last lines of the pip log.
        tail: String,
    },
    /// Another run held the install lock for too long.
    #[error(
        "timed out waiting for another mxharness run to finish installing Synapse (lock {path}); \
         if no other run is active, delete the lock file"
    )]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
    },
    /// Synapse exited early or did not answer `/versions` in time.
    #[error("Synapse did not start: {reason} (log: {log}). Last lines:\n{tail}")]
    Startup {
        /// What went wrong.
        reason: String,
        /// The Synapse log file.
        log: PathBuf,
        /// The last lines of the log.
        tail: String,
    },
    /// A file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What the harness was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The Synapse config overlay could not be rendered.
    #[error("invalid Synapse config overlay: {0}")]
    Config(String),
    /// The target URL does not answer like a Matrix homeserver.
    #[error(
        "cannot reach the target at {url}: {reason}. Check the --target URL (scheme, host, port) \
         and that the client-server API is served there"
    )]
    Unreachable {
        /// The URL that was tried.
        url: String,
        /// Why it failed.
        reason: String,
    },
    /// `up` was asked for while a local Synapse is already recorded as running.
    #[error(
        "a local Synapse is already up (pid {pid}, {base_url}; state {state}): run `mxharness down` first"
    )]
    AlreadyUp {
        /// Its process id.
        pid: u32,
        /// Its base URL.
        base_url: String,
        /// The state file.
        state: PathBuf,
    },
    /// `down` found no state file.
    #[error("no local Synapse is recorded as up (no state file at {state})")]
    NotUp {
        /// The state file that was looked for.
        state: PathBuf,
    },
    /// The `up` state file is unreadable.
    #[error("invalid state file {path}: {detail}; delete it if no local Synapse is running")]
    State {
        /// The state file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// Signalling the Synapse process failed.
    #[error("cannot stop Synapse (pid {pid}): {detail}")]
    Stop {
        /// Its process id.
        pid: u32,
        /// What failed.
        detail: String,
    },
}
