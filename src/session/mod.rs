//! The run-orchestration layer between the command line and the engines: what is tested as
//! plain data ([`TargetSpec`]), getting it ready ([`prepare`]: probe a URL or install and start
//! the local Synapse, provision users, detect sliding sync, set up federation, probe
//! capabilities; [`gateway`] does the same for gateway runs from a [`GatewaySpec`]), the
//! reporters every run subscribes to its events ([`journal_writer`]), one load run
//! ([`load_run`]) and the `load` command around it ([`load_command`]), the capacity search
//! over such runs ([`capacity_run`]), and the end of a run ([`finish`]). The command line maps
//! its arguments onto a `TargetSpec` (and a `load_run::RunSpec`) and prints.

pub mod capacity_run;
pub mod expectations;
pub mod federation;
pub mod finish;
pub mod gateway;
pub mod journal_writer;
pub mod load_command;
pub mod load_run;
pub mod prepare;
pub mod target_spec;

pub use expectations::ExpectationsSource;
pub use gateway::{GatewaySpec, PreparedGateway};
pub use prepare::{
    CapabilityNeeds, FederationNeeds, Prepared, interruptible_prepare, prepare, synapse_options,
};
pub use target_spec::{Registration, SynapseSpec, TargetSpec};
