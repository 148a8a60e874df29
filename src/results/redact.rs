//! Secret redaction: everything that lands in a [`super::RunReport`] (URLs, headers,
//! bodies, messages) goes through a [`Redactor`] first, so reports can be shared.
//!
//! Two layers: values of well-known secret keys and headers are always replaced, and
//! every secret the run registered (passwords, tokens, the shared secret) is replaced
//! wherever it appears as text.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::Exchange;

/// What every redacted value is replaced with.
pub const REDACTED: &str = "<redacted>";

/// Shorter strings are not registered as secrets: replacing them would mangle
/// unrelated text.
pub const MIN_SECRET_LEN: usize = 6;

/// JSON keys whose values are always secret (compared case-insensitively).
pub const SECRET_KEYS: &[&str] = &[
    "password",
    "new_password",
    "access_token",
    "refresh_token",
    "token",
    "mac",
    "registration_shared_secret",
];

/// Query parameters whose values are always secret.
const SECRET_QUERY_PARAMS: &[&str] = &["access_token", "refresh_token", "token"];

/// `"key": "value"` pairs with a secret key, for text that is not valid JSON
/// (typically a truncated body).
static SECRET_PAIR: LazyLock<Regex> = LazyLock::new(|| {
    let keys = SECRET_KEYS.join("|");
    Regex::new(&format!(
        r#"(?i)("(?:{keys})"\s*:\s*)"(?:[^"\\]|\\.)*(?:"|$)"#
    ))
    .unwrap_or_else(|e| unreachable!("the secret-pair pattern is valid: {e}"))
});

/// `access_token=...` and friends in a URL query.
static SECRET_QUERY: LazyLock<Regex> = LazyLock::new(|| {
    let params = SECRET_QUERY_PARAMS.join("|");
    Regex::new(&format!(r"(?i)([?&](?:{params})=)[^&#\s]*"))
        .unwrap_or_else(|e| unreachable!("the secret-query pattern is valid: {e}"))
});

/// Replaces secrets in text, JSON, headers and HTTP exchanges.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Known secrets, longest first (so a secret containing another is replaced whole).
    secrets: Vec<String>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secrets themselves.
        f.debug_struct("Redactor")
            .field("secrets", &format_args!("[{} hidden]", self.secrets.len()))
            .finish()
    }
}

impl Redactor {
    /// A redactor that knows no secrets yet (well-known keys and headers are still
    /// redacted).
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a secret. Strings shorter than [`MIN_SECRET_LEN`] characters are
    /// ignored, as are duplicates.
    pub fn add_secret(&mut self, secret: impl Into<String>) {
        let secret = secret.into();
        if secret.chars().count() < MIN_SECRET_LEN || self.secrets.contains(&secret) {
            return;
        }
        self.secrets.push(secret);
        self.secrets
            .sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    }

    /// How many secrets are registered.
    pub fn secret_count(&self) -> usize {
        self.secrets.len()
    }

    /// Replaces every occurrence of every known secret with [`REDACTED`].
    pub fn redact_text(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        out
    }

