//! Border gateway checks (`mxharness run scenarios/gateway`): the harness plays allowed and
//! denied remote homeservers against a federation border gateway and checks what it lets
//! through, what it refuses and how.
//!
//! - [`suite`]: the check files (`scenarios/gateway/**.yaml`).
//! - [`probe`]: a check's request, signed (or mis-signed) as the check says.
//! - [`raw`]: sends it byte for byte over TLS (no URL normalisation).
//! - [`wire`]: byte-level exchanges (plaintext on TLS, chunked and contradictory framing,
//!   two requests on one connection).
//! - [`tap`]: a recording proxy between the gateway and the homeserver: what got through.
//! - [`decoy`]: a recording listener a spoofed routing header names: what went astray.
//! - [`judge`]: the verdict of one check (pure).
//! - [`diagnosis`]: a failure in words, from both sides (pure).
//! - [`level`]: which level a check's failure counts at (the spec's or a gateway policy).
//! - [`profile`]: a product's exact refusal statuses (`fixtures/gateway/profiles/`).
//! - [`exec`]: runs the checks against a [`exec::Setup`].
//! - [`identities`]: stable CA, names, ports and keys of the played servers
//!   (`--gateway-identities DIR`), for gateways that pin keys.
//! - [`nginx`] and [`topology`]: the local gateways (`--gateway-kind`).
//!
//! docs/gateway.md describes the behaviours, the local gateways and how to point the suite at
//! another gateway.

pub mod decoy;
pub mod diagnosis;
pub mod exec;
pub mod identities;
pub mod judge;
pub mod level;
pub mod nginx;
pub mod overhead;
pub mod probe;
pub mod profile;
pub mod raw;
pub mod suite;
pub mod tap;
pub mod topology;
pub mod wire;

/// Why a gateway topology could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// A required program is not installed.
    #[error("{0}")]
    Missing(String),
    /// A configuration value could not be used.
    #[error("gateway configuration: {0}")]
    Config(String),
    /// A process did not start.
    #[error("gateway did not start: {reason}\n{tail}")]
    Startup {
        /// What went wrong.
        reason: String,
        /// The last lines of its logs.
        tail: String,
    },
    /// A file or socket operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What the harness was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl GatewayError {
    /// Wrap an I/O error with what the harness was doing.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> GatewayError {
        let context = context.into();
        move |source| GatewayError::Io { context, source }
    }
}
