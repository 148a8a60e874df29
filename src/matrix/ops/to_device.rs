//! Send-to-device messaging: `send_to_device`.

use std::collections::BTreeMap;

use ruma::api::client::to_device::send_event_to_device;
use ruma::events::ToDeviceEventType;
use ruma::to_device::DeviceIdOrAllDevices;

use super::Operation;
use super::args::{JsonObject, raw_object};
use super::glue::{OpContext, TypedOp, parse_id};

pub(super) fn ops() -> Vec<Box<dyn Operation>> {
    op_list![TypedOp::new(
        "send_to_device",
        "Send an event of any type to devices of users",
        ("PUT", "/_matrix/client/v3/sendToDevice/{eventType}/{txnId}"),
        build_send_to_device,
    )]
}

/// Arguments of `send_to_device`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendToDeviceArgs {
    /// The event type. Any type is accepted.
    pub event_type: String,
    /// The transaction ID, unique per access token.
    pub txn_id: String,
    /// The messages: user ID to device ID (or `*` for all devices) to event content, sent as
    /// given.
    pub messages: BTreeMap<String, BTreeMap<String, JsonObject>>,
}

fn build_send_to_device(
    a: SendToDeviceArgs,
    _: &OpContext<'_>,
) -> Result<send_event_to_device::v3::Request, String> {
    let messages = a
        .messages
        .into_iter()
        .map(|(user, devices)| {
            let user_id = parse_id(&format!("messages.{user}"), &user)?;
            let devices = devices
                .into_iter()
                .map(|(device, content)| {
                    let path = format!("messages.{user}.{device}");
                    let target = DeviceIdOrAllDevices::try_from(device.as_str())
                        .map_err(|e| format!("`{path}` is not a valid device ID: {e}"))?;
                    Ok((target, raw_object(&path, content)?))
                })
                .collect::<Result<BTreeMap<_, _>, String>>()?;
            Ok((user_id, devices))
        })
        .collect::<Result<_, String>>()?;
    Ok(send_event_to_device::v3::Request::new_raw(
        ToDeviceEventType::from(a.event_type),
        a.txn_id.into(),
        messages,
    ))
}
