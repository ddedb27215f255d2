//! The one topology builder of the tests: `service`/`dep` primitives, a tiny builder of
//! topologies in code (`build`, `svc`, `svc_in`), a seeded random topology generator, and a
//! brute-force reference of SPEC §2 semantics. `example` holds the delivery-platform example and
//! the generated topologies of the renderer tests and benchmarks, built from the same primitives.
#![allow(dead_code, missing_docs, clippy::missing_panics_doc)]

pub mod example;

use std::collections::{BTreeMap, BTreeSet};

use linkpatrol::analysis::Event;
use linkpatrol::state::State;
use linkpatrol::topology::model::{
    Defaults, Dependency, Domain, Instance, Link, LinkName, RiskSettings, Service, ServiceIdx,
    ServiceName, Strength, Target, Topology,
};

/// A dependency as written in a test: single strong/weak, or a group.
#[derive(Debug, Clone)]
pub enum Dep {
    Strong(&'static str),
    Weak(&'static str),
    AnyOf(Strength, Vec<&'static str>, usize),
}

/// One service in a test topology: name, instances as domain lists, min_healthy, deps.
pub struct Svc {
    pub name: String,
    pub instances: Vec<Vec<(String, String)>>,
    pub min_healthy: usize,
    pub deps: Vec<DepIdx>,
}

/// A dependency by name, resolved at build time.
#[derive(Debug, Clone)]
pub enum DepIdx {
    Single(Strength, String, Option<u64>),
    Group(Strength, Vec<String>, usize, String),
}

pub fn instance(id: String, domains: Vec<(String, String)>) -> Instance {
    let mut domains: Vec<Domain> = domains
        .into_iter()
        .map(|(key, value)| Domain { key, value })
        .collect();
    domains.sort();
    domains.dedup();
    Instance {
        id,
        address: None,
        domains,
        probe: None,
    }
}

/// A core service with no owner and no dependencies yet.
pub fn service(name: &str, instances: Vec<Instance>, min: usize) -> Service {
    Service {
        name: ServiceName::new(name),
        description: None,
        owner: None,
        tags: Vec::new(),
        core: true,
        core_explicit: false,
        instances,
        min_healthy: min,
        depends_on: Vec::new(),
        operations: Vec::new(),
    }
}

/// A dependency edge with an optional timeout in milliseconds.
pub fn dep(label: &str, strength: Strength, timeout_ms: Option<u64>, target: Target) -> Dependency {
    Dependency {
        label: label.into(),
        strength,
        timeout: timeout_ms.map(std::time::Duration::from_millis),
        fallback: None,
        target,
        operation: None,
    }
}

/// Builds a topology. `links` are `(link name, entry name)`.
pub fn build(mut svcs: Vec<Svc>, links: &[(&str, &str)]) -> Topology {
    svcs.sort_by(|a, b| a.name.cmp(&b.name));
    let idx: BTreeMap<String, u32> = svcs
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.clone(), i as u32))
        .collect();
    let services = svcs
        .into_iter()
        .map(|s| {
            let depends_on = s
                .deps
                .into_iter()
                .map(|d| match d {
                    DepIdx::Single(strength, t, timeout) => {
                        dep(&t, strength, timeout, Target::Service(ServiceIdx(idx[&t])))
                    }
                    DepIdx::Group(strength, members, min, label) => dep(
                        &label,
                        strength,
                        Some(500),
                        Target::AnyOf {
                            members: members.iter().map(|m| ServiceIdx(idx[m])).collect(),
                            min,
                        },
                    ),
                })
                .collect();
            let instances = s
                .instances
                .into_iter()
                .enumerate()
                .map(|(i, d)| instance(i.to_string(), d))
                .collect();
            Service {
                depends_on,
                ..service(&s.name, instances, s.min_healthy)
            }
        })
        .collect();
    let links = links
        .iter()
        .map(|(n, e)| Link {
            name: LinkName::new(*n),
            entry: ServiceIdx(idx[*e]),
            operation: None,
            description: None,
        })
        .collect();
    Topology::from_parts(
        "test",
        Defaults::default(),
        links,
        services,
        RiskSettings::default(),
    )
}

/// Shorthand: a service with `n` unlabeled instances.
pub fn svc(name: &str, n: usize, min: usize, deps: Vec<Dep>) -> Svc {
    svc_in(name, vec![vec![]; n], min, deps)
}

/// Shorthand: a service whose instances carry the given `key=value` domains.
pub fn svc_in(name: &str, instances: Vec<Vec<&str>>, min: usize, deps: Vec<Dep>) -> Svc {
    Svc {
        name: name.to_owned(),
        instances: instances
            .into_iter()
            .map(|ds| {
                ds.into_iter()
                    .map(|d| {
                        let (k, v) = d.split_once('=').expect("key=value");
                        (k.to_owned(), v.to_owned())
                    })
                    .collect()
            })
            .collect(),
        min_healthy: min,
        deps: deps
            .into_iter()
            .enumerate()
            .map(|(i, d)| match d {
                Dep::Strong(t) => DepIdx::Single(Strength::Strong, t.to_owned(), None),
                Dep::Weak(t) => DepIdx::Single(Strength::Weak, t.to_owned(), Some(300)),
                Dep::AnyOf(s, m, min) => DepIdx::Group(
                    s,
                    m.into_iter().map(str::to_owned).collect(),
                    min,
                    format!("group{i}"),
                ),
            })
            .collect(),
    }
}

/// xorshift64*: small, deterministic, good enough for test generation.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// True with probability `p` percent.
    pub fn pct(&mut self, p: u32) -> bool {
        self.below(100) < p as usize
    }
}

