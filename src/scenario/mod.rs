//! Scenario files: discovery, the YAML node tree with positions, the raw file model
//! (whose JSON Schema is what `mxharness schema` prints), and diagnostics.

pub mod diagnostics;
pub mod kind;
pub mod model;
pub mod node;
pub mod schema_check;
pub mod source;
