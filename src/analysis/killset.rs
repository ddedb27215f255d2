//! The set of failure events that take one service down (its *kill set*), as a hybrid of a sorted
//! `Vec<u32>` (small sets) and a dense bitset (large ones), whichever is smaller.
//!
//! Events here are dense *tokens* numbered by the engine in [`crate::analysis::spof`]. Sets are
//! shared through `Arc`: a union equal to one of its inputs returns that input, so a set that
//! passes unchanged up a chain of strong edges is stored once.

use std::sync::Arc;

/// A kill set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KillSet {
    /// Sorted, unique tokens.
    Sparse(Vec<u32>),
    /// One bit per token of the universe, with the number of bits set.
    Dense {
        /// The bits.
        bits: Vec<u64>,
        /// Number of bits set.
        len: u32,
    },
    /// Every event: the service is down already, before any further event.
    All,
}

/// A shared kill set.
pub type KillRef = Arc<KillSet>;

impl KillSet {
    /// The empty set.
    pub fn empty() -> KillRef {
        Arc::new(Self::Sparse(Vec::new()))
    }

    /// Number of tokens (`u32::MAX` for [`KillSet::All`]).
    pub fn len(&self) -> u32 {
        match self {
            Self::Sparse(v) => v.len() as u32,
            Self::Dense { len, .. } => *len,
            Self::All => u32::MAX,
        }
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `t` is in the set.
    pub fn contains(&self, t: u32) -> bool {
        match self {
            Self::Sparse(v) => v.binary_search(&t).is_ok(),
            Self::Dense { bits, .. } => bits
                .get((t / 64) as usize)
                .is_some_and(|w| w & (1u64 << (t % 64)) != 0),
            Self::All => true,
        }
    }

    /// Calls `f` for every token, in increasing order. Does nothing for [`KillSet::All`].
    pub fn for_each(&self, mut f: impl FnMut(u32)) {
        match self {
            Self::Sparse(v) => v.iter().copied().for_each(f),
            Self::Dense { bits, .. } => {
                for (wi, &w) in bits.iter().enumerate() {
                    let mut w = w;
                    while w != 0 {
                        let b = w.trailing_zeros();
                        f(wi as u32 * 64 + b);
                        w &= w - 1;
                    }
                }
            }
            Self::All => {}
        }
    }

    /// Calls `f` for every token of `self` not in `other`, in increasing order (nothing for
    /// [`KillSet::All`]).
    pub fn for_each_not_in(&self, other: &Self, mut f: impl FnMut(u32)) {
        match (self, other) {
            (Self::Sparse(a), Self::Sparse(b)) => {
                let mut j = 0;
                for &t in a {
                    while j < b.len() && b[j] < t {
                        j += 1;
                    }
                    if j >= b.len() || b[j] != t {
                        f(t);
                    }
                }
            }
            (_, Self::All) => {}
            (Self::Dense { bits: a, .. }, Self::Dense { bits: b, .. }) => {
                // Word by word: the sets compared here (a kill set under one more failure against
                // the clean one) are mostly equal, so most words are skipped at once.
                for (wi, &wa) in a.iter().enumerate() {
                    let mut w = wa & !b.get(wi).copied().unwrap_or(0);
                    while w != 0 {
                        f(wi as u32 * 64 + w.trailing_zeros());
                        w &= w - 1;
                    }
                }
            }
            _ => self.for_each(|t| {
                if !other.contains(t) {
                    f(t);
                }
            }),
        }
    }

    /// The tokens, sorted.
    pub fn to_vec(&self) -> Vec<u32> {
        let mut v = Vec::with_capacity(self.len().min(1 << 20) as usize);
        self.for_each(|t| v.push(t));
        v
    }

    /// Bytes held (for memory accounting in benchmarks).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Self::Sparse(v) => v.capacity() * 4,
            Self::Dense { bits, .. } => bits.capacity() * 8,
            Self::All => 0,
        }
    }

    /// The union of `inputs` and the sorted tokens `extra`, over a universe of `universe`
    /// tokens. Returns an input itself when the union adds nothing to it.
    pub fn union(inputs: &[&KillRef], extra: &[u32], universe: u32) -> KillRef {
        if inputs.iter().any(|k| matches!(***k, Self::All)) {
            return Arc::new(Self::All);
        }
        let largest = inputs.iter().max_by_key(|k| k.len()).copied();
        let total: u64 =
            inputs.iter().map(|k| u64::from(k.len())).sum::<u64>() + extra.len() as u64;
        let out = if dense_pays(total, universe) {
            let mut bits = vec![0u64; words(universe)];
            for k in inputs {
                match &***k {
                    Self::Dense { bits: b, .. } => {
                        for (w, x) in bits.iter_mut().zip(b) {
                            *w |= x;
                        }
                    }
                    other => other.for_each(|t| bits[(t / 64) as usize] |= 1 << (t % 64)),
                }
            }
            for &t in extra {
                bits[(t / 64) as usize] |= 1 << (t % 64);
            }
            let len = bits.iter().map(|w| w.count_ones()).sum();
            Self::Dense { bits, len }.normalized(universe)
        } else {
            // Sparse inputs are sorted: merge them into the largest one by one, each merge
            // linear (most unions have one or two inputs; sorting the concatenation was a
            // quarter of `--depth 2` on a 10,000-service file).
            let mut acc: Vec<u32> = match largest.map(|l| &**l) {
                Some(Self::Sparse(l)) => l.clone(),
                Some(other) => other.to_vec(),
                None => Vec::new(),
            };
            let mut scratch = Vec::with_capacity(total as usize);
            let mut merge_in = |into: &mut Vec<u32>, other: &[u32]| {
                if other.is_empty() {
                    return;
                }
                scratch.clear();
                let (mut i, mut j) = (0, 0);
                while i < into.len() && j < other.len() {
                    let (x, y) = (into[i], other[j]);
                    scratch.push(x.min(y));
                    i += usize::from(x <= y);
                    j += usize::from(y <= x);
                }
                scratch.extend_from_slice(&into[i..]);
                scratch.extend_from_slice(&other[j..]);
                std::mem::swap(into, &mut scratch);
            };
            let mut skipped = false;
            for k in inputs {
                if !skipped && largest.is_some_and(|l| Arc::ptr_eq(l, k)) {
                    skipped = true;
                    continue;
                }
                match &***k {
                    Self::Sparse(o) => merge_in(&mut acc, o),
                    other => merge_in(&mut acc, &other.to_vec()),
                }
            }
            merge_in(&mut acc, extra);
            Self::Sparse(acc)
        };
        match largest {
            Some(l) if l.len() == out.len() => Arc::clone(l),
            _ => Arc::new(out),
        }
    }

    /// Tokens present in at least `t` of `inputs` (none of which may be [`KillSet::All`]).
    pub fn at_least(inputs: &[&KillRef], t: u32, universe: u32) -> KillRef {
        if t <= 1 {
            return Self::union(inputs, &[], universe);
        }
        if inputs.len() < t as usize {
            return Self::empty();
        }
        let mut all: Vec<u32> = Vec::new();
        for k in inputs {
            k.for_each(|x| all.push(x));
        }
        all.sort_unstable();
        let mut out = Vec::new();
        let mut i = 0;
        while i < all.len() {
            let mut j = i;
            while j < all.len() && all[j] == all[i] {
                j += 1;
            }
            if (j - i) as u32 >= t {
                out.push(all[i]);
            }
            i = j;
        }
        Arc::new(Self::Sparse(out).normalized(universe))
    }

    /// Picks the smaller representation.
    fn normalized(self, universe: u32) -> Self {
        match self {
            Self::Dense { ref bits, len } if !dense_pays(u64::from(len), universe) => {
                let mut v = Vec::with_capacity(len as usize);
                Self::Dense {
                    bits: bits.clone(),
                    len,
                }
                .for_each(|t| v.push(t));
                Self::Sparse(v)
            }
            Self::Sparse(v) if dense_pays(v.len() as u64, universe) => {
                let mut bits = vec![0u64; words(universe)];
                for &t in &v {
                    bits[(t / 64) as usize] |= 1 << (t % 64);
                }
                Self::Dense {
                    bits,
                    len: v.len() as u32,
                }
            }
            other => other,
        }
    }
}

