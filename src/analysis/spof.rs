//! The SPOF engine: kill-set propagation (SPEC §2, "How to compute it").
//!
//! A service's kill set is the set of single events that take it `down`: its own events (each
//! instance event when it has no spare instance, each domain event that takes more instances
//! than it can spare), its strong dependencies' kill sets, and per strong `any_of` group the events
//! that kill more than `members − min` of the members. Sets are computed once per strongly
//! connected component of the strong graph, dependencies first, iterating to the least fixpoint
//! inside a component. Only services strong-reachable from the requested targets are computed,
//! and a set is freed once every service that reads it is done.
//!
//! Events are numbered as dense *tokens*: one token per service with no spare instance left
//! (every alive instance of it is the same event as far as `down` is concerned, so they share
//! one token), then one per failure domain.
//!
//! Everything is computed relative to a [`Residual`]: what has already failed. With nothing
//! failed this answers "SPOFs"; after probing or `--fail`, "live SPOFs".

use std::collections::{HashSet, VecDeque};

use crate::analysis::event::{Domains, Instances};
use crate::analysis::graph::{Graph, Group, Use};
use crate::analysis::killset::{KillRef, KillSet};
use crate::analysis::propagate::DownPropagator;
use crate::topology::model::{Strength, Topology};

/// What has already failed before the question is asked.
#[derive(Debug, Clone)]
pub struct Residual {
    /// Per flat instance, whether it is already dead.
    pub dead_inst: Vec<bool>,
    /// Per service, whether it is already (effectively) down.
    pub down: Vec<bool>,
}

impl Residual {
    /// Nothing has failed.
    pub fn none(n_services: usize, inst: &Instances) -> Self {
        Self {
            dead_inst: vec![false; inst.total()],
            down: vec![false; n_services],
        }
    }

    /// Whether nothing has failed.
    pub fn is_clean(&self) -> bool {
        !self.dead_inst.iter().any(|&d| d) && !self.down.iter().any(|&d| d)
    }

    /// Applies this residual to a propagator (after a reset).
    pub fn apply(&self, p: &mut DownPropagator<'_>, inst: &Instances) {
        for s in 0..self.down.len() as u32 {
            for (k, flat) in inst.range(s).enumerate() {
                if self.dead_inst[flat] {
                    p.fail_instance(s, k as u32);
                }
            }
            if self.down[s as usize] {
                p.force_down(s);
            }
        }
        p.propagate();
    }
}

/// The token numbering of one engine run.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// Token → service, for service tokens (`0..services.len()`).
    pub services: Vec<u32>,
    /// Service → its token, `u32::MAX` when it has a spare (or is already down).
    pub of_service: Vec<u32>,
    /// Number of tokens: service tokens, then one per domain.
    pub universe: u32,
}

impl Tokens {
    /// The token of domain number `d`.
    pub fn domain(&self, d: u32) -> u32 {
        self.services.len() as u32 + d
    }

    /// What a token stands for.
    pub fn decode(&self, t: u32) -> TokenKind {
        let k = self.services.len() as u32;
        if t < k {
            TokenKind::Service(self.services[t as usize])
        } else {
            TokenKind::Domain(t - k)
        }
    }
}

/// A decoded token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Any alive instance of this service (it has no spare).
    Service(u32),
    /// This domain number.
    Domain(u32),
}

/// The result of one engine run: kill sets of the requested targets.
#[derive(Debug, Clone)]
pub struct KillSets {
    /// The numbering.
    pub tokens: Tokens,
    /// Per requested target (same order), its kill set.
    pub targets: Vec<KillRef>,
    /// Peak bytes held in kill sets at once (an estimate, for benchmarks).
    pub peak_bytes: usize,
}

