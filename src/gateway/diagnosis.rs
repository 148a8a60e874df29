//! A gateway failure in words, from both sides: what the remote sent, what the gateway
//! answered, and what reached the homeserver (the tap's record) or that nothing did, e.g.
//! "allowed (localhost:8481) sent PUT /_matrix/federation/v1/send/m with X-Forwarded-Host:
//! 127.0.0.1:9 ; the gateway forwarded the request to a host named by X-Forwarded-Host
//! (127.0.0.1:9) and answered 200; nothing reached the homeserver". Pure: unit- and
//! snapshot-tested here.

use serde_json::Value;

use super::judge::Upstream;
use super::raw::{RawRequest, RawResponse};
use super::tap::Tapped;

/// Headers that name a host or a client; sent by a remote, they are what a spoofing attempt
/// is made of, so the diagnosis names them.
const ROUTING: [(&str, &str); 5] = [
    ("host", "Host"),
    ("x-forwarded-host", "X-Forwarded-Host"),
    ("forwarded", "Forwarded"),
    ("x-forwarded-for", "X-Forwarded-For"),
    ("x-real-ip", "X-Real-IP"),
];

/// A request hidden in a body after the chunked framing, and what became of it.
#[derive(Debug, Clone, Copy)]
pub struct HiddenFate<'a> {
    /// `METHOD target` of the hidden request.
    pub request: &'a str,
    /// Its marker.
    pub marker: &'a str,
    /// Requests with its marker the homeserver received as requests of their own.
    pub arrived: &'a [Tapped],
    /// The status of an answer the gateway gave to it on the connection.
    pub answered: Option<u16>,
}

/// One request's story.
#[derive(Debug, Clone)]
pub struct Scene<'a> {
    /// Who sent it: `allowed (localhost:8481)`, `an unsigned remote`.
    pub sender: String,
    /// What was sent.
    pub request: &'a RawRequest,
    /// How it was sent, where that matters: "in plain HTTP on the TLS port".
    pub notes: Vec<String>,
    /// The gateway's answer.
    pub response: &'a Result<RawResponse, String>,
    /// What reached the homeserver.
    pub upstream: &'a Upstream,
    /// Requests that reached the decoy, and its address, when one listens.
    pub decoy: Option<(&'a [Tapped], &'a str)>,
    /// The hidden request, when one was sent.
    pub hidden: Option<HiddenFate<'a>>,
}

/// The scene in one sentence (no final full stop).
pub fn describe(scene: &Scene<'_>) -> String {
    let mut parts = vec![sent(scene), answered(scene), reached(scene)];
    if let Some(h) = &scene.hidden {
        parts.push(hidden(h));
    }
    parts.join("; ")
}

fn shorten(text: &str) -> String {
    const MAX: usize = 140;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}...")
    }
}

fn display_name(name: &str) -> Option<&'static str> {
    ROUTING
        .iter()
        .find(|(n, _)| name.eq_ignore_ascii_case(n))
        .map(|(_, d)| *d)
}

fn sent(scene: &Scene<'_>) -> String {
    let r = scene.request;
    let mut with = Vec::new();
    for (name, value) in &r.headers {
        if let Some(display) = display_name(name) {
            with.push(format!("{display}: {}", shorten(value)));
        }
    }
    let auths: Vec<String> = r
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| origin_of(v).unwrap_or_else(|| "no origin".into()))
        .collect();
    if auths.len() > 1 {
        with.push(format!(
            "{} Authorization headers (origins {})",
            auths.len(),
            auths.join(", ")
        ));
    }
    if let Some((_, v)) = r.headers.iter().find(|(n, _)| n == "x-mxh-padding") {
        with.push(format!("a header of {} bytes", v.len()));
    }
    if r.body.len() > 1024 * 1024 {
        with.push(format!("a body of {} bytes", r.body.len()));
    }
    let mut text = format!("{} sent {} {}", scene.sender, r.method, shorten(&r.target));
    if !with.is_empty() {
        text.push_str(" with ");
        text.push_str(&with.join(", "));
    }
    for note in &scene.notes {
        text.push(' ');
        text.push_str(note);
    }
    text
}