/// A random small topology: cycles, any_of groups with `min`, replicas, instances over
/// zones/hosts/labels, weak edges, 1–3 links.
pub fn random_topology(seed: u64, max_services: usize) -> Topology {
    let mut r = Rng::new(seed);
    let n = 2 + r.below(max_services - 1);
    let names: Vec<String> = (0..n).map(|i| format!("s{i:02}")).collect();
    let mut svcs = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let k = 1 + r.below(3);
        let min = 1 + r.below(k);
        // A quarter of the services are plain replicas (no domains): interchangeable instances.
        let plain = r.pct(25);
        let instances: Vec<Vec<(String, String)>> = (0..k)
            .map(|_| {
                let mut d = Vec::new();
                if plain {
                    return d;
                }
                if r.pct(80) {
                    d.push(("zone".to_owned(), format!("az{}", 1 + r.below(2))));
                }
                if r.pct(60) {
                    d.push(("host".to_owned(), format!("h{}", 1 + r.below(4))));
                }
                if r.pct(25) {
                    d.push(("rack".to_owned(), format!("r{}", 1 + r.below(2))));
                }
                d
            })
            .collect();
        let mut deps = Vec::new();
        let mut used = BTreeSet::new();
        for (j, other) in names.iter().enumerate() {
            if i != j && r.pct(30) {
                used.insert(j);
                let strength = if r.pct(70) {
                    Strength::Strong
                } else {
                    Strength::Weak
                };
                deps.push(DepIdx::Single(
                    strength,
                    other.clone(),
                    if r.pct(50) { Some(200) } else { None },
                ));
            }
        }
        if n >= 3 && r.pct(40) {
            let size = 2 + r.below((n - 1).min(4) - 1);
            let mut members = BTreeSet::new();
            while members.len() < size {
                let j = r.below(n);
                if j != i {
                    members.insert(j);
                }
            }
            let min = 1 + r.below(size);
            let strength = if r.pct(80) {
                Strength::Strong
            } else {
                Strength::Weak
            };
            deps.push(DepIdx::Group(
                strength,
                members.iter().map(|&j| names[j].clone()).collect(),
                min,
                "grp".to_owned(),
            ));
        }
        svcs.push(Svc {
            name: name.clone(),
            instances,
            min_healthy: min,
            deps,
        });
    }
    let nl = 1 + r.below(3);
    let link_names: Vec<String> = (0..nl).map(|l| format!("link{l}")).collect();
    let entries: Vec<String> = (0..nl).map(|_| names[r.below(n)].clone()).collect();
    let links: Vec<(&str, &str)> = link_names
        .iter()
        .zip(&entries)
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    build(svcs, &links)
}