/// Computes the kill sets of `targets` given what already failed.
pub fn kill_sets(
    topo: &Topology,
    g: &Graph,
    inst: &Instances,
    domains: &Domains,
    residual: &Residual,
    targets: &[u32],
) -> KillSets {
    let n = g.n;
    let mut services = Vec::new();
    let mut of_service = vec![u32::MAX; n];
    for (s, svc) in topo.services.iter().enumerate() {
        if residual.down[s] {
            continue;
        }
        let alive = inst
            .range(s as u32)
            .filter(|&f| !residual.dead_inst[f])
            .count() as u32;
        // `min_healthy: 0` (an operation's node, which has no instance) has no event of its own.
        if alive <= svc.min_healthy as u32 && svc.min_healthy > 0 {
            of_service[s] = services.len() as u32;
            services.push(s as u32);
        }
    }
    let tokens = Tokens {
        universe: (services.len() + domains.len()) as u32,
        services,
        of_service,
    };

    let region = g.strong_reach(targets.iter().copied());
    let sccs = g.strong_sccs(&region);

    // How many services still have to read each set; targets keep theirs. The region is
    // closed under strong successors, so every successor of a region member is in it.
    let mut readers = vec![0u32; n];
    for comp in &sccs {
        for &u in comp {
            for &t in g.strong_succs(u) {
                readers[t as usize] += 1;
            }
        }
    }
    for &t in targets {
        readers[t as usize] += 1;
    }
    let mut scc_of = vec![u32::MAX; n];
    for (ci, c) in sccs.iter().enumerate() {
        for &v in c {
            scc_of[v as usize] = ci as u32;
        }
    }

    let ctx = Ctx {
        topo,
        g,
        inst,
        domains,
        residual: residual.into(),
        tokens: &tokens,
    };
    let mut sets: Vec<Option<KillRef>> = vec![None; n];
    let mut held = 0usize;
    let mut peak = 0usize;
    let empty = KillSet::empty();
    for (ci, comp) in sccs.iter().enumerate() {
        if comp.len() == 1 {
            let v = comp[0];
            let k = ctx.compute(&sets, &empty, v);
            held += k.heap_bytes();
            sets[v as usize] = Some(k);
        } else {
            ctx.settle_cycle(&mut sets, &empty, comp, |u| scc_of[u as usize] == ci as u32);
            for &v in comp {
                held += sets[v as usize].as_ref().map_or(0, |k| k.heap_bytes());
            }
        }
        peak = peak.max(held);
        for &u in comp {
            for &t in g.strong_succs(u) {
                readers[t as usize] -= 1;
                if readers[t as usize] == 0
                    && let Some(k) = sets[t as usize].take()
                {
                    held = held.saturating_sub(k.heap_bytes());
                }
            }
        }
    }
    let targets = targets
        .iter()
        .map(|&t| sets[t as usize].clone().unwrap_or_else(KillSet::empty))
        .collect();
    KillSets {
        tokens,
        targets,
        peak_bytes: peak,
    }
}

/// The strong region of some targets and its components, computed once for repeated runs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Services strong-reachable from the targets.
    pub region: Vec<bool>,
    /// Components of the region, dependencies first.
    pub sccs: Vec<Vec<u32>>,
    /// Per service, its component (index into `sccs`); `u32::MAX` outside the region.
    pub scc_of: Vec<u32>,
}

impl Plan {
    /// Plans runs for `targets`.
    pub fn new(g: &Graph, targets: &[u32]) -> Self {
        let region = g.strong_reach(targets.iter().copied());
        let sccs = g.strong_sccs(&region);
        let mut scc_of = vec![u32::MAX; g.n];
        for (c, comp) in sccs.iter().enumerate() {
            for &v in comp {
                scc_of[v as usize] = c as u32;
            }
        }
        Self {
            region,
            sccs,
            scc_of,
        }
    }
}

/// A numbering where every service has a token (whether or not it has a spare), so that kill
/// sets computed under different residuals can be mixed. Service `s` is token `s`.
pub fn stable_tokens(n: usize, domains: &Domains) -> Tokens {
    Tokens {
        services: (0..n as u32).collect(),
        of_service: (0..n as u32).collect(),
        universe: (n + domains.len()) as u32,
    }
}

