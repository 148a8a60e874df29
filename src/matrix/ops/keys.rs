//! End-to-end encryption keys: `upload_keys`, `query_keys`, `claim_keys`, `key_changes`,
//! `upload_signing_keys`, `upload_signatures`.

use std::collections::BTreeMap;
use std::time::Duration;

use ruma::api::client::keys::{
    claim_keys, get_key_changes, get_keys, upload_keys, upload_signatures, upload_signing_keys,
};
use ruma::{OneTimeKeyAlgorithm, OwnedDeviceId, OwnedOneTimeKeyId, OwnedUserId};
use serde_json::Value;

use super::Operation;
use super::account::auth_data;
use super::args::{JsonObject, raw_object, raw_value, typed_object};
use super::glue::{OpContext, TypedOp, parse_id};

pub(super) fn ops() -> Vec<Box<dyn Operation>> {
    op_list![
        TypedOp::new(
            "upload_keys",
            "Upload device keys, one-time keys and fallback keys of the acting device",
            ("POST", "/_matrix/client/v3/keys/upload"),
            build_upload_keys,
        ),
        TypedOp::new(
            "query_keys",
            "Download the device keys and cross-signing keys of users",
            ("POST", "/_matrix/client/v3/keys/query"),
            build_query_keys,
        ),
        TypedOp::new(
            "claim_keys",
            "Claim one-time keys of other devices to start encrypted sessions",
            ("POST", "/_matrix/client/v3/keys/claim"),
            build_claim_keys,
        ),
        TypedOp::new(
            "key_changes",
            "List the users whose device keys changed between two sync tokens",
            ("GET", "/_matrix/client/v3/keys/changes"),
            |a: KeyChangesArgs, _| Ok(get_key_changes::v3::Request::new(a.from, a.to)),
        ),
        TypedOp::new(
            "upload_signing_keys",
            "Upload cross-signing keys, possibly through user-interactive authentication",
            ("POST", "/_matrix/client/v3/keys/device_signing/upload"),
            build_upload_signing_keys,
        )
        .with_uia(),
        TypedOp::new(
            "upload_signatures",
            "Upload signatures of device keys and cross-signing keys",
            ("POST", "/_matrix/client/v3/keys/signatures/upload"),
            build_upload_signatures,
        ),
    ]
}

/// Arguments of `upload_keys`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadKeysArgs {
    /// The device keys object, sent as given.
    #[serde(default)]
    pub device_keys: Option<JsonObject>,
    /// One-time keys by key ID (`algorithm:key_id`), each a key string or a signed key object.
    #[serde(default)]
    pub one_time_keys: Option<BTreeMap<String, Value>>,
    /// Fallback keys by key ID (`algorithm:key_id`), each a signed key object.
    #[serde(default)]
    pub fallback_keys: Option<BTreeMap<String, Value>>,
}

fn one_time_key_map<T>(
    what: &str,
    keys: Option<BTreeMap<String, Value>>,
) -> Result<BTreeMap<OwnedOneTimeKeyId, ruma::serde::Raw<T>>, String> {
    keys.unwrap_or_default()
        .into_iter()
        .map(|(id, key)| {
            let path = format!("{what}.{id}");
            Ok((parse_id(&path, &id)?, raw_value(&path, &key)?))
        })
        .collect()
}

fn build_upload_keys(
    a: UploadKeysArgs,
    _: &OpContext<'_>,
) -> Result<upload_keys::v3::Request, String> {
    let mut req = upload_keys::v3::Request::new();
    req.device_keys = a
        .device_keys
        .map(|keys| raw_object("device_keys", keys))
        .transpose()?;
    req.one_time_keys = one_time_key_map("one_time_keys", a.one_time_keys)?;
    req.fallback_keys = one_time_key_map("fallback_keys", a.fallback_keys)?;
    Ok(req)
}

/// Arguments of `query_keys`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryKeysArgs {
    /// The devices to query, by user ID; an empty list means all devices of that user.
    pub device_keys: BTreeMap<String, Vec<String>>,
    /// How long to wait for remote servers, in milliseconds.
    #[serde(default)]
    pub timeout: Option<u64>,
}

