//! The Matrix client side of the harness: typed operations backed by ruma, the HTTP
//! client that records transcripts, and `/versions` capabilities.

pub mod endpoints;
pub mod http_client;
pub mod ops;
pub mod sliding_sync;
