//! Failure propagation (SPEC §2): effective states, and a fast `down`-only propagator.
//!
//! Both compute the *least* fixpoint: start from what is observed (or from the failed events)
//! and only ever make states worse, until nothing changes. In a strong cycle where nothing has
//! failed, nothing becomes `down`: a cycle cannot fail itself, only a failure that enters it can.
//! `unknown` does not propagate: an unknown dependency contributes nothing, and an unknown
//! `any_of` member counts as alive (it is not known to be down) and not as degraded.

use crate::analysis::event::{Domains, Instances};
use crate::analysis::graph::{Graph, Use};
use crate::state::State;
use crate::topology::model::{Service, Strength, Topology};

/// A service's observed state from its instances (SPEC §2).
///
/// `probed`: per instance, the state a probe found (`unknown` = no probe or undecided).
/// `failed`: per instance, whether a failure event took it. A failed instance is `down`.
/// `down` when fewer than `min_healthy` instances are alive (not `down`); `degraded` when enough
/// are alive but some are `down` or `degraded`; `up` when some instance is known up and none is
/// worse; `unknown` when nothing is known.
pub fn observed_state(svc: &Service, probed: Option<&[State]>, failed: &[bool]) -> State {
    let n = svc.instances.len();
    let mut dead = 0usize;
    let mut degraded = false;
    let mut up = false;
    for i in 0..n {
        let st = if failed.get(i).copied().unwrap_or(false) {
            State::Down
        } else {
            probed
                .and_then(|p| p.get(i).copied())
                .unwrap_or(State::Unknown)
        };
        match st {
            State::Down => dead += 1,
            State::Degraded => degraded = true,
            State::Up => up = true,
            State::Unknown => {}
        }
    }
    if n - dead < svc.min_healthy {
        State::Down
    } else if dead > 0 || degraded {
        State::Degraded
    } else if up {
        State::Up
    } else {
        State::Unknown
    }
}

/// Effective states: the least fixpoint of the propagation rules above `observed`.
pub fn effective_states(g: &Graph, observed: &[State]) -> Vec<State> {
    let mut eff = observed.to_vec();
    let mut queued = vec![true; g.n];
    let mut queue: Vec<u32> = (0..g.n as u32).collect();
    while let Some(u) = queue.pop() {
        queued[u as usize] = false;
        let new = eff[u as usize].max(contribution(g, &eff, u));
        if new != eff[u as usize] {
            eff[u as usize] = new;
            for use_ in &g.users[u as usize] {
                let w = match *use_ {
                    Use::Strong(w) | Use::Weak(w) => w,
                    Use::Member(gid) => g.groups[gid as usize].owner,
                };
                if !queued[w as usize] {
                    queued[w as usize] = true;
                    queue.push(w);
                }
            }
        }
    }
    eff
}

/// What `u`'s dependencies impose on it.
fn contribution(g: &Graph, eff: &[State], u: u32) -> State {
    let mut worst = State::Up;
    for &t in &g.strong[u as usize] {
        match eff[t as usize] {
            State::Down => return State::Down,
            State::Degraded => worst = State::Degraded,
            _ => {}
        }
    }
    for &t in &g.weak[u as usize] {
        if eff[t as usize] == State::Down {
            worst = State::Degraded;
        }
    }
    for &gid in &g.groups_of[u as usize] {
        let grp = &g.groups[gid as usize];
        let group_state = grp.state(eff);
        match (grp.strength, group_state) {
            (Strength::Strong, State::Down) => return State::Down,
            (Strength::Strong, State::Degraded) | (Strength::Weak, State::Down) => {
                worst = State::Degraded;
            }
            _ => {}
        }
    }
    worst
}

/// A reusable propagator of `down` only: fail instances, domains or whole services, then ask
/// which services are down. Resetting costs only what the last run touched.
#[derive(Debug, Clone)]
pub struct DownPropagator<'a> {
    g: &'a Graph,
    inst: &'a Instances,
    domains: &'a Domains,
    min_healthy: Vec<u32>,
    dead_inst: Vec<bool>,
    lost: Vec<u32>,
    down: Vec<bool>,
    group_dead: Vec<u32>,
    touched_inst: Vec<u32>,
    touched_svc: Vec<u32>,
    touched_group: Vec<u32>,
    queue: Vec<u32>,
    down_list: Vec<u32>,
    mask: Option<Vec<bool>>,
}

