//! The Matrix client side of the harness: typed operations backed by ruma, the HTTP
//! client that records transcripts, and `/versions` capabilities.

pub mod endpoints;
pub mod http_client;
pub mod net;
pub mod ops;
pub mod sliding_sync;

/// Percent-encode one URL component (a path segment such as a room or event id, or a query
/// value): everything but ASCII letters and digits is escaped, so `!`, `:`, `$`, `/` and `#`
/// in Matrix identifiers never change the URL's structure.
pub fn encode_component(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}
