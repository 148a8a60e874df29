//! Federation support: the harness acting as a remote homeserver.
//!
//! The pieces, each usable on its own (other modules and helpers build on these; the API is
//! kept stable, changes are additive):
//!
//! - [`tls::RunCa`]: a per-run certificate authority generated in process (rcgen). It writes
//!   its PEM for `federation_custom_ca_list` and issues leaf certificates for `localhost`,
//!   `127.0.0.1` and `::1` ([`tls::LeafCert`]), with rustls server and client configs.
//! - [`keys::ServerKey`]: an ed25519 server signing key (ruma-signatures), its key id, the
//!   self-signed `/_matrix/key/v2/server` document (valid for minutes only) and
//!   [`keys::ServerKey::sign_json`].
//! - [`names::NameRegistry`]: the run-wide record of fake server names and keys, so no two
//!   fake servers share a key id and no name comes back with another key.
//! - [`x_matrix`]: the `Authorization: X-Matrix ...` header of a federation request, built
//!   ([`x_matrix::authorization`]) and verified ([`x_matrix::verify`]) with ruma's types.
//! - [`client::FederationClient`]: sends signed federation requests over TLS trusting the run
//!   CA and returns the project's [`crate::results::Exchange`] transcript; [`client::Forge`]
//!   knobs send a request unsigned, with a tampered signature, a wrong origin or destination,
//!   or extra headers, so scenarios can check that a server rejects them.
//! - [`fake_server::FakeServer`]: a TLS listener on `127.0.0.1:0` serving the key document
//!   and handlers registered by a scenario; every inbound request is recorded, and one that no
//!   handler expects is flagged (as in Complement).
//! - [`room`]: what a fake server knows of a room, and minting events for it (auth and prev
//!   events from the known state, content hash, signature, reference-hash event id).
//! - [`media`]: the two-part `multipart/mixed` answer of a federation media download.
//! - [`lenient_json`]: canonical-JSON-shaped encoding of floats and big integers, to sign
//!   events and requests a strict receiver must discard.
//!
//! A spawned Synapse joins the same run with [`crate::target::FederationSetup`] and
//! [`crate::target::SpawnedSynapse::start_federated`]: server name `localhost:<port>`, a
//! federation listener (TLS from the run CA, or plain HTTP behind a gateway with a caller-chosen
//! public name), the run CA trusted, loopback allowed, extra YAML merged last.

pub mod client;
pub mod fake_server;
pub mod keys;
pub mod lenient_json;
pub mod media;
pub mod names;
pub mod room;
pub mod tls;
pub mod x_matrix;

pub use client::{FederationClient, Forge, SignedRequest};
pub use fake_server::{FakeServer, Handler, InboundRequest, Reply};
pub use keys::ServerKey;
pub use tls::{LeafCert, RunCa};

/// Why a federation building block failed.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    /// Certificate generation or a TLS configuration failed.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// A signing key could not be made or used.
    #[error("signing key error: {0}")]
    Key(String),
    /// JSON could not be signed or a signature could not be checked.
    #[error("signing failed: {0}")]
    Sign(String),
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

pub(crate) fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> FederationError {
    let context = context.into();
    move |source| FederationError::Io { context, source }
}
