//! The seeded population: which simulated user plays which persona, and which rooms exist
//! with which members (Pareto room sizes). Sharding takes a disjoint slice of it.

use std::collections::BTreeSet;

use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::plan::{LoadPlan, Persona};

/// A simulated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimUser {
    /// Index in the whole population.
    pub index: usize,
    /// Index into [`LoadPlan::personas`].
    pub persona: usize,
}

/// A room made during setup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomSpec {
    /// Index in the whole population.
    pub index: usize,
    /// Member user indices (into [`Population::users`]); the first one creates the room.
    pub members: Vec<usize>,
}

/// Users and rooms of one run (or one shard).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Population {
    /// Users, by position.
    pub users: Vec<SimUser>,
    /// Rooms.
    pub rooms: Vec<RoomSpec>,
}

/// `I/N`: this process runs slice I (0-based) of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based index.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl Shard {
    /// Parse `I/N` with 0 <= I < N.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("--shard {s:?}: expected I/N, e.g. 0/2"))?;
        let index: usize = i
            .trim()
            .parse()
            .map_err(|_| format!("--shard {s:?}: bad index"))?;
        let count: usize = n
            .trim()
            .parse()
            .map_err(|_| format!("--shard {s:?}: bad count"))?;
        if count == 0 || index >= count {
            return Err(format!("--shard {s:?}: need 0 <= I < N"));
        }
        Ok(Self { index, count })
    }
}

/// Share `total` out by weight (largest remainder), deterministically.
pub fn apportion(total: usize, weights: &[u32]) -> Vec<usize> {
    let sum: u64 = weights.iter().map(|w| u64::from(*w)).sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let mut counts: Vec<usize> = Vec::with_capacity(weights.len());
    let mut rema: Vec<(u64, usize)> = Vec::with_capacity(weights.len());
    for (i, w) in weights.iter().enumerate() {
        let exact = total as u64 * u64::from(*w);
        counts.push(usize::try_from(exact / sum).unwrap_or(0));
        rema.push((exact % sum, i));
    }
    let mut left = total - counts.iter().sum::<usize>();
    rema.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in rema {
        if left == 0 {
            break;
        }
        counts[i] += 1;
        left -= 1;
    }
    counts
}

/// Build the population of `plan` (the whole one; see [`Population::shard`]).
pub fn generate(plan: &LoadPlan) -> Population {
    let mut rng = ChaCha8Rng::seed_from_u64(plan.seed);
    let weights: Vec<u32> = plan.personas.iter().map(|p: &Persona| p.weight).collect();
    let counts = apportion(plan.users, &weights);
    let mut kinds: Vec<usize> = counts
        .iter()
        .enumerate()
        .flat_map(|(p, n)| std::iter::repeat_n(p, *n))
        .collect();
    kinds.shuffle(&mut rng);
    let users: Vec<SimUser> = kinds
        .into_iter()
        .enumerate()
        .map(|(index, persona)| SimUser { index, persona })
        .collect();
    let n = users.len();
    let max = plan.room_size_max.min(n).max(1);
    let min = plan.room_size_min.min(max).max(1);
    let mut rooms: Vec<RoomSpec> = (0..plan.rooms)
        .map(|index| {
            let u: f64 = rng.random_range(f64::EPSILON..1.0);
            let size = (min as f64 * u.powf(-1.0 / plan.room_size_alpha)).floor();
            let size = (size as usize).clamp(min, max);
            let all: Vec<usize> = (0..n).collect();
            let members: Vec<usize> = all.choose_multiple(&mut rng, size).copied().collect();
            RoomSpec { index, members }
        })
        .collect();
    if !rooms.is_empty() {
        let placed: BTreeSet<usize> = rooms
            .iter()
            .flat_map(|r| r.members.iter().copied())
            .collect();
        for u in 0..n {
            if !placed.contains(&u) {
                let r = rng.random_range(0..rooms.len());
                rooms[r].members.push(u);
            }
        }
    }
    Population { users, rooms }
}

impl Population {
    /// The disjoint slice of shard `s`: users with `index % N == I`, and rooms with
    /// `index % N == I` restricted to those users (rooms left with no member are dropped).
    /// Indices are renumbered within the slice.
    pub fn shard(&self, s: Shard) -> Population {
        let kept: Vec<&SimUser> = self
            .users
            .iter()
            .filter(|u| u.index % s.count == s.index)
            .collect();
        let position = |global: usize| kept.iter().position(|u| u.index == global);
        let rooms = self
            .rooms
            .iter()
            .filter(|r| r.index % s.count == s.index)
            .filter_map(|r| {
                let members: Vec<usize> = r.members.iter().filter_map(|m| position(*m)).collect();
                (!members.is_empty()).then_some(RoomSpec {
                    index: r.index,
                    members,
                })
            })
            .collect();
        Population {
            users: kept.into_iter().cloned().collect(),
            rooms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apportion_is_exact_and_fair() {
        assert_eq!(apportion(20, &[3, 2]), vec![12, 8]);
        assert_eq!(apportion(10, &[1, 1, 1]), vec![4, 3, 3]);
        assert_eq!(apportion(5, &[0, 0]), vec![0, 0]);
    }

    #[test]
    fn shard_parsing() {
        assert_eq!(Shard::parse("1/3").unwrap(), Shard { index: 1, count: 3 });
        assert!(Shard::parse("3/3").is_err());
        assert!(Shard::parse("x").is_err());
    }
}