/// The `origin` parameter of an X-Matrix header.
fn origin_of(header: &str) -> Option<String> {
    let params = header.strip_prefix("X-Matrix ")?;
    params.split(',').find_map(|p| {
        let (name, value) = p.trim().split_once('=')?;
        name.eq_ignore_ascii_case("origin")
            .then(|| value.trim_matches('"').to_owned())
    })
}

fn status_words(r: &RawResponse) -> String {
    match r.json() {
        Some(Value::Object(o)) => match o.get("errcode").and_then(Value::as_str) {
            Some(code) => format!("{} {code}", r.status),
            None => r.status.to_string(),
        },
        _ if r.body.is_empty() => format!("{} with an empty body", r.status),
        _ => format!(
            "{} with a {} body",
            r.status,
            r.header("content-type").unwrap_or("non-JSON")
        ),
    }
}

/// The routing header the remote sent that names `host` (Host, X-Forwarded-Host, Forwarded's
/// `host=`), as (display name, value).
fn naming_header<'r>(request: &'r RawRequest, host: &str) -> Option<(&'static str, &'r str)> {
    request.headers.iter().find_map(|(n, v)| {
        let display = display_name(n)?;
        (matches!(display, "Host" | "X-Forwarded-Host" | "Forwarded") && v.contains(host))
            .then_some((display, v.as_str()))
    })
}

/// The host a routing header sent by the remote names, if it sent one.
fn spoofed_host(request: &RawRequest) -> Option<(&'static str, String)> {
    request
        .headers
        .iter()
        .find_map(|(n, v)| match display_name(n)? {
            d @ ("Host" | "X-Forwarded-Host") => Some((d, v.clone())),
            d @ "Forwarded" => v.split(';').find_map(|p| {
                let (k, val) = p.trim().split_once('=')?;
                k.eq_ignore_ascii_case("host")
                    .then(|| (d, val.trim_matches('"').to_owned()))
            }),
            _ => None,
        })
}

fn answered(scene: &Scene<'_>) -> String {
    let r = match scene.response {
        Ok(r) => r,
        Err(e) => return format!("the gateway gave no answer ({e})"),
    };
    let status = status_words(r);
    let nothing_upstream = matches!(scene.upstream, Upstream::Seen(v) if v.is_empty());
    if let Some((hits, addr)) = scene.decoy
        && !hits.is_empty()
    {
        return match naming_header(scene.request, addr) {
            Some((header, _)) => format!(
                "the gateway forwarded the request to a host named by {header} ({addr}, the \
                 harness's decoy) and answered {status}"
            ),
            None => format!(
                "the gateway forwarded the request to the harness's decoy ({addr}) and \
                 answered {status}"
            ),
        };
    }
    if nothing_upstream
        && matches!(r.status, 502..=504)
        && let Some((header, host)) = spoofed_host(scene.request)
    {
        return format!(
            "the gateway apparently forwarded the request to a host named by {header} \
             ({host}) and answered {status}"
        );
    }
    format!("the gateway answered {status}")
}

