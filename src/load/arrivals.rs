//! Open-model arrivals: a seeded, fixed timetable of intended start times per persona (one
//! stream per rate), handed out to the persona's users one arrival at a time; an arrival no
//! user could start within `max_delay` of its intended start is counted as dropped.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::model::Spacing;
use super::plan::Action;
use crate::results::load::ArrivalFigures;

/// Highest rate one stream may have (per second, per shard).
pub const MAX_RATE: f64 = 10_000.0;

/// One rate of an open-model persona.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    /// The action every arrival of this stream runs; `None`: the persona's own choice
    /// (a chatty persona's weighted mix, a joiner's join/leave, a media upload).
    pub action: Option<Action>,
    /// Arrivals per second.
    pub rate: f64,
}

/// A validated `arrivals:` section.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrivalSpec {
    /// The rates, in plan order (per-action rates sorted by action name).
    pub streams: Vec<Stream>,
    /// Spacing of every stream.
    pub spacing: Spacing,
    /// Longest wait of an arrival for a free user before it is dropped.
    pub max_delay: Duration,
    /// Shard slice `(index, count)`: rates are divided by `count` and uniform timetables
    /// shifted by `index / count` of a gap, so the shards' timetables interleave into the plan's.
    pub shard: (u64, u64),
}

impl ArrivalSpec {
    /// This spec for shard `index` of `count`.
    pub fn for_shard(&self, index: u64, count: u64) -> Self {
        let count = count.max(1);
        Self {
            streams: self
                .streams
                .iter()
                .map(|s| Stream {
                    action: s.action,
                    rate: s.rate / count as f64,
                })
                .collect(),
            shard: (index, count),
            ..self.clone()
        }
    }
}

/// Parse `10/s`, `90/m`, `90/min`, `3600/h` or `0.5/s` into arrivals per second.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let (num, unit) = text
        .split_once('/')
        .ok_or_else(|| format!("invalid rate {text:?}: write a count per time unit"))?;
    let per = match unit.trim() {
        "s" | "sec" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => return Err(format!("invalid rate unit {other:?}: use /s, /m or /h")),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("invalid rate {text:?}: {:?} is not a number", num.trim()))?;
    if !(n.is_finite() && n > 0.0) {
        return Err(format!("invalid rate {text:?}: it must be above 0"));
    }
    let rate = n / per;
    if rate > MAX_RATE {
        return Err(format!(
            "rate {text:?} is above {MAX_RATE}/s for one persona"
        ));
    }
    Ok(rate)
}

/// An arrival handed to one user.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ticket {
    /// When it should start; latency is measured from here.
    pub intended: Instant,
    /// What it runs (`None`: the persona's own choice).
    pub action: Option<Action>,
}

/// What a free user gets from [`Arrivals::claim`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Claim {
    /// Start this arrival at its intended time (now, when that has passed).
    Run(Ticket),
    /// No arrival is left (before the window opens, or after it closed).
    Over,
}

#[derive(Clone)]
struct StreamState {
    next: Duration,
    rng: ChaCha8Rng,
    started: u64,
    dropped: u64,
}

#[derive(Clone)]
struct State {
    window: Option<(Instant, Instant)>,
    streams: Vec<StreamState>,
}

/// The timetable of one open-model persona, shared by its users.
pub struct Arrivals {
    /// Persona name, for the report.
    pub persona: String,
    /// Report names of scenario actions (`scenario: <id>`), by action.
    scenario_names: Vec<(Action, String)>,
    spec: ArrivalSpec,
    state: Mutex<State>,
}

fn gap(spacing: Spacing, rate: f64, rng: &mut ChaCha8Rng) -> Duration {
    let mean = 1.0 / rate;
    let secs = match spacing {
        Spacing::Uniform => mean,
        Spacing::Poisson => -rng.random_range(f64::EPSILON..1.0).ln() * mean,
    };
    Duration::from_secs_f64(secs.clamp(0.0, 86_400.0))
}

