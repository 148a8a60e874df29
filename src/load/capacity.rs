//! Capacity search: the largest population at which every threshold of a plan holds, found by
//! stepping up and then bisecting, with repeats near the boundary and safety caps; a pure
//! function over a step closure so it is tested without servers.

use std::time::Duration;

use crate::results::load::{CapacityReport, CapacityStep};

/// How the population grows while stepping up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Growth {
    /// Multiply by this factor (> 1) each step.
    Factor(f64),
    /// Add this many users each step.
    Step(usize),
}

/// The validated `capacity:` section of a load plan.
#[derive(Debug, Clone, PartialEq)]
pub struct CapacitySpec {
    /// First population.
    pub start: usize,
    /// Growth while stepping up.
    pub growth: Growth,
    /// Largest population tried (the cap).
    pub max_users: usize,
    /// How long each step's load runs (replaces the profile's hold).
    pub hold: Duration,
    /// How often a failing step is run again before its failure counts.
    pub repeats: usize,
    /// Stop bisecting when high - low is at most this.
    pub resolution: usize,
    /// Most load runs (repeats included).
    pub max_steps: usize,
    /// Most time spent on all runs together.
    pub max_time: Duration,
}

impl CapacitySpec {
    fn next(&self, users: usize) -> usize {
        let n = match self.growth {
            Growth::Factor(f) => ((users as f64) * f).ceil() as usize,
            Growth::Step(s) => users.saturating_add(s),
        };
        n.max(users + 1).min(self.max_users)
    }
}

/// What one load run at a population measured.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StepOutcome {
    /// Every threshold held for the whole hold.
    pub held: bool,
    /// How long the run took (setup included), counted against `max_time`.
    pub duration: Duration,
    /// `rule: observed ...` of each threshold that failed.
    pub failures: Vec<String>,
    /// The step as recorded in the report (users, figures, errors).
    pub record: CapacityStep,
    /// The run was stopped (signal, deadline) before its hold ended: no verdict, and the
    /// search ends with what the earlier steps found.
    pub stopped: bool,
}

/// How the search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Bracket narrowed to the resolution.
    Bracketed,
    /// Every step held up to `max_users`.
    HoldsAtCap,
    /// The first step failed: no capacity.
    FirstStepFails,
    /// `max_steps` or `max_time` ran out first; the bracket is what was known.
    OutOfBudget,
    /// A signal or deadline stopped the search; the bracket is what the steps before found.
    Stopped,
}

impl Ending {
    fn as_str(self) -> &'static str {
        match self {
            Self::Bracketed => "bracketed",
            Self::HoldsAtCap => "holds at the cap",
            Self::FirstStepFails => "first step fails",
            Self::OutOfBudget => "out of budget",
            Self::Stopped => "stopped",
        }
    }
}

/// The result of a search, before it goes into the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    /// Largest population that held.
    pub low: Option<usize>,
    /// Smallest population that failed, with its failures.
    pub high: Option<(usize, Vec<String>)>,
    /// How it ended.
    pub ending: Ending,
    /// Every run, in order.
    pub steps: Vec<StepOutcome>,
}

struct Searcher<'a, F> {
    spec: &'a CapacitySpec,
    step: F,
    steps: Vec<StepOutcome>,
    spent: Duration,
}

impl<F, E> Searcher<'_, F>
where
    F: FnMut(usize, usize) -> Result<StepOutcome, E>,
{
    fn budget_left(&self) -> bool {
        self.steps.len() < self.spec.max_steps && self.spent < self.spec.max_time
    }

    /// Run a population, repeating a failure up to `repeats` times.
    fn probe(&mut self, users: usize) -> Result<Probe, E> {
        let mut attempt = 0;
        loop {
            if !self.budget_left() {
                return Ok(Probe::OutOfBudget);
            }
            let mut out = (self.step)(users, attempt)?;
            if out.stopped {
                return Ok(Probe::Stopped);
            }
            out.record.users = users;
            out.record.attempt = attempt;
            out.record.held = out.held;
            self.spent += out.duration;
            let held = out.held;
            let failures = out.failures.clone();
            self.steps.push(out);
            if held {
                return Ok(Probe::Held);
            }
            if attempt >= self.spec.repeats {
                return Ok(Probe::Failed(failures));
            }
            attempt += 1;
        }
    }
}

/// The verdict on one population.
enum Probe {
    Held,
    Failed(Vec<String>),
    OutOfBudget,
    Stopped,
}

