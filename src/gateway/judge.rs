//! Pure evaluation of one gateway check: from what came back, what reached the homeserver (the
//! tap) and the direct answer, to the list of failed checks and the observed properties. No I/O,
//! so every rule is unit-tested here.

use std::collections::BTreeMap;

use serde_json::Value;

use super::raw::RawResponse;
use super::suite::{Expect, Verdict};
use super::tap::Tapped;
use crate::results::CheckFailure;

/// What the homeserver side saw of a probe.
#[derive(Debug, Clone)]
pub enum Upstream {
    /// Requests carrying the probe's marker that reached the homeserver.
    Seen(Vec<Tapped>),
    /// Nothing can be observed there; the reason is reported.
    NotObservable(String),
}

/// Everything known about one inbound probe.
#[derive(Debug)]
pub struct Observed<'a> {
    /// The gateway's answer (or the transport error).
    pub response: &'a Result<RawResponse, String>,
    /// The homeserver side.
    pub upstream: &'a Upstream,
    /// The answer to the same request sent straight to the homeserver, when asked and possible.
    pub direct: Option<&'a Result<RawResponse, String>>,
    /// The Authorization header sent, if any.
    pub authorization: Option<&'a str>,
    /// Headers sent (name, value).
    pub sent_headers: &'a [(String, String)],
    /// Requests carrying the probe's marker that reached the decoy, when one listens.
    pub decoy: Option<&'a [Tapped]>,
}

