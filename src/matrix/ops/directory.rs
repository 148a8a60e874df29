//! Room aliases and the room directory: `create_alias`, `get_alias`, `delete_alias`,
//! `get_room_aliases`, `get_public_rooms`, `get_public_rooms_filtered`,
//! `get_room_visibility`, `set_room_visibility`.

use ruma::api::client::alias::{create_alias, delete_alias, get_alias};
use ruma::api::client::directory::{
    get_public_rooms, get_public_rooms_filtered, get_room_visibility, set_room_visibility,
};
use ruma::api::client::room::{Visibility, aliases};
use ruma::directory::RoomNetwork;

use super::Operation;
use super::args::{JsonObject, typed_object, uint};
use super::glue::{OpContext, TypedOp, parse_id};
use super::membership::RoomArgs;

pub(super) fn ops() -> Vec<Box<dyn Operation>> {
    op_list![
        TypedOp::new(
            "create_alias",
            "Create a room alias pointing to a room",
            ("PUT", "/_matrix/client/v3/directory/room/{roomAlias}"),
            |a: CreateAliasArgs, _| Ok(create_alias::v3::Request::new(
                parse_id("room_alias", &a.room_alias)?,
                parse_id("room_id", &a.room_id)?,
            )),
        ),
        TypedOp::new(
            "get_alias",
            "Resolve a room alias to a room ID and servers",
            ("GET", "/_matrix/client/v3/directory/room/{roomAlias}"),
            |a: AliasArgs, _| Ok(get_alias::v3::Request::new(parse_id(
                "room_alias",
                &a.room_alias
            )?)),
        ),
        TypedOp::new(
            "delete_alias",
            "Remove a room alias",
            ("DELETE", "/_matrix/client/v3/directory/room/{roomAlias}"),
            |a: AliasArgs, _| Ok(delete_alias::v3::Request::new(parse_id(
                "room_alias",
                &a.room_alias
            )?)),
        ),
        TypedOp::new(
            "get_room_aliases",
            "List the local aliases of a room",
            ("GET", "/_matrix/client/v3/rooms/{roomId}/aliases"),
            |a: RoomArgs, _| Ok(aliases::v3::Request::new(parse_id("room_id", &a.room_id)?)),
        ),
        TypedOp::new(
            "get_public_rooms",
            "List the public rooms of the server's room directory",
            ("GET", "/_matrix/client/v3/publicRooms"),
            build_get_public_rooms,
        ),
        TypedOp::new(
            "get_public_rooms_filtered",
            "List the public rooms of the server's room directory with a filter",
            ("POST", "/_matrix/client/v3/publicRooms"),
            build_get_public_rooms_filtered,
        ),
        TypedOp::new(
            "get_room_visibility",
            "Get whether a room is published in the room directory",
            ("GET", "/_matrix/client/v3/directory/list/room/{roomId}"),
            |a: RoomArgs, _| Ok(get_room_visibility::v3::Request::new(parse_id(
                "room_id", &a.room_id
            )?)),
        ),
        TypedOp::new(
            "set_room_visibility",
            "Publish a room in the room directory or remove it",
            ("PUT", "/_matrix/client/v3/directory/list/room/{roomId}"),
            |a: SetRoomVisibilityArgs, _| Ok(set_room_visibility::v3::Request::new(
                parse_id("room_id", &a.room_id)?,
                a.visibility,
            )),
        ),
    ]
}

/// Arguments of `create_alias`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAliasArgs {
    /// The room alias, e.g. `#room:example.org`.
    pub room_alias: String,
    /// The room ID the alias points to.
    pub room_id: String,
}

/// Arguments naming a room alias.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AliasArgs {
    /// The room alias, e.g. `#room:example.org`.
    pub room_alias: String,
}

/// Arguments of `get_public_rooms`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetPublicRoomsArgs {
    /// The maximum number of rooms to return.
    #[serde(default)]
    pub limit: Option<u32>,
    /// The pagination token to continue from.
    #[serde(default)]
    pub since: Option<String>,
    /// The server whose directory to list; the local server if absent.
    #[serde(default)]
    pub server: Option<String>,
}

fn build_get_public_rooms(
    a: GetPublicRoomsArgs,
    _: &OpContext<'_>,
) -> Result<get_public_rooms::v3::Request, String> {
    let mut req = get_public_rooms::v3::Request::new();
    req.limit = a.limit.map(uint);
    req.since = a.since;
    req.server = a.server.map(|s| parse_id("server", &s)).transpose()?;
    Ok(req)
}

/// Arguments of `get_public_rooms_filtered`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetPublicRoomsFilteredArgs {
    /// The maximum number of rooms to return.
    #[serde(default)]
    pub limit: Option<u32>,
    /// The pagination token to continue from.
    #[serde(default)]
    pub since: Option<String>,
    /// The server whose directory to list; the local server if absent.
    #[serde(default)]
    pub server: Option<String>,
    /// The filter object, e.g. `{generic_search_term: foo, room_types: [null]}`.
    #[serde(default)]
    pub filter: Option<JsonObject>,
    /// Whether to include rooms from all networks the server knows (only `true` is sent).
    #[serde(default)]
    pub include_all_networks: Option<bool>,
    /// Only list rooms of this third-party network instance.
    #[serde(default)]
    pub third_party_instance_id: Option<String>,
}

fn build_get_public_rooms_filtered(
    a: GetPublicRoomsFilteredArgs,
    _: &OpContext<'_>,
) -> Result<get_public_rooms_filtered::v3::Request, String> {
    let mut req = get_public_rooms_filtered::v3::Request::new();
    req.limit = a.limit.map(uint);
    req.since = a.since;
    req.server = a.server.map(|s| parse_id("server", &s)).transpose()?;
    if let Some(filter) = a.filter {
        req.filter = typed_object("filter", filter)?;
    }
    req.room_network = match (a.include_all_networks, a.third_party_instance_id) {
        (Some(true), Some(_)) => {
            return Err(
                "give either `include_all_networks: true` or `third_party_instance_id`, not both"
                    .into(),
            );
        }
        (Some(true), None) => RoomNetwork::All,
        (_, Some(instance)) => RoomNetwork::ThirdParty(instance),
        (_, None) => RoomNetwork::Matrix,
    };
    Ok(req)
}

/// Arguments of `set_room_visibility`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRoomVisibilityArgs {
    /// The room ID.
    pub room_id: String,
    /// The new visibility: `public` or `private`.
    #[schemars(with = "String", extend("enum" = ["public", "private"]))]
    pub visibility: Visibility,
}
