//! Discovery operations: `versions`, `capabilities`.

use ruma::api::client::discovery::{get_capabilities, get_supported_versions};

use super::Operation;
use super::glue::{NoArgs, TypedOp};

pub(super) fn ops() -> Vec<Box<dyn Operation>> {
    op_list![
        TypedOp::new(
            "versions",
            "Get the spec versions and unstable features the server supports",
            ("GET", "/_matrix/client/versions"),
            |_: NoArgs, _| Ok(get_supported_versions::Request::new()),
        ),
        TypedOp::new(
            "capabilities",
            "Get the capabilities the server offers to the acting user",
            ("GET", "/_matrix/client/v3/capabilities"),
            |_: NoArgs, _| Ok(get_capabilities::v3::Request::new()),
        ),
    ]
}
