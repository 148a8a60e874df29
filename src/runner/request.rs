//! Turning a step's action into an HTTP request: typed calls through ruma, raw requests
//! with interpolated path, query, headers and body.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde_json::Value;

use super::RunContext;
use crate::matrix::ops::OpContext;
use crate::plan::template::{self, Piece, Vars};
use crate::plan::{Action, Body, RequestPlan};

/// Characters escaped when a variable's value is spliced into a path segment.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'?')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    // A URL parser reads `\` as `/` in http(s) URLs, and these are not allowed unescaped.
    .add(b'\\')
    .add(b'[')
    .add(b']')
    .add(b'^')
    .add(b'|');

/// A request ready to send, or why it could not be built (a scenario problem).
pub(super) fn build(
    action: &Action,
    ctx: &RunContext,
    base_url: &str,
    vars: &Vars,
    token: Option<&str>,
    user_id: Option<&str>,
) -> Result<http::Request<Vec<u8>>, String> {
    let op_ctx = OpContext {
        base_url,
        access_token: token,
        user_id,
        versions: &ctx.versions,
        sliding_sync: ctx.sliding_sync.as_ref(),
    };
    build_in(action, &op_ctx, vars)
}

/// As [`build`], from an [`OpContext`] instead of a whole run (load personas run scenario
/// steps with the population's users).
pub fn build_in(
    action: &Action,
    op_ctx: &OpContext<'_>,
    vars: &Vars,
) -> Result<http::Request<Vec<u8>>, String> {
    let (base_url, token) = (op_ctx.base_url, op_ctx.access_token);
    match action {
        Action::Call { op, args } => {
            let args = vars.apply(args).map_err(|e| e.to_string())?;
            op.build(&args, op_ctx).map_err(|e| e.message)
        }
        Action::Request(req) => raw(req, base_url, vars, token),
        Action::Federation(_)
        | Action::Serve(_)
        | Action::Inbound(_)
        | Action::Remote(_)
        | Action::Appservice(_)
        | Action::PushGateway(_)
        | Action::Email(_)
        | Action::IdentityServer(_) => Err(
            "internal error: a federation step reached the client-server request builder".into(),
        ),
    }
}

fn raw(
    req: &RequestPlan,
    base_url: &str,
    vars: &Vars,
    token: Option<&str>,
) -> Result<http::Request<Vec<u8>>, String> {
    let mut url = format!("{}{}", base_url, path(&req.path, vars)?);
    append_query(&mut url, &req.query, vars)?;
    let mut builder = http::Request::builder()
        .method(req.method.clone())
        .uri(url.as_str());
    if let Some(t) = token {
        builder = builder.header(http::header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let body = match &req.body {
        Body::None => Vec::new(),
        Body::Json(v) => {
            builder = builder.header(http::header::CONTENT_TYPE, "application/json");
            serde_json::to_vec(&vars.apply(v).map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?
        }
        Body::Raw(t) => {
            builder = builder.header(http::header::CONTENT_TYPE, "application/json");
            vars.text_of(t).map_err(|e| e.to_string())?.into_bytes()
        }
    };
    for (k, v) in &req.headers {
        builder = builder.header(k.as_str(), vars.text_of(v).map_err(|e| e.to_string())?);
    }
    builder
        .body(body)
        .map_err(|e| format!("invalid request {url:?}: {e}"))
}

/// Append `?k=v&...` (templated values, percent-encoded) to `url`.
pub(super) fn append_query(
    url: &mut String,
    query: &[(String, String)],
    vars: &Vars,
) -> Result<(), String> {
    if !query.is_empty() {
        let mut pairs = Vec::new();
        for (k, v) in query {
            let v = vars.text_of(v).map_err(|e| e.to_string())?;
            pairs.push(format!("{}={}", enc(k), enc(&v)));
        }
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&pairs.join("&"));
    }
    Ok(())
}

fn enc(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT)
        .to_string()
        .replace('&', "%26")
        .replace('=', "%3D")
        .replace('+', "%2B")
}

/// Interpolate a path: literal text is kept, variable values are escaped as path segments
/// (so a room alias's `#` or an event id's `/` cannot change the URL's structure).
pub(super) fn path(p: &str, vars: &Vars) -> Result<String, String> {
    let mut out = String::new();
    for piece in template::parse(p).map_err(|e| e.to_string())? {
        match piece {
            Piece::Text(t) => out.push_str(&t),
            Piece::Var(name) => {
                let value = vars.get(name).ok_or_else(|| {
                    template::TemplateError::Undefined(name.to_owned()).to_string()
                })?;
                let text = match value {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                out.push_str(&utf8_percent_encode(&text, SEGMENT).to_string());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_backslash_in_a_segment_stays_in_its_segment_on_the_wire() {
        let mut vars = Vars::default();
        vars.set("id", json!("a\\b/c|d[e]"));
        let p = path("/_matrix/client/v3/pushrules/global/override/${id}", &vars).unwrap();
        // What the URL parser (and so the request on the wire) makes of it: unescaped, the
        // backslash would become a `/` and split the segment in two.
        let url = reqwest::Url::parse(&format!("http://127.0.0.1{p}")).unwrap();
        assert_eq!(
            url.path(),
            "/_matrix/client/v3/pushrules/global/override/a%5Cb%2Fc%7Cd%5Be%5D"
        );
        assert_eq!(url.path_segments().unwrap().count(), 7);
    }
}