/// Kill sets of every service in `plan.region`, kept (none is freed). With `base` and
/// `affected`, only the affected services are recomputed and every other one keeps its `base`
/// set: exact when `affected` holds every strong ancestor of every service whose own state
/// differs between `base`'s residual and this one (a kill set only reads strong descendants).
#[allow(clippy::too_many_arguments)]
pub fn region_kill_sets(
    topo: &Topology,
    g: &Graph,
    inst: &Instances,
    domains: &Domains,
    residual: &Residual,
    tokens: &Tokens,
    plan: &Plan,
    base: Option<(&[Option<KillRef>], &[bool])>,
) -> Vec<Option<KillRef>> {
    let ctx = Ctx {
        topo,
        g,
        inst,
        domains,
        residual: residual.into(),
        tokens,
    };
    let empty = KillSet::empty();
    let mut sets: Vec<Option<KillRef>> = match base {
        Some((b, _)) => b.to_vec(),
        None => vec![None; g.n],
    };
    let mut queue: VecDeque<u32> = VecDeque::new();
    for (ci, comp) in plan.sccs.iter().enumerate() {
        if base.is_some_and(|(_, affected)| !affected[comp[0] as usize]) {
            continue;
        }
        if comp.len() == 1 {
            let v = comp[0];
            sets[v as usize] = Some(ctx.compute(&sets, &empty, v));
            continue;
        }
        for &v in comp {
            sets[v as usize] = Some(KillSet::empty());
            queue.push_back(v);
        }
        while let Some(v) = queue.pop_front() {
            let k = ctx.compute(&sets, &empty, v);
            let old = sets[v as usize].as_ref().map_or(0, |o| o.len());
            if k.len() != old {
                sets[v as usize] = Some(k);
                for use_ in &g.users[v as usize] {
                    let u = match *use_ {
                        Use::Strong(u) => u,
                        Use::Member(gid) => g.groups[gid as usize].owner,
                        Use::Weak(_) => continue,
                    };
                    if plan.scc_of[u as usize] == ci as u32 && !queue.contains(&u) {
                        queue.push_back(u);
                    }
                }
            }
        }
    }
    sets
}

/// Recomputes, in place, the kill sets of the components `comps` (indices into `plan.sccs`,
/// ascending, so dependencies first) under what `dead_inst` and `down` say has failed; every
/// other set in `sets` is kept. Each replaced set is pushed to `undo` with its old value, so
/// the caller can restore `sets` at the cost of what changed. Exact under the same condition
/// as [`region_kill_sets`] with a base: `comps` holds every strong ancestor (in the region) of
/// every service whose own state differs from the one `sets` was computed under.
#[allow(clippy::too_many_arguments)]
pub fn recompute_in_place(
    topo: &Topology,
    g: &Graph,
    inst: &Instances,
    domains: &Domains,
    failed: (&[bool], &[bool]),
    tokens: &Tokens,
    plan: &Plan,
    comps: &[u32],
    sets: &mut [Option<KillRef>],
    undo: &mut Vec<(u32, Option<KillRef>)>,
) {
    let ctx = Ctx {
        topo,
        g,
        inst,
        domains,
        residual: failed.into(),
        tokens,
    };
    let empty = KillSet::empty();
    for &ci in comps {
        let comp = &plan.sccs[ci as usize];
        if comp.len() == 1 {
            let v = comp[0];
            let k = ctx.compute(sets, &empty, v);
            undo.push((v, sets[v as usize].replace(k)));
            continue;
        }
        for &v in comp {
            undo.push((v, sets[v as usize].take()));
        }
        ctx.settle_cycle(sets, &empty, comp, |u| plan.scc_of[u as usize] == ci);
    }
}

/// What has already failed, borrowed: per flat instance and per service.
#[derive(Clone, Copy)]
struct Failed<'a> {
    dead_inst: &'a [bool],
    down: &'a [bool],
}

impl<'a> From<(&'a [bool], &'a [bool])> for Failed<'a> {
    fn from((dead_inst, down): (&'a [bool], &'a [bool])) -> Self {
        Self { dead_inst, down }
    }
}

impl<'a> From<&'a Residual> for Failed<'a> {
    fn from(r: &'a Residual) -> Self {
        Self {
            dead_inst: &r.dead_inst,
            down: &r.down,
        }
    }
}

/// What computing one kill set reads besides the other sets.
struct Ctx<'a> {
    topo: &'a Topology,
    g: &'a Graph,
    inst: &'a Instances,
    domains: &'a Domains,
    residual: Failed<'a>,
    tokens: &'a Tokens,
}

