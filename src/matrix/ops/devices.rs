//! Device management: `get_devices`, `get_device`, `update_device`, `delete_device`,
//! `delete_devices`.

use ruma::api::client::device::{
    delete_device, delete_devices, get_device, get_devices, update_device,
};

use super::Operation;
use super::account::auth_data;
use super::args::JsonObject;
use super::glue::{NoArgs, OpContext, TypedOp};

pub(super) fn ops() -> Vec<Box<dyn Operation>> {
    op_list![
        TypedOp::new(
            "get_devices",
            "List the devices of the acting user",
            ("GET", "/_matrix/client/v3/devices"),
            |_: NoArgs, _| Ok(get_devices::v3::Request::new()),
        ),
        TypedOp::new(
            "get_device",
            "Get one device of the acting user",
            ("GET", "/_matrix/client/v3/devices/{deviceId}"),
            |a: DeviceArgs, _| Ok(get_device::v3::Request::new(a.device_id.into())),
        ),
        TypedOp::new(
            "update_device",
            "Update the display name of a device of the acting user",
            ("PUT", "/_matrix/client/v3/devices/{deviceId}"),
            build_update_device,
        ),
        TypedOp::new(
            "delete_device",
            "Delete a device of the acting user, possibly through user-interactive authentication",
            ("DELETE", "/_matrix/client/v3/devices/{deviceId}"),
            build_delete_device,
        )
        .with_uia(),
        TypedOp::new(
            "delete_devices",
            "Delete several devices of the acting user, possibly through user-interactive authentication",
            ("POST", "/_matrix/client/v3/delete_devices"),
            build_delete_devices,
        )
        .with_uia(),
    ]
}

/// Arguments naming a device.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceArgs {
    /// The device ID.
    pub device_id: String,
}

/// Arguments of `update_device`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDeviceArgs {
    /// The device ID.
    pub device_id: String,
    /// The new display name of the device; left unchanged if absent.
    #[serde(default)]
    pub display_name: Option<String>,
}

fn build_update_device(
    a: UpdateDeviceArgs,
    _: &OpContext<'_>,
) -> Result<update_device::v3::Request, String> {
    let mut req = update_device::v3::Request::new(a.device_id.into());
    req.display_name = a.display_name;
    Ok(req)
}

/// Arguments of `delete_device`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteDeviceArgs {
    /// The device ID.
    pub device_id: String,
    /// The user-interactive-authentication `auth` dict.
    #[serde(default)]
    pub auth: Option<JsonObject>,
}

fn build_delete_device(
    a: DeleteDeviceArgs,
    _: &OpContext<'_>,
) -> Result<delete_device::v3::Request, String> {
    let mut req = delete_device::v3::Request::new(a.device_id.into());
    req.auth = auth_data(a.auth)?;
    Ok(req)
}

/// Arguments of `delete_devices`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteDevicesArgs {
    /// The IDs of the devices to delete.
    pub devices: Vec<String>,
    /// The user-interactive-authentication `auth` dict.
    #[serde(default)]
    pub auth: Option<JsonObject>,
}

fn build_delete_devices(
    a: DeleteDevicesArgs,
    _: &OpContext<'_>,
) -> Result<delete_devices::v3::Request, String> {
    let mut req = delete_devices::v3::Request::new(a.devices.into_iter().map(Into::into).collect());
    req.auth = auth_data(a.auth)?;
    Ok(req)
}
