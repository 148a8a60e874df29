//! The network flags shared by `run` (conformance and gateway) and `load`: the response body
//! cap and the extra certificate authorities, installed once as the process's policy.

use std::path::PathBuf;

use clap::Args;

use crate::matrix::net::{self, NetPolicy};

/// `--max-body` and `--ca-cert`.
#[derive(Debug, Clone, Args)]
pub struct NetArgs {
    /// Largest response body the harness reads (e.g. 32MiB, 512KiB, 1048576); a larger one
    /// is a failed check showing its first KiB. Redirects are never followed.
    #[arg(long, value_name = "SIZE", default_value = "32MiB", value_parser = net::parse_size)]
    pub max_body: usize,
    /// A PEM file of CA certificates to trust for --target, --target2, --sync-url and
    /// --gateway, in addition to the system's store (repeatable).
    #[arg(long = "ca-cert", value_name = "FILE")]
    pub ca_cert: Vec<PathBuf>,
}

impl Default for NetArgs {
    fn default() -> Self {
        Self {
            max_body: net::DEFAULT_MAX_BODY,
            ca_cert: Vec::new(),
        }
    }
}

impl NetArgs {
    /// Read the CA files and make the policy every client of this process is built with.
    pub fn install(&self) -> Result<(), String> {
        let policy = NetPolicy::from_flags(self.max_body, &self.ca_cert)
            .map_err(|e| format!("--ca-cert {e}"))?;
        net::install(policy);
        Ok(())
    }
}
