//! The JSON matchers: equals, not_equals, exists/absent, type, regex, contains,
//! not_contains, length and the numeric bounds at_least/at_most.

use regex::Regex;
use serde_json::Value;

use crate::plan::Predicate;
use crate::plan::template::Vars;
use crate::scenario::model::JsonType;

/// Why a predicate did not hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// One line.
    pub message: String,
    /// Expected, rendered.
    pub expected: Option<String>,
    /// Actual, rendered.
    pub actual: Option<String>,
}

const MAX_RENDER: usize = 600;

/// Render a JSON value compactly, cut to a readable length.
pub fn render(v: &Value) -> String {
    let mut s = v.to_string();
    if s.len() > MAX_RENDER {
        let mut cut = MAX_RENDER;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

fn mismatch(
    message: impl Into<String>,
    expected: Option<String>,
    actual: Option<&Value>,
) -> Mismatch {
    Mismatch {
        message: message.into(),
        expected,
        actual: Some(actual.map_or_else(|| "(absent)".to_owned(), render)),
    }
}

/// Test one predicate against the value found at the pointer (`None`: absent).
pub fn test(predicate: &Predicate, actual: Option<&Value>, vars: &Vars) -> Result<(), Mismatch> {
    let interp = |v: &Value| {
        vars.apply(v).map_err(|e| Mismatch {
            message: e.to_string(),
            expected: None,
            actual: None,
        })
    };
    match predicate {
        Predicate::Exists(true) => match actual {
            Some(_) => Ok(()),
            None => Err(mismatch(
                "expected to exist, but is absent",
                Some("present".into()),
                None,
            )),
        },
        Predicate::Exists(false) => match actual {
            None => Ok(()),
            Some(v) => Err(mismatch(
                "expected to be absent",
                Some("(absent)".into()),
                Some(v),
            )),
        },
        Predicate::Equals(expected) => {
            let expected = interp(expected)?;
            if actual == Some(&expected) {
                Ok(())
            } else {
                Err(mismatch(
                    format!("expected {}", render(&expected)),
                    Some(render(&expected)),
                    actual,
                ))
            }
        }
        Predicate::NotEquals(expected) => {
            let expected = interp(expected)?;
            if actual == Some(&expected) {
                Err(mismatch(
                    format!("expected anything but {}", render(&expected)),
                    Some(format!("not {}", render(&expected))),
                    actual,
                ))
            } else {
                Ok(())
            }
        }
        Predicate::Type(t) => {
            if actual.is_some_and(|v| type_of(v, *t)) {
                Ok(())
            } else {
                Err(mismatch(
                    format!("expected type {}", type_name(*t)),
                    Some(type_name(*t).into()),
                    actual,
                ))
            }
        }
        Predicate::Regex(pattern) => {
            let pattern = vars.text_of(pattern).map_err(|e| Mismatch {
                message: e.to_string(),
                expected: None,
                actual: None,
            })?;
            let re = Regex::new(&pattern).map_err(|e| Mismatch {
                message: format!("invalid regular expression after interpolation: {e}"),
                expected: None,
                actual: None,
            })?;
            match actual {
                Some(Value::String(s)) if re.is_match(s) => Ok(()),
                _ => Err(mismatch(
                    format!("expected a string matching /{pattern}/"),
                    Some(format!("/{pattern}/")),
                    actual,
                )),
            }
        }
        Predicate::Contains(expected) => {
            let expected = interp(expected)?;
            if actual.is_some_and(|v| contains(v, &expected)) {
                Ok(())
            } else {
                Err(mismatch(
                    format!("expected to contain {}", render(&expected)),
                    Some(format!("contains {}", render(&expected))),
                    actual,
                ))
            }
        }
        Predicate::NotContains(expected) => {
            let expected = interp(expected)?;
            if actual.is_some_and(|v| contains(v, &expected)) {
                Err(mismatch(
                    format!("expected not to contain {}", render(&expected)),
                    Some(format!("does not contain {}", render(&expected))),
                    actual,
                ))
            } else {
                Ok(())
            }
        }
        Predicate::Default(expected) => {
            let expected = interp(expected)?;
            match actual {
                None => Ok(()),
                Some(v) if *v == expected => Ok(()),
                Some(_) => Err(mismatch(
                    format!("expected absent or {}", render(&expected)),
                    Some(format!("absent or {}", render(&expected))),
                    actual,
                )),
            }
        }
        Predicate::AtLeast(bound) | Predicate::AtMost(bound) => {
            let at_least = matches!(predicate, Predicate::AtLeast(_));
            let bound = vars.number_of(bound).map_err(|message| Mismatch {
                message,
                expected: None,
                actual: None,
            })?;
            let word = if at_least { "at least" } else { "at most" };
            let shown = if bound.fract() == 0.0 && bound.abs() < 9e15 {
                Value::from(bound as i64)
            } else {
                Value::from(bound)
            };
            let holds = actual
                .and_then(Value::as_f64)
                .is_some_and(|n| if at_least { n >= bound } else { n <= bound });
            if holds {
                Ok(())
            } else {
                Err(mismatch(
                    format!("expected a number {word} {}", render(&shown)),
                    Some(format!("{word} {}", render(&shown))),
                    actual,
                ))
            }
        }
        Predicate::Length(n) => {
            let len = match actual {
                Some(Value::Array(a)) => Some(a.len()),
                Some(Value::Object(o)) => Some(o.len()),
                Some(Value::String(s)) => Some(s.chars().count()),
                _ => None,
            };
            if len.is_some_and(|l| l as u64 == *n) {
                Ok(())
            } else {
                let seen = len.map_or_else(|| "no length".to_owned(), |l| format!("length {l}"));
                Err(mismatch(
                    format!("expected length {n}, found {seen}"),
                    Some(format!("length {n}")),
                    actual,
                ))
            }
        }
    }
}

fn type_of(v: &Value, t: JsonType) -> bool {
    match t {
        JsonType::String => v.is_string(),
        JsonType::Number => v.is_number(),
        JsonType::Integer => v.is_i64() || v.is_u64(),
        JsonType::Boolean => v.is_boolean(),
        JsonType::Object => v.is_object(),
        JsonType::Array => v.is_array(),
        JsonType::Null => v.is_null(),
    }
}

fn type_name(t: JsonType) -> &'static str {
    match t {
        JsonType::String => "string",
        JsonType::Number => "number",
        JsonType::Integer => "integer",
        JsonType::Boolean => "boolean",
        JsonType::Object => "object",
        JsonType::Array => "array",
        JsonType::Null => "null",
    }
}

/// Containment: arrays contain an element that includes `expected`; strings contain a
/// substring; objects include every key of `expected` (recursively).
pub fn contains(actual: &Value, expected: &Value) -> bool {
    match actual {
        Value::Array(items) => items.iter().any(|i| includes(i, expected)),
        Value::String(s) => expected.as_str().is_some_and(|e| s.contains(e)),
        Value::Object(_) => includes(actual, expected),
        _ => actual == expected,
    }
}

/// `actual` includes `expected`: equal scalars, or objects whose every expected key is
/// included, or arrays where every expected element is included by some actual element.
pub fn includes(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => e
            .iter()
            .all(|(k, ev)| a.get(k).is_some_and(|av| includes(av, ev))),
        (Value::Array(a), Value::Array(e)) => {
            e.iter().all(|ev| a.iter().any(|av| includes(av, ev)))
        }
        _ => actual == expected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(p: Predicate, v: Option<Value>) -> bool {
        test(&p, v.as_ref(), &Vars::default()).is_ok()
    }

    #[test]
    fn each_matcher_can_pass_and_fail() {
        assert!(t(Predicate::Equals(json!(1)), Some(json!(1))));
        assert!(!t(Predicate::Equals(json!(1)), Some(json!("1"))));
        assert!(!t(Predicate::Equals(json!(1)), None));
        assert!(t(Predicate::NotEquals(json!(1)), Some(json!(2))));
        assert!(!t(Predicate::NotEquals(json!(1)), Some(json!(1))));
        assert!(t(Predicate::Exists(true), Some(json!(null))));
        assert!(!t(Predicate::Exists(true), None));
        assert!(t(Predicate::Exists(false), None));
        assert!(!t(Predicate::Exists(false), Some(json!(0))));
        assert!(t(Predicate::Type(JsonType::Integer), Some(json!(3))));
        assert!(!t(Predicate::Type(JsonType::Integer), Some(json!(3.5))));
        assert!(!t(Predicate::Type(JsonType::Object), None));
        assert!(t(Predicate::Regex("^\\$".into()), Some(json!("$abc"))));
        assert!(!t(Predicate::Regex("^\\$".into()), Some(json!("abc"))));
        assert!(!t(Predicate::Regex(".*".into()), Some(json!(5))));
        assert!(t(
            Predicate::Contains(json!({"content": {"body": "hi"}})),
            Some(json!([{"type": "m", "content": {"body": "hi", "msgtype": "m.text"}}]))
        ));
        assert!(!t(
            Predicate::Contains(json!({"content": {"body": "hi"}})),
            Some(json!([{"content": {"body": "ho"}}]))
        ));
        assert!(t(Predicate::Contains(json!("ell")), Some(json!("hello"))));
        assert!(t(Predicate::NotContains(json!("x")), Some(json!(["a"]))));
        assert!(!t(Predicate::NotContains(json!("a")), Some(json!(["a"]))));
        assert!(t(Predicate::Default(json!(false)), None));
        assert!(t(Predicate::Default(json!(false)), Some(json!(false))));
        assert!(!t(Predicate::Default(json!(false)), Some(json!(true))));
        assert!(t(Predicate::Length(2), Some(json!([1, 2]))));
        assert!(!t(Predicate::Length(2), Some(json!({"a": 1}))));
        assert!(t(Predicate::Length(3), Some(json!("héé"))));
    }

    #[test]
    fn numeric_bounds_compare_numbers_only() {
        let mut vars = Vars::default();
        vars.set("limit", json!(100));
        let t = |p: Predicate, v: Value| test(&p, Some(&v), &vars).is_ok();
        assert!(t(Predicate::AtMost(json!(100)), json!(100)));
        assert!(!t(Predicate::AtMost(json!(100)), json!(101)));
        assert!(t(Predicate::AtLeast(json!("${limit} + 1")), json!(101)));
        assert!(!t(Predicate::AtLeast(json!("${limit} + 1")), json!(100.5)));
        assert!(!t(Predicate::AtMost(json!(5)), json!("3")));
        assert!(test(&Predicate::AtMost(json!(5)), None, &vars).is_err());
        let m = test(
            &Predicate::AtLeast(json!("${limit}")),
            Some(&json!(7)),
            &vars,
        )
        .expect_err("mismatch");
        assert_eq!(m.message, "expected a number at least 100");
        assert!(test(&Predicate::AtLeast(json!("nope")), Some(&json!(7)), &vars).is_err());
    }

    #[test]
    fn mismatches_say_what_was_seen() {
        let m = test(
            &Predicate::Equals(json!("a")),
            Some(&json!("b")),
            &Vars::default(),
        )
        .expect_err("mismatch");
        assert_eq!(m.message, "expected \"a\"");
        assert_eq!(m.actual.as_deref(), Some("\"b\""));
    }

    #[test]
    fn expected_values_are_interpolated() {
        let mut vars = Vars::default();
        vars.set("room", json!("!r:hs"));
        assert!(
            test(
                &Predicate::Equals(json!("${room}")),
                Some(&json!("!r:hs")),
                &vars
            )
            .is_ok()
        );
    }
}
