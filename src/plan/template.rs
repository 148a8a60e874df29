//! `${name}` interpolation inside strings. A string that is exactly one placeholder takes the
//! variable's JSON value (so numbers and objects keep their type); otherwise values are
//! spliced in as text. `$${` writes a literal `${`.

use std::collections::BTreeMap;

use serde_json::Value;

/// A piece of a template string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Literal text.
    Text(std::borrow::Cow<'a, str>),
    /// A `${name}` reference.
    Var(&'a str),
}

/// A malformed template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `${` without `}`.
    #[error("unclosed `${{` in {0:?}")]
    Unclosed(String),
    /// `${}` or a name with characters outside `[A-Za-z0-9_.-]`.
    #[error("invalid variable name {0:?}: use letters, digits, `_`, `-` and `.`")]
    BadName(String),
    /// A reference to a variable that is not defined.
    #[error("undefined variable `${{{0}}}`")]
    Undefined(String),
}

/// Split a template into pieces.
pub fn parse(s: &str) -> Result<Vec<Piece<'_>>, TemplateError> {
    let mut pieces = Vec::new();
    let mut rest = s;
    let mut text = String::new();
    while let Some(i) = rest.find('$') {
        text.push_str(&rest[..i]);
        let after = &rest[i..];
        if let Some(after_escape) = after.strip_prefix("$${") {
            text.push_str("${");
            rest = after_escape;
        } else if let Some(body) = after.strip_prefix("${") {
            let Some(end) = body.find('}') else {
                return Err(TemplateError::Unclosed(s.to_owned()));
            };
            let name = &body[..end];
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
            {
                return Err(TemplateError::BadName(name.to_owned()));
            }
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text).into()));
            }
            pieces.push(Piece::Var(name));
            rest = &body[end + 1..];
        } else {
            text.push('$');
            rest = &after[1..];
        }
    }
    text.push_str(rest);
    if !text.is_empty() {
        pieces.push(Piece::Text(text.into()));
    }
    Ok(pieces)
}

/// Every variable a string refers to.
pub fn references(s: &str) -> Result<Vec<&str>, TemplateError> {
    Ok(parse(s)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Var(v) => Some(v),
            Piece::Text(_) => None,
        })
        .collect())
}