fn words(universe: u32) -> usize {
    (universe as usize).div_ceil(64)
}

/// A dense bitset costs `universe` bits; a sparse one 32 bits per token.
fn dense_pays(len: u64, universe: u32) -> bool {
    len * 32 > u64::from(universe)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp(v: &[u32]) -> KillRef {
        Arc::new(KillSet::Sparse(v.to_vec()))
    }

    #[test]
    fn union_shares_a_superset_input() {
        let a = sp(&[1, 5, 9]);
        let b = sp(&[5]);
        let u = KillSet::union(&[&a, &b], &[9], 1000);
        assert!(Arc::ptr_eq(&u, &a));
        let u2 = KillSet::union(&[&a, &b], &[2], 1000);
        assert_eq!(u2.to_vec(), vec![1, 2, 5, 9]);
    }

    #[test]
    #[allow(clippy::many_single_char_names)]
    fn merged_unions_and_differences_are_exact() {
        let a = sp(&[1, 4, 9, 12]);
        let b = sp(&[0, 4, 5, 13]);
        let c = sp(&[9]);
        let u = KillSet::union(&[&b, &a, &c], &[2, 4, 20], 100_000);
        assert_eq!(u.to_vec(), vec![0, 1, 2, 4, 5, 9, 12, 13, 20]);
        let mut d = Vec::new();
        u.for_each_not_in(&a, |t| d.push(t));
        assert_eq!(d, vec![0, 2, 5, 13, 20]);
        let dense = KillSet::union(&[&a], &(0..40).collect::<Vec<_>>(), 64);
        let mut d2 = Vec::new();
        dense.for_each_not_in(&b, |t| d2.push(t));
        assert_eq!(d2.len(), 40 - 4);
    }

    #[test]
    fn dense_differences_match_sparse_ones() {
        // Universes of one and of several words, both operands dense.
        for universe in [64u32, 300] {
            let evens: Vec<u32> = (0..universe).step_by(2).collect();
            let thirds: Vec<u32> = (0..universe).step_by(3).collect();
            let a = KillSet::union(&[], &evens, universe);
            let b = KillSet::union(&[], &thirds, universe);
            assert!(matches!(*a, KillSet::Dense { .. }) && matches!(*b, KillSet::Dense { .. }));
            let mut got = Vec::new();
            a.for_each_not_in(&b, |t| got.push(t));
            let want: Vec<u32> = evens.iter().copied().filter(|t| t % 3 != 0).collect();
            assert_eq!(got, want);
            let mut none = Vec::new();
            a.for_each_not_in(&a, |t| none.push(t));
            assert!(none.is_empty());
        }
    }

    #[test]
    fn dense_and_sparse_agree() {
        let universe = 64;
        let a = sp(&(0..40).step_by(2).collect::<Vec<_>>());
        let b = sp(&[1, 3, 63]);
        let u = KillSet::union(&[&a, &b], &[], universe);
        assert!(matches!(*u, KillSet::Dense { .. }));
        assert!(u.contains(63) && u.contains(38) && !u.contains(39));
        assert_eq!(u.len(), 23);
        let th = KillSet::at_least(&[&a, &b, &sp(&[2, 3])], 2, universe);
        assert_eq!(th.to_vec(), vec![2, 3]);
    }
}
