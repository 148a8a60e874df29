//! Room state operations: `send_state`, `get_state`, `get_state_event`.

use ruma::api::client::state::{get_state_event_for_key, get_state_events, send_state_event};
use ruma::events::StateEventType;

use super::Operation;
use super::args::{JsonObject, raw_object};
use super::glue::{OpContext, TypedOp, parse_id};

pub(super) fn ops() -> Vec<Box<dyn Operation>> {
    op_list![
        TypedOp::new(
            "send_state",
            "Send a state event of any type to a room",
            (
                "PUT",
                "/_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}"
            ),
            build_send_state,
        ),
        TypedOp::new(
            "get_state",
            "Get the current state events of a room",
            ("GET", "/_matrix/client/v3/rooms/{roomId}/state"),
            build_get_state,
        ),
        TypedOp::new(
            "get_state_event",
            "Get the current state event of a room for a type and state key",
            (
                "GET",
                "/_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}"
            ),
            build_get_state_event,
        ),
    ]
}

/// Arguments of `send_state`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendStateArgs {
    /// The room ID.
    pub room_id: String,
    /// The state event type. Any type is accepted.
    pub event_type: String,
    /// The state key; defaults to the empty string.
    #[serde(default)]
    pub state_key: Option<String>,
    /// The event content, sent as given.
    pub content: JsonObject,
}

fn build_send_state(
    a: SendStateArgs,
    _: &OpContext<'_>,
) -> Result<send_state_event::v3::Request, String> {
    Ok(send_state_event::v3::Request::new_raw(
        parse_id("room_id", &a.room_id)?,
        StateEventType::from(a.event_type),
        a.state_key.unwrap_or_default(),
        raw_object("content", a.content)?,
    ))
}

/// Arguments naming a room.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetStateArgs {
    /// The room ID.
    pub room_id: String,
}

fn build_get_state(
    a: GetStateArgs,
    _: &OpContext<'_>,
) -> Result<get_state_events::v3::Request, String> {
    Ok(get_state_events::v3::Request::new(parse_id(
        "room_id", &a.room_id,
    )?))
}

/// Arguments of `get_state_event`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetStateEventArgs {
    /// The room ID.
    pub room_id: String,
    /// The state event type.
    pub event_type: String,
    /// The state key; defaults to the empty string.
    #[serde(default)]
    pub state_key: Option<String>,
    /// What to return: `content` (default) or the whole `event`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub format: Option<get_state_event_for_key::v3::StateEventFormat>,
}

fn build_get_state_event(
    a: GetStateEventArgs,
    _: &OpContext<'_>,
) -> Result<get_state_event_for_key::v3::Request, String> {
    let mut req = get_state_event_for_key::v3::Request::new(
        parse_id("room_id", &a.room_id)?,
        StateEventType::from(a.event_type),
        a.state_key.unwrap_or_default(),
    );
    if let Some(format) = a.format {
        req.format = format;
    }
    Ok(req)
}
