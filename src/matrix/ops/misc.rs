//! tmp

use super::Operation;

pub(super) fn ops() -> Vec<Box<dyn Operation>> {
    Vec::new()
}
