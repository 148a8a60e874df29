//! Synchronisation: `sync`.

use std::time::Duration;

use ruma::api::client::filter::FilterDefinition;
use ruma::api::client::sync::sync_events::v3 as sync_events;
use ruma::presence::PresenceState;
use serde_json::Value;

use super::Operation;
use super::glue::{OpContext, TypedOp};

pub(super) fn ops() -> Vec<Box<dyn Operation>> {
    op_list![TypedOp::new(
        "sync",
        "Synchronise the client's state with the server since a token",
        ("GET", "/_matrix/client/v3/sync"),
        build_sync,
    )]
}

/// Arguments of `sync`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncArgs {
    /// The `next_batch` token of a previous sync; an initial sync if absent.
    #[serde(default)]
    pub since: Option<String>,
    /// A filter: either the ID of a filter created with `create_filter` (a string) or an
    /// inline filter definition (an object).
    #[serde(default)]
    #[schemars(with = "Option<FilterSchema>")]
    pub filter: Option<Value>,
    /// The maximum time to wait for events, in milliseconds.
    #[serde(default)]
    pub timeout: Option<u64>,
    /// Whether to return the full state of every room even with `since`.
    #[serde(default)]
    pub full_state: Option<bool>,
    /// The presence to set: `online` (default), `offline` or `unavailable`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub set_presence: Option<PresenceState>,
}

/// The JSON Schema of the `filter` argument: a filter ID or an inline definition.
#[derive(schemars::JsonSchema)]
#[schemars(untagged)]
#[allow(dead_code)] // Only describes the schema; the argument is parsed as a `Value`.
enum FilterSchema {
    /// The ID of a filter created with `create_filter`.
    Id(String),
    /// An inline filter definition.
    Definition(super::args::JsonObject),
}

fn build_sync(a: SyncArgs, _: &OpContext<'_>) -> Result<sync_events::Request, String> {
    let mut req = sync_events::Request::new();
    req.since = a.since;
    req.filter = match a.filter {
        None => None,
        Some(Value::String(id)) => Some(sync_events::Filter::FilterId(id)),
        Some(object @ Value::Object(_)) => {
            let definition: FilterDefinition = serde_json::from_value(object)
                .map_err(|e| format!("`filter` is not a valid filter definition: {e}"))?;
            Some(sync_events::Filter::FilterDefinition(definition))
        }
        Some(other) => {
            return Err(format!(
                "`filter` must be a filter ID (string) or a filter definition (object), not {other}"
            ));
        }
    };
    req.timeout = a.timeout.map(Duration::from_millis);
    req.full_state = a.full_state.unwrap_or(false);
    if let Some(presence) = a.set_presence {
        req.set_presence = presence;
    }
    Ok(req)
}
