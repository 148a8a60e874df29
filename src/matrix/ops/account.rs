//! Account operations: `register`, `whoami`.

use ruma::api::client::account::{register, whoami};
use ruma::api::client::uiaa::AuthData;

use super::Operation;
use super::args::{JsonObject, typed_object};
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
