//! Filters: `create_filter`, `get_filter`.

use ruma::api::client::filter::{FilterDefinition, create_filter, get_filter};

use super::Operation;
use super::args::{JsonObject, typed_object, user_or_self};
use super::glue::{OpContext, TypedOp};

pub(super) fn ops() -> Vec<Box<dyn Operation>> {
    op_list![
        TypedOp::new(
            "create_filter",
            "Upload a filter definition and get its ID",
            ("POST", "/_matrix/client/v3/user/{userId}/filter"),
            build_create_filter,
        ),
        TypedOp::new(
            "get_filter",
            "Download a filter definition by its ID",
            ("GET", "/_matrix/client/v3/user/{userId}/filter/{filterId}"),
            build_get_filter,
        ),
    ]
}

/// Arguments of `create_filter`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFilterArgs {
    /// The user; defaults to the acting user.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The filter definition object (`event_fields`, `event_format`, `presence`,
    /// `account_data`, `room`).
    pub filter: JsonObject,
}

fn build_create_filter(
    a: CreateFilterArgs,
    ctx: &OpContext<'_>,
) -> Result<create_filter::v3::Request, String> {
    let filter: FilterDefinition = typed_object("filter", a.filter)?;
    Ok(create_filter::v3::Request::new(
        user_or_self(a.user_id, ctx)?,
        filter,
    ))
}

/// Arguments of `get_filter`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetFilterArgs {
    /// The user; defaults to the acting user.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The filter ID returned by `create_filter`.
    pub filter_id: String,
}

fn build_get_filter(
    a: GetFilterArgs,
    ctx: &OpContext<'_>,
) -> Result<get_filter::v3::Request, String> {
    Ok(get_filter::v3::Request::new(
        user_or_self(a.user_id, ctx)?,
        a.filter_id,
    ))
}
