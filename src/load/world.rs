//! What every simulated user shares during the attack: the accounts and rooms made in
//! setup, the persona plans, the recorder, the delivery tracker, and the queue from which
//! each Goose user claims the account it plays.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use super::delivery::Tracker;
use super::metrics::Recorder;
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand_chacha::ChaCha8Rng;

use super::arrivals::Arrivals;
use super::plan::{Action, Persona};
use crate::matrix::sliding_sync::SlidingSyncTarget;

/// An account made in setup.
#[derive(Clone, Default)]
pub struct Account {
    /// `@mxl-...:server`.
    pub user_id: String,
    /// Access token (never logged or reported).
    pub access_token: String,
    /// Index into [`World::personas`].
    pub persona: usize,
    /// Rooms joined in setup (room ids).
    pub rooms: Vec<String>,
    /// Of which the rooms it created (it is their first member).
    pub created: Vec<String>,
    /// Localpart, password and device of the account, for scenario actions' `${actor.*}`.
    pub localpart: String,
    /// Password (never logged or reported).
    pub password: String,
    /// Device ID of the access token.
    pub device_id: String,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("user_id", &self.user_id)
            .field("access_token", &"<redacted>")
            .field("rooms", &self.rooms.len())
            .finish()
    }
}

/// A user on the second homeserver paired with a federation sender.
#[derive(Clone)]
pub struct Partner {
    /// The room on hs1 both are in.
    pub room_id: String,
    /// The hs2 user's token.
    pub access_token: String,
}

/// Shared state of one attack.
pub struct World {
    /// Client-server base URL of the target.
    pub base_url: String,
    /// Second homeserver (`--target2`), for federation personas.
    pub base_url2: Option<String>,
    /// Personas of the plan, in plan order.
    pub personas: Vec<Persona>,
    /// Accounts by population position.
    pub accounts: Vec<Account>,
    /// Every room id made in setup (joiners pick from these).
    pub rooms: Vec<String>,
    /// hs2 partners by account position (federation personas only).
    pub partners: BTreeMap<usize, Partner>,
    /// The sliding-sync endpoint, when the target speaks a dialect.
    pub sliding_sync: Option<SlidingSyncTarget>,
    /// Measurements.
    pub recorder: Recorder,
    /// Messages in flight.
    pub tracker: Tracker,
    /// Seed of the dispatchers.
    pub seed: u64,
    /// Timeout of a request that is not a long-poll.
    pub request_timeout: Duration,
    /// Federated messages accepted by the first homeserver.
    pub federation_sent: AtomicU64,
    /// Of which seen on the second one in time.
    pub federation_delivered: AtomicU64,
    queues: Mutex<Vec<VecDeque<usize>>>,
    /// When the plan ends (ramp-up + hold + ramp-down after the attack starts): long-polls
    /// never wait past it, so a run ends within its plan plus one request timeout.
    plan_end: std::sync::OnceLock<std::time::Instant>,
    /// Weighted action tables by persona (built once).
    actions: Vec<Option<WeightedIndex<u32>>>,
    /// Open-model timetables by persona (`None`: closed loop).
    pub arrivals: Vec<Option<Arrivals>>,
    /// What scenario actions need of the target (versions, client, skip reasons) and
    /// what they found (iterations, errors, a sample failure).
    conformance: std::sync::OnceLock<super::scenario_run::Conformance>,
    /// Members of each room after setup (account positions), for scenario actions' actors.
    pub members: BTreeMap<String, Vec<usize>>,
}

