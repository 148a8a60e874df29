//! Profile operations: `get_profile`, `get_displayname`, `set_displayname`,
//! `get_avatar_url`, `set_avatar_url`.
//!
//! The display name and avatar URL use ruma's generic profile-field endpoints, which build
//! `/v3/profile/{userId}/displayname` and `/avatar_url` for these two fields.

use ruma::OwnedMxcUri;
use ruma::api::client::profile::{get_profile, get_profile_field, set_profile_field};
use ruma::profile::{ProfileFieldName, ProfileFieldValue};

use super::Operation;
use super::args::user_or_self;
use super::glue::{OpContext, TypedOp};

pub(super) fn ops() -> Vec<Box<dyn Operation>> {
    op_list![
        TypedOp::new(
            "get_profile",
            "Get the profile of a user",
            ("GET", "/_matrix/client/v3/profile/{userId}"),
            |a: UserArgs, ctx| Ok(get_profile::v3::Request::new(user_or_self(a.user_id, ctx)?)),
        ),
        TypedOp::new(
            "get_displayname",
            "Get the display name of a user",
            ("GET", "/_matrix/client/v3/profile/{userId}/displayname"),
            |a: UserArgs, ctx| {
                Ok(get_profile_field::v3::Request::new(
                    user_or_self(a.user_id, ctx)?,
                    ProfileFieldName::DisplayName,
                ))
            },
        ),
        TypedOp::new(
            "set_displayname",
            "Set the display name of a user",
            ("PUT", "/_matrix/client/v3/profile/{userId}/displayname"),
            build_set_displayname,
        ),
        TypedOp::new(
            "get_avatar_url",
            "Get the avatar URL of a user",
            ("GET", "/_matrix/client/v3/profile/{userId}/avatar_url"),
            |a: UserArgs, ctx| {
                Ok(get_profile_field::v3::Request::new(
                    user_or_self(a.user_id, ctx)?,
                    ProfileFieldName::AvatarUrl,
                ))
            },
        ),
        TypedOp::new(
            "set_avatar_url",
            "Set the avatar URL of a user",
            ("PUT", "/_matrix/client/v3/profile/{userId}/avatar_url"),
            build_set_avatar_url,
        ),
    ]
}

/// Arguments naming a user.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserArgs {
    /// The user; defaults to the acting user.
    #[serde(default)]
    pub user_id: Option<String>,
}

/// Arguments of `set_displayname`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetDisplaynameArgs {
    /// The user; defaults to the acting user.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The new display name.
    pub displayname: String,
}

fn build_set_displayname(
    a: SetDisplaynameArgs,
    ctx: &OpContext<'_>,
) -> Result<set_profile_field::v3::Request, String> {
    Ok(set_profile_field::v3::Request::new(
        user_or_self(a.user_id, ctx)?,
        ProfileFieldValue::DisplayName(a.displayname),
    ))
}

/// Arguments of `set_avatar_url`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetAvatarUrlArgs {
    /// The user; defaults to the acting user.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The new avatar URL (an `mxc://` URI).
    pub avatar_url: String,
}

fn build_set_avatar_url(
    a: SetAvatarUrlArgs,
    ctx: &OpContext<'_>,
) -> Result<set_profile_field::v3::Request, String> {
    Ok(set_profile_field::v3::Request::new(
        user_or_self(a.user_id, ctx)?,
        ProfileFieldValue::AvatarUrl(OwnedMxcUri::from(a.avatar_url)),
    ))
}