/// The verdict's failures (empty: passed) and the properties to report.
pub fn judge(
    expect: &Expect,
    seen: &Observed<'_>,
    location: &str,
) -> (Vec<CheckFailure>, BTreeMap<String, String>) {
    let mut failures = Vec::new();
    let mut props = BTreeMap::new();
    let fail = |kind: &str, message: String, expected: Option<String>, actual: Option<String>| {
        crate::check::failure(location, kind, message, expected, actual)
    };
    props.insert(
        "upstream".into(),
        match seen.upstream {
            Upstream::Seen(v) if v.is_empty() => "not reached".into(),
            Upstream::Seen(v) => format!(
                "reached ({} request{})",
                v.len(),
                if v.len() == 1 { "" } else { "s" }
            ),
            Upstream::NotObservable(why) => format!("not observable: {why}"),
        },
    );
    if let Some(first) = seen.decoy.and_then(<[Tapped]>::first) {
        failures.push(fail(
            "misrouted",
            "the gateway sent the request to the host a header of the remote named, not to \
             the homeserver"
                .into(),
            Some("routed to the homeserver".into()),
            Some(format!("{} {} at the decoy", first.method, first.target)),
        ));
    }
    let response = match seen.response {
        Ok(r) => r,
        Err(_) if expect.any_refusal && expect.verdict == Verdict::Refused => {
            // A connection closed without an answer refuses too.
            if let Upstream::Seen(v) = seen.upstream
                && let Some(first) = v.first()
            {
                failures.push(fail(
                    "reached-upstream",
                    "the request reached the homeserver behind the gateway".into(),
                    Some("never forwarded".into()),
                    Some(format!("{} {}", first.method, first.target)),
                ));
            }
            return (failures, props);
        }
        Err(e) => {
            failures.push(fail(
                "transport",
                format!("no answer from the gateway: {e}"),
                None,
                None,
            ));
            return (failures, props);
        }
    };
    props.insert("status".into(), response.status.to_string());
    let body = response.json();
    let errcode = body
        .as_ref()
        .and_then(|b| b.get("errcode"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(e) = &errcode {
        props.insert("errcode".into(), e.clone());
    }
    if let Some(allowed) = &expect.status
        && !allowed.contains(&response.status)
    {
        failures.push(fail(
            "status",
            format!("status {} is not one of {}", response.status, list(allowed)),
            Some(list(allowed)),
            Some(response.status.to_string()),
        ));
    }
    match expect.verdict {
        Verdict::Refused if expect.any_refusal => {
            if expect.status.is_none() && !(300..500).contains(&response.status) {
                failures.push(fail(
                    "status",
                    format!("status {} is not a refusal (3xx or 4xx)", response.status),
                    Some("3xx or 4xx, or no answer".into()),
                    Some(response.status.to_string()),
                ));
            }
            if let Upstream::Seen(v) = seen.upstream
                && let Some(first) = v.first()
            {
                failures.push(fail(
                    "reached-upstream",
                    "the request reached the homeserver behind the gateway".into(),
                    Some("never forwarded".into()),
                    Some(format!("{} {}", first.method, first.target)),
                ));
            }
        }
        Verdict::Refused => {
            if expect.status.is_none() && !(400..500).contains(&response.status) {
                failures.push(fail(
                    "status",
                    format!("status {} is not a refusal (4xx)", response.status),
                    Some("4xx".into()),
                    Some(response.status.to_string()),
                ));
            }
            if let Some(problem) = error_body_problem(response, body.as_ref()) {
                failures.push(fail("error-body", problem, Some("a Matrix error: Content-Type application/json, {\"errcode\": ..., \"error\": ...}".into()), None));
            }
            if let (Some(allowed), Some(code)) = (&expect.errcode, &errcode)
                && !allowed.contains(code)
            {
                failures.push(fail(
                    "errcode",
                    format!("errcode {code} is not one of {}", allowed.join(", ")),
                    Some(allowed.join(" or ")),
                    Some(code.clone()),
                ));
            }
            if let Upstream::Seen(v) = seen.upstream
                && let Some(first) = v.first()
            {
                failures.push(fail(
                    "reached-upstream",
                    "the request reached the homeserver behind the gateway".into(),
                    Some("never forwarded".into()),
                    Some(format!("{} {}", first.method, first.target)),
                ));
            }
        }
        Verdict::Forwarded => {
            if expect.status.is_none()
                && !(200..300).contains(&response.status)
                && seen.direct.is_none()
            {
                failures.push(fail(
                    "status",
                    format!(
                        "status {}: the request was not answered by the homeserver",
                        response.status
                    ),
                    Some("2xx".into()),
                    Some(response.status.to_string()),
                ));
            }
            if let Upstream::Seen(v) = seen.upstream {
                match v.first() {
                    None => failures.push(fail(
                        "not-forwarded",
                        "the request never reached the homeserver".into(),
                        Some("forwarded".into()),
                        Some(format!("answered {} by the gateway", response.status)),
                    )),
                    Some(first) => upstream_checks(expect, seen, first, &mut failures, &fail),
                }
            }
            if let Some(direct) = seen.direct {
                compare_direct(expect, response, direct, &mut failures, &fail);
            }
        }
    }
    (failures, props)
}

type Fail<'a> = dyn Fn(&str, String, Option<String>, Option<String>) -> CheckFailure + 'a;

fn upstream_checks(
    expect: &Expect,
    seen: &Observed<'_>,
    first: &Tapped,
    failures: &mut Vec<CheckFailure>,
    fail: &Fail<'_>,
) {
    if expect.authorization_intact {
        let got = first.header("authorization");
        if got.first().copied() != seen.authorization {
            failures.push(fail(
                "authorization-changed",
                "the homeserver did not receive the Authorization header byte for byte".into(),
                seen.authorization.map(str::to_owned),
                Some(got.join(" | ")),
            ));
        }
    }
    for name in &expect.upstream_lacks {
        let got = first.header(name);
        if !got.is_empty() {
            failures.push(fail(
                "header-passed",
                format!("header {name} reached the homeserver"),
                Some("removed by the gateway".into()),
                Some(format!("{name}: {}", got.join(", "))),
            ));
        }
    }
    for (name, value) in &expect.upstream_not {
        let got = first.header(name);
        if got.iter().any(|v| v.contains(value.as_str())) {
            failures.push(fail(
                "header-passed",
                format!("the remote's {name} value reached the homeserver"),
                Some(format!("{name} without {value:?}")),
                Some(format!("{name}: {}", got.join(", "))),
            ));
        }
    }
    let _ = seen.sent_headers;
}

fn compare_direct(
    expect: &Expect,
    response: &RawResponse,
    direct: &Result<RawResponse, String>,
    failures: &mut Vec<CheckFailure>,
    fail: &Fail<'_>,
) {
    let direct = match direct {
        Ok(d) => d,
        Err(e) => {
            failures.push(fail(
                "direct",
                format!("the direct request failed: {e}"),
                None,
                None,
            ));
            return;
        }
    };
    if direct.status != response.status {
        failures.push(fail(
            "differs-from-direct",
            "the status through the gateway differs from the direct answer".into(),
            Some(direct.status.to_string()),
            Some(response.status.to_string()),
        ));
        return;
    }
    let strip = |r: &RawResponse| {
        r.json().map(|mut v| {
            for p in &expect.ignore {
                remove_pointer(&mut v, p);
            }
            v
        })
    };
    let (via, straight) = (strip(response), strip(direct));
    let same = match (&via, &straight) {
        (Some(a), Some(b)) => a == b,
        (None, None) => response.body == direct.body,
        _ => false,
    };
    if !same {
        failures.push(fail(
            "differs-from-direct",
            "the body through the gateway differs from the direct answer".into(),
            Some(
                straight
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| crate::matrix::http_client::text(&direct.body)),
            ),
            Some(
                via.map(|v| v.to_string())
                    .unwrap_or_else(|| crate::matrix::http_client::text(&response.body)),
            ),
        ));
    }
}

fn remove_pointer(value: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let last = last.replace("~1", "/").replace("~0", "~");
    if let Some(Value::Object(map)) = value.pointer_mut(parent) {
        map.remove(&last);
    }
}

/// Why a refusal is not a Matrix error, if it is not.
fn error_body_problem(response: &RawResponse, body: Option<&Value>) -> Option<String> {
    let content_type = response.header("content-type").unwrap_or("");
    if !content_type
        .to_ascii_lowercase()
        .starts_with("application/json")
    {
        return Some(format!(
            "Content-Type is {:?}, not application/json",
            content_type
        ));
    }
    match body {
        Some(Value::Object(o)) if o.get("errcode").is_some_and(Value::is_string) => None,
        Some(_) => Some("the body has no string `errcode`".into()),
        None => Some(format!(
            "the body is not JSON: {}",
            crate::matrix::http_client::text(&response.body)
        )),
    }
}

fn list(codes: &[u16]) -> String {
    codes
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect(verdict: Verdict) -> Expect {
        serde_json::from_value(serde_json::json!({"verdict": match verdict {
            Verdict::Refused => "refused", Verdict::Forwarded => "forwarded" }}))
        .unwrap()
    }

    fn reply(status: u16, ct: &str, body: &str) -> Result<RawResponse, String> {
        Ok(RawResponse {
            status,
            headers: vec![("content-type".into(), ct.into())],
            body: body.as_bytes().to_vec(),
        })
    }

    fn tapped() -> Tapped {
        Tapped {
            method: "GET".into(),
            target: "/x?m".into(),
            headers: vec![
                ("authorization".into(), "X-Matrix a".into()),
                ("x-forwarded-for".into(), "10.0.0.1".into()),
            ],
            body: String::new(),
        }
    }

    fn run(
        e: &Expect,
        r: &Result<RawResponse, String>,
        up: &Upstream,
        direct: Option<&Result<RawResponse, String>>,
    ) -> Vec<String> {
        let seen = Observed {
            response: r,
            upstream: up,
            direct,
            authorization: Some("X-Matrix a"),
            sent_headers: &[],
            decoy: None,
        };
        judge(e, &seen, "f.yaml")
            .0
            .into_iter()
            .map(|f| f.kind)
            .collect()
    }

    #[test]
    fn a_refusal_needs_a_matrix_error_and_no_upstream_request() {
        let e = expect(Verdict::Refused);
        let good = reply(
            403,
            "application/json",
            r#"{"errcode":"M_FORBIDDEN","error":"no"}"#,
        );
        assert!(run(&e, &good, &Upstream::Seen(vec![]), None).is_empty());
        let html = reply(403, "text/html", "<html>");
        assert_eq!(
            run(&e, &html, &Upstream::Seen(vec![]), None),
            ["error-body"]
        );
        assert_eq!(
            run(&e, &good, &Upstream::Seen(vec![tapped()]), None),
            ["reached-upstream"]
        );
        let passed = reply(200, "application/json", "{}");
        assert_eq!(
            run(&e, &passed, &Upstream::Seen(vec![tapped()]), None),
            ["status", "error-body", "reached-upstream"]
        );
        let not_observable = Upstream::NotObservable("gateway is the homeserver".into());
        assert!(run(&e, &good, &not_observable, None).is_empty());
        // Plaintext on the TLS port: a closed connection or any 4xx page refuses.
        let mut any = expect(Verdict::Refused);
        any.any_refusal = true;
        let closed: Result<RawResponse, String> = Err("closed".into());
        assert!(run(&any, &closed, &Upstream::Seen(vec![]), None).is_empty());
        assert!(run(&any, &html, &Upstream::Seen(vec![]), None).is_empty());
        assert_eq!(
            run(&any, &passed, &Upstream::Seen(vec![tapped()]), None),
            ["status", "reached-upstream"]
        );
    }

    #[test]
    fn a_request_at_the_decoy_was_misrouted() {
        let e = expect(Verdict::Forwarded);
        let r = reply(200, "application/json", "{}");
        let hits = [tapped()];
        let seen = Observed {
            response: &r,
            upstream: &Upstream::Seen(vec![]),
            direct: None,
            authorization: None,
            sent_headers: &[],
            decoy: Some(&hits),
        };
        let kinds: Vec<String> = judge(&e, &seen, "f.yaml")
            .0
            .into_iter()
            .map(|f| f.kind)
            .collect();
        assert_eq!(kinds, ["misrouted", "not-forwarded"]);
    }

    #[test]
    fn forwarding_is_compared_with_the_direct_answer_and_upstream_headers() {
        let mut e = expect(Verdict::Forwarded);
        e.authorization_intact = true;
        e.upstream_lacks = vec!["x-forwarded-for".into()];
        e.ignore = vec!["/ts".into()];
        let via = reply(200, "application/json", r#"{"a":1,"ts":1}"#);
        let same = reply(200, "application/json", r#"{"a":1,"ts":2}"#);
        let other = reply(200, "application/json", r#"{"a":2}"#);
        let up = Upstream::Seen(vec![tapped()]);
        assert_eq!(run(&e, &via, &up, Some(&same)), ["header-passed"]);
        assert_eq!(
            run(&e, &via, &up, Some(&other)),
            ["header-passed", "differs-from-direct"]
        );
        assert_eq!(
            run(&e, &via, &Upstream::Seen(vec![]), Some(&same)),
            ["not-forwarded"]
        );
    }
}
