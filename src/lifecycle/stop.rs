//! Why and when a run stops early: SIGINT, SIGTERM, SIGHUP or the whole-run `--deadline`.
//!
//! The first stop request is recorded and announced; the engines poll or await it, stop
//! starting work, give running work [`GRACE`], and the command writes its reports. A second
//! signal exits at once with the first reason's code; the children die with the process
//! (each was forked with a parent-death signal, see `crate::child`), only the reports are not
//! written.

use std::time::Duration;

use tokio::sync::watch;

use crate::exit_codes;

/// How long scenarios that are running when a stop comes may go on before they are cancelled.
pub const GRACE: Duration = Duration::from_secs(5);

/// Why a run stopped before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM (what CI runners and `timeout` send).
    Terminate,
    /// SIGHUP (the terminal went away).
    Hangup,
    /// `--deadline` passed.
    Deadline(Duration),
}

impl StopReason {
    /// The exit code a run stopped for this reason ends with.
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Interrupt => exit_codes::INTERRUPTED,
            Self::Terminate => exit_codes::TERMINATED,
            Self::Hangup => exit_codes::HANGUP,
            Self::Deadline(_) => exit_codes::DEADLINE,
        }
    }

    /// For messages and reports: `SIGTERM`, `deadline 20s`.
    pub fn describe(self) -> String {
        match self {
            Self::Interrupt => "SIGINT".into(),
            Self::Terminate => "SIGTERM".into(),
            Self::Hangup => "SIGHUP".into(),
            Self::Deadline(d) => format!("deadline {}", humantime::format_duration(d)),
        }
    }
}

/// Why a scenario that a stop kept from starting or finishing has no verdict: its
/// `skip_reason`, "not run: the run was stopped (SIGTERM)".
pub fn not_run_reason(reason: StopReason) -> String {
    not_run_because(&reason.describe())
}

/// [`not_run_reason`] for a stop described in words (a journal without its end).
pub fn not_run_because(why: &str) -> String {
    format!("{NOT_RUN} ({why})")
}

/// Whether a skip reason is [`not_run_reason`]'s.
pub fn is_not_run_reason(skip_reason: &str) -> bool {
    skip_reason.starts_with(NOT_RUN)
}

const NOT_RUN: &str = "not run: the run was stopped";

/// A handle on the run's stop state; cheap to clone.
#[derive(Debug, Clone)]
pub struct Stop {
    rx: watch::Receiver<Option<StopReason>>,
    tx: std::sync::Arc<watch::Sender<Option<StopReason>>>,
    /// The signal listener of [`Stop::install`]; it ends when the last handle is dropped.
    _listener: Option<std::sync::Arc<Listener>>,
}

/// Aborts the listener task when dropped.
#[derive(Debug)]
struct Listener(tokio::task::JoinHandle<()>);

impl Drop for Listener {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Stop {
    /// A stop that only [`Stop::request`] triggers (tests, library use).
    pub fn manual() -> Self {
        let (tx, rx) = watch::channel(None);
        Self {
            rx,
            tx: std::sync::Arc::new(tx),
            _listener: None,
        }
    }

    /// Listen for SIGINT, SIGTERM and SIGHUP, and for `deadline` if given, for as long as
    /// a handle lives. Must be called inside a Tokio runtime. A second signal exits at once
    /// (the children die with the process: see `crate::child`).
    pub fn install(deadline: Option<Duration>) -> Self {
        let stop = Self::manual();
        let listening = stop.clone();
        let handle = tokio::spawn(async move { listening.listen(deadline).await });
        Self {
            _listener: Some(std::sync::Arc::new(Listener(handle))),
            ..stop
        }
    }

    /// Ask the run to stop (the first reason wins).
    pub fn request(&self, reason: StopReason) {
        self.tx.send_if_modified(|current| {
            if current.is_none() {
                *current = Some(reason);
                true
            } else {
                false
            }
        });
    }

    /// The reason, once a stop was requested.
    pub fn reason(&self) -> Option<StopReason> {
        *self.rx.borrow()
    }

    /// Whether a stop was requested.
    pub fn is_stopped(&self) -> bool {
        self.reason().is_some()
    }

    /// Resolves when a stop is requested.
    pub async fn stopped(&self) -> StopReason {
        let mut rx = self.rx.clone();
        loop {
            if let Some(r) = *rx.borrow_and_update() {
                return r;
            }
            if rx.changed().await.is_err() {
                // The sender lives as long as any handle; unreachable in practice.
                std::future::pending::<()>().await;
            }
        }
    }

    async fn listen(self, deadline: Option<Duration>) {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            eprintln!("warning: cannot install the signal handlers; a signal ends the run at once");
            return;
        };
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(sleep);
        let mut deadline_seen = false;
        loop {
            let reason = tokio::select! {
                _ = int.recv() => StopReason::Interrupt,
                _ = term.recv() => StopReason::Terminate,
                _ = hup.recv() => StopReason::Hangup,
                () = &mut sleep, if !deadline_seen => {
                    deadline_seen = true;
                    StopReason::Deadline(deadline.unwrap_or_default())
                }
            };
            match self.reason() {
                None => {
                    eprintln!(
                        "\n{}: stopping; running work gets {} s, then the reports of what finished \
                         are written (signal again to stop at once)",
                        reason.describe(),
                        GRACE.as_secs()
                    );
                    self.request(reason);
                }
                Some(first) if !matches!(reason, StopReason::Deadline(_)) => {
                    eprintln!(
                        "\n{}: stopping at once; no report written",
                        reason.describe()
                    );
                    // The children die with us: each was forked with a parent-death signal
                    // (crate::child::spawner), and their records are swept at the next start.
                    std::process::exit(i32::from(first.exit_code()));
                }
                Some(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reason_has_its_exit_code() {
        assert_eq!(StopReason::Interrupt.exit_code(), 130);
        assert_eq!(StopReason::Terminate.exit_code(), 143);
        assert_eq!(StopReason::Hangup.exit_code(), 129);
        assert_eq!(
            StopReason::Deadline(Duration::from_secs(1)).exit_code(),
            exit_codes::DEADLINE
        );
        assert_eq!(
            StopReason::Deadline(Duration::from_secs(90)).describe(),
            "deadline 1m 30s"
        );
    }

    #[tokio::test]
    async fn the_first_reason_wins() {
        let stop = Stop::manual();
        assert!(!stop.is_stopped());
        let waiter = {
            let stop = stop.clone();
            tokio::spawn(async move { stop.stopped().await })
        };
        stop.request(StopReason::Terminate);
        stop.request(StopReason::Interrupt);
        assert_eq!(waiter.await.ok(), Some(StopReason::Terminate));
        assert_eq!(stop.reason(), Some(StopReason::Terminate));
    }

    #[tokio::test]
    async fn a_deadline_stops_the_run() {
        let stop = Stop::install(Some(Duration::from_millis(50)));
        let reason = tokio::time::timeout(Duration::from_secs(10), stop.stopped()).await;
        assert_eq!(
            reason.ok(),
            Some(StopReason::Deadline(Duration::from_millis(50)))
        );
    }
}
