//! Generic glue between ruma's request/response traits and the [`Operation`] trait.

use std::borrow::Cow;
use std::marker::PhantomData;

use ruma::api::auth_scheme::{
    AccessToken, AccessTokenOptional, AppserviceToken, AppserviceTokenOptional, AuthScheme,
    NoAccessToken, NoAuthentication, SendAccessToken,
};
use ruma::api::path_builder::{PathBuilder, SinglePath, VersionHistory};
use ruma::api::{IncomingResponseExt, OutgoingRequest, OutgoingRequestExt, SupportedVersions};
use serde::de::DeserializeOwned;

use super::{BuildError, Operation, SchemaMismatch};

/// What an operation needs to know about the caller and the server.
#[derive(Debug, Clone, Copy)]
pub struct OpContext<'a> {
    /// Base URL of the client-server API, without a trailing slash.
    pub base_url: &'a str,
    /// Access token of the acting user, if any.
    pub access_token: Option<&'a str>,
    /// Fully qualified user ID of the acting user, if any (the default for `user_id` args).
    pub user_id: Option<&'a str>,
    /// What the server advertised in `/versions`.
    pub versions: &'a SupportedVersions,
    /// Where and how the target speaks sliding sync, when it does.
    pub sliding_sync: Option<&'a crate::matrix::sliding_sync::SlidingSyncTarget>,
}

/// Supplies ruma's authentication input from an optional token.
pub trait AuthInput: AuthScheme {
    /// The input for this scheme.
    fn input(token: Option<&str>) -> Self::Input<'_>;
}

impl AuthInput for NoAuthentication {
    fn input(_token: Option<&str>) -> Self::Input<'_> {}
}

macro_rules! token_auth_input {
    ($send:ident: $($scheme:ty),*) => {$(
        impl AuthInput for $scheme {
            fn input(token: Option<&str>) -> Self::Input<'_> {
                match token {
                    Some(t) => SendAccessToken::$send(t),
                    None => SendAccessToken::None,
                }
            }
        }
    )*};
}
// A step run `as:` an actor acts as that user: on endpoints whose authentication is optional
// or not needed (profile look-ups, the public room list) the token is sent too, so a server
// that answers authenticated users differently (or requires authentication) is judged on
// the request the scenario means. A step without `as:` sends none.
token_auth_input!(Always: AccessToken, AccessTokenOptional, NoAccessToken);
// For the appservice schemes ruma sends the token only when it is an appservice token
// (`SendAccessToken::Appservice`), so a user's token is never attached to `register`/`login`.
token_auth_input!(IfRequired: AppserviceToken, AppserviceTokenOptional);

/// Supplies ruma's path-builder input from the server's supported versions.
pub trait PathInput: PathBuilder {
    /// The input for this builder.
    fn input(versions: &SupportedVersions) -> Self::Input<'_>;
}

impl PathInput for VersionHistory {
    fn input(versions: &SupportedVersions) -> Self::Input<'_> {
        Cow::Borrowed(versions)
    }
}

impl PathInput for SinglePath {
    fn input(_versions: &SupportedVersions) -> Self::Input<'_> {}
}

/// An operation defined by an argument type `A` and a builder from `A` to the ruma request `R`.
pub struct TypedOp<A, R> {
    /// Name used in scenario files.
    pub name: &'static str,
    /// One line saying what it does.
    pub summary: &'static str,
    /// Method and path template.
    pub endpoint: (&'static str, &'static str),
    /// Whether a 401 with a user-interactive-auth body is a valid answer.
    pub uia: bool,
    /// Builds the ruma request.
    pub build: fn(A, &OpContext<'_>) -> Result<R, String>,
    _marker: PhantomData<fn() -> (A, R)>,
}

impl<A, R> TypedOp<A, R> {
    /// Define an operation.
    pub const fn new(
        name: &'static str,
        summary: &'static str,
        endpoint: (&'static str, &'static str),
        build: fn(A, &OpContext<'_>) -> Result<R, String>,
    ) -> Self {
        Self {
            name,
            summary,
            endpoint,
            uia: false,
            build,
            _marker: PhantomData,
        }
    }

    /// Mark the endpoint as one that may answer 401 with a user-interactive-auth body.
    pub const fn with_uia(mut self) -> Self {
        self.uia = true;
        self
    }
}

impl<A, R> Operation for TypedOp<A, R>
where
    A: DeserializeOwned + schemars::JsonSchema + 'static,
    R: OutgoingRequest + 'static,
    R::Authentication: AuthInput,
    R::PathBuilder: PathInput,
{
    fn name(&self) -> &'static str {
        self.name
    }

