//! The typed event stream of a run: the engines (conformance runner, gateway checks) emit
//! [`RunEvent`]s; independent [`Reporter`]s subscribed to an [`Events`] bus (live progress, the
//! `results.jsonl` journal, the [`Collector`] of the final results) each see every event in the
//! order it was emitted. A reporter that fails is dropped with a warning; the others go on.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::lifecycle::StopReason;
use crate::results::ScenarioResult;

/// What happens in a run, in order: `Planned` first, `Finished` last.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    /// The run is about to start this many scenarios (or checks).
    Planned {
        /// How many.
        count: usize,
    },
    /// A scenario started.
    ScenarioStarted {
        /// Its id.
        id: String,
    },
    /// A scenario finished (raw result: expectations not applied).
    ScenarioFinished(Box<ScenarioResult>),
    /// A stop came: no further scenario starts; those running get a grace, then are cancelled.
    Stopping {
        /// Why.
        reason: StopReason,
    },
    /// A scenario that did not run because of the stop (skipped, "not run: stopped by …").
    ScenarioNotRun(Box<ScenarioResult>),
    /// The run is over; nothing follows.
    Finished {
        /// Why the run stopped early, when it did.
        stopped_by: Option<StopReason>,
    },
}

/// A subscriber of the event stream.
pub trait Reporter: Send {
    /// A name for warnings ("journal", "progress").
    fn name(&self) -> &str;
    /// Handle one event. An error ends this reporter's subscription (with a warning); the
    /// other reporters go on.
    fn on_event(&mut self, event: &RunEvent) -> Result<(), String>;
}

struct Subscriber {
    reporter: Box<dyn Reporter>,
    failed: bool,
}

/// The bus the engines emit on; cheap to clone. Events are dispatched to every subscriber in
/// subscription order, one event at a time, so every reporter sees the same order.
#[derive(Clone, Default)]
pub struct Events {
    subscribers: Arc<Mutex<Vec<Subscriber>>>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

impl Events {
    /// A bus with these subscribers.
    pub fn new(reporters: Vec<Box<dyn Reporter>>) -> Self {
        Self {
            subscribers: Arc::new(Mutex::new(
                reporters
                    .into_iter()
                    .map(|reporter| Subscriber {
                        reporter,
                        failed: false,
                    })
                    .collect(),
            )),
        }
    }

    /// A bus nobody listens to.
    pub fn none() -> Self {
        Self::default()
    }

    /// Subscribe one more reporter.
    pub fn subscribe(&self, reporter: Box<dyn Reporter>) {
        self.lock().push(Subscriber {
            reporter,
            failed: false,
        });
    }

