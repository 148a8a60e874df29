//! One root cause, one line: failures that share the failing operation (the request's
//! METHOD and path template) and the error (status and errcode, or the message) are
//! grouped, so a server behaviour that breaks many checks reads as one finding with the
//! count and the ids. Without a transcript the failure's kind and message are the key.

use std::collections::BTreeMap;

use crate::matrix::endpoints;
use crate::results::{Exchange, ScenarioResult};

/// What a failure is keyed by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cause {
    /// `POST /_matrix/client/v3/createRoom`, or `None` when the failure has no transcript.
    pub operation: Option<String>,
    /// `500 M_UNKNOWN`, `no response (timeout)`, or the first line of the message.
    pub error: String,
}

impl Cause {
    /// `POST /_matrix/client/v3/createRoom → 500 M_UNKNOWN`, or just the error.
    pub fn describe(&self) -> String {
        match &self.operation {
            Some(op) => format!("{op} → {}", self.error),
            None => self.error.clone(),
        }
    }
}

/// Scenarios that failed for the same cause, in the order they were given.
#[derive(Debug, Clone)]
pub struct Group<'a> {
    /// The shared cause.
    pub cause: Cause,
    /// The scenarios, at least one.
    pub scenarios: Vec<&'a ScenarioResult>,
}

impl Group<'_> {
    /// The scenario ids, comma-separated.
    pub fn ids(&self) -> String {
        self.scenarios
            .iter()
            .map(|s| s.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The cause of a scenario's failure (or block, or unsupported operation): the last
/// exchange of the failing step's transcript, else the failure's kind and message.
pub fn cause_of(scenario: &ScenarioResult) -> Cause {
    let Some(failure) = &scenario.failure else {
        return Cause {
            operation: None,
            error: "no reason recorded".to_owned(),
        };
    };
    let message = first_line(&failure.message);
    match failure.transcript.last() {
        Some(exchange) => Cause {
            operation: Some(operation(&exchange.method, &exchange.url)),
            error: error_of(exchange, &failure.kind, message),
        },
        None => Cause {
            operation: None,
            error: if failure.kind.is_empty() || message.starts_with(&failure.kind) {
                message.to_owned()
            } else {
                format!("{}: {message}", failure.kind)
            },
        },
    }
}

/// Groups scenarios by [`cause_of`]; groups come in the order of their first scenario.
pub fn group<'a>(scenarios: impl IntoIterator<Item = &'a ScenarioResult>) -> Vec<Group<'a>> {
    group_by(scenarios, cause_of)
}

/// Groups scenarios by level (MUST, POLICY, SHOULD, MAY, in that order) and then by
/// [`cause_of`], so a group never mixes levels.
pub fn group_per_level<'a>(
    scenarios: impl IntoIterator<Item = &'a ScenarioResult>,
) -> Vec<Group<'a>> {
    let all: Vec<&'a ScenarioResult> = scenarios.into_iter().collect();
    ["MUST", "POLICY", "SHOULD", "MAY"]
        .into_iter()
        .flat_map(|level| group(all.iter().copied().filter(|s| s.level_label() == level)))
        .collect()
}

/// Groups scenarios by the operation alone (unsupported operations: once per operation).
pub fn group_by_operation<'a>(
    scenarios: impl IntoIterator<Item = &'a ScenarioResult>,
) -> Vec<Group<'a>> {
    group_by(scenarios, |s| {
        let cause = cause_of(s);
        match cause.operation {
            Some(op) => Cause {
                operation: None,
                error: op,
            },
            None => cause,
        }
    })
}

fn group_by<'a>(
    scenarios: impl IntoIterator<Item = &'a ScenarioResult>,
    key: impl Fn(&ScenarioResult) -> Cause,
) -> Vec<Group<'a>> {
    let mut index: BTreeMap<Cause, usize> = BTreeMap::new();
    let mut groups: Vec<Group<'a>> = Vec::new();
    for scenario in scenarios {
        let cause = key(scenario);
        match index.get(&cause) {
            Some(&i) => groups[i].scenarios.push(scenario),
            None => {
                index.insert(cause.clone(), groups.len());
                groups.push(Group {
                    cause,
                    scenarios: vec![scenario],
                });
            }
        }
    }
    groups
}

/// `METHOD /path/{template}`: the catalogued Client-Server endpoint when the request
/// matches one, else the path with identifier-like segments replaced by `{id}`.
pub fn operation(method: &str, url: &str) -> String {
    if let Some(e) = endpoints::identify(method, url) {
        return e.id();
    }
    let path = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest.find('/').map_or("/", |i| &rest[i..]));
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let templated: Vec<&str> = path
        .split('/')
        .map(|segment| {
            if is_identifier(segment) {
                "{id}"
            } else {
                segment
            }
        })
        .collect();
    format!("{} {}", method.to_ascii_uppercase(), templated.join("/"))
}

/// A segment that names one thing (a Matrix id, an encoded value, a transaction id), not
/// a route.
fn is_identifier(segment: &str) -> bool {
    if segment.is_empty() {
        return false;
    }
    let sigil = segment.starts_with(['!', '@', '#', '$', '+']);
    let encoded = segment.contains('%') || segment.contains(':');
    let random = segment.len() >= 12
        && segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        && segment.chars().any(|c| c.is_ascii_digit())
        && segment.chars().any(|c| c.is_ascii_alphabetic());
    let number = segment.chars().all(|c| c.is_ascii_digit());
    sigil || encoded || random || number
}

