//! Judging a response against a step's expectations: status, errcode, the typed schema
//! parse, and JSON-pointer matchers. Pure functions; the runner decides what to do with
//! the verdicts.

pub mod matchers;

use serde_json::Value;

use crate::plan::template::Vars;
use crate::plan::{ExpectPlan, Predicate};
use crate::results::CheckFailure;

/// What the checks see of a response.
#[derive(Debug, Clone)]
pub struct Observed<'a> {
    /// HTTP status.
    pub status: u16,
    /// Body parsed as JSON, when it is JSON.
    pub json: Option<&'a Value>,
    /// Result of the typed schema parse (calls only): `Err(detail)` when it did not parse.
    pub schema: Option<Result<(), String>>,
    /// Response headers.
    pub headers: Option<&'a http::HeaderMap>,
    /// The body as text.
    pub text: Option<&'a str>,
}

/// Evaluate every expectation; returns the failures (empty when all hold).
pub fn evaluate(expect: &ExpectPlan, seen: &Observed<'_>, vars: &Vars) -> Vec<CheckFailure> {
    let mut failures = Vec::new();
    match &expect.status {
        Some((codes, loc)) => {
            if !codes.contains(&seen.status) {
                let status = match codes.as_slice() {
                    [one] => one.to_string(),
                    many if many.len() == 100 && many[0] % 100 == 0 => {
                        format!("{}xx", many[0] / 100)
                    }
                    many => many
                        .iter()
                        .map(u16::to_string)
                        .collect::<Vec<_>>()
                        .join(" or "),
                };
                failures.push(failure(
                    loc,
                    "status",
                    format!("expected HTTP {status}, got {}", seen.status),
                    Some(status.to_string()),
                    Some(describe_status(seen)),
                ));
            }
        }
        None => {
            if !(200..300).contains(&seen.status) {
                failures.push(failure(
                    &expect.location,
                    "status",
                    format!("expected a successful (2xx) response, got {}", seen.status),
                    Some("2xx".into()),
                    Some(describe_status(seen)),
                ));
            }
        }
    }
    if let Some((errcode, loc)) = &expect.errcode {
        let actual = seen
            .json
            .and_then(|j| j.get("errcode"))
            .and_then(Value::as_str);
        if actual != Some(errcode.as_str()) {
            failures.push(failure(
                loc,
                "errcode",
                format!(
                    "expected errcode {errcode}, got {}",
                    actual.unwrap_or("none")
                ),
                Some(errcode.clone()),
                actual.map(str::to_owned),
            ));
        }
    }
    if let Some(Err(detail)) = &seen.schema {
        failures.push(failure(
            &expect.location,
            "schema",
            format!("response does not match the spec schema: {detail}"),
            None,
            None,
        ));
    }
    for check in &expect.body {
        let pointer = match vars.pointer_of(&check.pointer) {
            Ok(p) => p,
            Err(e) => {
                failures.push(failure(&check.location, "body", e.to_string(), None, None));
                continue;
            }
        };
        let actual = seen.json.and_then(|j| j.pointer(&pointer));
        if seen.json.is_none()
            && !check
                .predicates
                .iter()
                .all(|p| matches!(p, Predicate::Exists(false)))
        {
            failures.push(failure(
                &check.location,
                "body",
                format!("{pointer}: the response body is not JSON"),
                None,
                None,
            ));
            continue;
        }
        for predicate in &check.predicates {
            if let Err(f) = matchers::test(predicate, actual, vars) {
                failures.push(failure(
                    &check.location,
                    "body",
                    format!("{}: {}", display_pointer(&pointer), f.message),
                    f.expected,
                    f.actual,
                ));
            }
        }
    }
    for check in &expect.headers {
        let value = seen
            .headers
            .and_then(|h| h.get(check.pointer.as_str()))
            .map(|v| Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()));
        for predicate in &check.predicates {
            if let Err(f) = matchers::test(predicate, value.as_ref(), vars) {
                failures.push(failure(
                    &check.location,
                    "header",
                    format!("header {}: {}", check.pointer, f.message),
                    f.expected,
                    f.actual,
                ));
            }
        }
    }
    if let Some(check) = &expect.text {
        let value = seen.text.map(|t| Value::String(t.to_owned()));
        for predicate in &check.predicates {
            if let Err(f) = matchers::test(predicate, value.as_ref(), vars) {
                failures.push(failure(
                    &check.location,
                    "body",
                    format!("body text: {}", f.message),
                    f.expected,
                    f.actual,
                ));
            }
        }
    }
    failures
}

fn display_pointer(p: &str) -> &str {
    if p.is_empty() { "(body)" } else { p }
}

fn describe_status(seen: &Observed<'_>) -> String {
    let errcode = seen
        .json
        .and_then(|j| j.get("errcode"))
        .and_then(Value::as_str);
    let error = seen
        .json
        .and_then(|j| j.get("error"))
        .and_then(Value::as_str);
    match (errcode, error) {
        (Some(c), Some(e)) => format!("{} ({c}: {e})", seen.status),
        (Some(c), None) => format!("{} ({c})", seen.status),
        _ => seen.status.to_string(),
    }
}

/// One failed check at `location` (shared with the gateway verdicts).
pub(crate) fn failure(
    location: &str,
    kind: &str,
    message: String,
    expected: Option<String>,
    actual: Option<String>,
) -> CheckFailure {
    CheckFailure {
        location: location.to_owned(),
        kind: kind.to_owned(),
        message,
        expected,
        actual,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(status: u16) -> Observed<'static> {
        Observed {
            status,
            json: None,
            schema: None,
            headers: None,
            text: None,
        }
    }

    #[test]
    fn status_lists_accept_any_of_their_codes() {
        let expect = ExpectPlan {
            status: Some((vec![400, 403], "f:1:1".into())),
            ..ExpectPlan::default()
        };
        assert!(evaluate(&expect, &seen(403), &Vars::default()).is_empty());
        let f = evaluate(&expect, &seen(500), &Vars::default());
        assert_eq!(f[0].message, "expected HTTP 400 or 403, got 500");
    }

    #[test]
    fn without_a_status_any_2xx_passes_and_others_fail() {
        let expect = ExpectPlan::default();
        assert!(evaluate(&expect, &seen(204), &Vars::default()).is_empty());
        assert_eq!(
            evaluate(&expect, &seen(404), &Vars::default())[0].kind,
            "status"
        );
    }

    #[test]
    fn a_schema_mismatch_is_a_failed_check() {
        let expect = ExpectPlan::default();
        let mut s = seen(200);
        s.schema = Some(Err("missing field `room_id`".into()));
        let f = evaluate(&expect, &s, &Vars::default());
        assert_eq!(
            f[0].message,
            "response does not match the spec schema: missing field `room_id`"
        );
    }
}
