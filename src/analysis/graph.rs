//! Dense adjacency built once from a [`Topology`]: strong dependencies, `any_of` groups and the
//! reverse ("who consumes me") lists every propagation walks.
//!
//! Invariant: indices are the model's [`ServiceIdx`](crate::topology::model::ServiceIdx) values as `u32`; groups are numbered in
//! service order, then file order. Weak single-service edges are kept only for state propagation
//! (they never make anything `down`).
//!
//! # Why the strongly connected components are not petgraph's
//!
//! [`tarjan`] is a hand-written iterative Tarjan over adjacency slices and a `keep` mask. It is
//! not kept for speed: `scripts/scc_bench` (a standalone crate that calls this very function
//! through a path dependency; release, 2 cores, load average 1.7, three runs each, `cargo run
//! --release --manifest-path scripts/scc_bench/Cargo.toml -- SHAPE 100000 ALGORITHM`) gives
//!
//! | 100,000 services | this `tarjan` | petgraph `kosaraju_scc` | petgraph `tarjan_scc` |
//! | --- | --- | --- | --- |
//! | layered, 3 strong calls each | 27–31 ms | 20–25 ms (3 ms of it building its graph) | |
//! | one strong chain | 8–10 ms | 7–10 ms | aborts: stack overflow |
//!
//! (An earlier copy of the algorithm inside the bench, which only counted components, gave
//! 9–11 ms on the layered shape; collecting and sorting each component is most of the
//! difference.) It stays because petgraph's `tarjan_scc` recurses once per service on a path,
//! so a long strong chain (a generated catalogue, a careless import) aborts the process, and
//! `kosaraju_scc`, as fast, needs a petgraph graph with reverse edges (or the visit traits,
//! reverse neighbours included, implemented over this one) plus a filtered view for the mask
//! (root causes run it over the failed services only), and its components would still have to
//! be sorted and put in the reverse topological order the callers rely on. A few milliseconds
//! at 100,000 services do not pay for that.

use crate::state::State;
use crate::topology::model::{Strength, Target, Topology};

/// One `any_of` group, owned by one service.
#[derive(Debug, Clone)]
pub struct Group {
    /// The service whose `depends_on` declares the group.
    pub owner: u32,
    /// Strong or weak.
    pub strength: Strength,
    /// Member services.
    pub members: Vec<u32>,
    /// Members that must be alive.
    pub min: u32,
}

impl Group {
    /// Members that may be down while the group stays alive.
    pub fn slack(&self) -> u32 {
        self.members.len() as u32 - self.min
    }

    /// The group's state from its members' effective states (SPEC §2): `down` when fewer than
    /// `min` members are alive (an `unknown` member counts as alive: it is not known to be
    /// down), `degraded` when enough are but some member is down or degraded, else `up`.
    pub fn state(&self, eff: &[State]) -> State {
        let dead = self
            .members
            .iter()
            .filter(|&&m| eff[m as usize] == State::Down)
            .count() as u32;
        if dead > self.slack() {
            State::Down
        } else if self
            .members
            .iter()
            .any(|&m| matches!(eff[m as usize], State::Down | State::Degraded))
        {
            State::Degraded
        } else {
            State::Up
        }
    }
}

/// How a service consumes one of its dependencies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// A strong single-service dependency of the consumer.
    Strong(u32),
    /// A weak single-service dependency of the consumer.
    Weak(u32),
    /// Membership in group `g`.
    Member(u32),
}

/// The adjacency of a topology.
#[derive(Debug, Clone)]
pub struct Graph {
    /// Number of services.
    pub n: usize,
    /// Strong single-service dependencies per service.
    pub strong: Vec<Vec<u32>>,
    /// Weak single-service dependencies per service.
    pub weak: Vec<Vec<u32>>,
    /// Group ids owned per service.
    pub groups_of: Vec<Vec<u32>>,
    /// Every group.
    pub groups: Vec<Group>,
    /// Per service, who uses it and how.
    pub users: Vec<Vec<Use>>,
    /// Strong successors (single strong edges and strong group members), sorted and unique,
    /// as one flat array indexed by `succ_offset`.
    succ: Vec<u32>,
    succ_offset: Vec<u32>,
}

impl Graph {
    /// `n` services and no dependency yet.
    fn without_edges(n: usize) -> Self {
        Self {
            n,
            strong: vec![Vec::new(); n],
            weak: vec![Vec::new(); n],
            groups_of: vec![Vec::new(); n],
            groups: Vec::new(),
            users: vec![Vec::new(); n],
            succ: Vec::new(),
            succ_offset: Vec::new(),
        }
    }

    /// Builds the adjacency.
    pub fn new(topo: &Topology) -> Self {
        let n = topo.services.len();
        let mut g = Self::without_edges(n);
        for (idx, svc) in topo.iter_services() {
            let s = idx.0;
            for dep in &svc.depends_on {
                match &dep.target {
                    Target::Service(t) => {
                        if dep.strength == Strength::Strong {
                            g.strong[s as usize].push(t.0);
                            g.users[t.get()].push(Use::Strong(s));
                        } else {
                            g.weak[s as usize].push(t.0);
                            g.users[t.get()].push(Use::Weak(s));
                        }
                    }
                    Target::AnyOf { members, min } => {
                        let gid = g.groups.len() as u32;
                        g.groups.push(Group {
                            owner: s,
                            strength: dep.strength,
                            members: members.iter().map(|m| m.0).collect(),
                            min: *min as u32,
                        });
                        g.groups_of[s as usize].push(gid);
                        for m in members {
                            g.users[m.get()].push(Use::Member(gid));
                        }
                    }
                }
            }
        }
        g.index_successors();
        g
    }

