//! Live progress while scenarios run, as a reporter of the run's events: an indicatif bar on
//! a terminal, one line per result otherwise (failures and recommendations not met always,
//! passes with `--verbose`).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::expectations::Expectations;
use crate::results::{FailOn, Outcome, ScenarioResult};
use crate::runner::events::{Reporter, RunEvent};

/// Progress display.
pub(super) struct Progress {
    bar: Option<ProgressBar>,
    verbose: bool,
    expectations: Option<Expectations>,
    fail_on: FailOn,
}

impl Progress {
    /// A printer; the bar's length comes with the run's `Planned` event.
    pub(super) fn new(verbose: bool, expectations: Option<Expectations>, fail_on: FailOn) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(0);
            let style = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Self {
            bar,
            verbose,
            expectations,
            fail_on,
        }
    }

    fn done(&self, r: &ScenarioResult) {
        let mut judged = [r.clone()];
        if let Some(e) = &self.expectations {
            e.apply(&mut judged, false);
        }
        let r = &judged[0];
        let covered = matches!(r.outcome, Outcome::Failed | Outcome::Errored) && r.excused();
        let recommendation = r.recommendation_not_met(self.fail_on);
        let line = match r.outcome {
            _ if covered => format!(
                "XFAIL {} (known failure: {})",
                r.id,
                r.expectation.as_ref().map_or("", |e| e.reason.as_str())
            ),
            Outcome::Passed => format!("PASS  {} ({} ms)", r.id, r.duration_ms),
            Outcome::Skipped => {
                format!("SKIP  {}: {}", r.id, r.skip_reason.as_deref().unwrap_or(""))
            }
            Outcome::Blocked | Outcome::Unsupported => format!(
                "{} {}: {}",
                if r.outcome == Outcome::Blocked {
                    "BLOCK"
                } else {
                    "UNSUP"
                },
                r.id,
                r.failure.as_ref().map_or("", |f| f.message.as_str())
            ),
            Outcome::Failed | Outcome::Errored => {
                let label = if recommendation {
                    "NOTE "
                } else if r.outcome == Outcome::Failed {
                    "FAIL "
                } else {
                    "ERROR"
                };
                let what = if recommendation {
                    "recommendation not met, "
                } else {
                    ""
                };
                let why = r
                    .failure
                    .as_ref()
                    .map(|f| format!("{}: {}", f.location, f.message))
                    .unwrap_or_default();
                format!(
                    "{label} [{}] {} ({what}{} ms)\n      {why}",
                    r.level_label(),
                    r.id,
                    r.duration_ms
                )
            }
        };
        let show = self.verbose || recommendation || r.fails_run_at(self.fail_on);
        match &self.bar {
            Some(bar) => {
                if show {
                    bar.println(line);
                }
                bar.set_message(r.id.clone());
                bar.inc(1);
            }
            None => {
                if show || !std::io::stderr().is_terminal() {
                    eprintln!("{line}");
                }
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Reporter for Progress {
    fn name(&self) -> &str {
        "progress"
    }

    fn on_event(&mut self, event: &RunEvent) -> Result<(), String> {
        match event {
            RunEvent::Planned { count } => {
                if let Some(bar) = &self.bar {
                    bar.set_length(*count as u64);
                }
            }
            RunEvent::ScenarioStarted { id } => {
                if let Some(bar) = &self.bar {
                    bar.set_message(id.clone());
                }
            }
            RunEvent::ScenarioFinished(r) => self.done(r),
            // The stop announces itself (lifecycle::stop); not-run scenarios are counted in
            // the summary.
            RunEvent::Stopping { .. } | RunEvent::ScenarioNotRun(_) => {}
            RunEvent::Finished { .. } => self.finish(),
        }
        Ok(())
    }
}
