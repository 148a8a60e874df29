//! `sliding_sync`: one dialect-neutral operation for every sliding-sync dialect. Arguments are
//! translated for the dialect the target speaks; responses are checked against that dialect's
//! schema (ruma's types for the simplified dialect) and normalised for the scenario's checks.

use serde_json::Value;

use super::glue::{OpContext, check_error_body};
use super::{BuildError, Operation, SchemaMismatch};
use crate::matrix::sliding_sync::request::{SlidingSyncArgs, translate};
use crate::matrix::sliding_sync::{Dialect, normalize};

/// The `sliding_sync` operation.
pub struct SlidingSyncOp;

impl Operation for SlidingSyncOp {
    fn name(&self) -> &'static str {
        "sliding_sync"
    }

    fn summary(&self) -> &'static str {
        "Sliding sync (MSC4186 and its dialects), translated for the dialect the target speaks"
    }

    fn endpoint(&self) -> (&'static str, &'static str) {
        (
            "POST",
            "/_matrix/client/v4/sync (or the dialect's unstable path)",
        )
    }

    fn args_schema(&self) -> schemars::Schema {
        schemars::schema_for!(SlidingSyncArgs)
    }

    fn build(
        &self,
        args: &Value,
        ctx: &OpContext<'_>,
    ) -> Result<http::Request<Vec<u8>>, BuildError> {
        let fail = |message: String| BuildError {
            pointer: String::new(),
            message,
        };
        let args: SlidingSyncArgs = serde_json::from_value(args.clone())
            .map_err(|e| fail(format!("invalid arguments for `sliding_sync`: {e}")))?;
        let target = ctx
            .sliding_sync
            .ok_or_else(|| fail("the target speaks no sliding-sync dialect".into()))?;
        let wire = translate(&args, target.dialect);
        let mut url = format!("{}{}", target.base_url, target.dialect.path());
        if !wire.query.is_empty() {
            let pairs: Vec<String> = wire
                .query
                .iter()
                .map(|(k, v)| format!("{k}={}", crate::matrix::encode_component(v)))
                .collect();
            url.push('?');
            url.push_str(&pairs.join("&"));
        }
        let body = serde_json::to_vec(&wire.body).map_err(|e| fail(e.to_string()))?;
        let mut builder = http::Request::builder()
            .method(http::Method::POST)
            .uri(url.as_str())
            .header(http::header::CONTENT_TYPE, "application/json");
        if let Some(token) = ctx.access_token {
            builder = builder.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        builder
            .body(body)
            .map_err(|e| fail(format!("invalid request {url:?}: {e}")))
    }

    fn check_response(&self, response: http::Response<&[u8]>) -> Result<(), SchemaMismatch> {
        check(response, Dialect::V4)
    }

    fn check_response_in(
        &self,
        response: http::Response<&[u8]>,
        ctx: &OpContext<'_>,
    ) -> Result<(), SchemaMismatch> {
        check(
            response,
            ctx.sliding_sync.map_or(Dialect::V4, |t| t.dialect),
        )
    }

    fn normalize(&self, body: Value, ctx: &OpContext<'_>) -> Value {
        match ctx.sliding_sync {
            Some(t) => normalize::normalize(body, t.dialect),
            None => body,
        }
    }
}

fn check(response: http::Response<&[u8]>, dialect: Dialect) -> Result<(), SchemaMismatch> {
    let status = response.status().as_u16();
    if status >= 400 {
        return check_error_body(status, response.body(), false);
    }
    if dialect == Dialect::Simplified {
        use ruma::api::IncomingResponseExt;
        use ruma::api::client::sync::sync_events::v5;
        return v5::Response::try_from_http_response(response)
            .map(|_| ())
            .map_err(|e| SchemaMismatch {
                detail: e.to_string(),
            });
    }
    // No ruma types for the other dialects: check the frame every dialect shares.
    let v: Value = serde_json::from_slice(response.body()).map_err(|e| SchemaMismatch {
        detail: format!("not JSON: {e}"),
    })?;
    let problem = if !v.get("pos").is_some_and(Value::is_string) {
        Some("`pos` must be a string")
    } else if v.get("lists").is_some_and(|l| !l.is_object()) {
        Some("`lists` must be an object")
    } else if v.get("rooms").is_some_and(|r| !r.is_object()) {
        Some("`rooms` must be an object")
    } else {
        None
    };
    problem.map_or(Ok(()), |p| {
        Err(SchemaMismatch {
            detail: p.to_owned(),
        })
    })
}