/// Every variable referenced anywhere in a JSON value (keys and string values).
pub fn references_in_value(v: &Value, out: &mut Vec<String>) -> Result<(), TemplateError> {
    match v {
        Value::String(s) => out.extend(references(s)?.into_iter().map(str::to_owned)),
        Value::Array(items) => {
            for i in items {
                references_in_value(i, out)?;
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                out.extend(references(k)?.into_iter().map(str::to_owned));
                references_in_value(v, out)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// `key32` (a curve25519 or ed25519 public key) and `sig64` (an ed25519 signature) are
/// fresh random values of the right size, as unpadded base64, at each use.
fn random_key_len(name: &str) -> Option<usize> {
    match name {
        "key32" => Some(32),
        "sig64" => Some(64),
        _ => None,
    }
}

/// Unpadded standard base64 (the spec's encoding of keys and signatures) of `len` random bytes.
fn random_unpadded_base64(len: usize) -> String {
    use base64::Engine as _;
    let bytes: Vec<u8> = (0..len).map(|_| rand::random::<u8>()).collect();
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

/// Variables in scope while a scenario runs. `uuid`, `key32` and `sig64` are special: a
/// fresh value each use.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    values: BTreeMap<String, Value>,
}

impl Vars {
    /// Set a variable.
    pub fn set(&mut self, name: impl Into<String>, value: Value) {
        self.values.insert(name.into(), value);
    }

    /// Look a variable up.
    pub fn get(&self, name: &str) -> Option<Value> {
        if name == "uuid" {
            return Some(Value::String(uuid::Uuid::new_v4().simple().to_string()));
        }
        if name == "now_ms" {
            return Some(Value::from(now_ms()));
        }
        if let Some(len) = random_key_len(name) {
            return Some(Value::String(random_unpadded_base64(len)));
        }
        self.values.get(name).cloned()
    }

    /// Interpolate a string into a JSON value (typed when the string is one placeholder).
    pub fn value_of(&self, s: &str) -> Result<Value, TemplateError> {
        let pieces = parse(s)?;
        if let [Piece::Var(name)] = pieces.as_slice() {
            return self
                .get(name)
                .ok_or_else(|| TemplateError::Undefined((*name).to_owned()));
        }
        self.render(&pieces).map(Value::String)
    }

    /// Interpolate a string into a string.
    pub fn text_of(&self, s: &str) -> Result<String, TemplateError> {
        self.render(&parse(s)?)
    }

    /// Interpolate a JSON pointer (RFC 6901): a variable's value is one reference token, so
    /// its `~` and `/` are escaped (`~0`, `~1`); a key id holding `/` stays one segment.
    pub fn pointer_of(&self, s: &str) -> Result<String, TemplateError> {
        self.render_with(&parse(s)?, |v| v.replace('~', "~0").replace('/', "~1"))
    }

    /// Interpolate a regular expression over a request path as received: literal text stays
    /// a pattern, a variable's value is matched literally (an event id's `$` or a server
    /// name's `.` cannot change what the expression means), each of its characters other
    /// than `A-Za-z0-9-._~` either as is or percent-encoded (`!` or `%21`), as senders differ.
    pub fn path_regex_of(&self, s: &str) -> Result<String, TemplateError> {
        self.render_with(&parse(s)?, literal_in_path)
    }

    fn render(&self, pieces: &[Piece<'_>]) -> Result<String, TemplateError> {
        self.render_with(pieces, str::to_owned)
    }

    fn render_with(
        &self,
        pieces: &[Piece<'_>],
        escape: impl Fn(&str) -> String,
    ) -> Result<String, TemplateError> {
        let mut out = String::new();
        for p in pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Var(name) => match self.get(name) {
                    Some(Value::String(s)) => out.push_str(&escape(&s)),
                    Some(other) => out.push_str(&escape(&other.to_string())),
                    None => return Err(TemplateError::Undefined((*name).to_owned())),
                },
            }
        }
        Ok(out)
    }

    /// A number: a JSON number as is, or a string interpolated and read as a sum such as
    /// `"${limit} + 1"` or `"${now_ms} + 3600000"` (integers or decimals joined by `+`/`-`).
    pub fn number_of(&self, v: &Value) -> Result<f64, String> {
        match v {
            Value::Number(n) => n.as_f64().ok_or_else(|| format!("{n} is not a number")),
            Value::String(s) => {
                let text = self.text_of(s).map_err(|e| e.to_string())?;
                eval_sum(&text).ok_or_else(|| {
                    format!("{text:?} is not a number or a sum of numbers (`A + B - C`)")
                })
            }
            other => Err(format!("{other} is not a number")),
        }
    }

    /// Interpolate every string (keys included) in a JSON value.
    pub fn apply(&self, v: &Value) -> Result<Value, TemplateError> {
        Ok(match v {
            Value::String(s) => self.value_of(s)?,
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| self.apply(i))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => {
                let mut out = serde_json::Map::new();
                for (k, v) in map {
                    out.insert(self.text_of(k)?, self.apply(v)?);
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }
}

/// A pattern matching `value` in a path: unreserved characters as they are, any other either
/// raw or percent-encoded (either case of hex digits).
fn literal_in_path(value: &str) -> String {
    let mut out = String::new();
    for ch in value.chars() {
        if ch.is_ascii_alphanumeric() || matches!(ch, '-' | '.' | '_' | '~') {
            out.push_str(&regex::escape(ch.encode_utf8(&mut [0; 4])));
            continue;
        }
        let mut encoded = String::new();
        for b in ch.encode_utf8(&mut [0; 4]).bytes() {
            encoded.push('%');
            for digit in format!("{b:02X}").chars() {
                if digit.is_ascii_alphabetic() {
                    encoded.push_str(&format!("[{digit}{}]", digit.to_ascii_lowercase()));
                } else {
                    encoded.push(digit);
                }
            }
        }
        out.push_str(&format!(
            "(?:{}|{encoded})",
            regex::escape(ch.encode_utf8(&mut [0; 4]))
        ));
    }
    out
}

/// Milliseconds since the Unix epoch (`${now_ms}`), the unit of Matrix timestamps.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `A`, `A + B`, `A - B + C`, ...: numbers (a leading `-` allowed) joined by `+` or `-`.
pub fn eval_sum(text: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut sign = 1.0;
    let mut expect_term = true;
    let mut rest = text.trim();
    while !rest.is_empty() {
        if expect_term {
            let (neg, body) = match rest.strip_prefix('-') {
                Some(b) => (true, b.trim_start()),
                None => (false, rest),
            };
            let end = body
                .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e' || c == 'E'))
                .unwrap_or(body.len());
            let n: f64 = body[..end].parse().ok()?;
            total += sign * if neg { -n } else { n };
            rest = body[end..].trim_start();
            expect_term = false;
        } else {
            sign = match rest.as_bytes()[0] {
                b'+' => 1.0,
                b'-' => -1.0,
                _ => return None,
            };
            rest = rest[1..].trim_start();
            expect_term = true;
        }
    }
    (!expect_term && total.is_finite()).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn interpolation_keeps_types_for_whole_placeholders() {
        let mut vars = Vars::default();
        vars.set("n", json!(5));
        vars.set("room", json!("!r:hs"));
        assert_eq!(vars.value_of("${n}").expect("ok"), json!(5));
        assert_eq!(vars.value_of("n=${n}").expect("ok"), json!("n=5"));
        assert_eq!(
            vars.text_of("/rooms/${room}/x").expect("ok"),
            "/rooms/!r:hs/x"
        );
        assert_eq!(vars.text_of("a $${n} b $ c").expect("ok"), "a ${n} b $ c");
        assert_eq!(
            vars.apply(&json!({"${room}": ["${n}"]})).expect("ok"),
            json!({"!r:hs": [5]})
        );
        assert_ne!(
            vars.value_of("${uuid}").expect("ok"),
            vars.value_of("${uuid}").expect("ok")
        );
        // Well-formed key material: 32 bytes are 43 unpadded base64 characters, 64 are 86.
        let key = vars.text_of("${key32}").expect("ok");
        assert_eq!(key.len(), 43);
        assert!(!key.contains('='));
        assert_eq!(vars.text_of("${sig64}").expect("ok").len(), 86);
        assert_ne!(
            vars.value_of("${key32}").expect("ok"),
            vars.value_of("${key32}").expect("ok")
        );
    }

    #[test]
    fn pointers_escape_substituted_values() {
        let mut vars = Vars::default();
        vars.set("key", json!("ab/c~d"));
        assert_eq!(
            vars.pointer_of("/keys/ed25519:${key}/x").expect("ok"),
            "/keys/ed25519:ab~1c~0d/x"
        );
        let body = json!({"keys": {"ed25519:ab/c~d": {"x": 1}}});
        let p = vars.pointer_of("/keys/ed25519:${key}/x").expect("ok");
        assert_eq!(body.pointer(&p), Some(&json!(1)));
    }

    #[test]
    fn regexes_escape_substituted_values() {
        let mut vars = Vars::default();
        vars.set("room", json!("!a.b:hs1"));
        vars.set("n", json!(3));
        let re = vars.path_regex_of("/send/.+/${room}/${n}").expect("ok");
        let re = regex::Regex::new(&format!("^(?:{re})$")).expect("valid");
        assert!(re.is_match("/send/x/!a.b:hs1/3"));
        assert!(re.is_match("/send/x/%21a.b%3Ahs1/3"));
        assert!(re.is_match("/send/x/%21a.b%3ahs1/3"));
        assert!(!re.is_match("/send/x/!aXb:hs1/3"));
        assert!(!re.is_match("/send/x/%21a.b%3Bhs1/3"));
    }

    #[test]
    fn numbers_are_read_from_values_and_sums() {
        let mut vars = Vars::default();
        vars.set("limit", json!(52428800));
        assert_eq!(vars.number_of(&json!(3)), Ok(3.0));
        assert_eq!(vars.number_of(&json!("${limit} + 1")), Ok(52428801.0));
        assert_eq!(vars.number_of(&json!("${limit}")), Ok(52428800.0));
        assert_eq!(eval_sum("10 - 2 + -3"), Some(5.0));
        assert_eq!(eval_sum("1.5"), Some(1.5));
        assert_eq!(eval_sum("1 +"), None);
        assert_eq!(eval_sum("a"), None);
        assert_eq!(eval_sum(""), None);
        assert!(vars.number_of(&json!("x${limit}")).is_err());
        let now = vars.number_of(&json!("${now_ms}")).expect("a number");
        assert!(now > 1.7e12, "{now}");
    }

    #[test]
    fn errors_are_reported() {
        let vars = Vars::default();
        assert_eq!(
            vars.text_of("${nope}"),
            Err(TemplateError::Undefined("nope".into()))
        );
        assert!(matches!(parse("a ${b"), Err(TemplateError::Unclosed(_))));
        assert!(matches!(parse("${a b}"), Err(TemplateError::BadName(_))));
        assert_eq!(
            references("${a.user_id}/${b}").expect("ok"),
            ["a.user_id", "b"]
        );
    }
}
