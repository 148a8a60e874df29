//! Room creation: `create_room`.

use ruma::RoomVersionId;
use ruma::api::client::room::{Visibility, create_room};

use super::Operation;
use super::args::{JsonObject, raw_object};
use super::glue::{OpContext, TypedOp, parse_id};

pub(super) fn ops() -> Vec<Box<dyn Operation>> {
    op_list![TypedOp::new(
        "create_room",
        "Create a new room",
        ("POST", "/_matrix/client/v3/createRoom"),
        build_create_room,
    )]
}

/// Arguments of `create_room`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRoomArgs {
    /// Preset of initial state: `private_chat`, `public_chat` or `trusted_private_chat`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub preset: Option<create_room::v3::RoomPreset>,
    /// Whether the room is listed in the room directory: `public` or `private` (default).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub visibility: Option<Visibility>,
    /// The room name (an `m.room.name` event).
    #[serde(default)]
    pub name: Option<String>,
    /// The room topic (an `m.room.topic` event).
    #[serde(default)]
    pub topic: Option<String>,
    /// The localpart of a canonical alias to create for the room.
    #[serde(default)]
    pub room_alias_name: Option<String>,
    /// User IDs to invite to the room.
    #[serde(default)]
    pub invite: Option<Vec<String>>,
    /// Whether this is a direct chat (sets `is_direct` on the invites).
    #[serde(default)]
    pub is_direct: Option<bool>,
    /// The room version, e.g. `"10"`; the server default if absent.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub room_version: Option<RoomVersionId>,
    /// State events (objects with `type`, `state_key`, `content`) to set in the new room.
    #[serde(default)]
    pub initial_state: Option<Vec<JsonObject>>,
    /// Content merged into the default `m.room.power_levels` event.
    #[serde(default)]
    pub power_level_content_override: Option<JsonObject>,
    /// Extra keys for the `m.room.create` event content.
    #[serde(default)]
    pub creation_content: Option<JsonObject>,
}

fn build_create_room(
    a: CreateRoomArgs,
    _: &OpContext<'_>,
) -> Result<create_room::v3::Request, String> {
    let mut req = create_room::v3::Request::new();
    req.preset = a.preset;
    if let Some(visibility) = a.visibility {
        req.visibility = visibility;
    }
    req.name = a.name;
    req.topic = a.topic;
    req.room_alias_name = a.room_alias_name;
    req.invite = a
        .invite
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, id)| parse_id(&format!("invite[{i}]"), id))
        .collect::<Result<_, _>>()?;
    req.is_direct = a.is_direct.unwrap_or(false);
    req.room_version = a.room_version;
    req.initial_state = a
        .initial_state
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, event)| raw_object(&format!("initial_state[{i}]"), event))
        .collect::<Result<_, _>>()?;
    req.power_level_content_override = a
        .power_level_content_override
        .map(|o| raw_object("power_level_content_override", o))
        .transpose()?;
    req.creation_content = a
        .creation_content
        .map(|o| raw_object("creation_content", o))
        .transpose()?;
    Ok(req)
}
