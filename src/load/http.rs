//! One Matrix request sent through Goose (so Goose paces and counts it) and timed into our
//! own recorder, body read included, under a short name that thresholds refer to.

use std::time::{Duration, Instant};

use goose::prelude::{GooseRequest, GooseUser};
use reqwest::Method;
use serde_json::Value;

use super::world::World;

/// What to send.
pub struct Req<'a> {
    /// Short name (`send`, `sync (long-poll)`): the metric key and threshold subject.
    pub name: &'static str,
    /// Endpoint template, for the report.
    pub endpoint: &'static str,
    /// Method.
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    /// Query parameters.
    pub query: Vec<(&'static str, String)>,
    /// Bearer token.
    pub token: &'a str,
    /// Body.
    pub body: Body,
    /// Held open on purpose by the server.
    pub long_poll: bool,
    /// Whole-exchange timeout.
    pub timeout: Duration,
}

/// A request body.
pub enum Body {
    /// None.
    None,
    /// JSON.
    Json(Value),
    /// Bytes with a content type.
    Bytes(Vec<u8>, &'static str),
}

/// The answer, when there was one.
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// JSON body (Null when not JSON).
    pub json: Value,
    /// When the request was sent.
    pub started: Instant,
}

impl Answer {
    /// A 2xx status.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Send `req` as `user`, record it, and return the answer (`None` on a transport error).
///
/// A request of an open-model arrival is recorded as `open`; the arrival's first request is
/// timed from the arrival's intended start, so waiting for a free user counts (no coordinated
/// omission), the following ones from their own start (they follow the server's answer).
pub async fn send(user: &mut GooseUser, world: &World, req: Req<'_>) -> Option<Answer> {
    let (open, intended) = super::personas::take_arrival(user);
    let record = |took: Duration, status: Option<u16>, ok: bool| {
        if open {
            world
                .recorder
                .open_request(req.name, req.endpoint, took, status, ok);
        } else {
            world
                .recorder
                .request(req.name, req.endpoint, req.long_poll, took, status, ok);
        }
    };
    let url = if req.query.is_empty() {
        reqwest::Url::parse(&req.url)
    } else {
        reqwest::Url::parse_with_params(&req.url, &req.query)
    };
    let Ok(url) = url else {
        record(
            intended.map_or(Duration::ZERO, |t| t.elapsed()),
            None,
            false,
        );
        return None;
    };
    let mut rb = user
        .client
        .request(req.method.clone(), url)
        .bearer_auth(req.token)
        .timeout(req.timeout);
    rb = match req.body {
        Body::None => rb,
        Body::Json(v) => rb.json(&v),
        Body::Bytes(b, ct) => rb.header(reqwest::header::CONTENT_TYPE, ct).body(b),
    };
    let goose_req = GooseRequest::builder()
        .set_request_builder(rb)
        .name(req.name)
        .build();
    let started = Instant::now();
    let result = user.request(goose_req).await;
    let (status, json) = match result {
        Ok(goose) => match goose.response {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let json = match crate::matrix::net::read_body(resp).await {
                    Ok(b) => serde_json::from_slice(&b).unwrap_or(Value::Null),
                    Err(_) => Value::Null,
                };
                (Some(status), json)
            }
            Err(_) => (None, Value::Null),
        },
        Err(_) => (None, Value::Null),
    };
    let took = intended.map_or(started, |t| t.min(started)).elapsed();
    let ok = status.is_some_and(|s| (200..300).contains(&s));
    record(took, status, ok);
    status.map(|status| Answer {
        status,
        json,
        started,
    })
}

/// The client every virtual user sends with: the harness's network policy (no redirects,
/// `--ca-cert`), built once; `None` if it cannot be built (Goose's own client is kept).
pub fn client() -> Option<reqwest::Client> {
    static CLIENT: std::sync::OnceLock<Option<reqwest::Client>> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| crate::matrix::net::base_builder().build().ok())
        .clone()
}

/// Percent-encode one path segment (room ids, event ids, transaction ids).
pub use crate::matrix::encode_component as seg;