impl Ctx<'_> {
    /// The least fixpoint of the kill sets of one strongly connected component of several
    /// members (`in_comp` tells its members): every member starts empty and is re-evaluated
    /// whenever a member it reads from grew, until none changes. Each member is queued at most
    /// once at a time, so a large cycle costs its edges per round, not their square.
    fn settle_cycle(
        &self,
        sets: &mut [Option<KillRef>],
        empty: &KillRef,
        comp: &[u32],
        in_comp: impl Fn(u32) -> bool,
    ) {
        let mut queue: VecDeque<u32> = comp.iter().copied().collect();
        let mut queued: HashSet<u32> = comp.iter().copied().collect();
        for &v in comp {
            sets[v as usize] = Some(KillSet::empty());
        }
        while let Some(v) = queue.pop_front() {
            queued.remove(&v);
            let k = self.compute(sets, empty, v);
            let old = sets[v as usize].as_ref().map_or(0, |o| o.len());
            if k.len() != old {
                sets[v as usize] = Some(k);
                for use_ in &self.g.users[v as usize] {
                    let u = match *use_ {
                        Use::Strong(u) => u,
                        Use::Member(gid) => self.g.groups[gid as usize].owner,
                        Use::Weak(_) => continue,
                    };
                    if in_comp(u) && queued.insert(u) {
                        queue.push_back(u);
                    }
                }
            }
        }
    }

    /// The kill set of `v` from the current sets of its dependencies.
    fn compute(&self, sets: &[Option<KillRef>], empty: &KillRef, v: u32) -> KillRef {
        if self.residual.down[v as usize] {
            return std::sync::Arc::new(KillSet::All);
        }
        let get = |t: u32| sets[t as usize].as_ref().unwrap_or(empty);
        let g = self.g;
        let mut inputs: Vec<&KillRef> = g.strong[v as usize].iter().map(|&t| get(t)).collect();
        let group_sets: Vec<KillRef> = self
            .strong_groups(v)
            .map(|grp| self.group_set(grp, get))
            .collect();
        inputs.extend(group_sets.iter());
        KillSet::union(&inputs, &self.own_tokens(v), self.tokens.universe)
    }

    /// The strong `any_of` groups `v` declares.
    fn strong_groups(&self, v: u32) -> impl Iterator<Item = &Group> {
        self.g.groups_of[v as usize]
            .iter()
            .map(|&gid| &self.g.groups[gid as usize])
            .filter(|grp| grp.strength == Strength::Strong)
    }

    /// The events that kill more members of `grp` than it can spare, from its members' sets.
    fn group_set<'k>(&self, grp: &Group, get: impl Fn(u32) -> &'k KillRef) -> KillRef {
        let live: Vec<&KillRef> = grp
            .members
            .iter()
            .filter(|&&m| !self.residual.down[m as usize])
            .map(|&m| get(m))
            .collect();
        let predead = grp.members.len() - live.len();
        // Members that may still die: slack − already dead (the owner is not down, so this is
        // >= 0).
        let left = grp.slack().saturating_sub(predead as u32);
        KillSet::at_least(&live, left + 1, self.tokens.universe)
    }

    /// `v`'s own events, sorted: its service token when no spare instance is left, and each
    /// domain that holds more of its alive instances than it can spare.
    fn own_tokens(&self, v: u32) -> Vec<u32> {
        let Ctx {
            topo,
            inst,
            domains,
            residual,
            tokens,
            ..
        } = *self;
        let alive = inst.range(v).filter(|&f| !residual.dead_inst[f]).count() as u32;
        let spare = alive.saturating_sub(topo.services[v as usize].min_healthy as u32);
        let mut own: Vec<u32> = Vec::new();
        let tok = tokens.of_service[v as usize];
        if spare == 0 && tok != u32::MAX {
            own.push(tok);
        }
        let mut counts: Vec<(u32, u32)> = Vec::new();
        for flat in inst.range(v) {
            if residual.dead_inst[flat] {
                continue;
            }
            for &d in domains.of_instance(flat) {
                match counts.iter_mut().find(|c| c.0 == d) {
                    Some(c) => c.1 += 1,
                    None => counts.push((d, 1)),
                }
            }
        }
        for (d, c) in counts {
            if c > spare {
                own.push(tokens.domain(d));
            }
        }
        own.sort_unstable();
        own
    }

    /// What one more failure adds to the kill set of the acyclic service `v`, from what it
    /// added below: see [`recompute_deltas`].
    fn delta(&self, base: &[Option<KillRef>], empty: &KillRef, out: &Deltas, v: u32) -> Delta {
        if self.residual.down[v as usize] {
            return Delta::Down;
        }
        let clean = base[v as usize].as_ref().unwrap_or(empty);
        // Own events change only with an instance of its own gone.
        let mut add: Vec<u32> = if self.inst.range(v).any(|f| self.residual.dead_inst[f]) {
            self.own_tokens(v)
                .into_iter()
                .filter(|&t| !clean.contains(t))
                .collect()
        } else {
            Vec::new()
        };
        for &c in &self.g.strong[v as usize] {
            match out.get(c) {
                // Unreachable while `down` is the propagator's (a strong dependency down takes
                // `v` down), and exact anyway.
                Some(Delta::Down) => return Delta::Down,
                Some(Delta::Tokens(d)) => {
                    add.extend(d.iter().copied().filter(|&t| !clean.contains(t)));
                }
                None => {}
            }
        }
        for grp in self.strong_groups(v) {
            let touched = grp
                .members
                .iter()
                .any(|&m| self.residual.down[m as usize] || out.get(m).is_some());
            if !touched {
                continue;
            }
            // The members' sets under the failure: the clean set plus what it added.
            let grown: Vec<Option<KillRef>> = grp
                .members
                .iter()
                .map(|&m| match out.get(m) {
                    Some(Delta::Tokens(d)) => {
                        let b = base[m as usize].as_ref().unwrap_or(empty);
                        Some(KillSet::union(&[b], d, self.tokens.universe))
                    }
                    _ => None,
                })
                .collect();
            let lookup = |m: u32| {
                let pos = grp.members.iter().position(|&x| x == m).expect("a member");
                grown[pos]
                    .as_ref()
                    .or(base[m as usize].as_ref())
                    .unwrap_or(empty)
            };
            self.group_set(grp, lookup)
                .for_each_not_in(clean, |t| add.push(t));
        }
        add.sort_unstable();
        add.dedup();
        Delta::Tokens(add)
    }
}

