//! `--shard i/n`: which instances one process probes when an inspection is split over several
//! (SPEC §8).
//!
//! Every instance belongs to exactly one of `n` shards, chosen by rendezvous (highest random
//! weight) hashing of its service name and instance id: the instance goes to the shard whose
//! score `hash(service, instance, shard)` is highest. So the owner of an instance depends on that
//! instance's own names and on `n` only — adding or removing a service moves no other instance,
//! and going from `n` to `n + 1` shards moves only about `1/(n + 1)` of them.
//!
//! The hash is [`StableHasher`], whose values never change between Rust releases or linkpatrol
//! versions: shards run by two different builds must agree on who owns what, and `merge`
//! checks that they do.

use std::fmt;
use std::str::FromStr;

use crate::topology::fingerprint::StableHasher;
use crate::topology::model::Topology;

/// The largest `n` accepted: far more pods than one topology needs, small enough to be a typo
/// guard.
pub const MAX_SHARDS: u32 = 1024;

/// One shard of `count`, numbered from 1 (`--shard 1/3`, `2/3`, `3/3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shard {
    index: u32,
    count: u32,
}

/// Why a `--shard` value is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid shard `{value}`: {why}; expected `i/n` with 1 ≤ i ≤ n ≤ {MAX_SHARDS}, e.g. `2/3`")]
pub struct ShardError {
    value: String,
    why: &'static str,
}

impl Shard {
    /// Shard `index` of `count` (both from 1).
    pub fn new(index: u32, count: u32) -> Option<Self> {
        (count <= MAX_SHARDS && (1..=count).contains(&index)).then_some(Self { index, count })
    }

    /// The shard number, from 1.
    pub fn index(self) -> u32 {
        self.index
    }

    /// How many shards there are.
    pub fn count(self) -> u32 {
        self.count
    }

    /// Whether this shard probes `instance` of `service`.
    pub fn owns(self, service: &str, instance: &str) -> bool {
        owner(self.count, service, instance) == self.index
    }

    /// The owned instances of `topology` as `service/instance`, sorted by service then
    /// instance order.
    pub fn instances(self, topology: &Topology) -> Vec<String> {
        topology
            .services
            .iter()
            .flat_map(|s| {
                s.instances
                    .iter()
                    .filter(move |i| self.owns(s.name.as_str(), &i.id))
                    .map(move |i| format!("{}/{}", s.name, i.id))
            })
            .collect()
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |why| ShardError {
            value: s.to_owned(),
            why,
        };
        let (i, n) = s.split_once('/').ok_or_else(|| err("no `/`"))?;
        let i: u32 = i
            .trim()
            .parse()
            .map_err(|_| err("`i` is not a whole number"))?;
        let n: u32 = n
            .trim()
            .parse()
            .map_err(|_| err("`n` is not a whole number"))?;
        if n == 0 || n > MAX_SHARDS {
            return Err(err("`n` is out of range"));
        }
        Shard::new(i, n).ok_or_else(|| err("`i` is not between 1 and `n`"))
    }
}

/// The shard (from 1) of `count` that owns `instance` of `service`.
pub fn owner(count: u32, service: &str, instance: &str) -> u32 {
    (1..=count)
        .max_by_key(|&shard| (score(service, instance, shard), std::cmp::Reverse(shard)))
        .unwrap_or(1)
}

/// The rendezvous weight of (`service`, `instance`) for `shard`.
fn score(service: &str, instance: &str, shard: u32) -> u64 {
    let mut h = StableHasher::default();
    h.field(service);
    h.field(instance);
    h.write(&shard.to_le_bytes());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_i_of_n() {
        let s: Shard = "2/3".parse().unwrap();
        assert_eq!((s.index(), s.count()), (2, 3));
        assert_eq!(s.to_string(), "2/3");
        assert_eq!("1/1".parse::<Shard>().unwrap().to_string(), "1/1");
    }

    #[test]
    fn refuses_what_is_not_a_shard() {
        for bad in [
            "", "3", "0/3", "4/3", "1/0", "a/3", "1/b", "-1/3", "1/1025", "1/3/4",
        ] {
            let e = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("invalid shard `{bad}`")),
                "{bad}: {e}"
            );
            assert!(e.contains("e.g. `2/3`"), "{e}");
        }
    }

    #[test]
    fn every_instance_has_exactly_one_owner() {
        for n in [1, 2, 3, 7, 16] {
            for s in 0..200 {
                let service = format!("svc-{s}");
                let owners: Vec<u32> = (1..=n)
                    .filter(|&i| Shard::new(i, n).unwrap().owns(&service, "0"))
                    .collect();
                assert_eq!(owners.len(), 1, "{service} of {n}: {owners:?}");
                assert_eq!(owners[0], owner(n, &service, "0"));
            }
        }
    }

    #[test]
    fn shards_are_balanced() {
        let n = 7;
        let mut counts = [0usize; 7];
        for s in 0..7000 {
            counts[owner(n, &format!("service-{s}"), &(s % 3).to_string()) as usize - 1] += 1;
        }
        // 1,000 expected per shard; a skewed hash would be far off.
        assert!(
            counts.iter().all(|&c| (850..1150).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn growing_from_n_to_n_plus_one_moves_about_one_in_n_plus_one() {
        let total = 6000;
        let moved = (0..total)
            .filter(|s| {
                let name = format!("s{s}");
                let before = owner(5, &name, "a");
                let after = owner(6, &name, "a");
                // Rendezvous: an instance either stays or moves to the new shard.
                assert!(after == before || after == 6, "{name}: {before} -> {after}");
                before != after
            })
            .count();
        assert!((800..1200).contains(&moved), "{moved} of {total} moved");
    }

    #[test]
    fn the_hash_is_pinned() {
        // Shards of different linkpatrol builds must agree: this value may never change.
        assert_eq!(
            owner(7, "order-service", "0"),
            owner(7, "order-service", "0")
        );
        let pinned: Vec<u32> = ["a", "b", "c", "d", "e", "f"]
            .iter()
            .map(|s| owner(3, s, "0"))
            .collect();
        assert_eq!(pinned, PINNED);
    }

    const PINNED: [u32; 6] = [3, 3, 1, 1, 3, 2];
}