    /// Replaces, recursively, the value of every secret key (see [`SECRET_KEYS`]) with
    /// [`REDACTED`], and every known secret inside other strings (keys included).
    pub fn redact_json(&self, value: &mut Value) {
        match value {
            Value::String(s) => {
                let redacted = self.redact_text(s);
                if redacted != *s {
                    *s = redacted;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.redact_json(item)),
            Value::Object(map) => {
                let needs_key_redaction = map.keys().any(|k| self.redact_text(k) != *k);
                if needs_key_redaction {
                    let old = std::mem::take(map);
                    for (key, val) in old {
                        map.insert(self.redact_text(&key), val);
                    }
                }
                for (key, val) in map.iter_mut() {
                    if is_secret_key(key) {
                        if !val.is_null() {
                            *val = Value::String(REDACTED.to_owned());
                        }
                    } else {
                        self.redact_json(val);
                    }
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// Redacts credentials in headers: `Authorization` keeps only its scheme
    /// (`Bearer <redacted>`), `Cookie` and `Set-Cookie` are replaced whole, and known
    /// secrets are replaced in every other value. Header names match case-insensitively.
    pub fn redact_headers(&self, headers: &mut BTreeMap<String, String>) {
        for (name, value) in headers.iter_mut() {
            let lower = name.to_ascii_lowercase();
            *value = match lower.as_str() {
                "authorization" | "proxy-authorization" => match value.split_once(' ') {
                    Some((scheme, _)) if !scheme.is_empty() => format!("{scheme} {REDACTED}"),
                    _ => REDACTED.to_owned(),
                },
                "cookie" | "set-cookie" => REDACTED.to_owned(),
                _ => self.redact_text(value),
            };
        }
    }

    /// Redacts a URL: secret query parameters (`access_token=`) and known secrets.
    pub fn redact_url(&self, url: &str) -> String {
        let url = SECRET_QUERY.replace_all(url, format!("${{1}}{REDACTED}").as_str());
        self.redact_text(&url)
    }

    /// Redacts a body: JSON bodies get [`Redactor::redact_json`] (and are re-serialized
    /// only if something changed), other text gets [`Redactor::redact_text`] plus a
    /// pattern match on `"password": "..."`-like pairs, which catches truncated JSON.
    pub fn redact_body(&self, body: &str) -> String {
        if let Ok(mut value) = serde_json::from_str::<Value>(body) {
            let before = value.clone();
            self.redact_json(&mut value);
            if value == before {
                return body.to_owned();
            }
            let rendered = if body.contains('\n') {
                serde_json::to_string_pretty(&value)
            } else {
                serde_json::to_string(&value)
            };
            if let Ok(rendered) = rendered {
                return rendered;
            }
        }
        let text = SECRET_PAIR.replace_all(body, format!("${{1}}\"{REDACTED}\"").as_str());
        self.redact_text(&text)
    }

    /// Applies everything above to one exchange: URL, both header maps, both bodies and
    /// the transport error.
    pub fn redact_exchange(&self, exchange: &mut Exchange) {
        exchange.url = self.redact_url(&exchange.url);
        self.redact_headers(&mut exchange.request_headers);
        self.redact_headers(&mut exchange.response_headers);
        for body in [&mut exchange.request_body, &mut exchange.response_body]
            .into_iter()
            .flatten()
        {
            *body = self.redact_body(body);
        }
        if let Some(error) = &mut exchange.error {
            *error = self.redact_text(error);
        }
    }
}

fn is_secret_key(key: &str) -> bool {
    SECRET_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn redactor() -> Redactor {
        let mut r = Redactor::new();
        r.add_secret("hunter2hunter2");
        r.add_secret("syt_YWxpY2U_abcdefghij_0123");
        r
    }

    #[test]
    fn short_and_duplicate_secrets_are_ignored() {
        let mut r = Redactor::new();
        r.add_secret("abc");
        r.add_secret("12345");
        assert_eq!(r.secret_count(), 0);
        r.add_secret("123456");
        r.add_secret("123456");
        assert_eq!(r.secret_count(), 1);
        assert_eq!(r.redact_text("a 12345 b"), "a 12345 b");
        assert_eq!(r.redact_text("a 123456 b"), "a <redacted> b");
    }

    #[test]
    fn debug_does_not_print_secrets() {
        let debug = format!("{:?}", redactor());
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("2 hidden"), "{debug}");
    }

    #[test]
    fn redact_text_replaces_every_occurrence() {
        let r = redactor();
        assert_eq!(
            r.redact_text(
                "pw=hunter2hunter2, again hunter2hunter2; token syt_YWxpY2U_abcdefghij_0123"
            ),
            "pw=<redacted>, again <redacted>; token <redacted>"
        );
        assert_eq!(r.redact_text("nothing here"), "nothing here");
    }

    #[test]
    fn longer_secret_wins_over_contained_one() {
        let mut r = Redactor::new();
        r.add_secret("secret");
        r.add_secret("secret-and-more");
        assert_eq!(r.redact_text("x secret-and-more y"), "x <redacted> y");
    }

    #[test]
    fn redact_json_replaces_secret_keys_and_known_secrets() {
        let r = redactor();
        let mut value = json!({
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": "alice"},
            "password": "anything-at-all",
            "Access_Token": "tok",
            "refresh_token": null,
            "auth": {"new_password": 12, "session": "s"},
            "mac": "deadbeef",
            "token": "regtoken",
            "registration_shared_secret": "s3cr3t",
            "nested": ["the password is hunter2hunter2", {"token": "x"}],
            "hunter2hunter2": "a key that is a secret",
            "count": 3
        });
        r.redact_json(&mut value);
        assert_eq!(
            value,
            json!({
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": "alice"},
                "password": "<redacted>",
                "Access_Token": "<redacted>",
                "refresh_token": null,
                "auth": {"new_password": "<redacted>", "session": "s"},
                "mac": "<redacted>",
                "token": "<redacted>",
                "registration_shared_secret": "<redacted>",
                "nested": ["the password is <redacted>", {"token": "<redacted>"}],
                "<redacted>": "a key that is a secret",
                "count": 3
            })
        );
    }

    #[test]
    fn redact_headers_handles_credentials() {
        let r = redactor();
        let mut headers = BTreeMap::from([
            (
                "Authorization".to_owned(),
                "Bearer syt_YWxpY2U_abcdefghij_0123".to_owned(),
            ),
            ("cookie".to_owned(), "session=abc".to_owned()),
            ("set-cookie".to_owned(), "id=1; HttpOnly".to_owned()),
            ("content-type".to_owned(), "application/json".to_owned()),
            ("x-debug".to_owned(), "pw hunter2hunter2".to_owned()),
        ]);
        r.redact_headers(&mut headers);
        assert_eq!(headers["Authorization"], "Bearer <redacted>");
        assert_eq!(headers["cookie"], "<redacted>");
        assert_eq!(headers["set-cookie"], "<redacted>");
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(headers["x-debug"], "pw <redacted>");

        let mut bare = BTreeMap::from([("authorization".to_owned(), "abcdef".to_owned())]);
        r.redact_headers(&mut bare);
        assert_eq!(bare["authorization"], "<redacted>");
    }

    #[test]
    fn redact_url_hides_token_query_parameters() {
        let r = Redactor::new();
        assert_eq!(
            r.redact_url("https://hs/_matrix/client/v3/sync?access_token=abc&timeout=0"),
            "https://hs/_matrix/client/v3/sync?access_token=<redacted>&timeout=0"
        );
        assert_eq!(
            r.redact_url("https://hs/x?since=s1&ACCESS_TOKEN=abc#frag"),
            "https://hs/x?since=s1&ACCESS_TOKEN=<redacted>#frag"
        );
        assert_eq!(r.redact_url("https://hs/x?limit=1"), "https://hs/x?limit=1");
    }

    #[test]
    fn redact_body_handles_json_and_truncated_text() {
        let r = redactor();
        // Unchanged JSON keeps its exact formatting.
        assert_eq!(r.redact_body("{ \"a\" : 1 }"), "{ \"a\" : 1 }");
        assert_eq!(
            r.redact_body(r#"{"password":"pw-123456","user":"alice"}"#),
            r#"{"password":"<redacted>","user":"alice"}"#
        );
        // Truncated JSON: the pattern still catches secret keys, even cut off.
        assert_eq!(
            r.redact_body(r#"{"user":"alice","password":"pw-1\"23456","x":[1,2"#),
            r#"{"user":"alice","password":"<redacted>","x":[1,2"#
        );
        assert_eq!(
            r.redact_body(r#"{"user":"alice","access_token":"syt_abc"#),
            r#"{"user":"alice","access_token":"<redacted>""#
        );
        assert_eq!(
            r.redact_body("plain text with hunter2hunter2"),
            "plain text with <redacted>"
        );
    }

    #[test]
    fn redact_exchange_covers_every_field() {
        let r = redactor();
        let mut exchange = Exchange {
            method: "POST".into(),
            url: "https://hs/_matrix/client/v3/login?access_token=syt_YWxpY2U_abcdefghij_0123"
                .into(),
            request_headers: BTreeMap::from([(
                "authorization".into(),
                "Bearer syt_YWxpY2U_abcdefghij_0123".into(),
            )]),
            request_body: Some(r#"{"type":"m.login.password","password":"hunter2hunter2"}"#.into()),
            status: Some(200),
            response_headers: BTreeMap::from([("set-cookie".into(), "a=b".into())]),
            response_body: Some(
                r#"{"access_token":"syt_YWxpY2U_abcdefghij_0123","device_id":"DEV"}"#.into(),
            ),
            error: Some("echo: hunter2hunter2".into()),
            duration_ms: 5,
        };
        r.redact_exchange(&mut exchange);
        let all = serde_json::to_string(&exchange).unwrap_or_default();
        assert!(!all.contains("hunter2"), "{all}");
        assert!(!all.contains("syt_"), "{all}");
        assert_eq!(
            exchange.url,
            "https://hs/_matrix/client/v3/login?access_token=<redacted>"
        );
        assert_eq!(
            exchange.request_headers["authorization"],
            "Bearer <redacted>"
        );
        assert_eq!(
            exchange.request_body.as_deref(),
            Some(r#"{"type":"m.login.password","password":"<redacted>"}"#)
        );
        assert_eq!(exchange.response_headers["set-cookie"], "<redacted>");
        assert_eq!(
            exchange.response_body.as_deref(),
            Some(r#"{"access_token":"<redacted>","device_id":"DEV"}"#)
        );
        assert_eq!(exchange.error.as_deref(), Some("echo: <redacted>"));
    }
}
