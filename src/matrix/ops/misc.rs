//! User-level operations: `search_users`, `report_event`, `report_room`, `report_user`,
//! `search`, `get_presence`, `set_presence`, `request_openid_token`, `turn_server`.

use ruma::api::client::account::request_openid_token;
use ruma::api::client::presence::{get_presence, set_presence};
use ruma::api::client::reporting::report_user;
use ruma::api::client::room::{report_content, report_room};
use ruma::api::client::search::search_events;
use ruma::api::client::user_directory::search_users;
use ruma::api::client::voip::get_turn_server_info;
use ruma::presence::PresenceState;
use serde_json::Value;

use super::Operation;
use super::args::{JsonObject, typed_object, uint, user_or_self};
use super::glue::{NoArgs, OpContext, TypedOp, parse_id};

pub(super) fn ops() -> Vec<Box<dyn Operation>> {
    op_list![
        TypedOp::new(
            "search_users",
            "Search the user directory",
            ("POST", "/_matrix/client/v3/user_directory/search"),
            build_search_users,
        ),
        TypedOp::new(
            "report_event",
            "Report an event of a room to the server administrators",
            ("POST", "/_matrix/client/v3/rooms/{roomId}/report/{eventId}"),
            build_report_event,
        ),
        TypedOp::new(
            "report_room",
            "Report a room to the server administrators",
            ("POST", "/_matrix/client/v3/rooms/{roomId}/report"),
            |a: ReportRoomArgs, _| Ok(report_room::v3::Request::new(
                parse_id("room_id", &a.room_id)?,
                a.reason.unwrap_or_default(),
            )),
        ),
        TypedOp::new(
            "report_user",
            "Report a user to the server administrators",
            ("POST", "/_matrix/client/v3/users/{userId}/report"),
            |a: ReportUserArgs, _| Ok(report_user::v3::Request::new(
                parse_id("user_id", &a.user_id)?,
                a.reason.unwrap_or_default(),
            )),
        ),
        TypedOp::new(
            "search",
            "Search the events of the rooms the user is in",
            ("POST", "/_matrix/client/v3/search"),
            build_search,
        ),
        TypedOp::new(
            "get_presence",
            "Get the presence state of a user",
            ("GET", "/_matrix/client/v3/presence/{userId}/status"),
            |a: UserArgs, ctx| Ok(get_presence::v3::Request::new(user_or_self(
                a.user_id, ctx
            )?)),
        ),
        TypedOp::new(
            "set_presence",
            "Set the presence state of the user",
            ("PUT", "/_matrix/client/v3/presence/{userId}/status"),
            build_set_presence,
        ),
        TypedOp::new(
            "request_openid_token",
            "Get an OpenID token to prove the user's identity to a third party",
            (
                "POST",
                "/_matrix/client/v3/user/{userId}/openid/request_token"
            ),
            |a: UserArgs, ctx| Ok(request_openid_token::v3::Request::new(user_or_self(
                a.user_id, ctx
            )?)),
        ),
        TypedOp::new(
            "turn_server",
            "Get TURN server credentials for VoIP calls",
            ("GET", "/_matrix/client/v3/voip/turnServer"),
            |_: NoArgs, _| Ok(get_turn_server_info::v3::Request::new()),
        ),
    ]
}

/// Arguments of `search_users`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchUsersArgs {
    /// The term to search for.
    pub search_term: String,
    /// The maximum number of results (the server's default is 10).
    #[serde(default)]
    pub limit: Option<u32>,
}

fn build_search_users(
    a: SearchUsersArgs,
    _: &OpContext<'_>,
) -> Result<search_users::v3::Request, String> {
    let mut req = search_users::v3::Request::new(a.search_term);
    if let Some(limit) = a.limit {
        req.limit = uint(limit);
    }
    Ok(req)
}

/// Arguments of `report_event`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportEventArgs {
    /// The room ID.
    pub room_id: String,
    /// The event to report.
    pub event_id: String,
    /// Why the event is reported.
    #[serde(default)]
    pub reason: Option<String>,
}