impl World {
    /// A world over the accounts made in setup.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        base_url: String,
        base_url2: Option<String>,
        personas: Vec<Persona>,
        accounts: Vec<Account>,
        rooms: Vec<String>,
        partners: BTreeMap<usize, Partner>,
        sliding_sync: Option<SlidingSyncTarget>,
        seed: u64,
    ) -> Self {
        let mut queues = vec![VecDeque::new(); personas.len()];
        for (i, a) in accounts.iter().enumerate() {
            if let Some(q) = queues.get_mut(a.persona) {
                q.push_back(i);
            }
        }
        let actions = personas
            .iter()
            .map(|p| WeightedIndex::new(p.actions.iter().map(|(_, w)| *w)).ok())
            .collect();
        let mut members: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, a) in accounts.iter().enumerate() {
            for r in &a.rooms {
                members.entry(r.clone()).or_default().push(i);
            }
        }
        let arrivals = personas
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let seed = seed ^ (i as u64 + 1).wrapping_mul(0xD6E8_FEB8_6659_FD93);
                p.arrivals
                    .as_ref()
                    .map(|a| Arrivals::new(&p.name, a, seed).with_names(|x| p.action_name(x)))
            })
            .collect();
        Self {
            conformance: std::sync::OnceLock::new(),
            members,
            actions,
            arrivals,
            base_url,
            base_url2,
            personas,
            accounts,
            rooms,
            partners,
            sliding_sync,
            recorder: Recorder::new(),
            tracker: Tracker::default(),
            seed,
            request_timeout: Duration::from_secs(30),
            federation_sent: AtomicU64::new(0),
            federation_delivered: AtomicU64::new(0),
            queues: Mutex::new(queues),
            plan_end: std::sync::OnceLock::new(),
        }
    }

    /// The target as the conformance run sees it (advertised versions, the HTTP client,
    /// which scenarios it would skip): what `scenario:` actions run with.
    /// Set once, right after setup and before the attack; without it, v1.1 paths and a
    /// client of the process's network policy.
    pub fn set_target(&self, ctx: &crate::runner::RunContext) {
        let _ = self
            .conformance
            .set(super::scenario_run::Conformance::for_target(
                &self.personas,
                ctx,
            ));
    }

    /// What scenario actions and typed requests need of the target, and what they found.
    pub fn conformance(&self) -> &super::scenario_run::Conformance {
        self.conformance
            .get_or_init(super::scenario_run::Conformance::default)
    }

    /// Record when the plan ends (set once, when the attack starts).
    pub fn set_plan_end(&self, at: std::time::Instant) {
        let _ = self.plan_end.set(at);
    }

    /// Open every open-model timetable: arrivals are due from `start` until `end`.
    pub fn open_arrivals(&self, start: std::time::Instant, end: std::time::Instant) {
        for a in self.arrivals.iter().flatten() {
            a.open(start, end);
        }
    }

    /// The open-model timetable of `persona`, if it has one.
    pub fn arrivals_of(&self, persona: usize) -> Option<&Arrivals> {
        self.arrivals.get(persona).and_then(Option::as_ref)
    }

    /// Whether the plan's time is over.
    pub fn plan_over(&self) -> bool {
        self.plan_end
            .get()
            .is_some_and(|end| std::time::Instant::now() >= *end)
    }

    /// A long-poll wait cut to the time left in the plan (all of `wait` before the attack).
    pub fn poll_wait(&self, wait: Duration) -> Duration {
        match self.plan_end.get() {
            Some(end) => wait.min(end.saturating_duration_since(std::time::Instant::now())),
            None => wait,
        }
    }

    /// The next action of a chatty user of `persona`, drawn with the user's own RNG.
    pub fn pick_action(&self, persona: usize, rng: &mut ChaCha8Rng) -> Option<Action> {
        let dist = self.actions.get(persona)?.as_ref()?;
        let p = self.personas.get(persona)?;
        p.actions.get(dist.sample(rng)).map(|(a, _)| *a)
    }

    /// The next unclaimed account of `persona`; when Goose starts more users of it than
    /// the population has, accounts are reused round-robin.
    pub fn claim(&self, persona: usize) -> Option<usize> {
        let mut queues = self.queues.lock().ok()?;
        let q = queues.get_mut(persona)?;
        let next = q.pop_front()?;
        q.push_back(next);
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty() -> World {
        World::new(
            "http://127.0.0.1:1".into(),
            None,
            Vec::new(),
            Vec::new(),
            Vec::new(),
            BTreeMap::new(),
            None,
            1,
        )
    }

    #[test]
    fn long_polls_never_wait_past_the_plan() {
        let w = empty();
        let long = Duration::from_secs(30);
        assert_eq!(w.poll_wait(long), long, "before the attack: the full wait");
        assert!(!w.plan_over());
        w.set_plan_end(std::time::Instant::now() + Duration::from_secs(2));
        assert!(w.poll_wait(long) <= Duration::from_secs(2));
        assert_eq!(
            w.poll_wait(Duration::from_millis(5)),
            Duration::from_millis(5)
        );

        let over = empty();
        over.set_plan_end(std::time::Instant::now());
        assert_eq!(over.poll_wait(long), Duration::ZERO);
        assert!(over.plan_over());
    }
}
