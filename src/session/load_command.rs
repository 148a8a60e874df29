//! The `load` command once its flags are mapped: the safety caps, preparing the target (a URL
//! or the spawned Synapse, a second one for federation personas), one
//! [`load_run::measure`](super::load_run::measure), and the reports (also after a stop) with
//! the exit code.

use std::path::PathBuf;
use std::time::Duration;

use super::finish::{Outcome, Started};
use super::load_run::{self, Drawn, RunError, RunSpec};
use super::{FederationNeeds, Prepared, TargetSpec};
use crate::exit_codes;
use crate::lifecycle::Stop;
use crate::load::model::PersonaKind;
use crate::load::plan::LoadPlan;
use crate::results::RunInfo;

/// The safety caps of a load command (`--allow-remote`, `--max-users`, `--max-duration`).
#[derive(Debug, Clone)]
pub struct Caps {
    /// A target not on this machine may be loaded.
    pub allow_remote: bool,
    /// Most simulated users.
    pub max_users: usize,
    /// Most ramp up + hold + ramp down.
    pub max_duration: Duration,
}

impl Caps {
    /// Every given URL is on this machine, unless remote targets are allowed.
    pub fn check_targets(&self, urls: &[Option<&str>]) -> Result<(), String> {
        for url in urls.iter().flatten() {
            if !self.allow_remote && !crate::load::is_loopback(url) {
                return Err(format!(
                    "{url} is not on this machine: pass --allow-remote to load a remote server"
                ));
            }
        }
        Ok(())
    }

    /// `plan` stays within the user and duration caps.
    pub fn check_plan(&self, plan: &LoadPlan) -> Result<(), String> {
        if plan.users > self.max_users {
            return Err(format!(
                "the plan has {} users, above the cap of {}: raise it with --max-users",
                plan.users, self.max_users
            ));
        }
        if plan.total() > self.max_duration {
            return Err(format!(
                "the plan runs {}, above the cap of {}: raise it with --max-duration",
                humantime::format_duration(plan.total()),
                humantime::format_duration(self.max_duration)
            ));
        }
        Ok(())
    }
}

/// The `load` command, its flags mapped: the run, its population and the target.
#[derive(Debug, Clone)]
pub struct LoadCommand {
    /// The run (with no notes: the target's are found here).
    pub run: RunSpec,
    /// Its population.
    pub drawn: Drawn,
    /// What is loaded (its `report_dir` receives the reports).
    pub target: TargetSpec,
    /// Route federation to the spawned second homeserver through a local nginx gateway.
    pub federation_gateway: bool,
}

/// Prepare the target (a URL or the spawned Synapse, a second one for federation personas),
/// run the load, judge it, write the reports (also after a stop) and give the exit code.
pub async fn run(cmd: LoadCommand) -> u8 {
    let LoadCommand {
        mut run,
        drawn,
        target,
        federation_gateway,
    } = cmd;
    let plan = &run.plan;
    if let Err(e) = std::fs::create_dir_all(&target.report_dir) {
        eprintln!("error: cannot create {}: {e}", target.report_dir.display());
        return exit_codes::ENVIRONMENT;
    }
    let started = Started::now();
    let needs_ss = plan
        .personas
        .iter()
        .any(|p| p.kind == PersonaKind::SlidingSync);
    // Federation personas need a second homeserver: the one given with --target2, else a
    // second spawned Synapse federating with the spawned first one (a remote --target alone
    // cannot federate with a local Synapse, so then the personas stay idle).
    let needs_fed = plan
        .personas
        .iter()
        .any(|p| p.kind == PersonaKind::Federation)
        && (target.target.is_none() || target.target2.is_some());
    if federation_gateway && (target.target.is_some() || !needs_fed) {
        eprintln!(
            "error: --federation-gateway needs federation personas and the spawned pair (no --target)"
        );
        return exit_codes::USAGE;
    }
    let fed_needs = FederationNeeds {
        any: needs_fed,
        second_server: needs_fed,
        gateway: federation_gateway,
    };
    let stop = Stop::install(None);
    let prepared = match super::interruptible_prepare(
        super::prepare(&target, needs_ss, fed_needs, Default::default()),
        "target",
        &stop,
    )
    .await
    {
        Ok(p) => p,
        Err(code) => return code,
    };
    run.notes = load_run::target_notes(&run.plan, &drawn.counts, &prepared);
    let code = report(&run, drawn, &prepared, &target.report_dir, started, &stop).await;
    prepared.stop().await;
    code
}

/// Measure `run` and write its reports; the exit code.
async fn report(
    run: &RunSpec,
    drawn: Drawn,
    prepared: &Prepared,
    dir: &std::path::Path,
    started: Started,
    stop: &Stop,
) -> u8 {
    let m = match load_run::measure(run, drawn, prepared, stop).await {
        Ok(m) => m,
        Err(RunError::StoppedInSetup(reason)) => {
            eprintln!(
                "{} during setup: nothing was measured, no report written",
                reason.describe()
            );
            return reason.exit_code();
        }
        Err(RunError::Setup { error, .. }) => {
            eprintln!("error: setting up the population failed: {error}");
            return exit_codes::ENVIRONMENT;
        }
        Err(RunError::Attack(e)) => {
            eprintln!("error: {e}");
            return exit_codes::ENVIRONMENT;
        }
        // `report_interrupted` is set for `load`; should it not be, nothing ran to report.
        Err(RunError::Interrupted) => {
            return stop
                .reason()
                .map_or(exit_codes::INTERRUPTED, |r| r.exit_code());
        }
    };
    let info = RunInfo {
        interrupted: m.interrupted,
        stopped_by: m.stopped_by,
        ..started.run_info(&[PathBuf::from(&run.plan.file)], None, m.users, None)
    };
    let report = Outcome {
        load: Some(m.load),
        ..Outcome::new(info, super::finish::target_info(prepared), m.verdicts)
    }
    .report(Some(stop));
    // A stopped run ends with the stop's code (as `run` does), whatever its thresholds said.
    super::finish::finish(&report, dir, Some(stop))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(allow_remote: bool) -> Caps {
        Caps {
            allow_remote,
            max_users: 10,
            max_duration: Duration::from_secs(60),
        }
    }

    #[test]
    fn a_remote_target_needs_allow_remote() {
        let urls = [
            Some("http://127.0.0.1:8008"),
            Some("https://matrix.org"),
            None,
        ];
        let e = caps(false).check_targets(&urls).unwrap_err();
        assert!(
            e.starts_with("https://matrix.org is not on this machine"),
            "{e}"
        );
        assert!(caps(true).check_targets(&urls).is_ok());
        assert!(caps(false).check_targets(&[None, None]).is_ok());
    }

    #[test]
    fn a_plan_above_a_cap_names_the_flag_that_raises_it() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/load/smoke.yaml");
        let mut plan = crate::load::plan::load_file(std::path::Path::new(path))
            .expect("the smoke plan is valid");
        plan.users = 11;
        let e = caps(false).check_plan(&plan).unwrap_err();
        assert!(e.contains("11 users") && e.contains("--max-users"), "{e}");
        plan.users = 10;
        plan.hold = Duration::from_secs(3600);
        let e = caps(false).check_plan(&plan).unwrap_err();
        assert!(e.contains("--max-duration"), "{e}");
    }
}