impl<'a> DownPropagator<'a> {
    /// A propagator with nothing failed.
    pub fn new(topo: &Topology, g: &'a Graph, inst: &'a Instances, domains: &'a Domains) -> Self {
        Self {
            g,
            inst,
            domains,
            min_healthy: topo.services.iter().map(|s| s.min_healthy as u32).collect(),
            dead_inst: vec![false; inst.total()],
            lost: vec![0; g.n],
            down: vec![false; g.n],
            group_dead: vec![0; g.groups.len()],
            touched_inst: Vec::new(),
            touched_svc: Vec::new(),
            touched_group: Vec::new(),
            queue: Vec::new(),
            down_list: Vec::new(),
            mask: None,
        }
    }

    /// Forgets every failure.
    pub fn reset(&mut self) {
        for &i in &self.touched_inst {
            self.dead_inst[i as usize] = false;
        }
        for &s in &self.touched_svc {
            self.lost[s as usize] = 0;
            self.down[s as usize] = false;
        }
        for &gid in &self.touched_group {
            self.group_dead[gid as usize] = 0;
        }
        self.touched_inst.clear();
        self.touched_svc.clear();
        self.touched_group.clear();
        self.queue.clear();
        self.down_list.clear();
    }

    /// Fails instance `i` of service `s` (idempotent). Call [`Self::propagate`] afterwards.
    pub fn fail_instance(&mut self, s: u32, i: u32) {
        let flat = self.inst.flat(s, i);
        if self.dead_inst[flat] {
            return;
        }
        self.dead_inst[flat] = true;
        self.touched_inst.push(flat as u32);
        if self.lost[s as usize] == 0 && !self.down[s as usize] {
            self.touched_svc.push(s);
        }
        self.lost[s as usize] += 1;
        let n = self.inst.range(s).len() as u32;
        if n - self.lost[s as usize] < self.min_healthy[s as usize] {
            self.mark(s);
        }
    }

    /// Fails every instance in domain number `d`.
    pub fn fail_domain(&mut self, d: u32) {
        let domains = self.domains;
        for &(s, i) in &domains.members[d as usize] {
            self.fail_instance(s, i);
        }
    }

    /// Fails every instance of service `s`.
    pub fn fail_service(&mut self, s: u32) {
        for i in 0..self.inst.range(s).len() as u32 {
            self.fail_instance(s, i);
        }
    }

    /// Marks `s` down regardless of its instances (an already-down service).
    pub fn force_down(&mut self, s: u32) {
        self.mark(s);
    }

    /// Restricts propagation to the services in `mask` (`None` = all). Exact for every service
    /// in the mask when the mask is closed under strong dependencies (e.g. a union of critical
    /// paths): a service's `down` depends only on what it strongly depends on.
    pub fn set_mask(&mut self, mask: Option<Vec<bool>>) {
        self.mask = mask;
    }

    fn mark(&mut self, s: u32) {
        if self.mask.as_ref().is_some_and(|m| !m[s as usize]) {
            return;
        }
        if !self.down[s as usize] {
            if self.lost[s as usize] == 0 {
                self.touched_svc.push(s);
            }
            self.down[s as usize] = true;
            self.queue.push(s);
            self.down_list.push(s);
        }
    }

    /// Propagates every pending failure to the least fixpoint.
    pub fn propagate(&mut self) {
        let g = self.g;
        while let Some(v) = self.queue.pop() {
            for use_ in &g.users[v as usize] {
                match *use_ {
                    Use::Strong(u) => self.mark(u),
                    Use::Weak(_) => {}
                    Use::Member(gid) => {
                        let grp = &g.groups[gid as usize];
                        let c = &mut self.group_dead[gid as usize];
                        if *c == 0 {
                            self.touched_group.push(gid);
                        }
                        *c += 1;
                        if *c == grp.slack() + 1 && grp.strength == Strength::Strong {
                            self.mark(grp.owner);
                        }
                    }
                }
            }
        }
    }

    /// Whether `s` is down.
    pub fn is_down(&self, s: u32) -> bool {
        self.down[s as usize]
    }

    /// Whether instance `i` of `s` has failed.
    pub fn is_instance_dead(&self, s: u32, i: u32) -> bool {
        self.dead_inst[self.inst.flat(s, i)]
    }

    /// Whether group `gid` has lost more members than it can spare.
    pub fn is_group_dead(&self, gid: u32) -> bool {
        self.group_dead[gid as usize] > self.g.groups[gid as usize].slack()
    }

    /// Every service down, in the order it went down.
    pub fn down_list(&self) -> &[u32] {
        &self.down_list
    }

    /// The full down mask.
    pub fn down_mask(&self) -> &[bool] {
        &self.down
    }

    /// The per-instance dead mask (flat numbering).
    pub fn dead_instances(&self) -> &[bool] {
        &self.dead_inst
    }
}