fn build_report_event(
    a: ReportEventArgs,
    _: &OpContext<'_>,
) -> Result<report_content::v3::Request, String> {
    let mut req = report_content::v3::Request::new(
        parse_id("room_id", &a.room_id)?,
        parse_id("event_id", &a.event_id)?,
    );
    req.reason = a.reason;
    Ok(req)
}

/// Arguments of `report_room`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRoomArgs {
    /// The room to report.
    pub room_id: String,
    /// Why the room is reported (the spec requires it; sent as `""` if absent).
    #[serde(default)]
    pub reason: Option<String>,
}

/// Arguments of `report_user`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportUserArgs {
    /// The user to report.
    pub user_id: String,
    /// Why the user is reported (the spec requires it; sent as `""` if absent).
    #[serde(default)]
    pub reason: Option<String>,
}

/// Arguments of `search` (the `room_events` category).
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchArgs {
    /// The term to search for.
    pub search_term: String,
    /// The keys to search: `content.body`, `content.name`, `content.topic`.
    #[serde(default)]
    pub keys: Option<Vec<String>>,
    /// A `RoomEventFilter` object to restrict the searched events.
    #[serde(default)]
    pub filter: Option<JsonObject>,
    /// The order of the results: `recent` or `rank`.
    #[serde(default)]
    #[schemars(extend("enum" = ["recent", "rank"]))]
    pub order_by: Option<String>,
    /// The context to return around each result, e.g. `{before_limit: 1, after_limit: 1}`.
    #[serde(default)]
    pub event_context: Option<JsonObject>,
    /// Whether to return the current state of the rooms of the results.
    #[serde(default)]
    pub include_state: Option<bool>,
    /// How to group the results, e.g. `{group_by: [{key: room_id}]}`.
    #[serde(default)]
    pub groupings: Option<JsonObject>,
    /// The pagination token (`next_batch` of a previous result), a query parameter.
    #[serde(default)]
    pub next_batch: Option<String>,
}

fn build_search(a: SearchArgs, _: &OpContext<'_>) -> Result<search_events::v3::Request, String> {
    let mut criteria = JsonObject::new();
    criteria.insert("search_term".into(), Value::String(a.search_term));
    if let Some(keys) = a.keys {
        criteria.insert(
            "keys".into(),
            Value::Array(keys.into_iter().map(Value::String).collect()),
        );
    }
    if let Some(filter) = a.filter {
        criteria.insert("filter".into(), Value::Object(filter));
    }
    if let Some(order_by) = a.order_by {
        criteria.insert("order_by".into(), Value::String(order_by));
    }
    if let Some(event_context) = a.event_context {
        criteria.insert("event_context".into(), Value::Object(event_context));
    }
    if let Some(include_state) = a.include_state {
        criteria.insert("include_state".into(), Value::Bool(include_state));
    }
    if let Some(groupings) = a.groupings {
        criteria.insert("groupings".into(), Value::Object(groupings));
    }
    let mut categories = search_events::v3::Categories::new();
    categories.room_events = Some(typed_object("search criteria", criteria)?);
    let mut req = search_events::v3::Request::new(categories);
    req.next_batch = a.next_batch;
    Ok(req)
}

/// Arguments naming a user that defaults to the acting user.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserArgs {
    /// The user; defaults to the acting user.
    #[serde(default)]
    pub user_id: Option<String>,
}

/// Arguments of `set_presence`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPresenceArgs {
    /// The new presence state: `online`, `offline` or `unavailable`.
    #[schemars(with = "String", extend("enum" = ["online", "offline", "unavailable"]))]
    pub presence: PresenceState,
    /// The status message to attach.
    #[serde(default)]
    pub status_msg: Option<String>,
    /// The user; defaults to the acting user.
    #[serde(default)]
    pub user_id: Option<String>,
}

fn build_set_presence(
    a: SetPresenceArgs,
    ctx: &OpContext<'_>,
) -> Result<set_presence::v3::Request, String> {
    let mut req = set_presence::v3::Request::new(user_or_self(a.user_id, ctx)?, a.presence);
    req.status_msg = a.status_msg;
    Ok(req)
}
