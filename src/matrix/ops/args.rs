//! Shared helpers for turning operation arguments into ruma values.

use ruma::OwnedUserId;
use ruma::serde::Raw;
use serde_json::{Map, Value};

use super::glue::{OpContext, parse_id};

/// A JSON object argument (event content, filter, auth dict, ...).
pub type JsonObject = Map<String, Value>;

/// The user named by an optional `user_id` argument, or the acting user.
pub fn user_or_self(user_id: Option<String>, ctx: &OpContext<'_>) -> Result<OwnedUserId, String> {
    match user_id.as_deref().or(ctx.user_id) {
        Some(id) => parse_id("user_id", id),
        None => Err("`user_id` is required: no argument given and no acting user is known".into()),
    }
}

/// Wrap a JSON object as a ruma `Raw<T>` without interpreting it.
pub fn raw_object<T>(what: &str, object: JsonObject) -> Result<Raw<T>, String> {
    serde_json::value::to_raw_value(&Value::Object(object))
        .map(Raw::from_json)
        .map_err(|e| format!("`{what}` cannot be serialized: {e}"))
}

/// Interpret a JSON object with a ruma type, naming the argument on failure.
pub fn typed_object<T: serde::de::DeserializeOwned>(
    what: &str,
    object: JsonObject,
) -> Result<T, String> {
    serde_json::from_value(Value::Object(object)).map_err(|e| format!("`{what}` is not valid: {e}"))
}

/// Convert an optional count argument to a ruma `UInt`.
pub fn uint(value: u32) -> ruma::UInt {
    ruma::UInt::from(value)
}

/// Wrap any JSON value as a ruma `Raw<T>` without interpreting it.
pub fn raw_value<T>(what: &str, value: &Value) -> Result<Raw<T>, String> {
    serde_json::value::to_raw_value(value)
        .map(Raw::from_json)
        .map_err(|e| format!("`{what}` cannot be serialized: {e}"))
}

/// Parse a list of strings with a ruma identifier type, naming the failing element.
pub fn parse_ids<T>(what: &str, values: &[String]) -> Result<Vec<T>, String>
where
    T: TryFrom<String>,
    T::Error: std::fmt::Display,
{
    values
        .iter()
        .enumerate()
        .map(|(i, v)| parse_id(&format!("{what}[{i}]"), v))
        .collect()
}