/// What one more failure adds to a service's kill set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delta {
    /// These tokens (sorted, none in the clean set).
    Tokens(Vec<u32>),
    /// The service is down: every event kills it.
    Down,
}

/// Per service, the [`Delta`] of the current run (stamped, so a new run costs nothing).
#[derive(Debug, Clone)]
pub struct Deltas {
    run: u32,
    slots: Vec<(u32, Delta)>,
}

impl Deltas {
    /// A table for `n` services.
    pub fn new(n: usize) -> Self {
        Self {
            run: 0,
            slots: vec![(0, Delta::Tokens(Vec::new())); n],
        }
    }

    /// What `v` gained in the current run; `None` when nothing.
    pub fn get(&self, v: u32) -> Option<&Delta> {
        let (run, d) = &self.slots[v as usize];
        match d {
            _ if *run != self.run => None,
            Delta::Tokens(t) if t.is_empty() => None,
            d => Some(d),
        }
    }
}

/// For each affected service of `plan`, what the failures in `failed` add to its clean kill set
/// in `base` (computed by [`region_kill_sets`] with nothing failed): exactly `new \ clean`,
/// without building the new sets. A kill set only grows under failures, and `clean` of a
/// service holds the clean sets of its strong dependencies, so what a service gains is its own
/// new events, what its strong dependencies gained, and what its strong groups gained, each
/// minus its clean set: a handful of tokens, where the sets are thousands. `comps` is as for
/// [`recompute_in_place`]. Returns `false` (and computes nothing) when `comps` holds a strong
/// cycle of several services: the caller then recomputes those sets in full.
#[allow(clippy::too_many_arguments)]
pub fn recompute_deltas(
    topo: &Topology,
    g: &Graph,
    inst: &Instances,
    domains: &Domains,
    failed: (&[bool], &[bool]),
    tokens: &Tokens,
    plan: &Plan,
    comps: &[u32],
    base: &[Option<KillRef>],
    out: &mut Deltas,
) -> bool {
    if comps.iter().any(|&ci| plan.sccs[ci as usize].len() > 1) {
        return false;
    }
    let ctx = Ctx {
        topo,
        g,
        inst,
        domains,
        residual: failed.into(),
        tokens,
    };
    out.run = out.run.wrapping_add(1);
    let empty = KillSet::empty();
    for &ci in comps {
        let v = plan.sccs[ci as usize][0];
        let d = ctx.delta(base, &empty, out, v);
        out.slots[v as usize] = (out.run, d);
    }
    true
}