    fn index_successors(&mut self) {
        let mut succ = Vec::new();
        let mut offset = Vec::with_capacity(self.n + 1);
        let mut buf = Vec::new();
        for s in 0..self.n as u32 {
            offset.push(succ.len() as u32);
            buf.clear();
            self.for_each_strong_succ(s, |t| buf.push(t));
            buf.sort_unstable();
            buf.dedup();
            succ.extend_from_slice(&buf);
        }
        offset.push(succ.len() as u32);
        self.succ = succ;
        self.succ_offset = offset;
    }

    /// Calls `f` for every service `s` reaches through one strong edge or strong group
    /// membership (may repeat a target).
    pub fn for_each_strong_succ(&self, s: u32, mut f: impl FnMut(u32)) {
        for &t in &self.strong[s as usize] {
            f(t);
        }
        for &gid in &self.groups_of[s as usize] {
            let grp = &self.groups[gid as usize];
            if grp.strength == Strength::Strong {
                for &m in &grp.members {
                    f(m);
                }
            }
        }
    }

    /// Strong successors of `s`, sorted and unique.
    pub fn strong_succs(&self, s: u32) -> &[u32] {
        &self.succ[self.succ_offset[s as usize] as usize..self.succ_offset[s as usize + 1] as usize]
    }

    /// Every service reachable from `starts` through strong edges (starts included), as a
    /// membership mask.
    pub fn strong_reach(&self, starts: impl IntoIterator<Item = u32>) -> Vec<bool> {
        let mut seen = vec![false; self.n];
        let mut stack: Vec<u32> = Vec::new();
        for s in starts {
            if !seen[s as usize] {
                seen[s as usize] = true;
                stack.push(s);
            }
        }
        while let Some(u) = stack.pop() {
            for &t in self.strong_succs(u) {
                if !seen[t as usize] {
                    seen[t as usize] = true;
                    stack.push(t);
                }
            }
        }
        seen
    }

    /// Strongly connected components of the strong subgraph restricted to `mask`, in reverse
    /// topological order (every component comes after all components it depends on).
    pub fn strong_sccs(&self, mask: &[bool]) -> Vec<Vec<u32>> {
        tarjan(self.n, |v| mask[v as usize], &|v| self.strong_succs(v))
    }
}

/// Strongly connected components of the graph `succ` restricted to the nodes `keep` accepts,
/// in reverse topological order (a component after every component it points to), each
/// component sorted. Iterative Tarjan: no recursion, safe on deep graphs.
pub fn tarjan<'a>(
    n: usize,
    keep: impl Fn(u32) -> bool,
    succ: &impl Fn(u32) -> &'a [u32],
) -> Vec<Vec<u32>> {
    const NONE: u32 = u32::MAX;
    let mut index = vec![NONE; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<u32> = Vec::new();
    let mut out: Vec<Vec<u32>> = Vec::new();
    let mut next = 0u32;
    let mut frames: Vec<(u32, usize)> = Vec::new();
    for root in 0..n as u32 {
        if !keep(root) || index[root as usize] != NONE {
            continue;
        }
        index[root as usize] = next;
        low[root as usize] = next;
        next += 1;
        stack.push(root);
        on_stack[root as usize] = true;
        frames.push((root, 0));
        while let Some(frame) = frames.last_mut() {
            let v = frame.0;
            let succs = succ(v);
            if frame.1 < succs.len() {
                let w = succs[frame.1];
                frame.1 += 1;
                if !keep(w) {
                    continue;
                }
                if index[w as usize] == NONE {
                    index[w as usize] = next;
                    low[w as usize] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w as usize] = true;
                    frames.push((w, 0));
                } else if on_stack[w as usize] {
                    low[v as usize] = low[v as usize].min(index[w as usize]);
                }
            } else {
                frames.pop();
                if let Some(parent) = frames.last() {
                    let p = parent.0 as usize;
                    low[p] = low[p].min(low[v as usize]);
                }
                if low[v as usize] == index[v as usize] {
                    let mut comp = Vec::new();
                    loop {
                        let w = stack.pop().expect("tarjan stack holds the component");
                        on_stack[w as usize] = false;
                        comp.push(w);
                        if w == v {
                            break;
                        }
                    }
                    comp.sort_unstable();
                    out.push(comp);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain_graph(n: usize, edges: &[(u32, u32)]) -> Graph {
        let mut g = Graph::without_edges(n);
        for &(a, b) in edges {
            g.strong[a as usize].push(b);
            g.users[b as usize].push(Use::Strong(a));
        }
        g.index_successors();
        g
    }

    #[test]
    fn sccs_come_dependencies_first() {
        // 0 -> 1 -> 2 -> 1, 2 -> 3
        let g = chain_graph(4, &[(0, 1), (1, 2), (2, 1), (2, 3)]);
        let sccs = g.strong_sccs(&[true; 4]);
        assert_eq!(sccs, vec![vec![3], vec![1, 2], vec![0]]);
    }

    #[test]
    fn deep_chain_does_not_overflow() {
        let n = 200_000;
        let edges: Vec<(u32, u32)> = (0..n as u32 - 1).map(|i| (i, i + 1)).collect();
        let g = chain_graph(n, &edges);
        let sccs = g.strong_sccs(&vec![true; n]);
        assert_eq!(sccs.len(), n);
        assert_eq!(sccs[0], vec![n as u32 - 1]);
    }
}
