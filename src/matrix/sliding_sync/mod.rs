//! Sliding sync across its three wire dialects: the old proxy's MSC3575, Synapse's unstable
//! simplified MSC4186 (`org.matrix.simplified_msc3575`), and MSC4186 as merged
//! (`/_matrix/client/v4/sync`). Scenarios speak one dialect-neutral request shape
//! ([`request`]); responses are normalised to one shape ([`normalize`]) before checks run.

pub mod detect;
pub mod normalize;
pub mod request;

/// A sliding-sync wire dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dialect {
    /// MSC3575 as served by the (archived) sliding-sync proxy.
    Msc3575Proxy,
    /// Synapse's unstable simplified sliding sync (MSC4186 before merge).
    Simplified,
    /// MSC4186 as merged: `POST /_matrix/client/v4/sync`.
    V4,
}

impl Dialect {
    /// Stable name used in reports and on the command line.
    pub fn label(self) -> &'static str {
        match self {
            Dialect::Msc3575Proxy => "msc3575-proxy",
            Dialect::Simplified => "simplified-msc3575",
            Dialect::V4 => "msc4186-v4",
        }
    }

    /// Parse a label.
    pub fn parse(s: &str) -> Option<Self> {
        [Dialect::Msc3575Proxy, Dialect::Simplified, Dialect::V4]
            .into_iter()
            .find(|d| d.label() == s)
    }

    /// Path of the endpoint below the sync base URL.
    pub fn path(self) -> &'static str {
        match self {
            Dialect::Msc3575Proxy => "/_matrix/client/unstable/org.matrix.msc3575/sync",
            Dialect::Simplified => "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync",
            Dialect::V4 => "/_matrix/client/v4/sync",
        }
    }

    /// Whether `pos` and `timeout` travel in the query string (else in the body).
    pub fn params_in_query(self) -> bool {
        !matches!(self, Dialect::V4)
    }
}

/// Where and how the target speaks sliding sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlidingSyncTarget {
    /// The dialect.
    pub dialect: Dialect,
    /// Base URL the sliding-sync endpoint is served from (the homeserver, or a proxy).
    pub base_url: String,
    /// How it was found ("--sliding-sync-dialect", "probe", ...).
    pub found_by: String,
}

impl SlidingSyncTarget {
    /// `simplified-msc3575 at http://...`.
    pub fn describe(&self) -> String {
        format!(
            "{} at {}{} ({})",
            self.dialect.label(),
            self.base_url,
            self.dialect.path(),
            self.found_by
        )
    }
}
