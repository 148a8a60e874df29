//! `mxharness capacity PLAN`: the flags (those of `load`) mapped onto the plan's capacity
//! search, `--check`, and the answer printed; the search itself, each step one ordinary load
//! run, is `session::capacity_run`.

use clap::Args;

use super::load::{LoadArgs, caps, read_plan, target_spec};
use crate::exit_codes;
use crate::session::capacity_run;

/// Options of `capacity` (those of `load`; `--shard`, `--baseline` and `--check` aside).
#[derive(Debug, Args)]
pub struct CapacityArgs {
    #[command(flatten)]
    pub load: LoadArgs,
}

pub(super) async fn capacity(args: CapacityArgs) -> u8 {
    let args = args.load;
    let plan = match read_plan(&args.plan) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if args.shard.is_some() || args.baseline.is_some() {
        eprintln!("error: capacity runs whole populations: --shard and --baseline do not apply");
        return exit_codes::USAGE;
    }
    let urls = [args.target.as_deref(), args.target2.as_deref()];
    let spec = match capacity_run::check(&plan, &caps(&args), &urls) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_codes::USAGE;
        }
    };
    if args.check {
        outln!(
            "{}: valid capacity plan `{}`: from {} to at most {} users, {} per step, at most {} steps and {}",
            plan.file,
            plan.id,
            spec.start,
            spec.max_users,
            humantime::format_duration(capacity_run::per_step(&plan, &spec)),
            spec.max_steps,
            humantime::format_duration(spec.max_time)
        );
        return exit_codes::SUCCESS;
    }
    let searched = capacity_run::run(plan, spec, target_spec(&args)).await;
    if let Some(answer) = &searched.answer {
        outln!("\ncapacity: {answer}");
    }
    searched.code
}
