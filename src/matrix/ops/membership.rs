//! Membership operations: `invite`, `kick`, `ban`, `unban`, `join`, `join_room_by_id`,
//! `leave`, `forget`, `joined_rooms`, `joined_members`, `members`.

use ruma::api::client::membership::{
    ban_user, forget_room, get_member_events, invite_user, join_room_by_id,
    join_room_by_id_or_alias, joined_members, joined_rooms, kick_user, leave_room, unban_user,
};
use ruma::events::room::member::MembershipState;
use ruma::{OwnedRoomId, OwnedUserId};

use super::Operation;
use super::glue::{NoArgs, OpContext, TypedOp, parse_id};

pub(super) fn ops() -> Vec<Box<dyn Operation>> {
    op_list![
        TypedOp::new(
            "invite",
            "Invite a user to a room",
            ("POST", "/_matrix/client/v3/rooms/{roomId}/invite"),
            build_invite,
        ),
        TypedOp::new(
            "kick",
            "Kick a user from a room",
            ("POST", "/_matrix/client/v3/rooms/{roomId}/kick"),
            build_kick,
        ),
        TypedOp::new(
            "ban",
            "Ban a user from a room",
            ("POST", "/_matrix/client/v3/rooms/{roomId}/ban"),
            build_ban,
        ),
        TypedOp::new(
            "unban",
            "Lift the ban of a user in a room",
            ("POST", "/_matrix/client/v3/rooms/{roomId}/unban"),
            build_unban,
        ),
        TypedOp::new(
            "join",
            "Join a room by its ID or one of its aliases",
            ("POST", "/_matrix/client/v3/join/{roomIdOrAlias}"),
            build_join,
        ),
        TypedOp::new(
            "join_room_by_id",
            "Join a room by its ID",
            ("POST", "/_matrix/client/v3/rooms/{roomId}/join"),
            build_join_room_by_id,
        ),
        TypedOp::new(
            "leave",
            "Leave a room, or reject or retract an invite",
            ("POST", "/_matrix/client/v3/rooms/{roomId}/leave"),
            build_leave,
        ),
        TypedOp::new(
            "forget",
            "Forget a room the user has left",
            ("POST", "/_matrix/client/v3/rooms/{roomId}/forget"),
            |a: RoomArgs, _| Ok(forget_room::v3::Request::new(a.room_id()?)),
        ),
        TypedOp::new(
            "joined_rooms",
            "List the rooms the user has joined",
            ("GET", "/_matrix/client/v3/joined_rooms"),
            |_: NoArgs, _| Ok(joined_rooms::v3::Request::new()),
        ),
        TypedOp::new(
            "joined_members",
            "List the joined members of a room with their profiles",
            ("GET", "/_matrix/client/v3/rooms/{roomId}/joined_members"),
            |a: RoomArgs, _| Ok(joined_members::v3::Request::new(a.room_id()?)),
        ),
        TypedOp::new(
            "members",
            "Get the membership events of a room",
            ("GET", "/_matrix/client/v3/rooms/{roomId}/members"),
            build_members,
        ),
    ]
}

/// Arguments naming only a room.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoomArgs {
    /// The room ID.
    pub room_id: String,
}

impl RoomArgs {
    fn room_id(&self) -> Result<OwnedRoomId, String> {
        parse_id("room_id", &self.room_id)
    }
}

/// Arguments naming a room, a target user and an optional reason.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetArgs {
    /// The room ID.
    pub room_id: String,
    /// The user whose membership changes.
    pub user_id: String,
    /// Why the membership changes; shown to the user.
    #[serde(default)]
    pub reason: Option<String>,
}

impl TargetArgs {
    fn ids(&self) -> Result<(OwnedRoomId, OwnedUserId), String> {
        Ok((
            parse_id("room_id", &self.room_id)?,
            parse_id("user_id", &self.user_id)?,
        ))
    }
}

fn build_invite(a: TargetArgs, _: &OpContext<'_>) -> Result<invite_user::v3::Request, String> {
    let (room_id, user_id) = a.ids()?;
    let mut recipient = invite_user::v3::InviteUserId::new(user_id);
    recipient.reason = a.reason;
    Ok(invite_user::v3::Request::new(room_id, recipient.into()))
}

fn build_kick(a: TargetArgs, _: &OpContext<'_>) -> Result<kick_user::v3::Request, String> {
    let (room_id, user_id) = a.ids()?;
    let mut req = kick_user::v3::Request::new(room_id, user_id);
    req.reason = a.reason;
    Ok(req)
}

fn build_ban(a: TargetArgs, _: &OpContext<'_>) -> Result<ban_user::v3::Request, String> {
    let (room_id, user_id) = a.ids()?;
    let mut req = ban_user::v3::Request::new(room_id, user_id);
    req.reason = a.reason;
    Ok(req)
}

fn build_unban(a: TargetArgs, _: &OpContext<'_>) -> Result<unban_user::v3::Request, String> {
    let (room_id, user_id) = a.ids()?;
    let mut req = unban_user::v3::Request::new(room_id, user_id);
    req.reason = a.reason;
    Ok(req)
}

/// Arguments of `join`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinArgs {
    /// The room ID or room alias to join.
    pub room_id_or_alias: String,
    /// Servers to join through (sent as `server_name` and `via`).
    #[serde(default)]
    pub server_name: Option<Vec<String>>,
    /// Why the user joins.
    #[serde(default)]
    pub reason: Option<String>,
}

fn build_join(
    a: JoinArgs,
    _: &OpContext<'_>,
) -> Result<join_room_by_id_or_alias::v3::Request, String> {
    let mut req = join_room_by_id_or_alias::v3::Request::new(parse_id(
        "room_id_or_alias",
        &a.room_id_or_alias,
    )?);
    req.via = a
        .server_name
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, s)| parse_id(&format!("server_name[{i}]"), s))
        .collect::<Result<_, _>>()?;
    req.reason = a.reason;
    Ok(req)
}

/// Arguments naming a room and an optional reason.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoomReasonArgs {
    /// The room ID.
    pub room_id: String,
    /// Why the membership changes.
    #[serde(default)]
    pub reason: Option<String>,
}

fn build_join_room_by_id(
    a: RoomReasonArgs,
    _: &OpContext<'_>,
) -> Result<join_room_by_id::v3::Request, String> {
    let mut req = join_room_by_id::v3::Request::new(parse_id("room_id", &a.room_id)?);
    req.reason = a.reason;
    Ok(req)
}

fn build_leave(a: RoomReasonArgs, _: &OpContext<'_>) -> Result<leave_room::v3::Request, String> {
    let mut req = leave_room::v3::Request::new(parse_id("room_id", &a.room_id)?);
    req.reason = a.reason;
    Ok(req)
}

/// Arguments of `members`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MembersArgs {
    /// The room ID.
    pub room_id: String,
    /// Only return members with this membership (`join`, `invite`, `knock`, `leave`, `ban`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub membership: Option<MembershipState>,
    /// Exclude members with this membership.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub not_membership: Option<MembershipState>,
    /// A pagination token: return the membership as it was at that point.
    #[serde(default)]
    pub at: Option<String>,
}

fn build_members(
    a: MembersArgs,
    _: &OpContext<'_>,
) -> Result<get_member_events::v3::Request, String> {
    let mut req = get_member_events::v3::Request::new(parse_id("room_id", &a.room_id)?);
    req.membership = a.membership;
    req.not_membership = a.not_membership;
    req.at = a.at;
    Ok(req)
}
