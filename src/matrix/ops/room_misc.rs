//! Room-level operations beyond messaging: `space_hierarchy`, `upgrade_room`, `knock`,
//! `set_read_marker`, `get_tags`, `set_tag`, `delete_tag`, `get_relations`, `get_threads`,
//! `timestamp_to_event`, `get_room_summary`.

use ruma::api::Direction;
use ruma::api::client::knock::knock_room;
use ruma::api::client::read_marker::set_read_marker;
use ruma::api::client::relations::{
    get_relating_events, get_relating_events_with_rel_type,
    get_relating_events_with_rel_type_and_event_type,
};
use ruma::api::client::room::{get_event_by_timestamp, get_summary, upgrade_room};
use ruma::api::client::space::get_hierarchy;
use ruma::api::client::tag::{create_tag, delete_tag, get_tags};
use ruma::api::client::threads::get_threads;
use ruma::events::TimelineEventType;
use ruma::events::relation::RelationType;
use ruma::events::tag::TagInfo;
use ruma::{MilliSecondsSinceUnixEpoch, OwnedEventId, OwnedRoomId, UInt};

use super::Operation;
use super::args::{parse_ids, uint, user_or_self};
use super::dispatch::{Variants, has};
use super::glue::{OpContext, TypedOp, parse_id};

/// Method and path template of `get_relations` (the most specific form).
const RELATIONS_ENDPOINT: (&str, &str) = (
    "GET",
    "/_matrix/client/v1/rooms/{roomId}/relations/{eventId}/{relType}/{eventType}",
);

pub(super) fn ops() -> Vec<Box<dyn Operation>> {
    op_list![
        TypedOp::new(
            "space_hierarchy",
            "Get the rooms of a space and its subspaces, depth first",
            ("GET", "/_matrix/client/v1/rooms/{roomId}/hierarchy"),
            build_space_hierarchy,
        ),
        TypedOp::new(
            "upgrade_room",
            "Upgrade a room to a new room version",
            ("POST", "/_matrix/client/v3/rooms/{roomId}/upgrade"),
            |a: UpgradeRoomArgs, _| Ok(upgrade_room::v3::Request::new(
                parse_id("room_id", &a.room_id)?,
                parse_id("new_version", &a.new_version)?,
            )),
        ),
        TypedOp::new(
            "knock",
            "Knock on a room to ask to be invited",
            ("POST", "/_matrix/client/v3/knock/{roomIdOrAlias}"),
            build_knock,
        ),
        TypedOp::new(
            "set_read_marker",
            "Set the fully-read marker and read receipts of a room",
            ("POST", "/_matrix/client/v3/rooms/{roomId}/read_markers"),
            build_set_read_marker,
        ),
        TypedOp::new(
            "get_tags",
            "List the tags the user set on a room",
            (
                "GET",
                "/_matrix/client/v3/user/{userId}/rooms/{roomId}/tags"
            ),
            |a: GetTagsArgs, ctx| Ok(get_tags::v3::Request::new(
                user_or_self(a.user_id, ctx)?,
                parse_id("room_id", &a.room_id)?,
            )),
        ),
        TypedOp::new(
            "set_tag",
            "Add a tag to a room",
            (
                "PUT",
                "/_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag}"
            ),
            build_set_tag,
        ),
        TypedOp::new(
            "delete_tag",
            "Remove a tag from a room",
            (
                "DELETE",
                "/_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag}"
            ),
            |a: DeleteTagArgs, ctx| Ok(delete_tag::v3::Request::new(
                user_or_self(a.user_id, ctx)?,
                parse_id("room_id", &a.room_id)?,
                a.tag,
            )),
        ),
        Variants {
            name: "get_relations",
            summary: "Get the child events of an event, optionally by relation type and event type",
            endpoint: RELATIONS_ENDPOINT,
            select: |args| {
                if has(args, "event_type") {
                    2
                } else {
                    usize::from(has(args, "rel_type"))
                }
            },
            variants: op_list![
                TypedOp::new(
                    "get_relations",
                    "Get the child events of an event",
                    (
                        "GET",
                        "/_matrix/client/v1/rooms/{roomId}/relations/{eventId}"
                    ),
                    build_relations,
                ),
                TypedOp::new(
                    "get_relations",
                    "Get the child events of an event with a relation type",
                    (
                        "GET",
                        "/_matrix/client/v1/rooms/{roomId}/relations/{eventId}/{relType}"
                    ),
                    build_relations_with_rel_type,
                ),
                TypedOp::new(
                    "get_relations",
                    "Get the child events of an event with a relation type and event type",
                    RELATIONS_ENDPOINT,
                    build_relations_with_event_type,
                ),
            ],
        },
        TypedOp::new(
            "get_threads",
            "List the threads of a room, most recently active first",
            ("GET", "/_matrix/client/v1/rooms/{roomId}/threads"),
            build_get_threads,
        ),
        TypedOp::new(
            "timestamp_to_event",
            "Find the event of a room closest to a timestamp",
            (
                "GET",
                "/_matrix/client/v1/rooms/{roomId}/timestamp_to_event"
            ),
            build_timestamp_to_event,
        ),
        TypedOp::new(
            "get_room_summary",
            "Get a summary of a room by its ID or alias",
            ("GET", "/_matrix/client/v1/room_summary/{roomIdOrAlias}"),
            build_get_room_summary,
        ),
    ]
}

