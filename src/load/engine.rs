//! The Goose bridge: one scenario per persona (weight = its number of users), configured
//! from the plan's profile with no command-line parsing and no control ports; one shared
//! HTTP client; progress on the terminal while it runs.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use goose::GooseAttack;
use goose::client::GooseClientBuilder;
use goose::config::GooseConfiguration;
use goose::goose::Scenario;

use super::personas;
use super::plan::LoadPlan;
use super::world::World;

/// How the attack ended.
#[derive(Debug)]
pub struct Attacked {
    /// Wall time.
    pub duration: Duration,
    /// Stopped by Ctrl-C.
    pub interrupted: bool,
}

fn whole_secs(d: Duration) -> u64 {
    d.as_secs_f64().round() as u64
}

/// Run the measured attack over `world` (`counts`: users per persona).
pub async fn attack(
    world: Arc<World>,
    plan: &LoadPlan,
    counts: &[usize],
) -> Result<Attacked, String> {
    let users: usize = counts.iter().sum();
    // Every user holds a connection: a soft limit of 1024 would refuse sockets long before
    // the planned population is reached, with errors that look like the target's fault.
    if let Some(limit) = super::fd_limit::raise_to_hard_limit() {
        let needed = super::fd_limit::needed_for(users);
        if limit < needed {
            return Err(format!(
                "{users} users need about {needed} open files, but this process may open only {limit} \
                 (RLIMIT_NOFILE, already raised to its hard limit): raise the hard limit \
                 (`ulimit -Hn`, limits.conf, systemd LimitNOFILE) or run fewer users per process (--shard)"
            ));
        }
    }
    let mut cfg = GooseConfiguration::default();
    cfg.host = Some(world.base_url.clone());
    cfg.users = Some(users);
    cfg.increase_time = Some(format!("{}s", whole_secs(plan.ramp_up).max(1)));
    cfg.run_time = Some(format!("{}s", whole_secs(plan.hold).max(1)));
    let down = whole_secs(plan.ramp_down);
    if down > 0 {
        cfg.decrease_time = Some(format!("{down}s"));
    }
    cfg.no_telnet = true;
    cfg.quiet = 1;
    cfg.no_print_metrics = true;
    cfg.no_error_summary = true;
    // Every figure comes from our recorder; Goose's own aggregates would only cost time.
    cfg.no_metrics = true;
    let longest_poll = plan
        .personas
        .iter()
        .map(|p| p.sync_timeout)
        .max()
        .unwrap_or_default();
    let client = GooseClientBuilder::new()
        .without_cookies()
        .timeout(longest_poll + Duration::from_secs(60));
    let mut attack = GooseAttack::initialize_with_config(cfg)
        .map_err(|e| format!("cannot configure Goose: {e}"))?
        .set_client_builder_without_cookies(client)
        .map_err(|e| format!("cannot configure Goose's client: {e}"))?;
    for (i, persona) in plan.personas.iter().enumerate() {
        let n = counts.get(i).copied().unwrap_or(0);
        if n == 0 {
            continue;
        }
        let mut scenario = Scenario::new(&persona.name)
            .set_weight(n)
            .map_err(|e| format!("persona {}: {e}", persona.name))?
            .set_wait_time(Duration::ZERO, Duration::ZERO)
            .map_err(|e| format!("persona {}: {e}", persona.name))?;
        for t in personas::transactions(&world, i) {
            scenario = scenario.register_transaction(t);
        }
        attack = attack.register_scenario(scenario);
    }
    world.recorder.restart_clock();
    let started = Instant::now();
    let total = plan.total();
    world.set_plan_end(started + total);
    // Open-model arrivals are due during the hold: the ramp up starts the users that will
    // take them, the ramp down stops them.
    world.open_arrivals(started + plan.ramp_up, started + plan.ramp_up + plan.hold);
    let progress = tokio::spawn(progress(Arc::clone(&world), total));
    let result = attack.execute().await;
    progress.abort();
    let interrupted = goose::is_killswitch_triggered();
    goose::reset_killswitch();
    match result {
        Ok(_) => Ok(Attacked {
            duration: started.elapsed(),
            interrupted,
        }),
        Err(e) => Err(format!("Goose stopped with an error: {e}")),
    }
}

/// Progress while the attack runs: an indicatif bar on a terminal, else a line every 5 s.
async fn progress(world: Arc<World>, total: Duration) {
    let start = Instant::now();
    let line = |w: &World| {
        format!(
            "{:>4}s/{}s  users {:>4}  requests {:>7}  failed {:>5}  (long-polls {})",
            start.elapsed().as_secs(),
            total.as_secs(),
            w.recorder.active_users.load(Ordering::Relaxed),
            w.recorder.total.load(Ordering::Relaxed),
            w.recorder.failed.load(Ordering::Relaxed),
            w.recorder.long_polls.load(Ordering::Relaxed)
        )
    };
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(total.as_secs().max(1));
        if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:30} {msg}") {
            bar.set_style(style);
        }
        loop {
            bar.set_position(start.elapsed().as_secs().min(total.as_secs()));
            bar.set_message(line(&world));
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    } else {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            eprintln!("load: {}", line(&world));
        }
    }
}
