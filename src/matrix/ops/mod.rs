//! The registry of typed operations (`call:` in a scenario step).
//!
//! Each operation turns JSON arguments (the step's `with:` after interpolation) into a
//! ruma request, and judges a response by parsing it with the matching ruma response
//! type: a body that ruma cannot parse "does not match the spec schema".

/// Box a list of typed operations as `Vec<Box<dyn Operation>>`.
macro_rules! op_list {
    ($($op:expr),* $(,)?) => {
        vec![$(Box::new($op) as Box<dyn $crate::matrix::ops::Operation>),*]
    };
}

mod account;
mod account_data;
mod args;
mod devices;
mod directory;
mod discovery;
mod dispatch;
mod ephemeral;
mod events;
mod filter;
mod glue;
mod keys;
mod media;
mod membership;
mod misc;
mod profile;
mod push;
mod room_misc;
mod rooms;
mod session;
mod sliding;
mod state;
mod sync;
#[cfg(test)]
mod tests;
mod to_device;

use std::collections::BTreeMap;
use std::sync::LazyLock;

pub use glue::{OpContext, TypedOp};

/// A failure to turn arguments into an HTTP request.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct BuildError {
    /// JSON pointer into the arguments where the problem is ("" for the whole object).
    pub pointer: String,
    /// What is wrong, in one sentence.
    pub message: String,
}

/// A response that does not parse as the endpoint's ruma response type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("response does not match the spec schema: {detail}")]
pub struct SchemaMismatch {
    /// The parse error, as ruma (or serde) reported it.
    pub detail: String,
}

/// One typed operation.
pub trait Operation: Send + Sync {
    /// The name used in scenario files (`call: NAME`).
    fn name(&self) -> &'static str;
    /// One line saying what it does.
    fn summary(&self) -> &'static str;
    /// HTTP method and path template of the endpoint, as the spec writes it.
    fn endpoint(&self) -> (&'static str, &'static str);
    /// JSON Schema of the arguments (`with:`).
    fn args_schema(&self) -> schemars::Schema;
    /// Build the HTTP request from interpolated arguments.
    fn build(
        &self,
        args: &serde_json::Value,
        ctx: &OpContext<'_>,
    ) -> Result<http::Request<Vec<u8>>, BuildError>;
    /// Parse a response with the ruma response type (or, for an error status, check the
    /// standard error body).
    fn check_response(&self, response: http::Response<&[u8]>) -> Result<(), SchemaMismatch>;

    /// As [`Operation::check_response`], for operations whose schema depends on the target
    /// (the sliding-sync dialect).
    fn check_response_in(
        &self,
        response: http::Response<&[u8]>,
        _ctx: &OpContext<'_>,
    ) -> Result<(), SchemaMismatch> {
        self.check_response(response)
    }

    /// The response body as scenarios see it (dialect differences smoothed out).
    fn normalize(&self, body: serde_json::Value, _ctx: &OpContext<'_>) -> serde_json::Value {
        body
    }
}

static REGISTRY: LazyLock<BTreeMap<&'static str, Box<dyn Operation>>> = LazyLock::new(|| {
    let mut map: BTreeMap<&'static str, Box<dyn Operation>> = BTreeMap::new();
    for op in all_ops() {
        map.insert(op.name(), op);
    }
    map
});

fn all_ops() -> Vec<Box<dyn Operation>> {
    let mut ops: Vec<Box<dyn Operation>> = Vec::new();
    ops.extend(discovery::ops());
    ops.extend(session::ops());
    ops.extend(account::ops());
    ops.extend(rooms::ops());
    ops.extend(membership::ops());
    ops.extend(events::ops());
    ops.extend(state::ops());
    ops.extend(sync::ops());
    ops.extend(profile::ops());
    ops.extend(account_data::ops());
    ops.extend(filter::ops());
    ops.extend(ephemeral::ops());
    ops.extend(devices::ops());
    ops.extend(keys::ops());
    ops.extend(to_device::ops());
    ops.extend(push::ops());
    ops.extend(media::ops());
    ops.extend(directory::ops());
    ops.extend(misc::ops());
    ops.extend(room_misc::ops());
    ops.push(Box::new(sliding::SlidingSyncOp));
    ops
}

/// Look an operation up by name.
pub fn find(name: &str) -> Option<&'static dyn Operation> {
    REGISTRY.get(name).map(|b| b.as_ref())
}

/// All operation names, sorted.
pub fn names() -> impl Iterator<Item = &'static str> {
    REGISTRY.keys().copied()
}

/// All operations, sorted by name.
pub fn all() -> impl Iterator<Item = &'static dyn Operation> {
    REGISTRY.values().map(|b| b.as_ref())
}