/// Search the capacity: step up from `start` until a step fails (or the cap holds), then
/// bisect between the last holding and first failing population. `step(users, attempt)` runs
/// the load once; an `Err` (the target broke) stops the search and is returned.
pub fn search<F, E>(spec: &CapacitySpec, step: F) -> Result<Search, E>
where
    F: FnMut(usize, usize) -> Result<StepOutcome, E>,
{
    let mut s = Searcher {
        spec,
        step,
        steps: Vec::new(),
        spent: Duration::ZERO,
    };
    let mut low: Option<usize> = None;
    let mut high: Option<(usize, Vec<String>)> = None;
    let mut users = spec.start.min(spec.max_users).max(1);
    // Step up.
    loop {
        match s.probe(users)? {
            Probe::OutOfBudget => return Ok(done(s, low, high, Ending::OutOfBudget)),
            Probe::Stopped => return Ok(done(s, low, high, Ending::Stopped)),
            Probe::Held => {
                low = Some(users);
                if users >= spec.max_users {
                    return Ok(done(s, low, high, Ending::HoldsAtCap));
                }
                users = spec.next(users);
            }
            Probe::Failed(failures) => {
                high = Some((users, failures));
                break;
            }
        }
    }
    let Some(mut lo) = low else {
        return Ok(done(s, low, high, Ending::FirstStepFails));
    };
    // Bisect.
    while let Some((hi, _)) = &high {
        let hi = *hi;
        if hi - lo <= spec.resolution.max(1) {
            break;
        }
        let mid = lo + (hi - lo) / 2;
        match s.probe(mid)? {
            Probe::OutOfBudget => return Ok(done(s, Some(lo), high, Ending::OutOfBudget)),
            Probe::Stopped => return Ok(done(s, Some(lo), high, Ending::Stopped)),
            Probe::Held => lo = mid,
            Probe::Failed(failures) => high = Some((mid, failures)),
        }
    }
    Ok(done(s, Some(lo), high, Ending::Bracketed))
}

fn done<F>(
    s: Searcher<'_, F>,
    low: Option<usize>,
    high: Option<(usize, Vec<String>)>,
    ending: Ending,
) -> Search {
    Search {
        low,
        high,
        ending,
        steps: s.steps,
    }
}

impl Search {
    /// One line for people: `holds at 420 users, fails at 460: p95 < 500ms for send: ...`.
    pub fn answer(&self, max_users: usize) -> String {
        let why = |f: &[String]| {
            if f.is_empty() {
                String::new()
            } else {
                format!(": {}", f.join("; "))
            }
        };
        match (self.low, &self.high, self.ending) {
            (low, high, Ending::Stopped) => {
                let found = match (low, high) {
                    (Some(lo), Some((hi, f))) => {
                        format!("holds at {lo} users, fails at {hi}{}", why(f))
                    }
                    (Some(lo), None) => format!("holds at {lo} users, no step failed"),
                    (None, Some((hi, f))) => format!("the first step ({hi} users) fails{}", why(f)),
                    (None, None) => "no step finished".into(),
                };
                format!("stopped before the search ended; so far: {found}")
            }
            (_, Some((hi, f)), Ending::FirstStepFails) => {
                format!(
                    "no capacity: even the first step ({hi} users) fails{}",
                    why(f)
                )
            }
            (Some(lo), _, Ending::HoldsAtCap) => {
                format!("holds at {lo} users, the cap (max_users {max_users}); not bracketed")
            }
            (Some(lo), Some((hi, f)), e) => {
                let tail = if e == Ending::OutOfBudget {
                    " (budget ran out before the resolution)"
                } else {
                    ""
                };
                format!("holds at {lo} users, fails at {hi}{}{tail}", why(f))
            }
            (Some(lo), None, _) => {
                format!("holds at {lo} users; budget ran out before a step failed")
            }
            (None, _, _) => "no capacity: budget ran out before the first verdict".into(),
        }
    }

    /// Whether a capacity was found (exit 0); else the first step failed or nothing held.
    pub fn found(&self) -> bool {
        self.low.is_some()
    }

    /// The report section; `limiting` is the first failure at the bracket's upper end.
    pub fn report(&self, max_users: usize, limiting_observed: Option<f64>) -> CapacityReport {
        CapacityReport {
            found: self.low,
            low: self.low,
            high: self.high.as_ref().map(|(h, _)| *h),
            ending: self.ending.as_str().into(),
            answer: self.answer(max_users),
            limiting: self.high.as_ref().and_then(|(_, f)| f.first().cloned()),
            limiting_observed,
            steps: self.steps.iter().map(|s| s.record.clone()).collect(),
        }
    }
}