/// `topo` without the dependencies that point to a service of lower index (or its own), so
/// the strong graph has no cycle (the engine's acyclic fast paths then run).
pub fn acyclic(mut topo: Topology) -> Topology {
    for (i, svc) in topo.services.iter_mut().enumerate() {
        svc.depends_on
            .retain(|d| d.targets().iter().all(|t| t.get() > i));
    }
    topo
}

/// Every single event of a topology: each instance, then each domain.
pub fn all_events(topo: &Topology) -> Vec<Event> {
    let mut out = Vec::new();
    let mut doms = BTreeSet::new();
    for (idx, s) in topo.iter_services() {
        for (i, inst) in s.instances.iter().enumerate() {
            out.push(Event::Instance {
                service: idx,
                instance: i as u32,
            });
            doms.extend(inst.domains.iter().cloned());
        }
    }
    out.extend(doms.into_iter().map(Event::Domain));
    out
}

/// Brute force: which services are down when `events` fail. Naive least fixpoint over
/// instance-level liveness, written independently of the engine.
pub fn brute_down(topo: &Topology, events: &[&Event]) -> Vec<bool> {
    let n = topo.services.len();
    let mut dead: Vec<Vec<bool>> = topo
        .services
        .iter()
        .map(|s| vec![false; s.instances.len()])
        .collect();
    for e in events {
        match e {
            Event::Instance { service, instance } => dead[service.get()][*instance as usize] = true,
            Event::Domain(d) => {
                for (s, svc) in topo.services.iter().enumerate() {
                    for (i, inst) in svc.instances.iter().enumerate() {
                        if inst.domains.contains(d) {
                            dead[s][i] = true;
                        }
                    }
                }
            }
        }
    }
    let mut down: Vec<bool> = (0..n)
        .map(|s| {
            let alive = dead[s].iter().filter(|d| !**d).count();
            alive < topo.services[s].min_healthy
        })
        .collect();
    loop {
        let mut changed = false;
        for s in 0..n {
            if down[s] {
                continue;
            }
            let mut now = false;
            for dep in &topo.services[s].depends_on {
                if dep.strength != Strength::Strong {
                    continue;
                }
                match &dep.target {
                    Target::Service(t) => now |= down[t.get()],
                    Target::AnyOf { members, min } => {
                        let alive = members.iter().filter(|m| !down[m.get()]).count();
                        now |= alive < *min;
                    }
                }
            }
            if now {
                down[s] = true;
                changed = true;
            }
        }
        if !changed {
            return down;
        }
    }
}