/// `500 M_UNKNOWN` (errcode when the body has one) for an error status; `no response
/// (kind)` when none came; else the check's message (a 2xx whose body was wrong).
fn error_of(exchange: &Exchange, kind: &str, message: &str) -> String {
    match exchange.status {
        None => format!("no response ({kind})"),
        Some(status) if status >= 300 => {
            match exchange.response_body.as_deref().and_then(errcode) {
                Some(code) => format!("{status} {code}"),
                None => status.to_string(),
            }
        }
        Some(_) => message.to_owned(),
    }
}

/// The `errcode` of a Matrix error body, when it has one.
fn errcode(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    value
        .get("errcode")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{Failure, Outcome};

    fn exchange(method: &str, url: &str, status: Option<u16>, body: &str) -> Exchange {
        Exchange {
            method: method.into(),
            url: url.into(),
            request_headers: BTreeMap::new(),
            request_body: None,
            status,
            response_headers: BTreeMap::new(),
            response_body: Some(body.into()),
            error: status.is_none().then(|| "timed out".to_owned()),
            duration_ms: 1,
        }
    }

    pub(crate) fn failing(id: &str, message: &str, transcript: Vec<Exchange>) -> ScenarioResult {
        let mut s = ScenarioResult::new(id, id, "rooms", format!("{id}.yaml"));
        s.outcome = Outcome::Failed;
        s.failure = Some(Failure {
            transcript,
            kind: "status".into(),
            ..Failure::setup(format!("{id}.yaml:3:5"), message)
        });
        s
    }

    #[test]
    fn the_same_operation_and_error_make_one_group() {
        let create = |room| {
            vec![exchange(
                "POST",
                &format!("https://hs/_matrix/client/v3/createRoom?x={room}"),
                Some(500),
                r#"{"errcode":"M_UNKNOWN","error":"boom"}"#,
            )]
        };
        let scenarios = vec![
            failing("cs/a", "expected status 200, got 500", create(1)),
            failing(
                "cs/b",
                "expected status 200, got 500",
                vec![exchange(
                    "PUT",
                    "https://hs/_matrix/client/v3/rooms/!r:hs/send/m.room.message/t1",
                    Some(500),
                    "{}",
                )],
            ),
            failing("cs/c", "expected 2xx, got 500", create(2)),
            failing("cs/d", "could not provision user bob", Vec::new()),
            failing("cs/e", "could not provision user bob", Vec::new()),
        ];
        let groups = group(&scenarios);
        let lines: Vec<(String, String)> = groups
            .iter()
            .map(|g| (g.cause.describe(), g.ids()))
            .collect();
        assert_eq!(
            lines,
            [
                (
                    "POST /_matrix/client/v3/createRoom → 500 M_UNKNOWN".to_owned(),
                    "cs/a, cs/c".to_owned()
                ),
                (
                    "PUT /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId} → 500"
                        .to_owned(),
                    "cs/b".to_owned()
                ),
                (
                    "status: could not provision user bob".to_owned(),
                    "cs/d, cs/e".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn a_different_errcode_or_body_message_is_another_group() {
        let sync = |status, body: &str| {
            vec![exchange(
                "GET",
                "https://hs/_matrix/client/v3/sync",
                Some(status),
                body,
            )]
        };
        let scenarios = vec![
            failing("a", "m", sync(403, r#"{"errcode":"M_FORBIDDEN"}"#)),
            failing("b", "m", sync(403, r#"{"errcode":"M_LIMIT_EXCEEDED"}"#)),
            failing("c", "$.rooms: missing", sync(200, "{}")),
            failing("d", "$.next_batch: missing", sync(200, "{}")),
            failing("e", "$.rooms: missing", sync(200, "{}")),
        ];
        let ids: Vec<String> = group(&scenarios).iter().map(Group::ids).collect();
        assert_eq!(ids, ["a", "b", "c, e", "d"]);
    }

    #[test]
    fn unknown_paths_are_templated_and_no_response_is_its_own_error() {
        assert_eq!(
            operation(
                "put",
                "https://hs:8448/_matrix/federation/v1/send/1733211111222?x=1"
            ),
            "PUT /_matrix/federation/v1/send/{id}"
        );
        assert_eq!(
            operation(
                "POST",
                "http://hs/_matrix/client/unstable/org.matrix.simplified_msc3575/sync"
            ),
            "POST /_matrix/client/unstable/org.matrix.simplified_msc3575/sync"
        );
        assert_eq!(
            operation("GET", "http://hs/_synapse/admin/v2/users/%40bob%3Ahs"),
            "GET /_synapse/admin/v2/users/{id}"
        );
        let timeout = failing(
            "t",
            "no response",
            vec![exchange(
                "GET",
                "http://hs/_matrix/client/v3/sync",
                None,
                "",
            )],
        );
        assert_eq!(
            cause_of(&timeout).describe(),
            "GET /_matrix/client/v3/sync → no response (status)"
        );
    }

    #[test]
    fn unsupported_operations_group_by_operation_alone() {
        let post = |status, body: &str| {
            vec![exchange(
                "POST",
                "https://hs/_matrix/client/v3/user/@a:hs/filter",
                Some(status),
                body,
            )]
        };
        let scenarios = vec![
            failing("a", "x", post(404, r#"{"errcode":"M_UNRECOGNIZED"}"#)),
            failing("b", "y", post(405, "")),
        ];
        let groups = group_by_operation(&scenarios);
        assert_eq!(groups.len(), 1);
        assert_eq!(
            groups[0].cause.describe(),
            "POST /_matrix/client/v3/user/{userId}/filter"
        );
        assert_eq!(groups[0].ids(), "a, b");
    }
}
