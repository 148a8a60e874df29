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
        Body::Bytes(bytes) => {
            builder = octet_stream(builder, &req.headers);
            bytes.clone()
        }
        Body::Generated { size, byte } => {
            builder = octet_stream(builder, &req.headers);
            vec![*byte; generated_size(size, vars)?]
        }
    };
    for (k, v) in &req.headers {
        builder = builder.header(k.as_str(), vars.text_of(v).map_err(|e| e.to_string())?);
    }
    builder
        .body(body)
        .map_err(|e| format!("invalid request {url:?}: {e}"))
}

/// `application/octet-stream`, unless the step's own headers name a content type.
fn octet_stream(
    builder: http::request::Builder,
    headers: &[(String, String)],
) -> http::request::Builder {
    if headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        builder
    } else {
        builder.header(http::header::CONTENT_TYPE, "application/octet-stream")
    }
}

/// The byte count of a generated body: a whole number from 0 to 1 GiB.
fn generated_size(size: &Value, vars: &Vars) -> Result<usize, String> {
    let n = vars
        .number_of(size)
        .map_err(|e| format!("body_bytes.size: {e}"))?;
    if !(0.0..=crate::plan::MAX_GENERATED_BODY as f64).contains(&n) || n.fract() != 0.0 {
        return Err(format!(
            "body_bytes.size: {n} is not a whole number of bytes from 0 to 1 GiB"
        ));
    }
    usize::try_from(n as u64).map_err(|e| format!("body_bytes.size: {e}"))
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
/// (so a room alias's `#` or an event id's `/` cannot change the URL's structure). A `#` in
/// the literal text is sent as `%23` too: a request has no fragment, so a written `#` (a
/// room alias such as `/directory/room/#a:hs`) belongs to the path. A literal `?` still
/// starts the query (write `%3F`, or put the value in a variable, for one inside a segment).
pub(super) fn path(p: &str, vars: &Vars) -> Result<String, String> {
    let mut out = String::new();
    for piece in template::parse(p).map_err(|e| e.to_string())? {
        match piece {
            Piece::Text(t) => out.push_str(&t.replace('#', "%23")),
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
    fn a_literal_hash_is_part_of_the_path_and_a_literal_question_mark_starts_the_query() {
        let vars = Vars::default();
        let p = path("/_matrix/client/v3/directory/room/#a:hs?x=1#y", &vars).unwrap();
        let url = reqwest::Url::parse(&format!("http://127.0.0.1{p}")).unwrap();
        assert_eq!(url.path(), "/_matrix/client/v3/directory/room/%23a:hs");
        assert_eq!(url.query(), Some("x=1%23y"));
        assert_eq!(url.fragment(), None);
    }

    #[test]
    fn byte_bodies_are_sent_as_written_or_generated() {
        let mut vars = Vars::default();
        vars.set("limit", json!(10));
        let plan = |body: Body, headers: Vec<(String, String)>| RequestPlan {
            method: http::Method::POST,
            path: "/x".into(),
            query: Vec::new(),
            headers,
            body,
        };
        let r = raw(
            &plan(
                Body::Generated {
                    size: json!("${limit} + 1"),
                    byte: b'z',
                },
                Vec::new(),
            ),
            "http://h",
            &vars,
            None,
        )
        .unwrap();
        assert_eq!(r.body(), &vec![b'z'; 11]);
        assert_eq!(r.headers()["content-type"], "application/octet-stream");
        let json = vec![("Content-Type".to_owned(), "application/json".to_owned())];
        let r = raw(
            &plan(Body::Bytes(vec![0x7b, 0xff]), json),
            "http://h",
            &vars,
            None,
        )
        .unwrap();
        assert_eq!(r.body(), &vec![0x7b, 0xff]);
        assert_eq!(r.headers().get_all("content-type").iter().count(), 1);
        assert_eq!(r.headers()["content-type"], "application/json");
        let too_big = Body::Generated {
            size: json!(2_000_000_000u64),
            byte: b'a',
        };
        assert!(raw(&plan(too_big, Vec::new()), "http://h", &vars, None).is_err());
    }

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