/// The search state of [`PathSearch::toward`] and [`PathSearch::path_from`], kept between
/// calls: at 100,000 services a fresh map per call cost more than the search itself.
///
/// A SPOF's failure is explained for every link it takes down: a shortest path from the link's
/// entry to it through services that are down (strong edges, and members of dead strong
/// groups), the one a breadth-first search from the entry in dependency order finds. That path
/// is the lexicographically first shortest path, comparing the position of each step among its
/// service's dependencies: the search reaches the services of one distance in that order, and a
/// service keeps the first that reaches it. So one breadth-first search *up* from the SPOF
/// measures every down service's distance to it, and each link's path then follows, from the
/// entry, the first dependency one step closer. A search per link instead cost the whole down
/// region once per link the SPOF takes down (3 to 50 times on a dense 100,000-service
/// topology), the largest part of the SPOF search.
#[derive(Debug, Default)]
pub struct PathSearch {
    /// Per service, its distance to the target through down services (`u32::MAX`: none).
    dist: Vec<u32>,
    /// Services whose `dist` is set, to clear them afterwards.
    reached: Vec<u32>,
    queue: VecDeque<u32>,
    /// The target of the current distances.
    target: u32,
}

impl PathSearch {
    /// A search over `n` services.
    pub fn new(n: usize) -> Self {
        Self {
            dist: vec![u32::MAX; n],
            reached: Vec::new(),
            queue: VecDeque::new(),
            target: u32::MAX,
        }
    }

    /// Measures the distance to `target` of every service down in `p` whose failure travels
    /// to it: up from `target`, through the services that strongly need a down one, and the
    /// owners of dead strong groups with a down member.
    pub fn toward(&mut self, g: &Graph, p: &DownPropagator<'_>, target: u32) {
        for &t in &self.reached {
            self.dist[t as usize] = u32::MAX;
        }
        self.reached.clear();
        self.queue.clear();
        self.target = target;
        if !p.is_down(target) {
            return;
        }
        self.dist[target as usize] = 0;
        self.reached.push(target);
        self.queue.push_back(target);
        while let Some(v) = self.queue.pop_front() {
            let next = self.dist[v as usize] + 1;
            for use_ in &g.users[v as usize] {
                let u = match *use_ {
                    Use::Strong(u) => u,
                    Use::Member(gid)
                        if g.groups[gid as usize].strength == Strength::Strong
                            && p.is_group_dead(gid) =>
                    {
                        g.groups[gid as usize].owner
                    }
                    _ => continue,
                };
                if p.is_down(u) && self.dist[u as usize] == u32::MAX {
                    self.dist[u as usize] = next;
                    self.reached.push(u);
                    self.queue.push_back(u);
                }
            }
        }
    }

    /// The explanation path from `entry` to the target of the last [`PathSearch::toward`]
    /// (with the same `p`): at each step the first dependency, in dependency order, one step
    /// closer. `None` when the entry is not down or its failure does not come from the target.
    pub fn path_from(&self, g: &Graph, p: &DownPropagator<'_>, entry: u32) -> Option<Vec<u32>> {
        let dist = |v: u32| self.dist[v as usize];
        if !p.is_down(entry) || dist(entry) == u32::MAX {
            return None;
        }
        let mut path = Vec::with_capacity(dist(entry) as usize + 1);
        path.push(entry);
        let mut cur = entry;
        while cur != self.target {
            let want = dist(cur) - 1;
            let closer = |t: u32| p.is_down(t) && dist(t) == want;
            let strong = g.strong[cur as usize].iter().copied().find(|&t| closer(t));
            let next = strong.or_else(|| {
                g.groups_of[cur as usize]
                    .iter()
                    .map(|&gid| (gid, &g.groups[gid as usize]))
                    .filter(|(gid, grp)| grp.strength == Strength::Strong && p.is_group_dead(*gid))
                    .find_map(|(_, grp)| grp.members.iter().copied().find(|&m| closer(m)))
            })?;
            path.push(next);
            cur = next;
        }
        Some(path)
    }
}

