//! mxharness: a conformance and load-testing harness for the Matrix protocol.
//!
//! Data flows one way:
//! scenario files -> [`scenario`] (parse with spans) -> [`plan`] (validate, lower, select)
//! -> [`runner`] (execute against a [`target`] through [`matrix`], judged by [`check`])
//! -> [`results::RunReport`] -> [`report`] (JUnit, JSON, terminal summary).

pub mod certify;
pub mod check;
pub mod child;
pub mod cli;
pub mod compare;
pub mod exit_codes;
pub mod expectations;
pub mod federation;
pub mod gateway;
pub mod lifecycle;
pub mod load;
pub mod matrix;
pub mod oracle;
pub mod plan;
pub mod report;
pub mod results;
pub mod runner;
pub mod scenario;
pub mod session;
pub mod signing_keys;
pub mod target;
