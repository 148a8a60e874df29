//! One Matrix request, built by the typed operation a conformance scenario's `call:` uses (its
//! ruma request type), sent for a Goose user (Goose schedules users and think times; plain
//! HTTP goes through hyper directly, HTTPS through the harness's reqwest client) and timed
//! into our own recorder, body read included, under a short name that thresholds refer to.

use std::time::{Duration, Instant};

use goose::prelude::{GooseRequest, GooseUser};
use serde_json::Value;

use super::world::World;

/// What to send: a typed operation (the one a scenario's `call:` runs, built on its ruma
/// request type) and its arguments, as `with:` would give them.
pub struct Req<'a> {
    /// Short name (`send`, `sync (long-poll)`): the metric key and threshold subject.
    pub name: &'static str,
    /// Endpoint template, for the report.
    pub endpoint: &'static str,
    /// The typed operation (`send`, `sync`, ...; see `mxharness list --ops`).
    pub op: &'static str,
    /// Its arguments.
    pub args: Value,
    /// Client-server base URL (the target's, or the second homeserver's).
    pub base: &'a str,
    /// Bearer token.
    pub token: &'a str,
    /// The acting user (the default of `user_id` arguments).
    pub user_id: Option<&'a str>,
    /// Held open on purpose by the server.
    pub long_poll: bool,
    /// Whole-exchange timeout.
    pub timeout: Duration,
}

impl<'a> Req<'a> {
    /// A request to the target with the world's default timeout.
    pub fn new(
        world: &'a World,
        (name, endpoint): (&'static str, &'static str),
        op: &'static str,
        args: Value,
        token: &'a str,
    ) -> Self {
        Self {
            name,
            endpoint,
            op,
            args,
            base: &world.base_url,
            token,
            user_id: None,
            long_poll: false,
            timeout: world.request_timeout,
        }
    }

    /// The HTTP request, built by the typed operation as in a conformance run.
    pub fn build(&self, world: &World) -> Result<http::Request<Vec<u8>>, String> {
        let op = crate::matrix::ops::find(self.op)
            .ok_or_else(|| format!("no typed operation `{}`", self.op))?;
        let ctx = crate::matrix::ops::OpContext {
            base_url: self.base,
            access_token: Some(self.token),
            user_id: self.user_id,
            versions: &world.conformance().versions,
            sliding_sync: world.sliding_sync.as_ref(),
        };
        op.build(&self.args, &ctx).map_err(|e| e.message)
    }
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
    let Ok(built) = req.build(world) else {
        record(
            intended.map_or(Duration::ZERO, |t| t.elapsed()),
            None,
            false,
        );
        return None;
    };
    let started = Instant::now();
    let (status, json) = if built.uri().scheme_str() == Some("http") {
        // Plain HTTP: hyper directly (reqwest's layers cost ~7x hyper's work per request);
        // Goose still schedules the user and its think times.
        let mut conn = super::personas::take_conn(user);
        let answer = super::plain_http::send_on(&mut conn, built, req.timeout).await;
        super::personas::put_conn(user, conn);
        match answer {
            Ok((status, body)) => (
                Some(status),
                serde_json::from_slice(&body).unwrap_or(Value::Null),
            ),
            Err(_) => (None, Value::Null),
        }
    } else {
        send_reqwest(user, &req, built).await
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

/// HTTPS: through the user's reqwest client (the harness's network policy), via Goose.
async fn send_reqwest(
    user: &mut GooseUser,
    req: &Req<'_>,
    built: http::Request<Vec<u8>>,
) -> (Option<u16>, Value) {
    let (parts, body) = built.into_parts();
    let Ok(url) = reqwest::Url::parse(&parts.uri.to_string()) else {
        return (None, Value::Null);
    };
    let mut rb = user
        .client
        .request(parts.method, url)
        .headers(parts.headers)
        .timeout(req.timeout);
    if !body.is_empty() {
        rb = rb.body(body);
    }
    let goose_req = GooseRequest::builder()
        .set_request_builder(rb)
        .name(req.name)
        .build();
    match user.request(goose_req).await {
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
    }
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