fn reached(scene: &Scene<'_>) -> String {
    let seen = match scene.upstream {
        Upstream::NotObservable(why) => {
            return format!("what reached the homeserver is not observable ({why})");
        }
        Upstream::Seen(v) => v,
    };
    let Some(first) = seen.first() else {
        return "nothing reached the homeserver".into();
    };
    let mut text = format!(
        "the homeserver received {} {}",
        first.method,
        shorten(&first.target)
    );
    if first.target == scene.request.target && first.method == scene.request.method {
        text.push_str(" as sent");
    }
    let mut with = Vec::new();
    for (name, value) in &scene.request.headers {
        let Some(display) = display_name(name) else {
            continue;
        };
        if display == "Host" {
            continue;
        }
        if first
            .header(name)
            .iter()
            .any(|v| v.contains(value.as_str()))
        {
            with.push(format!("the remote's {display} ({})", shorten(value)));
        }
    }
    let auths = first.header("authorization").len();
    if auths > 1 {
        with.push(format!("{auths} Authorization headers"));
    }
    if let Some(h) = &scene.hidden
        && first.body.contains(h.marker)
    {
        with.push("the hidden request inside its body".into());
    }
    if !with.is_empty() {
        text.push_str(", with ");
        text.push_str(&with.join(" and "));
    }
    if seen.len() > 1 {
        text.push_str(&format!(
            " (and {} more request{})",
            seen.len() - 1,
            if seen.len() == 2 { "" } else { "s" }
        ));
    }
    text
}