fn build_query_keys(a: QueryKeysArgs, _: &OpContext<'_>) -> Result<get_keys::v3::Request, String> {
    let mut req = get_keys::v3::Request::new();
    req.timeout = a.timeout.map(Duration::from_millis);
    req.device_keys = a
        .device_keys
        .into_iter()
        .map(|(user, devices)| {
            let user_id: OwnedUserId = parse_id(&format!("device_keys.{user}"), &user)?;
            let devices: Vec<OwnedDeviceId> = devices.into_iter().map(Into::into).collect();
            Ok((user_id, devices))
        })
        .collect::<Result<_, String>>()?;
    Ok(req)
}

/// Arguments of `claim_keys`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimKeysArgs {
    /// The keys to claim: user ID to device ID to key algorithm (e.g. `signed_curve25519`).
    pub one_time_keys: BTreeMap<String, BTreeMap<String, String>>,
    /// How long to wait for remote servers, in milliseconds; not sent if absent.
    #[serde(default)]
    pub timeout: Option<u64>,
}

fn build_claim_keys(
    a: ClaimKeysArgs,
    _: &OpContext<'_>,
) -> Result<claim_keys::v3::Request, String> {
    let one_time_keys = a
        .one_time_keys
        .into_iter()
        .map(|(user, devices)| {
            let user_id: OwnedUserId = parse_id(&format!("one_time_keys.{user}"), &user)?;
            let devices: BTreeMap<OwnedDeviceId, OneTimeKeyAlgorithm> = devices
                .into_iter()
                .map(|(device, algorithm)| (device.into(), algorithm.into()))
                .collect();
            Ok((user_id, devices))
        })
        .collect::<Result<_, String>>()?;
    let mut req = claim_keys::v3::Request::new(one_time_keys);
    req.timeout = a.timeout.map(Duration::from_millis);
    Ok(req)
}

/// Arguments of `key_changes`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyChangesArgs {
    /// The sync token to start from (a `next_batch` or `since` value).
    pub from: String,
    /// The sync token to stop at.
    pub to: String,
}

/// Arguments of `upload_signing_keys`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadSigningKeysArgs {
    /// The master cross-signing key object, sent as given.
    #[serde(default)]
    pub master_key: Option<JsonObject>,
    /// The self-signing key object, sent as given.
    #[serde(default)]
    pub self_signing_key: Option<JsonObject>,
    /// The user-signing key object, sent as given.
    #[serde(default)]
    pub user_signing_key: Option<JsonObject>,
    /// The user-interactive-authentication `auth` dict.
    #[serde(default)]
    pub auth: Option<JsonObject>,
}

fn build_upload_signing_keys(
    a: UploadSigningKeysArgs,
    _: &OpContext<'_>,
) -> Result<upload_signing_keys::v3::Request, String> {
    let mut req = upload_signing_keys::v3::Request::new();
    req.master_key = a
        .master_key
        .map(|k| raw_object("master_key", k))
        .transpose()?;
    req.self_signing_key = a
        .self_signing_key
        .map(|k| raw_object("self_signing_key", k))
        .transpose()?;
    req.user_signing_key = a
        .user_signing_key
        .map(|k| raw_object("user_signing_key", k))
        .transpose()?;
    req.auth = auth_data(a.auth)?;
    Ok(req)
}

/// Arguments of `upload_signatures`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadSignaturesArgs {
    /// The signed keys: user ID to key ID (device ID or public key) to the signed key object.
    pub signed_keys: BTreeMap<String, JsonObject>,
}

fn build_upload_signatures(
    a: UploadSignaturesArgs,
    _: &OpContext<'_>,
) -> Result<upload_signatures::v3::Request, String> {
    let signed_keys = a
        .signed_keys
        .into_iter()
        .map(|(user, keys)| {
            let path = format!("signed_keys.{user}");
            Ok((parse_id(&path, &user)?, typed_object(&path, keys)?))
        })
        .collect::<Result<_, String>>()?;
    Ok(upload_signatures::v3::Request::new(signed_keys))
}