/// One progress line for a finished step.
pub fn progress_line(step: &CapacityStep) -> String {
    let figures: Vec<String> = step
        .metrics
        .iter()
        .map(|m| match (m.p50_ms, m.p95_ms) {
            (Some(a), Some(b)) => format!("{}: p50 {a:.1}ms p95 {b:.1}ms", m.threshold),
            _ => format!(
                "{}: {}",
                m.threshold,
                m.observed
                    .map_or("no samples".into(), |o| format!("{o:.2}"))
            ),
        })
        .collect();
    format!(
        "step {:>4} users{}: {} ({} errors) {}",
        step.users,
        if step.attempt > 0 {
            format!(" (repeat {})", step.attempt)
        } else {
            String::new()
        },
        if step.held { "holds" } else { "FAILS" },
        step.errors,
        figures.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> CapacitySpec {
        CapacitySpec {
            start: 10,
            growth: Growth::Factor(2.0),
            max_users: 1000,
            hold: Duration::from_secs(10),
            repeats: 0,
            resolution: 5,
            max_steps: 50,
            max_time: Duration::from_secs(3600),
        }
    }

    fn outcome(held: bool) -> StepOutcome {
        StepOutcome {
            held,
            duration: Duration::from_secs(10),
            failures: if held {
                Vec::new()
            } else {
                vec!["p95 < 500ms for send: observed 612.0ms".into()]
            },
            record: CapacityStep::default(),
            stopped: false,
        }
    }

    /// A server that holds up to `limit` users.
    fn run(spec: &CapacitySpec, limit: usize) -> (Search, Vec<usize>) {
        let mut tried = Vec::new();
        let s = search(spec, |n, _| {
            tried.push(n);
            Ok::<_, ()>(outcome(n <= limit))
        })
        .unwrap();
        (s, tried)
    }

    #[test]
    fn steps_up_then_bisects_to_the_resolution() {
        let (s, tried) = run(&spec(), 420);
        assert_eq!(
            tried,
            [10, 20, 40, 80, 160, 320, 640, 480, 400, 440, 420, 430, 425]
        );
        assert_eq!(s.low, Some(420));
        assert_eq!(s.high.as_ref().map(|h| h.0), Some(425));
        assert_eq!(s.ending, Ending::Bracketed);
        assert_eq!(
            s.answer(1000),
            "holds at 420 users, fails at 425: p95 < 500ms for send: observed 612.0ms"
        );
    }

    #[test]
    fn additive_steps() {
        let spec = CapacitySpec {
            growth: Growth::Step(10),
            resolution: 2,
            ..spec()
        };
        let (s, tried) = run(&spec, 33);
        assert_eq!(tried, [10, 20, 30, 40, 35, 32, 33]);
        assert_eq!((s.low, s.high.map(|h| h.0)), (Some(33), Some(35)));
    }

    #[test]
    fn a_failure_is_repeated_and_a_flake_does_not_count() {
        let spec = CapacitySpec {
            repeats: 1,
            ..spec()
        };
        let mut calls = Vec::new();
        // 40 users fails once by noise, then holds; the real limit is 50.
        let s = search(&spec, |n, attempt| {
            calls.push((n, attempt));
            Ok::<_, ()>(outcome(n <= 50 && !(n == 40 && attempt == 0)))
        })
        .unwrap();
        assert_eq!(&calls[..4], &[(10, 0), (20, 0), (40, 0), (40, 1)]);
        assert_eq!(calls[4], (80, 0));
        assert_eq!(calls[5], (80, 1), "a real failure is confirmed once");
        assert_eq!(s.low, Some(50));
        assert!(s.steps.iter().any(|st| st.record.attempt == 1));
    }

    #[test]
    fn holds_at_the_cap() {
        let spec = CapacitySpec {
            max_users: 100,
            ..spec()
        };
        let (s, tried) = run(&spec, 10_000);
        assert_eq!(tried, [10, 20, 40, 80, 100]);
        assert_eq!(s.ending, Ending::HoldsAtCap);
        assert!(s.found());
        assert_eq!(
            s.answer(100),
            "holds at 100 users, the cap (max_users 100); not bracketed"
        );
    }

    #[test]
    fn the_first_step_failing_finds_nothing() {
        let (s, tried) = run(&spec(), 5);
        assert_eq!(tried, [10]);
        assert_eq!(s.ending, Ending::FirstStepFails);
        assert!(!s.found());
        assert!(
            s.answer(1000)
                .starts_with("no capacity: even the first step (10 users) fails")
        );
    }

    #[test]
    fn max_steps_and_max_time_stop_the_search() {
        let spec2 = CapacitySpec {
            max_steps: 3,
            ..spec()
        };
        let (s, tried) = run(&spec2, 420);
        assert_eq!(tried, [10, 20, 40]);
        assert_eq!(s.ending, Ending::OutOfBudget);
        assert_eq!(s.low, Some(40));
        let spec3 = CapacitySpec {
            max_time: Duration::from_secs(75),
            ..spec()
        };
        let (s, tried) = run(&spec3, 420);
        assert_eq!(tried.len(), 8, "8 runs of 10s reach 75s");
        assert_eq!(s.ending, Ending::OutOfBudget);
        assert_eq!(
            (s.low, s.high.as_ref().map(|h| h.0)),
            (Some(320), Some(480))
        );
    }

    #[test]
    fn a_target_error_stops_the_search() {
        let r = search(&spec(), |n, _| {
            if n > 20 {
                Err("down")
            } else {
                Ok(outcome(true))
            }
        });
        assert_eq!(r, Err("down"));
    }

    #[test]
    fn a_stopped_step_ends_the_search_with_what_the_earlier_steps_found() {
        let spec = spec();
        let mut n = 0;
        let s = search(&spec, |_, _| {
            n += 1;
            let mut o = outcome(true);
            o.stopped = n == 3;
            Ok::<_, ()>(o)
        })
        .unwrap();
        assert_eq!(s.ending, Ending::Stopped);
        assert_eq!(s.steps.len(), 2, "the stopped step is not a verdict");
        assert!(s.found());
        let answer = s.answer(spec.max_users);
        assert!(
            answer.starts_with("stopped before the search ended; so far: holds at"),
            "{answer}"
        );
    }
}