/// Brute force critical path: strong reachability by repeated sweeps.
pub fn brute_critical_path(topo: &Topology, entry: ServiceIdx) -> Vec<ServiceIdx> {
    let mut seen = vec![false; topo.services.len()];
    seen[entry.get()] = true;
    loop {
        let mut changed = false;
        for (s, svc) in topo.services.iter().enumerate() {
            if !seen[s] {
                continue;
            }
            for dep in &svc.depends_on {
                if dep.strength == Strength::Strong {
                    for t in dep.targets() {
                        if !seen[t.get()] {
                            seen[t.get()] = true;
                            changed = true;
                        }
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
    (0..seen.len())
        .filter(|&i| seen[i])
        .map(|i| ServiceIdx(i as u32))
        .collect()
}

/// Whether `path` is a valid explanation: starts at `entry`, ends at `target`, each hop a strong
/// edge or strong-group membership, every service on it down when `target` fails.
pub fn path_is_valid(
    topo: &Topology,
    path: &[ServiceIdx],
    entry: ServiceIdx,
    target: ServiceIdx,
) -> bool {
    if path.first() != Some(&entry) || path.last() != Some(&target) {
        return false;
    }
    let all: Vec<Event> = (0..topo.service(target).instances.len())
        .map(|i| Event::Instance {
            service: target,
            instance: i as u32,
        })
        .collect();
    let refs: Vec<&Event> = all.iter().collect();
    let down = brute_down(topo, &refs);
    path.iter().all(|s| down[s.get()])
        && path.windows(2).all(|w| {
            topo.service(w[0])
                .depends_on
                .iter()
                .any(|d| d.strength == Strength::Strong && d.targets().contains(&w[1]))
        })
}

/// Brute force of a service's observed state from its instances' states (SPEC §2).
pub fn brute_observed(svc: &linkpatrol::topology::model::Service, states: &[State]) -> State {
    let down = states.iter().filter(|s| **s == State::Down).count();
    if svc.instances.len() - down < svc.min_healthy {
        State::Down
    } else if down > 0 || states.contains(&State::Degraded) {
        State::Degraded
    } else if states.contains(&State::Up) {
        State::Up
    } else {
        State::Unknown
    }
}

/// The state of one dependency's target (a service, or an any_of group) under `eff`.
pub fn brute_target_state(dep: &Dependency, eff: &[State]) -> State {
    match &dep.target {
        Target::Service(t) => eff[t.get()],
        Target::AnyOf { members, min } => {
            let alive = members
                .iter()
                .filter(|m| eff[m.get()] != State::Down)
                .count();
            if alive < *min {
                State::Down
            } else if members
                .iter()
                .any(|m| matches!(eff[m.get()], State::Down | State::Degraded))
            {
                State::Degraded
            } else {
                State::Up
            }
        }
    }
}

/// What one dependency imposes on its consumer under `eff` (SPEC §2).
pub fn brute_imposed(dep: &Dependency, eff: &[State]) -> State {
    match (dep.strength, brute_target_state(dep, eff)) {
        (Strength::Strong, State::Down) => State::Down,
        (Strength::Strong, State::Degraded) | (Strength::Weak, State::Down) => State::Degraded,
        _ => State::Up,
    }
}

/// Brute force of SPEC §2 effective states from observed ones: repeated full sweeps of the
/// rules until nothing changes.
pub fn brute_effective(topo: &Topology, observed: &[State]) -> Vec<State> {
    let mut eff = observed.to_vec();
    loop {
        let next: Vec<State> = topo
            .services
            .iter()
            .enumerate()
            .map(|(s, svc)| {
                svc.depends_on
                    .iter()
                    .map(|d| brute_imposed(d, &eff))
                    .fold(observed[s], State::max)
            })
            .collect();
        if next == eff {
            return eff;
        }
        eff = next;
    }
}

/// Brute force of SPEC §2 states: observed per service from instance states, then effective.
pub fn brute_states(topo: &Topology, inst: &[Vec<State>]) -> Vec<State> {
    let observed: Vec<State> = topo
        .services
        .iter()
        .zip(inst)
        .map(|(svc, states)| brute_observed(svc, states))
        .collect();
    brute_effective(topo, &observed)
}

/// Down or degraded: a state a root cause can have.
pub fn failed(s: State) -> bool {
    matches!(s, State::Down | State::Degraded)
}

/// Whether instance `i` of service `s` is taken by one of `events`.
pub fn hit(topo: &Topology, events: &[Event], s: usize, i: usize) -> bool {
    events.iter().any(|e| match e {
        Event::Instance { service, instance } => service.get() == s && *instance as usize == i,
        Event::Domain(d) => topo.services[s].instances[i].domains.contains(d),
    })
}

/// The root-cause references' last steps: `reach` (who fails because of whom, one step) closed
/// transitively, then every class of mutually reachable nodes that is failed and reaches
/// nothing outside itself: what nothing below it explains.
pub fn closed_failed_classes(reach: &mut [Vec<bool>], eff: &[State]) -> BTreeSet<Vec<usize>> {
    let n = reach.len();
    for via in 0..n {
        for i in 0..n {
            if reach[i][via] {
                let row = reach[via].clone();
                for (r, v) in reach[i].iter_mut().zip(row) {
                    *r |= v;
                }
            }
        }
    }
    let mut classes = BTreeSet::new();
    for k in 0..n {
        if failed(eff[k]) && (0..n).all(|t| !reach[k][t] || reach[t][k]) {
            classes.insert((0..n).filter(|&t| reach[k][t] && reach[t][k]).collect());
        }
    }
    classes
}
