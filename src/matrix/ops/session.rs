//! Session operations: `login`, `logout`, `logout_all`.

use ruma::api::client::session::{login, logout, logout_all};
use serde_json::Value;

use super::Operation;
use super::args::{JsonObject, typed_object};
use super::glue::{NoArgs, OpContext, TypedOp};

pub(super) fn ops() -> Vec<Box<dyn Operation>> {
    op_list![
        TypedOp::new(
            "login",
            "Log in and obtain an access token for a new or existing device",
            ("POST", "/_matrix/client/v3/login"),
            build_login,
        ),
        TypedOp::new(
            "logout",
            "Invalidate the access token in use and delete its device",
            ("POST", "/_matrix/client/v3/logout"),
            |_: NoArgs, _| Ok(logout::v3::Request::new()),
        ),
        TypedOp::new(
            "logout_all",
            "Invalidate all access tokens of the user and delete all their devices",
            ("POST", "/_matrix/client/v3/logout/all"),
            |_: NoArgs, _| Ok(logout_all::v3::Request::new()),
        ),
    ]
}

/// Arguments of `login`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginArgs {
    /// The login type; defaults to `m.login.password`.
    #[serde(default, rename = "type")]
    pub login_type: Option<String>,
    /// The user to log in as: a localpart or a full user ID (sent as an `m.id.user`
    /// identifier). Mutually exclusive with `identifier`.
    #[serde(default)]
    pub user: Option<String>,
    /// The user identifier object, sent as given, e.g. `{type: m.id.user, user: alice}`.
    #[serde(default)]
    pub identifier: Option<JsonObject>,
    /// The password (for `m.login.password`).
    #[serde(default)]
    pub password: Option<String>,
    /// The login token (for `m.login.token`).
    #[serde(default)]
    pub token: Option<String>,
    /// ID of the client device; the server generates one if absent.
    #[serde(default)]
    pub device_id: Option<String>,
    /// A display name to assign to a newly created device.
    #[serde(default)]
    pub initial_device_display_name: Option<String>,
    /// If true, the client supports refresh tokens.
    #[serde(default)]
    pub refresh_token: Option<bool>,
}

fn build_login(a: LoginArgs, _: &OpContext<'_>) -> Result<login::v3::Request, String> {
    let login_type = a
        .login_type
        .unwrap_or_else(|| "m.login.password".to_owned());
    let mut data = JsonObject::new();
    data.insert("type".into(), Value::String(login_type));
    match (a.user, a.identifier) {
        (Some(_), Some(_)) => return Err("give either `user` or `identifier`, not both".into()),
        (Some(user), None) => {
            let mut identifier = JsonObject::new();
            identifier.insert("type".into(), Value::String("m.id.user".into()));
            identifier.insert("user".into(), Value::String(user));
            data.insert("identifier".into(), Value::Object(identifier));
        }
        (None, Some(identifier)) => {
            data.insert("identifier".into(), Value::Object(identifier));
        }
        (None, None) => {}
    }
    if let Some(password) = a.password {
        data.insert("password".into(), Value::String(password));
    }
    if let Some(token) = a.token {
        data.insert("token".into(), Value::String(token));
    }
    let info: login::v3::LoginInfo = typed_object("login", data)?;
    let mut req = login::v3::Request::new(info);
    req.device_id = a.device_id.map(Into::into);
    req.initial_device_display_name = a.initial_device_display_name;
    req.refresh_token = a.refresh_token.unwrap_or(false);
    Ok(req)
}
