//! `mxharness up` / `down`: a local Synapse for manual use, outliving the command.

use super::args::LocalArgs;
use crate::exit_codes;
use crate::session::synapse_options;
use crate::target::{self, synapse};

pub(super) async fn up(args: &LocalArgs) -> u8 {
    let mut opts = synapse_options(&args.synapse.spec(), std::path::PathBuf::new());
    opts.log_path = opts.cache_dir.join("up").join("homeserver.log");
    let state_path = synapse::default_state_path(&opts.cache_dir);
    eprintln!(
        "Preparing Synapse {} (installed once into {}) ...",
        opts.version,
        opts.cache_dir.display()
    );
    if let Err(e) = target::ensure_venv(&opts).await {
        eprintln!("error: {e}");
        return exit_codes::ENVIRONMENT;
    }
    match target::up(&opts, &state_path).await {
        Ok(state) => {
            outln!(
                "Synapse {} is running at {} (pid {})",
                state.version,
                state.base_url,
                state.pid
            );
            outln!("server name: {}", state.server_name);
            outln!("log:         {}", state.log_path.display());
            outln!(
                "shared secret for user provisioning is in {} (mode 0600)",
                state.shared_secret_path.display()
            );
            outln!();
            outln!("Run against it:");
            outln!(
                "  MXH_REGISTRATION_SHARED_SECRET=\"$(cat {})\" mxharness run --target {}",
                state.shared_secret_path.display(),
                state.base_url
            );
            outln!("Stop it with: mxharness down");
            exit_codes::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit_codes::ENVIRONMENT
        }
    }
}

pub(super) async fn down(args: &LocalArgs) -> u8 {
    let opts = synapse_options(&args.synapse.spec(), std::path::PathBuf::new());
    let state_path = synapse::default_state_path(&opts.cache_dir);
    match target::down(&state_path).await {
        Ok(()) => {
            outln!("stopped the local Synapse");
            exit_codes::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit_codes::ENVIRONMENT
        }
    }
}