/// Arguments of `space_hierarchy`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpaceHierarchyArgs {
    /// The room ID of the space.
    pub room_id: String,
    /// The pagination token (`next_batch` of a previous page).
    #[serde(default)]
    pub from: Option<String>,
    /// The maximum number of rooms per page.
    #[serde(default)]
    pub limit: Option<u32>,
    /// How deep into subspaces to go.
    #[serde(default)]
    pub max_depth: Option<u32>,
    /// Whether to follow only `suggested` children.
    #[serde(default)]
    pub suggested_only: Option<bool>,
}

fn build_space_hierarchy(
    a: SpaceHierarchyArgs,
    _: &OpContext<'_>,
) -> Result<get_hierarchy::v1::Request, String> {
    let mut req = get_hierarchy::v1::Request::new(parse_id("room_id", &a.room_id)?);
    req.from = a.from;
    req.limit = a.limit.map(uint);
    req.max_depth = a.max_depth.map(uint);
    req.suggested_only = a.suggested_only.unwrap_or(false);
    Ok(req)
}

/// Arguments of `upgrade_room`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpgradeRoomArgs {
    /// The room ID.
    pub room_id: String,
    /// The room version to upgrade to, e.g. `11`.
    pub new_version: String,
}

/// Arguments of `knock`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KnockArgs {
    /// The room ID or room alias to knock on.
    pub room_id_or_alias: String,
    /// Why the user knocks.
    #[serde(default)]
    pub reason: Option<String>,
    /// Servers to knock through (the `via` query parameter).
    #[serde(default)]
    pub via: Option<Vec<String>>,
}

fn build_knock(a: KnockArgs, _: &OpContext<'_>) -> Result<knock_room::v3::Request, String> {
    let mut req = knock_room::v3::Request::new(parse_id("room_id_or_alias", &a.room_id_or_alias)?);
    req.reason = a.reason;
    req.via = parse_ids("via", &a.via.unwrap_or_default())?;
    Ok(req)
}

/// Arguments of `set_read_marker`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetReadMarkerArgs {
    /// The room ID.
    pub room_id: String,
    /// The event the fully-read marker moves to (`m.fully_read`).
    #[serde(default)]
    pub fully_read: Option<String>,
    /// The event of the public read receipt (`m.read`).
    #[serde(default)]
    pub read: Option<String>,
    /// The event of the private read receipt (`m.read.private`).
    #[serde(default)]
    pub read_private: Option<String>,
}

fn event_id(what: &str, value: Option<String>) -> Result<Option<OwnedEventId>, String> {
    value.map(|v| parse_id(what, &v)).transpose()
}

fn build_set_read_marker(
    a: SetReadMarkerArgs,
    _: &OpContext<'_>,
) -> Result<set_read_marker::v3::Request, String> {
    let mut req = set_read_marker::v3::Request::new(parse_id("room_id", &a.room_id)?);
    req.fully_read = event_id("fully_read", a.fully_read)?;
    req.read_receipt = event_id("read", a.read)?;
    req.private_read_receipt = event_id("read_private", a.read_private)?;
    Ok(req)
}

/// Arguments of `get_tags`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetTagsArgs {
    /// The room ID.
    pub room_id: String,
    /// The user; defaults to the acting user.
    #[serde(default)]
    pub user_id: Option<String>,
}

/// Arguments of `set_tag`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetTagArgs {
    /// The room ID.
    pub room_id: String,
    /// The tag, e.g. `m.favourite` or `u.work`.
    pub tag: String,
    /// The position of the room among rooms with this tag, a number from 0 to 1.
    #[serde(default)]
    pub order: Option<f64>,
    /// The user; defaults to the acting user.
    #[serde(default)]
    pub user_id: Option<String>,
}

fn build_set_tag(a: SetTagArgs, ctx: &OpContext<'_>) -> Result<create_tag::v3::Request, String> {
    let mut info = TagInfo::new();
    info.order = a.order;
    Ok(create_tag::v3::Request::new(
        user_or_self(a.user_id, ctx)?,
        parse_id("room_id", &a.room_id)?,
        a.tag,
        info,
    ))
}

/// Arguments of `delete_tag`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteTagArgs {
    /// The room ID.
    pub room_id: String,
    /// The tag to remove.
    pub tag: String,
    /// The user; defaults to the acting user.
    #[serde(default)]
    pub user_id: Option<String>,
}

/// Arguments of `get_relations`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RelationsArgs {
    /// The room ID.
    pub room_id: String,
    /// The parent event.
    pub event_id: String,
    /// Only return events with this relation type, e.g. `m.annotation` or `m.thread`.
    #[serde(default)]
    pub rel_type: Option<String>,
    /// Only return events of this type (requires `rel_type`).
    #[serde(default)]
    pub event_type: Option<String>,
    /// The pagination token to start from.
    #[serde(default)]
    pub from: Option<String>,
    /// The pagination token to stop at.
    #[serde(default)]
    pub to: Option<String>,
    /// The maximum number of events to return.
    #[serde(default)]
    pub limit: Option<u32>,
    /// The direction: `b` (backwards, default) or `f` (forwards).
    #[serde(default)]
    #[schemars(with = "Option<String>", extend("enum" = ["b", "f"]))]
    pub dir: Option<Direction>,
    /// Whether to include events that relate to the parent indirectly.
    #[serde(default)]
    pub recurse: Option<bool>,
}

