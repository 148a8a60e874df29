//! Scenario files: discovery, the YAML node tree with positions, the raw file model
//! (whose JSON Schema is what `mxharness schema` prints), and diagnostics.

pub mod node;
pub mod model;
pub mod schema_check;
pub mod diagnostics;
pub mod source;
