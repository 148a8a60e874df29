//! Client config (account data): `get_account_data`, `set_account_data`,
//! `get_room_account_data`, `set_room_account_data`.

use ruma::api::client::config::{
    get_global_account_data, get_room_account_data, set_global_account_data, set_room_account_data,
};
use ruma::events::{GlobalAccountDataEventType, RoomAccountDataEventType};

use super::Operation;
use super::args::{JsonObject, raw_object, user_or_self};
use super::glue::{OpContext, TypedOp, parse_id};

pub(super) fn ops() -> Vec<Box<dyn Operation>> {
    op_list![
        TypedOp::new(
            "get_account_data",
            "Get a global account data event of a user",
            (
                "GET",
                "/_matrix/client/v3/user/{userId}/account_data/{type}"
            ),
            build_get_account_data,
        ),
        TypedOp::new(
            "set_account_data",
            "Set a global account data event of a user",
            (
                "PUT",
                "/_matrix/client/v3/user/{userId}/account_data/{type}"
            ),
            build_set_account_data,
        ),
        TypedOp::new(
            "get_room_account_data",
            "Get an account data event of a user for a room",
            (
                "GET",
                "/_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}"
            ),
            build_get_room_account_data,
        ),
        TypedOp::new(
            "set_room_account_data",
            "Set an account data event of a user for a room",
            (
                "PUT",
                "/_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}"
            ),
            build_set_room_account_data,
        ),
    ]
}

/// Arguments of `get_account_data`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetAccountDataArgs {
    /// The user; defaults to the acting user.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The account data event type.
    pub event_type: String,
}

fn build_get_account_data(
    a: GetAccountDataArgs,
    ctx: &OpContext<'_>,
) -> Result<get_global_account_data::v3::Request, String> {
    Ok(get_global_account_data::v3::Request::new(
        user_or_self(a.user_id, ctx)?,
        GlobalAccountDataEventType::from(a.event_type),
    ))
}

/// Arguments of `set_account_data`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetAccountDataArgs {
    /// The user; defaults to the acting user.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The account data event type.
    pub event_type: String,
    /// The account data content, sent as given.
    pub content: JsonObject,
}

fn build_set_account_data(
    a: SetAccountDataArgs,
    ctx: &OpContext<'_>,
) -> Result<set_global_account_data::v3::Request, String> {
    Ok(set_global_account_data::v3::Request::new_raw(
        user_or_self(a.user_id, ctx)?,
        GlobalAccountDataEventType::from(a.event_type),
        raw_object("content", a.content)?,
    ))
}

/// Arguments of `get_room_account_data`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetRoomAccountDataArgs {
    /// The user; defaults to the acting user.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The room ID.
    pub room_id: String,
    /// The account data event type.
    pub event_type: String,
}

fn build_get_room_account_data(
    a: GetRoomAccountDataArgs,
    ctx: &OpContext<'_>,
) -> Result<get_room_account_data::v3::Request, String> {
    Ok(get_room_account_data::v3::Request::new(
        user_or_self(a.user_id, ctx)?,
        parse_id("room_id", &a.room_id)?,
        RoomAccountDataEventType::from(a.event_type),
    ))
}

/// Arguments of `set_room_account_data`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRoomAccountDataArgs {
    /// The user; defaults to the acting user.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The room ID.
    pub room_id: String,
    /// The account data event type.
    pub event_type: String,
    /// The account data content, sent as given.
    pub content: JsonObject,
}

fn build_set_room_account_data(
    a: SetRoomAccountDataArgs,
    ctx: &OpContext<'_>,
) -> Result<set_room_account_data::v3::Request, String> {
    Ok(set_room_account_data::v3::Request::new_raw(
        user_or_self(a.user_id, ctx)?,
        parse_id("room_id", &a.room_id)?,
        RoomAccountDataEventType::from(a.event_type),
        raw_object("content", a.content)?,
    ))
}
