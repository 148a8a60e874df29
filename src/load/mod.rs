//! Load testing with Goose: plan files, the seeded population and its setup, personas driven
//! by our own dispatcher, exact latency histograms, delivery latency, thresholds as checks,
//! baselines, open-model arrivals, and the exact merge of sharded runs.

pub mod arrivals;
pub mod capacity;
pub mod delivery;
pub mod engine;
pub mod fd_limit;
pub mod finish;
pub mod http;
pub mod merge;
pub mod metrics;
pub mod model;
#[cfg(test)]
mod open_model_tests;
pub mod personas;
pub mod plain_http;
pub mod plan;
pub mod population;
#[cfg(test)]
mod scenario_action_tests;
pub mod scenario_ref;
pub mod scenario_run;
pub mod setup;
pub mod threshold;
pub mod verdict;
pub mod world;

/// Default cap on simulated users (raise with `--max-users`).
pub const MAX_USERS: usize = 1000;
/// Default cap on ramp up + hold + ramp down (raise with `--max-duration`).
pub const MAX_DURATION: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Whether a base URL points at this machine (loopback address or `localhost`).
pub fn is_loopback(url: &str) -> bool {
    let Ok(u) = reqwest::Url::parse(url) else {
        return false;
    };
    let Some(host) = u.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_detection() {
        assert!(super::is_loopback("http://127.0.0.1:8008"));
        assert!(super::is_loopback("http://localhost:8008/"));
        assert!(super::is_loopback("http://[::1]:8008"));
        assert!(!super::is_loopback("https://matrix.org"));
        assert!(!super::is_loopback("http://10.0.0.1"));
        assert!(!super::is_loopback("not a url"));
    }
}