impl RelationsArgs {
    fn ids(&self) -> Result<(OwnedRoomId, OwnedEventId), String> {
        Ok((
            parse_id("room_id", &self.room_id)?,
            parse_id("event_id", &self.event_id)?,
        ))
    }
}

/// Copy the pagination arguments of `get_relations` onto any of its request forms.
macro_rules! relations_paging {
    ($req:ident, $a:ident) => {
        $req.from = $a.from;
        $req.to = $a.to;
        $req.limit = $a.limit.map(uint);
        $req.dir = $a.dir.unwrap_or(Direction::Backward);
        $req.recurse = $a.recurse.unwrap_or(false);
    };
}

fn build_relations(
    a: RelationsArgs,
    _: &OpContext<'_>,
) -> Result<get_relating_events::v1::Request, String> {
    let (room_id, event_id) = a.ids()?;
    let mut req = get_relating_events::v1::Request::new(room_id, event_id);
    relations_paging!(req, a);
    Ok(req)
}

fn build_relations_with_rel_type(
    a: RelationsArgs,
    _: &OpContext<'_>,
) -> Result<get_relating_events_with_rel_type::v1::Request, String> {
    let (room_id, event_id) = a.ids()?;
    let Some(rel_type) = a.rel_type.clone() else {
        return Err("`rel_type` is required for this form".into());
    };
    let mut req = get_relating_events_with_rel_type::v1::Request::new(
        room_id,
        event_id,
        RelationType::from(rel_type),
    );
    relations_paging!(req, a);
    Ok(req)
}

fn build_relations_with_event_type(
    a: RelationsArgs,
    _: &OpContext<'_>,
) -> Result<get_relating_events_with_rel_type_and_event_type::v1::Request, String> {
    let (room_id, event_id) = a.ids()?;
    let (Some(rel_type), Some(event_type)) = (a.rel_type.clone(), a.event_type.clone()) else {
        return Err("`event_type` needs `rel_type`".into());
    };
    let mut req = get_relating_events_with_rel_type_and_event_type::v1::Request::new(
        room_id,
        event_id,
        RelationType::from(rel_type),
        TimelineEventType::from(event_type),
    );
    relations_paging!(req, a);
    Ok(req)
}

/// Arguments of `get_threads`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetThreadsArgs {
    /// The room ID.
    pub room_id: String,
    /// Which threads: `all` (default) or `participated`.
    #[serde(default)]
    #[schemars(extend("enum" = ["all", "participated"]))]
    pub include: Option<String>,
    /// The pagination token to continue from.
    #[serde(default)]
    pub from: Option<String>,
    /// The maximum number of threads to return.
    #[serde(default)]
    pub limit: Option<u32>,
}

fn build_get_threads(
    a: GetThreadsArgs,
    _: &OpContext<'_>,
) -> Result<get_threads::v1::Request, String> {
    let mut req = get_threads::v1::Request::new(parse_id("room_id", &a.room_id)?);
    if let Some(include) = a.include {
        req.include = get_threads::v1::IncludeThreads::from(include);
    }
    req.from = a.from;
    req.limit = a.limit.map(uint);
    Ok(req)
}

/// Arguments of `timestamp_to_event`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimestampToEventArgs {
    /// The room ID.
    pub room_id: String,
    /// The timestamp to search from, in milliseconds since the Unix epoch.
    pub ts: u64,
    /// The direction to search: `f` (forwards) or `b` (backwards).
    #[schemars(with = "String", extend("enum" = ["b", "f"]))]
    pub dir: Direction,
}

fn build_timestamp_to_event(
    a: TimestampToEventArgs,
    _: &OpContext<'_>,
) -> Result<get_event_by_timestamp::v1::Request, String> {
    let ts = UInt::try_from(a.ts).map_err(|e| format!("`ts` is out of range: {e}"))?;
    Ok(get_event_by_timestamp::v1::Request::new(
        parse_id("room_id", &a.room_id)?,
        MilliSecondsSinceUnixEpoch(ts),
        a.dir,
    ))
}

/// Arguments of `get_room_summary`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetRoomSummaryArgs {
    /// The room ID or room alias.
    pub room_id_or_alias: String,
    /// Servers to ask if the room is not known locally.
    #[serde(default)]
    pub via: Option<Vec<String>>,
}

fn build_get_room_summary(
    a: GetRoomSummaryArgs,
    _: &OpContext<'_>,
) -> Result<get_summary::v1::Request, String> {
    Ok(get_summary::v1::Request::new(
        parse_id("room_id_or_alias", &a.room_id_or_alias)?,
        parse_ids("via", &a.via.unwrap_or_default())?,
    ))
}