    fn summary(&self) -> &'static str {
        self.summary
    }

    fn endpoint(&self) -> (&'static str, &'static str) {
        self.endpoint
    }

    fn args_schema(&self) -> schemars::Schema {
        schemars::schema_for!(A)
    }

    fn build(
        &self,
        args: &serde_json::Value,
        ctx: &OpContext<'_>,
    ) -> Result<http::Request<Vec<u8>>, BuildError> {
        let args: A = serde_json::from_value(args.clone()).map_err(|e| BuildError {
            pointer: String::new(),
            message: format!("invalid arguments for `{}`: {e}", self.name),
        })?;
        let request = (self.build)(args, ctx).map_err(|message| BuildError {
            pointer: String::new(),
            message,
        })?;
        request
            .try_into_http_request::<Vec<u8>>(
                ctx.base_url,
                R::Authentication::input(ctx.access_token),
                R::PathBuilder::input(ctx.versions),
            )
            .map_err(|e| BuildError {
                pointer: String::new(),
                message: format!("cannot build the `{}` request: {e}", self.name),
            })
    }

    fn check_response(&self, response: http::Response<&[u8]>) -> Result<(), SchemaMismatch> {
        let status = response.status().as_u16();
        if status >= 400 {
            return check_error_body(status, response.body(), self.uia);
        }
        <R::IncomingResponse as IncomingResponseExt>::try_from_http_response(response)
            .map(|_: R::IncomingResponse| ())
            .map_err(|e| SchemaMismatch {
                detail: error_chain(&e),
            })
    }
}

/// An error answer must carry the standard error body (`errcode`, optional `error`); a 401
/// from an endpoint with user-interactive auth may carry the UIA body instead.
pub fn check_error_body(status: u16, body: &[u8], uia: bool) -> Result<(), SchemaMismatch> {
    if uia
        && status == 401
        && serde_json::from_slice::<ruma::api::client::uiaa::UiaaInfo>(body).is_ok()
    {
        return Ok(());
    }
    // The spec's standard error body requires only `errcode`; `error` (the human-readable
    // message) is optional, while ruma's `StandardErrorBody` insists on it.
    let mismatch = |detail: String| SchemaMismatch {
        detail: format!("error body (HTTP {status}): {detail}"),
    };
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| mismatch(format!("not JSON: {e}")))?;
    let obj = value
        .as_object()
        .ok_or_else(|| mismatch("not a JSON object".into()))?;
    match obj.get("errcode") {
        Some(serde_json::Value::String(_)) => {}
        Some(other) => {
            return Err(mismatch(format!(
                "`errcode` must be a string, found {other}"
            )));
        }
        None => return Err(mismatch("missing `errcode`".into())),
    }
    match obj.get("error") {
        None | Some(serde_json::Value::String(_)) => Ok(()),
        Some(other) => Err(mismatch(format!("`error` must be a string, found {other}"))),
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

/// Deserialize the arguments of an operation that takes none; rejects unknown keys.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// Parse a string argument with a ruma identifier type, naming the argument on failure.
pub fn parse_id<T>(what: &str, value: &str) -> Result<T, String>
where
    T: TryFrom<String>,
    T::Error: std::fmt::Display,
{
    T::try_from(value.to_owned()).map_err(|e| format!("`{what}` is not valid ({value:?}): {e}"))
}
