//! Room event operations: `send`, `get_event`, `redact`, `messages`, `context`.

use ruma::api::Direction;
use ruma::api::client::context::get_context;
use ruma::api::client::filter::RoomEventFilter;
use ruma::api::client::message::{get_message_events, send_message_event};
use ruma::api::client::redact::redact_event;
use ruma::api::client::room::get_room_event;
use ruma::events::MessageLikeEventType;

use super::Operation;
use super::args::{JsonObject, raw_object, uint};
use super::glue::{OpContext, TypedOp, parse_id};

pub(super) fn ops() -> Vec<Box<dyn Operation>> {
    op_list![
        TypedOp::new(
            "send",
            "Send a message-like event of any type to a room",
            (
                "PUT",
                "/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}"
            ),
            build_send,
        ),
        TypedOp::new(
            "get_event",
            "Get a single event of a room by its ID",
            ("GET", "/_matrix/client/v3/rooms/{roomId}/event/{eventId}"),
            build_get_event,
        ),
        TypedOp::new(
            "redact",
            "Redact an event in a room",
            (
                "PUT",
                "/_matrix/client/v3/rooms/{roomId}/redact/{eventId}/{txnId}"
            ),
            build_redact,
        ),
        TypedOp::new(
            "messages",
            "Get a page of the events of a room, backwards or forwards from a token",
            ("GET", "/_matrix/client/v3/rooms/{roomId}/messages"),
            build_messages,
        ),
        TypedOp::new(
            "context",
            "Get the events before and after an event of a room, with the state at that point",
            ("GET", "/_matrix/client/v3/rooms/{roomId}/context/{eventId}"),
            build_context,
        ),
    ]
}

/// Arguments of `send`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendArgs {
    /// The room ID.
    pub room_id: String,
    /// The event type; defaults to `m.room.message`. Any type is accepted.
    #[serde(default)]
    pub event_type: Option<String>,
    /// The transaction ID, unique per access token.
    pub txn_id: String,
    /// The event content, sent as given.
    pub content: JsonObject,
}

fn build_send(a: SendArgs, _: &OpContext<'_>) -> Result<send_message_event::v3::Request, String> {
    let event_type = a.event_type.unwrap_or_else(|| "m.room.message".to_owned());
    Ok(send_message_event::v3::Request::new_raw(
        parse_id("room_id", &a.room_id)?,
        a.txn_id.into(),
        MessageLikeEventType::from(event_type),
        raw_object("content", a.content)?,
    ))
}

/// Arguments naming an event of a room.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventArgs {
    /// The room ID.
    pub room_id: String,
    /// The event ID.
    pub event_id: String,
}

fn build_get_event(a: EventArgs, _: &OpContext<'_>) -> Result<get_room_event::v3::Request, String> {
    Ok(get_room_event::v3::Request::new(
        parse_id("room_id", &a.room_id)?,
        parse_id("event_id", &a.event_id)?,
    ))
}

/// Arguments of `redact`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedactArgs {
    /// The room ID.
    pub room_id: String,
    /// The ID of the event to redact.
    pub event_id: String,
    /// The transaction ID, unique per access token.
    pub txn_id: String,
    /// Why the event is redacted.
    #[serde(default)]
    pub reason: Option<String>,
}

fn build_redact(a: RedactArgs, _: &OpContext<'_>) -> Result<redact_event::v3::Request, String> {
    let mut req = redact_event::v3::Request::new(
        parse_id("room_id", &a.room_id)?,
        parse_id("event_id", &a.event_id)?,
        a.txn_id.into(),
    );
    req.reason = a.reason;
    Ok(req)
}

/// Arguments of `messages`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessagesArgs {
    /// The room ID.
    pub room_id: String,
    /// The token to start from; the start or end of the timeline (by `dir`) if absent.
    #[serde(default)]
    pub from: Option<String>,
    /// The token to stop at.
    #[serde(default)]
    pub to: Option<String>,
    /// The direction: `b` (backwards, default) or `f` (forwards).
    #[serde(default)]
    #[schemars(with = "Option<String>", extend("enum" = ["b", "f"]))]
    pub dir: Option<Direction>,
    /// The maximum number of events to return.
    #[serde(default)]
    pub limit: Option<u32>,
    /// A `RoomEventFilter` object to filter the returned events.
    #[serde(default)]
    #[schemars(with = "Option<JsonObject>")]
    pub filter: Option<RoomEventFilter>,
}

fn build_messages(
    a: MessagesArgs,
    _: &OpContext<'_>,
) -> Result<get_message_events::v3::Request, String> {
    let mut req = get_message_events::v3::Request::new(
        parse_id("room_id", &a.room_id)?,
        a.dir.unwrap_or(Direction::Backward),
    );
    req.from = a.from;
    req.to = a.to;
    if let Some(limit) = a.limit {
        req.limit = uint(limit);
    }
    if let Some(filter) = a.filter {
        req.filter = filter;
    }
    Ok(req)
}

/// Arguments of `context`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContextArgs {
    /// The room ID.
    pub room_id: String,
    /// The event to get the context of.
    pub event_id: String,
    /// The maximum number of context events to return.
    #[serde(default)]
    pub limit: Option<u32>,
}

fn build_context(a: ContextArgs, _: &OpContext<'_>) -> Result<get_context::v3::Request, String> {
    let mut req = get_context::v3::Request::new(
        parse_id("room_id", &a.room_id)?,
        parse_id("event_id", &a.event_id)?,
    );
    if let Some(limit) = a.limit {
        req.limit = uint(limit);
    }
    Ok(req)
}