impl Arrivals {
    /// The timetable of `spec`, seeded from `seed` (the same seed, the same timetable).
    pub fn new(persona: &str, spec: &ArrivalSpec, seed: u64) -> Self {
        let streams = spec
            .streams
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let salt = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ spec.shard.0;
                let mut rng = ChaCha8Rng::seed_from_u64(seed ^ salt);
                let first = match spec.spacing {
                    Spacing::Uniform => gap(spec.spacing, s.rate, &mut rng)
                        .mul_f64(spec.shard.0 as f64 / spec.shard.1.max(1) as f64),
                    Spacing::Poisson => gap(spec.spacing, s.rate, &mut rng),
                };
                StreamState {
                    next: first,
                    rng,
                    started: 0,
                    dropped: 0,
                }
            })
            .collect();
        Self {
            persona: persona.to_owned(),
            scenario_names: Vec::new(),
            spec: spec.clone(),
            state: Mutex::new(State {
                window: None,
                streams,
            }),
        }
    }

    /// Name each rated `scenario:` action as reports do (else it shows as `scenario`).
    pub fn with_names(mut self, name: impl Fn(Action) -> String) -> Self {
        self.scenario_names = self
            .spec
            .streams
            .iter()
            .filter_map(|s| s.action)
            .filter(|a| matches!(a, Action::Scenario(_)))
            .map(|a| (a, name(a)))
            .collect();
        self
    }

    /// Open the window: arrivals are intended from `start` up to (not including) `end`.
    pub fn open(&self, start: Instant, end: Instant) {
        if let Ok(mut s) = self.state.lock()
            && s.window.is_none()
        {
            s.window = Some((start, end.max(start)));
        }
    }

    /// The next arrival for a user free at `now`. Arrivals already more than `max_delay`
    /// late are dropped on the way (no user was free for them in time).
    pub fn claim(&self, now: Instant) -> Claim {
        let Ok(mut guard) = self.state.lock() else {
            return Claim::Over;
        };
        let state = &mut *guard;
        let Some((start, end)) = state.window else {
            return Claim::Over;
        };
        loop {
            let Some((i, st)) = state
                .streams
                .iter_mut()
                .enumerate()
                .min_by_key(|(_, st)| st.next)
            else {
                return Claim::Over;
            };
            let intended = start + st.next;
            if intended >= end {
                return Claim::Over;
            }
            let rate = self.spec.streams.get(i).map_or(1.0, |s| s.rate);
            st.next += gap(self.spec.spacing, rate, &mut st.rng);
            if intended + self.spec.max_delay < now {
                st.dropped += 1;
                continue;
            }
            st.started += 1;
            return Claim::Run(Ticket {
                intended,
                action: self.spec.streams.get(i).and_then(|s| s.action),
            });
        }
    }

    /// The figures at `now` (after the attack): arrivals of the window that nobody claimed
    /// count as dropped once `max_delay` has passed since their intended start; later ones
    /// fell off the end of the run and are not counted.
    pub fn figures(&self, now: Instant) -> Vec<ArrivalFigures> {
        let Ok(state) = self.state.lock().map(|s| s.clone()) else {
            return Vec::new();
        };
        let (start, end) = state.window.unwrap_or((now, now));
        let window = end.min(now).saturating_duration_since(start);
        let secs = window.as_secs_f64().max(0.001);
        state
            .streams
            .into_iter()
            .zip(&self.spec.streams)
            .map(|(mut st, spec)| {
                while state.window.is_some() {
                    let intended = start + st.next;
                    if intended >= end || intended + self.spec.max_delay > now {
                        break;
                    }
                    st.dropped += 1;
                    st.next += gap(self.spec.spacing, spec.rate, &mut st.rng);
                }
                let round = |v: f64| (v * 1000.0).round() / 1000.0;
                ArrivalFigures {
                    persona: self.persona.clone(),
                    action: spec.action.map(|a| {
                        self.scenario_names
                            .iter()
                            .find(|(x, _)| *x == a)
                            .map_or_else(|| a.as_str().to_owned(), |(_, n)| n.clone())
                    }),
                    spacing: self.spec.spacing.as_str().to_owned(),
                    max_delay_ms: u64::try_from(self.spec.max_delay.as_millis())
                        .unwrap_or(u64::MAX),
                    window_ms: u64::try_from(window.as_millis()).unwrap_or(u64::MAX),
                    intended_rps: round(spec.rate),
                    achieved_rps: round(st.started as f64 / secs),
                    scheduled: st.started + st.dropped,
                    started: st.started,
                    dropped: st.dropped,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(rate: f64, spacing: Spacing, max_delay_ms: u64) -> ArrivalSpec {
        ArrivalSpec {
            streams: vec![Stream { action: None, rate }],
            spacing,
            max_delay: Duration::from_millis(max_delay_ms),
            shard: (0, 1),
        }
    }

    /// Claim every arrival as soon as it is due (an always-free user).
    fn timetable(a: &Arrivals, start: Instant) -> Vec<Duration> {
        let mut out = Vec::new();
        let mut now = start;
        while let Claim::Run(t) = a.claim(now) {
            out.push(t.intended - start);
            now = t.intended;
        }
        out
    }

    #[test]
    fn rates_parse_per_unit_and_refuse_nonsense() {
        assert_eq!(parse_rate("10/s").unwrap(), 10.0);
        assert_eq!(parse_rate("90/m").unwrap(), 1.5);
        assert_eq!(parse_rate("3600 / h").unwrap(), 1.0);
        assert!(parse_rate("10").unwrap_err().contains("per time unit"));
        assert!(parse_rate("10/d").unwrap_err().contains("unit"));
        assert!(parse_rate("0/s").unwrap_err().contains("above 0"));
        assert!(parse_rate("-1/s").unwrap_err().contains("above 0"));
        assert!(parse_rate("many/s").unwrap_err().contains("not a number"));
        assert!(parse_rate("1e9/s").unwrap_err().contains("above"));
    }

    #[test]
    fn the_timetable_is_fixed_and_seeded() {
        let start = Instant::now();
        let uniform = Arrivals::new("p", &spec(10.0, Spacing::Uniform, 1000), 1);
        uniform.open(start, start + Duration::from_secs(1));
        let t = timetable(&uniform, start);
        assert_eq!(t.len(), 10);
        assert_eq!(t[3], Duration::from_millis(300));
        let poisson = |seed| {
            let a = Arrivals::new("p", &spec(50.0, Spacing::Poisson, 1000), seed);
            a.open(start, start + Duration::from_secs(10));
            timetable(&a, start)
        };
        assert_eq!(poisson(7), poisson(7), "same seed, same timetable");
        assert_ne!(poisson(7), poisson(8));
        let n = poisson(7).len();
        assert!((400..600).contains(&n), "{n} arrivals at 50/s over 10 s");
    }

    #[test]
    fn shards_interleave_into_the_plans_timetable() {
        let start = Instant::now();
        let whole = spec(10.0, Spacing::Uniform, 1000);
        let mut merged: Vec<Duration> = (0..2)
            .flat_map(|i| {
                let a = Arrivals::new("p", &whole.for_shard(i, 2), 1);
                a.open(start, start + Duration::from_secs(1));
                timetable(&a, start)
            })
            .collect();
        merged.sort();
        let one = Arrivals::new("p", &whole, 1);
        one.open(start, start + Duration::from_secs(1));
        let expected = timetable(&one, start);
        assert_eq!(merged.len(), expected.len());
        for (m, e) in merged.iter().zip(&expected) {
            assert!(m.abs_diff(*e) < Duration::from_micros(10), "{m:?} vs {e:?}");
        }
    }

    #[test]
    fn arrivals_later_than_max_delay_are_dropped_not_delayed() {
        let start = Instant::now();
        let a = Arrivals::new("p", &spec(10.0, Spacing::Uniform, 150), 1);
        a.open(start, start + Duration::from_secs(1));
        // A user free at 0, then busy until 550 ms: the arrivals intended at 100..=300 ms
        // are more than 150 ms late by then, 400 and 500 ms are started late.
        assert!(matches!(a.claim(start), Claim::Run(t) if t.intended == start));
        let Claim::Run(t) = a.claim(start + Duration::from_millis(550)) else {
            panic!("an arrival within max_delay")
        };
        assert_eq!(t.intended - start, Duration::from_millis(400));
        // The run ends at 2 s with nobody claiming again: 500..=900 ms are dropped too.
        let f = a.figures(start + Duration::from_secs(2));
        assert_eq!((f[0].scheduled, f[0].started, f[0].dropped), (10, 2, 8));
        assert_eq!(f[0].intended_rps, 10.0);
        assert_eq!(f[0].achieved_rps, 2.0);
        // Just after the window: the last arrivals may still start, so they are not counted.
        let f = a.figures(start + Duration::from_millis(1000));
        assert_eq!(
            f[0].scheduled,
            2 + 3 + 4,
            "900 ms is within max_delay at 1 s"
        );
    }

    #[test]
    fn nothing_arrives_outside_the_window() {
        let a = Arrivals::new("p", &spec(10.0, Spacing::Uniform, 150), 1);
        assert_eq!(a.claim(Instant::now()), Claim::Over, "before it opens");
        let start = Instant::now();
        a.open(start, start);
        assert_eq!(a.claim(start), Claim::Over);
    }
}
