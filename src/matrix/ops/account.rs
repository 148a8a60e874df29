//! Account operations: `register`, `whoami`, `change_password`, `deactivate`,
//! `register_available`, `login_types`, `refresh`, `get_3pids`, `whois`.

use ruma::api::client::account::{
    change_password, deactivate, get_3pids, get_username_availability, register, whoami,
};
use ruma::api::client::admin::get_user_info;
use ruma::api::client::session::{get_login_types, refresh_token};
use ruma::api::client::uiaa::AuthData;

use super::Operation;
use super::args::{JsonObject, typed_object, user_or_self};
use super::glue::{NoArgs, OpContext, TypedOp};

pub(super) fn ops() -> Vec<Box<dyn Operation>> {
    op_list![
        TypedOp::new(
            "register",
            "Register a new user account, possibly through user-interactive authentication",
            ("POST", "/_matrix/client/v3/register"),
            build_register,
        )
        .with_uia(),
        TypedOp::new(
            "whoami",
            "Get the user ID and device ID that own the access token",
            ("GET", "/_matrix/client/v3/account/whoami"),
            |_: NoArgs, _| Ok(whoami::v3::Request::new()),
        ),
        TypedOp::new(
            "change_password",
            "Change the password of the account, possibly through user-interactive authentication",
            ("POST", "/_matrix/client/v3/account/password"),
            build_change_password,
        )
        .with_uia(),
        TypedOp::new(
            "deactivate",
            "Deactivate the account, possibly through user-interactive authentication",
            ("POST", "/_matrix/client/v3/account/deactivate"),
            build_deactivate,
        )
        .with_uia(),
        TypedOp::new(
            "register_available",
            "Check whether a username is available for registration",
            ("GET", "/_matrix/client/v3/register/available"),
            |a: RegisterAvailableArgs, _| Ok(get_username_availability::v3::Request::new(
                a.username
            )),
        ),
        TypedOp::new(
            "login_types",
            "Get the login types the server supports",
            ("GET", "/_matrix/client/v3/login"),
            |_: NoArgs, _| Ok(get_login_types::v3::Request::new()),
        ),
        TypedOp::new(
            "refresh",
            "Exchange a refresh token for a new access token",
            ("POST", "/_matrix/client/v3/refresh"),
            |a: RefreshArgs, _| Ok(refresh_token::v3::Request::new(a.refresh_token)),
        ),
        TypedOp::new(
            "get_3pids",
            "List the third-party identifiers bound to the account",
            ("GET", "/_matrix/client/v3/account/3pid"),
            |_: NoArgs, _| Ok(get_3pids::v3::Request::new()),
        ),
        TypedOp::new(
            "whois",
            "Get information about the sessions and devices of a user",
            ("GET", "/_matrix/client/v3/admin/whois/{userId}"),
            |a: WhoisArgs, ctx| Ok(get_user_info::v3::Request::new(user_or_self(
                a.user_id, ctx
            )?)),
        ),
    ]
}

/// Arguments of `register`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterArgs {
    /// The basis for the localpart of the desired user ID.
    #[serde(default)]
    pub username: Option<String>,
    /// The desired password for the account.
    #[serde(default)]
    pub password: Option<String>,
    /// ID of the client device; the server generates one if absent.
    #[serde(default)]
    pub device_id: Option<String>,
    /// A display name to assign to the newly created device.
    #[serde(default)]
    pub initial_device_display_name: Option<String>,
    /// If true, no access token or device is returned (`inhibit_login`).
    #[serde(default)]
    pub inhibit_login: Option<bool>,
    /// If true, the client supports refresh tokens.
    #[serde(default)]
    pub refresh_token: Option<bool>,
    /// The kind of account to register: `user` (default) or `guest` (query parameter).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub kind: Option<register::RegistrationKind>,
    /// The user-interactive-authentication `auth` dict, e.g.
    /// `{type: m.login.dummy, session: ...}`.
    #[serde(default)]
    pub auth: Option<JsonObject>,
}

fn build_register(a: RegisterArgs, _: &OpContext<'_>) -> Result<register::v3::Request, String> {
    let mut req = register::v3::Request::new();
    req.username = a.username;
    req.password = a.password;
    req.device_id = a.device_id.map(Into::into);
    req.initial_device_display_name = a.initial_device_display_name;
    req.inhibit_login = a.inhibit_login.unwrap_or(false);
    req.refresh_token = a.refresh_token.unwrap_or(false);
    if let Some(kind) = a.kind {
        req.kind = kind;
    }
    if let Some(auth) = a.auth {
        req.auth = Some(typed_object::<AuthData>("auth", auth)?);
    }
    Ok(req)
}

/// Parse an optional user-interactive-authentication `auth` dict.
pub(super) fn auth_data(auth: Option<JsonObject>) -> Result<Option<AuthData>, String> {
    auth.map(|auth| typed_object::<AuthData>("auth", auth))
        .transpose()
}

/// Arguments of `change_password`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordArgs {
    /// The new password for the account.
    pub new_password: String,
    /// Whether the other devices of the user are logged out (the server's default is true).
    #[serde(default)]
    pub logout_devices: Option<bool>,
    /// The user-interactive-authentication `auth` dict, e.g.
    /// `{type: m.login.password, identifier: ..., password: ..., session: ...}`.
    #[serde(default)]
    pub auth: Option<JsonObject>,
}

fn build_change_password(
    a: ChangePasswordArgs,
    _: &OpContext<'_>,
) -> Result<change_password::v3::Request, String> {
    let mut req = change_password::v3::Request::new(a.new_password);
    if let Some(logout_devices) = a.logout_devices {
        req.logout_devices = logout_devices;
    }
    req.auth = auth_data(a.auth)?;
    Ok(req)
}

/// Arguments of `deactivate`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeactivateArgs {
    /// The user-interactive-authentication `auth` dict.
    #[serde(default)]
    pub auth: Option<JsonObject>,
    /// Whether the server should also erase the user's data (events, profile) where it can.
    #[serde(default)]
    pub erase: Option<bool>,
}

fn build_deactivate(
    a: DeactivateArgs,
    _: &OpContext<'_>,
) -> Result<deactivate::v3::Request, String> {
    let mut req = deactivate::v3::Request::new();
    req.auth = auth_data(a.auth)?;
    req.erase = a.erase.unwrap_or(false);
    Ok(req)
}

/// Arguments of `register_available`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterAvailableArgs {
    /// The username (localpart) to check.
    pub username: String,
}

/// Arguments of `refresh`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshArgs {
    /// The refresh token returned by `login` or `register` (or a previous `refresh`).
    pub refresh_token: String,
}

/// Arguments of `whois`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhoisArgs {
    /// The user to look up; defaults to the acting user.
    #[serde(default)]
    pub user_id: Option<String>,
}