    /// Send one event to every reporter still subscribed.
    pub fn emit(&self, event: RunEvent) {
        for s in self.lock().iter_mut().filter(|s| !s.failed) {
            let outcome = catch_unwind(AssertUnwindSafe(|| s.reporter.on_event(&event)));
            let why = match outcome {
                Ok(Ok(())) => continue,
                Ok(Err(e)) => e,
                Err(_) => "it panicked (a harness bug, please report it)".to_owned(),
            };
            s.failed = true;
            eprintln!(
                "warning: the {} reporter stopped: {why}; the other reporters go on",
                s.reporter.name()
            );
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Subscriber>> {
        self.subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The reporter that gathers the final results: every finished and every not-run scenario.
#[derive(Debug)]
pub struct Collector {
    results: Arc<Mutex<Vec<ScenarioResult>>>,
}

/// The other end of a [`Collector`]: the results once the run is over.
#[derive(Debug, Clone)]
pub struct Collected {
    results: Arc<Mutex<Vec<ScenarioResult>>>,
}

impl Collector {
    /// A collector and the handle to take its results from.
    pub fn new() -> (Self, Collected) {
        let results = Arc::new(Mutex::new(Vec::new()));
        (
            Self {
                results: Arc::clone(&results),
            },
            Collected { results },
        )
    }
}

impl Collected {
    /// Everything collected, sorted by id (one result per id: the first).
    pub fn take(&self) -> Vec<ScenarioResult> {
        let mut results =
            std::mem::take(&mut *self.results.lock().unwrap_or_else(PoisonError::into_inner));
        results.sort_by(|a, b| a.id.cmp(&b.id));
        results.dedup_by(|later, first| later.id == first.id);
        results
    }
}

impl Reporter for Collector {
    fn name(&self) -> &str {
        "results"
    }

    fn on_event(&mut self, event: &RunEvent) -> Result<(), String> {
        if let RunEvent::ScenarioFinished(r) | RunEvent::ScenarioNotRun(r) = event {
            self.results
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((**r).clone());
        }
        Ok(())
    }
}

/// A bus with a [`Collector`] first, then `reporters`; the handle gives the final results.
pub fn collecting(reporters: Vec<Box<dyn Reporter>>) -> (Events, Collected) {
    let (collector, collected) = Collector::new();
    let mut all: Vec<Box<dyn Reporter>> = vec![Box::new(collector)];
    all.extend(reporters);
    (Events::new(all), collected)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records a label per event; fails (or panics) at the `fail_at`-th event when asked.
    struct Recorder {
        name: &'static str,
        seen: Arc<Mutex<Vec<String>>>,
        fail_at: Option<usize>,
        panic: bool,
    }

    fn label(e: &RunEvent) -> String {
        match e {
            RunEvent::Planned { count } => format!("planned {count}"),
            RunEvent::ScenarioStarted { id } => format!("started {id}"),
            RunEvent::ScenarioFinished(r) => format!("finished {}", r.id),
            RunEvent::Stopping { reason } => format!("stopping {}", reason.describe()),
            RunEvent::ScenarioNotRun(r) => format!("not run {}", r.id),
            RunEvent::Finished { .. } => "end".into(),
        }
    }

    impl Reporter for Recorder {
        fn name(&self) -> &str {
            self.name
        }
        fn on_event(&mut self, e: &RunEvent) -> Result<(), String> {
            let count = self.seen.lock().expect("lock").len();
            if self.fail_at == Some(count) {
                if self.panic {
                    panic!("reporter bug");
                }
                return Err("disk full".into());
            }
            self.seen.lock().expect("lock").push(label(e));
            Ok(())
        }
    }

    fn recorder(
        name: &'static str,
        fail_at: Option<usize>,
        panic: bool,
    ) -> (Box<dyn Reporter>, Arc<Mutex<Vec<String>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let r = Recorder {
            name,
            seen: Arc::clone(&seen),
            fail_at,
            panic,
        };
        (Box::new(r), seen)
    }

    fn finished(id: &str) -> RunEvent {
        RunEvent::ScenarioFinished(Box::new(ScenarioResult::new(id, "t", "a", "f")))
    }

    #[test]
    fn every_reporter_sees_the_events_in_order() {
        let (a, seen_a) = recorder("a", None, false);
        let (b, seen_b) = recorder("b", None, false);
        let (events, collected) = collecting(vec![a, b]);
        events.emit(RunEvent::Planned { count: 2 });
        events.emit(RunEvent::ScenarioStarted { id: "t/b".into() });
        events.emit(finished("t/b"));
        events.emit(RunEvent::Stopping {
            reason: StopReason::Interrupt,
        });
        events.emit(RunEvent::ScenarioNotRun(Box::new(ScenarioResult::new(
            "t/a", "t", "a", "f",
        ))));
        events.emit(RunEvent::Finished { stopped_by: None });
        let want = vec![
            "planned 2",
            "started t/b",
            "finished t/b",
            "stopping SIGINT",
            "not run t/a",
            "end",
        ];
        assert_eq!(*seen_a.lock().expect("lock"), want);
        assert_eq!(*seen_b.lock().expect("lock"), want);
        let ids: Vec<String> = collected.take().into_iter().map(|r| r.id).collect();
        assert_eq!(ids, ["t/a", "t/b"]);
    }

    #[test]
    fn a_failing_reporter_does_not_stop_the_others() {
        // The journal fails at its second event (a write error), another one panics at its
        // third: both are dropped, the progress printer and the collector see everything.
        let (journal, seen_journal) = recorder("journal", Some(1), false);
        let (buggy, seen_buggy) = recorder("buggy", Some(2), true);
        let (progress, seen_progress) = recorder("progress", None, false);
        let (events, collected) = collecting(vec![journal, buggy, progress]);
        events.emit(RunEvent::Planned { count: 3 });
        for id in ["t/1", "t/2", "t/3"] {
            events.emit(finished(id));
        }
        events.emit(RunEvent::Finished { stopped_by: None });
        assert_eq!(*seen_journal.lock().expect("lock"), ["planned 3"]);
        assert_eq!(
            *seen_buggy.lock().expect("lock"),
            ["planned 3", "finished t/1"]
        );
        assert_eq!(
            *seen_progress.lock().expect("lock"),
            [
                "planned 3",
                "finished t/1",
                "finished t/2",
                "finished t/3",
                "end"
            ]
        );
        assert_eq!(collected.take().len(), 3);
    }
}
