//! Discovery operations: `versions`.

use ruma::api::client::discovery::get_supported_versions;

use super::Operation;
use super::glue::{NoArgs, TypedOp};

pub(super) fn ops() -> Vec<Box<dyn Operation>> {
    vec![Box::new(TypedOp::new(
        "versions",
        "Get the spec versions and unstable features the server supports",
        ("GET", "/_matrix/client/versions"),
        |_: NoArgs, _| Ok(get_supported_versions::Request::new()),
    ))]
}