/// The breadth-first search from the entry that [`PathSearch`] replaces, kept to check it.
#[cfg(test)]
fn explain_path_bfs(
    g: &Graph,
    p: &DownPropagator<'_>,
    entry: u32,
    target: u32,
) -> Option<Vec<u32>> {
    let mut parent = vec![u32::MAX; g.n];
    if !p.is_down(entry) {
        return None;
    }
    parent[entry as usize] = entry;
    let mut queue = VecDeque::from([entry]);
    while let Some(u) = queue.pop_front() {
        if u == target {
            let mut path = vec![u];
            let mut cur = u;
            while cur != entry {
                cur = parent[cur as usize];
                path.push(cur);
            }
            path.reverse();
            return Some(path);
        }
        let mut reach = |t: u32, queue: &mut VecDeque<u32>| {
            if p.is_down(t) && parent[t as usize] == u32::MAX {
                parent[t as usize] = u;
                queue.push_back(t);
            }
        };
        for &t in &g.strong[u as usize] {
            reach(t, &mut queue);
        }
        for &gid in &g.groups_of[u as usize] {
            let grp = &g.groups[gid as usize];
            if grp.strength == Strength::Strong && p.is_group_dead(gid) {
                for &m in &grp.members {
                    reach(m, &mut queue);
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::{PathSearch, explain_path_bfs};
    use crate::analysis::event::{Domains, Instances};
    use crate::analysis::graph::Graph;
    use crate::analysis::propagate::DownPropagator;

    /// Up-then-forward paths are the breadth-first search's, for every failed service and
    /// every entry it takes down: a generated topology with parallel strong edges, strong and
    /// weak `any_of` groups and strong cycles, so that many shortest paths tie.
    #[test]
    fn paths_toward_a_failure_are_the_breadth_first_search_paths() {
        let n = 400;
        let mut src =
            String::from("version: 1\nname: t\nlinks:\n  l: { entry: s000 }\nservices:\n");
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |m: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % m as u64) as usize
        };
        for i in 0..n {
            writeln!(src, "  s{i:03}:").unwrap();
            if next(3) == 0 {
                src.push_str("    instances: [{ zone: a }, { zone: b }]\n    min_healthy: 1\n");
            }
            let mut deps = Vec::new();
            for _ in 0..next(4) {
                // Mostly deeper services; now and then one above, for cycles.
                let t = if next(8) == 0 {
                    next(n)
                } else {
                    i + 1 + next(12)
                };
                if t < n
                    && t != i
                    && !deps
                        .iter()
                        .any(|d: &String| d.starts_with(&format!("s{t:03}:")))
                {
                    let strength = if next(4) == 0 { "weak" } else { "strong" };
                    deps.push(format!("s{t:03}: {strength}"));
                }
            }
            if i + 3 < n && next(3) == 0 {
                let strength = if next(3) == 0 { "weak" } else { "strong" };
                let (a, b) = (i + 1 + next(n - i - 1), i + 1 + next(n - i - 1));
                if a != b {
                    deps.push(format!(
                        "g{i}: {{ strength: {strength}, any_of: [s{a:03}, s{b:03}], min: 1 }}"
                    ));
                }
            }
            if !deps.is_empty() {
                writeln!(src, "    depends_on: {{ {} }}", deps.join(", ")).unwrap();
            }
        }
        let topo = crate::topology::load_str(&src, "t.yaml").expect("loads");
        let g = Graph::new(&topo);
        let inst = Instances::new(&topo);
        let domains = Domains::new(&topo);
        let mut p = DownPropagator::new(&topo, &g, &inst, &domains);
        let mut search = PathSearch::new(g.n);
        let mut compared = 0;
        for s in 0..g.n as u32 {
            p.reset();
            p.fail_service(s);
            p.propagate();
            search.toward(&g, &p, s);
            for entry in 0..g.n as u32 {
                let want = explain_path_bfs(&g, &p, entry, s);
                assert_eq!(
                    search.path_from(&g, &p, entry),
                    want,
                    "s{s:03} from s{entry:03}"
                );
                compared += usize::from(want.is_some_and(|w| w.len() > 2));
            }
        }
        assert!(compared > 1_000, "{compared} paths of three or more");
    }
}