fn hidden(h: &HiddenFate<'_>) -> String {
    let mut text = match h.arrived.first() {
        Some(t) => format!(
            "the homeserver received the hidden request ({} {}) as a request of its own",
            t.method,
            shorten(&t.target)
        ),
        None => format!(
            "the hidden request ({}) did not reach the homeserver as a request of its own",
            shorten(h.request)
        ),
    };
    if let Some(status) = h.answered {
        text.push_str(&format!(
            ", and the gateway answered it on the same connection with {status}"
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, target: &str, headers: &[(&str, &str)]) -> RawRequest {
        RawRequest {
            method: method.into(),
            target: target.into(),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: Vec::new(),
        }
    }

    fn answer(status: u16, content_type: &str, body: &str) -> Result<RawResponse, String> {
        Ok(RawResponse {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.as_bytes().to_vec(),
        })
    }

    fn tapped(method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Tapped {
        Tapped {
            method: method.into(),
            target: target.into(),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.into(),
        }
    }

    const AUTH_ALLOWED: &str = "X-Matrix origin=\"localhost:8481\",destination=\"localhost:8448\",key=\"ed25519:k\",sig=\"s\"";
    const AUTH_DENIED: &str = "X-Matrix origin=\"localhost:8483\",destination=\"localhost:8448\",key=\"ed25519:k\",sig=\"s\"";

    #[test]
    fn a_refused_request_that_got_through() {
        let req = request(
            "GET",
            "/_matrix/key/v2/server/../../federation/v1/query/profile?user_id=@a-m1:localhost:8448",
            &[("authorization", AUTH_DENIED)],
        );
        let upstream = Upstream::Seen(vec![tapped("GET", &req.target, &[], "")]);
        let response = answer(200, "application/json", "{\"displayname\":\"a\"}");
        insta::assert_snapshot!(describe(&Scene {
            sender: "denied (localhost:8483)".into(),
            request: &req,
            notes: vec![],
            response: &response,
            upstream: &upstream,
            decoy: None,
            hidden: None,
        }));
    }

    #[test]
    fn a_refusal_made_at_the_gateway() {
        let req = request(
            "PUT",
            "/_matrix/federation/v1/send/m2",
            &[("authorization", AUTH_DENIED)],
        );
        let upstream = Upstream::Seen(vec![]);
        let response = answer(
            403,
            "application/json",
            "{\"errcode\":\"M_FORBIDDEN\",\"error\":\"no\"}",
        );
        insta::assert_snapshot!(describe(&Scene {
            sender: "denied (localhost:8483)".into(),
            request: &req,
            notes: vec![],
            response: &response,
            upstream: &upstream,
            decoy: None,
            hidden: None,
        }));
    }

    #[test]
    fn routing_by_a_spoofed_header_names_the_header() {
        let req = request(
            "PUT",
            "/_matrix/federation/v1/send/m3",
            &[
                ("authorization", AUTH_ALLOWED),
                ("x-forwarded-host", "127.0.0.1:9999"),
            ],
        );
        let upstream = Upstream::Seen(vec![]);
        let hits = vec![tapped("PUT", &req.target, &[], "")];
        let response = answer(200, "application/json", "{\"mxh_decoy\":true}");
        insta::assert_snapshot!(describe(&Scene {
            sender: "allowed (localhost:8481)".into(),
            request: &req,
            notes: vec![],
            response: &response,
            upstream: &upstream,
            decoy: Some((&hits, "127.0.0.1:9999")),
            hidden: None,
        }));
        // A name the harness does not listen on: nothing reached the homeserver, 502.
        let evil = request(
            "PUT",
            "/_matrix/federation/v1/send/m4",
            &[
                ("authorization", AUTH_ALLOWED),
                ("x-forwarded-host", "evil.example"),
            ],
        );
        let bad_gateway = answer(502, "text/html", "<html>502</html>");
        insta::assert_snapshot!(
            "routing_to_an_unknown_host",
            describe(&Scene {
                sender: "allowed (localhost:8481)".into(),
                request: &evil,
                notes: vec![],
                response: &bad_gateway,
                upstream: &upstream,
                decoy: Some((&[], "127.0.0.1:9999")),
                hidden: None,
            })
        );
    }

    #[test]
    fn spoofed_headers_and_several_authorizations_that_reached_the_homeserver() {
        let req = request(
            "PUT",
            "/_matrix/federation/v1/send/m5",
            &[
                ("authorization", AUTH_ALLOWED),
                ("authorization", AUTH_DENIED),
                ("forwarded", "for=10.66.0.1;host=evil.example"),
            ],
        );
        let upstream = Upstream::Seen(vec![tapped(
            "PUT",
            &req.target,
            &[
                ("authorization", AUTH_ALLOWED),
                ("authorization", AUTH_DENIED),
                ("forwarded", "for=10.66.0.1;host=evil.example"),
            ],
            "{}",
        )]);
        let response = answer(200, "application/json", "{\"pdus\":{}}");
        insta::assert_snapshot!(describe(&Scene {
            sender: "allowed (localhost:8481)".into(),
            request: &req,
            notes: vec![],
            response: &response,
            upstream: &upstream,
            decoy: None,
            hidden: None,
        }));
    }

    #[test]
    fn a_hidden_request_and_plaintext() {
        let req = request(
            "PUT",
            "/_matrix/federation/v1/send/m6",
            &[("authorization", AUTH_ALLOWED)],
        );
        let upstream = Upstream::Seen(vec![tapped(
            "PUT",
            &req.target,
            &[("content-length", "120")],
            "2\r\n{}\r\n0\r\n\r\nGET /_synapse/admin/v1/server_version?m=h6 HTTP/1.1",
        )]);
        let response = answer(200, "application/json", "{\"pdus\":{}}");
        insta::assert_snapshot!(describe(&Scene {
            sender: "allowed (localhost:8481)".into(),
            request: &req,
            notes: vec![
                "with both Content-Length and Transfer-Encoding: chunked, and GET \
                 /_synapse/admin/v1/server_version?m=h6 hidden after the chunked body"
                    .into()
            ],
            response: &response,
            upstream: &upstream,
            decoy: None,
            hidden: Some(HiddenFate {
                request: "GET /_synapse/admin/v1/server_version?m=h6",
                marker: "h6",
                arrived: &[],
                answered: None,
            }),
        }));
        let plain = request("GET", "/_matrix/federation/v1/version?m=m7", &[]);
        let closed: Result<RawResponse, String> =
            Err("the connection closed without an answer".into());
        insta::assert_snapshot!(
            "plaintext_on_the_tls_port",
            describe(&Scene {
                sender: "an unsigned remote".into(),
                request: &plain,
                notes: vec!["in plain HTTP on the TLS port".into()],
                response: &closed,
                upstream: &Upstream::NotObservable("no --gateway-tap".into()),
                decoy: None,
                hidden: None,
            })
        );
    }
}
