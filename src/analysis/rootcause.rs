//! Root causes (SPEC §2): which failures nothing below them explains, and what each explains.
//!
//! Input: the observed and effective states of every service (after probing or `--fail`), and
//! which services the `--fail` events alone fail. Output: one [`RootCause`] per independent
//! failure, each with the failed services and links it explains, and per service the root
//! causes that explain it. Pure and synchronous, linear in the size of the explanation graph
//! plus the size of the answer.
//!
//! # The rule
//!
//! A dependency *explains* a failed service (effective state `down` or `degraded`) when, by the
//! effective-state rules of SPEC §2 alone, it imposes exactly that state on it:
//! - for a `down` service: a strong dependency that is `down`; a strong `any_of` group that is
//!   `down` (fewer than `min` members alive), through each of its `down` members;
//! - for a `degraded` service: a strong dependency that is `degraded`; a strong group that is
//!   `degraded`, through each member that is `down` or `degraded`; a weak dependency that is
//!   `down`; a weak group that is `down`, through each `down` member.
//!
//! A dependency that imposes less than the service's state does not explain it: a caller `down`
//! while one member of its `any_of` group is down (the group only `degraded`) is not explained
//! by that member. A service no dependency explains is a **root cause**: its own probes (or
//! `--fail` events) make it fail. Every other failed service is a **consequence**, listed under
//! every root cause it can reach through "is explained by" edges.
//!
//! Decisions the SPEC leaves open, fixed here:
//! - **Weak dependencies.** The SPEC's test names strong dependencies; a weak one can only ever
//!   impose `degraded`, so it matters only for a `degraded` service, and there it is counted like
//!   the propagation rules count it: a service degraded because a weak dependency is `down` —
//!   whether only its effective state is degraded, or its own probes are slow too (the
//!   `weak-without-timeout` risk: a slow weak call stalls the caller) — is a consequence of that
//!   dependency's root cause, not a root cause of its own.
//! - **Cycles.** In a strong cycle every failed member is explained by the next one, so the
//!   root cause is the cycle: a terminal strongly connected component of the explanation graph.
//!   Its members whose own probes fail at the component's state are the root cause (one
//!   [`RootCauseKind::Service`] when there is one, one [`RootCauseKind::Cycle`] when there are
//!   several); the members that fail only through the cycle are its consequences. (The least
//!   fixpoint guarantees every terminal component has such a member.)
//! - **`--fail` events.** An event is an assumed cause, so a service the events alone fail at its
//!   effective state is a root cause even when a dependency would explain it too (`--fail
//!   order-db,order-service` gives two root causes). When the events fail it less than its
//!   effective state (one instance of three, while a dependency is down), the usual rule applies.
//! - **`unknown`** never fails anything, so it never makes a root cause nor explains one.

use crate::analysis::graph::Graph;
use crate::state::State;
use crate::topology::model::{OperationIdx, ServiceIdx, Strength, Topology};

/// What a root cause is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RootCauseKind {
    /// One service whose own probes (or `--fail` events) fail.
    Service,
    /// A strong cycle whose failing members explain each other and nothing outside explains.
    Cycle,
}

/// One independent failure and what it explains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootCause {
    /// A single service, or a cycle.
    pub kind: RootCauseKind,
    /// The services whose own failure this is, ascending: one for [`RootCauseKind::Service`],
    /// two or more for [`RootCauseKind::Cycle`].
    pub members: Vec<ServiceIdx>,
    /// `down` or `degraded`: the effective state of its members.
    pub state: State,
    /// Whether `--fail` events (not probes) fail its members.
    pub assumed: bool,
    /// The other failed services it explains (its consequences), ascending.
    pub services: Vec<ServiceIdx>,
    /// The links (indices into [`Topology::links`], all links) whose entry is a member or a
    /// consequence, ascending.
    pub links: Vec<usize>,
    /// The members that are one operation of their service, not the service as a whole
    /// (its own probe fails while the service's pass), ascending (SPEC §1).
    pub member_operations: Vec<(ServiceIdx, OperationIdx)>,
    /// The operations it fails while their service as a whole stays up (a consequence only
    /// through that operation's own dependencies), ascending.
    pub operations: Vec<(ServiceIdx, OperationIdx)>,
}

/// Root causes and, per service, which of them explain it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootCauses {
    /// Sorted: `down` before `degraded`, then most links, then most services, then members.
    pub causes: Vec<RootCause>,
    /// Per service (by index): the positions in [`Self::causes`] of the root causes it is a
    /// consequence of, ascending; empty for a healthy service and for a root cause's member.
    pub because_of: Vec<Vec<u32>>,
}

fn failed(s: State) -> bool {
    matches!(s, State::Down | State::Degraded)
}

/// The dependencies of `s` that explain its (failed) effective state, appended to `out`.
fn explainers(g: &Graph, eff: &[State], s: usize, out: &mut Vec<u32>) {
    let level = eff[s];
    for &t in &g.strong[s] {
        if eff[t as usize] == level {
            out.push(t);
        }
    }
    if level == State::Degraded {
        for &t in &g.weak[s] {
            if eff[t as usize] == State::Down {
                out.push(t);
            }
        }
    }
    for &gid in &g.groups_of[s] {
        let grp = &g.groups[gid as usize];
        let gs = grp.state(eff);
        let imposed = match (grp.strength, gs) {
            (Strength::Strong, st) => st,
            (Strength::Weak, State::Down) => State::Degraded,
            (Strength::Weak, _) => State::Up,
        };
        if imposed != level {
            continue;
        }
        for &m in &grp.members {
            let ms = eff[m as usize];
            let counts = if gs == State::Down {
                ms == State::Down
            } else {
                failed(ms)
            };
            if counts {
                out.push(m);
            }
        }
    }
}

/// Computes the root causes.
///
/// `observed`, `effective`: per service, as [`crate::analysis::propagate`] computes them.
/// `assumed`: per service, the state the `--fail` events alone give it (`unknown` when none).
pub fn root_causes(
    topo: &Topology,
    g: &Graph,
    observed: &[State],
    effective: &[State],
    assumed: &[State],
) -> RootCauses {
    let n = g.n;
    // The explanation graph, as flat adjacency: s -> the dependencies that explain it.
    let mut offset = Vec::with_capacity(n + 1);
    let mut adj: Vec<u32> = Vec::new();
    let mut forced = vec![false; n];
    let mut buf: Vec<u32> = Vec::new();
    for s in 0..n {
        offset.push(adj.len() as u32);
        if !failed(effective[s]) {
            continue;
        }
        if assumed[s] == effective[s] {
            forced[s] = true;
            continue;
        }
        buf.clear();
        explainers(g, effective, s, &mut buf);
        buf.sort_unstable();
        buf.dedup();
        adj.extend_from_slice(&buf);
    }
    offset.push(adj.len() as u32);
    let succ = |s: u32| &adj[offset[s as usize] as usize..offset[s as usize + 1] as usize];

    let sccs = crate::analysis::graph::tarjan(n, |s| failed(effective[s as usize]), &succ);
    let mut comp = vec![u32::MAX; n];
    for (c, members) in sccs.iter().enumerate() {
        for &m in members {
            comp[m as usize] = c as u32;
        }
    }

    // Reverse adjacency, to walk from a root cause to everything it explains.
    let mut rev: Vec<Vec<u32>> = vec![Vec::new(); n];
    for s in 0..n as u32 {
        for &t in succ(s) {
            rev[t as usize].push(s);
        }
    }

    let mut causes: Vec<RootCause> = Vec::new();
    let mut roots_of: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut member_of = vec![u32::MAX; n];
    let mut seen = vec![u32::MAX; n];
    let mut stack: Vec<u32> = Vec::new();
    for (c, members) in sccs.iter().enumerate() {
        let terminal = members
            .iter()
            .all(|&m| succ(m).iter().all(|&t| comp[t as usize] == c as u32));
        if !terminal {
            continue;
        }
        let state = effective[members[0] as usize];
        let own: Vec<u32> = members
            .iter()
            .copied()
            .filter(|&m| observed[m as usize] == state || forced[m as usize])
            .collect();
        debug_assert!(!own.is_empty(), "a terminal component has an own failure");
        let own = if own.is_empty() { members.clone() } else { own };
        let id = causes.len() as u32;
        for &m in &own {
            seen[m as usize] = id;
            member_of[m as usize] = id;
            stack.push(m);
        }
        let mut services = Vec::new();
        while let Some(v) = stack.pop() {
            for &u in &rev[v as usize] {
                if seen[u as usize] != id {
                    seen[u as usize] = id;
                    services.push(ServiceIdx(u));
                    roots_of[u as usize].push(id);
                    stack.push(u);
                }
            }
        }
        services.sort_unstable();
        causes.push(RootCause {
            kind: if own.len() == 1 {
                RootCauseKind::Service
            } else {
                RootCauseKind::Cycle
            },
            assumed: own.iter().all(|&m| forced[m as usize]),
            members: own.into_iter().map(ServiceIdx).collect(),
            state,
            services,
            links: Vec::new(),
            member_operations: Vec::new(),
            operations: Vec::new(),
        });
    }
    for (l, link) in topo.links.iter().enumerate() {
        let e = link.entry.get();
        if member_of[e] != u32::MAX {
            causes[member_of[e] as usize].links.push(l);
        }
        for &r in &roots_of[e] {
            causes[r as usize].links.push(l);
        }
    }

    // Sort, then renumber what points into the list.
    let mut order: Vec<u32> = (0..causes.len() as u32).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&causes[a as usize], &causes[b as usize]);
        y.state
            .cmp(&x.state)
            .then(y.links.len().cmp(&x.links.len()))
            .then(y.services.len().cmp(&x.services.len()))
            .then_with(|| x.members.cmp(&y.members))
    });
    let mut rank = vec![0u32; causes.len()];
    for (new, &old) in order.iter().enumerate() {
        rank[old as usize] = new as u32;
    }
    let mut slots: Vec<Option<RootCause>> = causes.into_iter().map(Some).collect();
    let causes: Vec<RootCause> = order
        .iter()
        .map(|&old| slots[old as usize].take().expect("each cause taken once"))
        .collect();
    for list in &mut roots_of {
        for r in list.iter_mut() {
            *r = rank[*r as usize];
        }
        list.sort_unstable();
    }
    RootCauses {
        causes,
        because_of: roots_of,
    }
}

#[cfg(test)]
mod tests {
    use crate::analysis::{Analysis, Options, RootCauseKind, analyze, parse_events};
    use crate::state::State;
    use crate::topology::load::load_str;
    use crate::topology::model::Topology;

    /// `(kind, members, state, services, links)` of one root cause, by name.
    type Named = (RootCauseKind, Vec<String>, State, Vec<String>, Vec<String>);

    fn yaml(links: &str, services: &str) -> Topology {
        let src = format!("version: 1\nname: t\nlinks:\n{links}services:\n{services}");
        load_str(&src, "t.yaml").expect("valid topology")
    }

    /// Analyses `topo` with every instance up except the given services' instance states.
    fn probed(topo: &Topology, states: &[(&str, &[State])]) -> Analysis {
        let mut observed: Vec<Vec<State>> = topo
            .services
            .iter()
            .map(|s| vec![State::Up; s.instances.len()])
            .collect();
        for (name, st) in states {
            let idx = topo.index_of(name).expect("known service");
            observed[idx.get()] = st.to_vec();
        }
        analyze(
            topo,
            &Options {
                observed: Some(&observed),
                ..Options::default()
            },
        )
        .expect("analysis runs")
    }

    fn named(topo: &Topology, a: &Analysis) -> Vec<Named> {
        let n = |s: &crate::topology::model::ServiceIdx| topo.service(*s).name.to_string();
        a.root_causes
            .as_ref()
            .expect("computed")
            .iter()
            .map(|c| {
                (
                    c.kind,
                    c.members.iter().map(n).collect(),
                    c.state,
                    c.services.iter().map(n).collect(),
                    c.links
                        .iter()
                        .map(|&l| topo.links[l].name.to_string())
                        .collect(),
                )
            })
            .collect()
    }

    fn because(topo: &Topology, a: &Analysis, service: &str) -> Vec<String> {
        let causes = a.root_causes.as_ref().expect("computed");
        a.services[topo.index_of(service).expect("known").get()]
            .because_of
            .iter()
            .map(|&r| {
                causes[r as usize]
                    .members
                    .iter()
                    .map(|m| topo.service(*m).name.to_string())
                    .collect::<Vec<_>>()
                    .join("+")
            })
            .collect()
    }

    fn v(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    use RootCauseKind::{Cycle, Service};
    use State::{Degraded, Down, Up};

    #[test]
    fn a_database_under_five_dependents_is_one_root_cause() {
        let topo = yaml(
            "  orders: { entry: edge }\n  reports: { entry: report }\n",
            "  db: {}\n  api: { depends_on: { db: strong } }\n  worker: { depends_on: { db: strong } }\n  \
             report: { depends_on: { db: strong } }\n  gateway: { depends_on: { api: strong, worker: strong } }\n  \
             edge: { depends_on: { gateway: strong } }\n",
        );
        // Everything fails its own probes too: the database explains all of it.
        let all_down: Vec<(&str, &[State])> = ["db", "api", "worker", "report", "gateway", "edge"]
            .iter()
            .map(|s| (*s, &[Down][..]))
            .collect();
        let a = probed(&topo, &all_down);
        assert_eq!(
            named(&topo, &a),
            vec![(
                Service,
                v(&["db"]),
                Down,
                v(&["api", "edge", "gateway", "report", "worker"]),
                v(&["orders", "reports"])
            )]
        );
        assert_eq!(because(&topo, &a, "edge"), v(&["db"]));
        assert!(because(&topo, &a, "db").is_empty());
    }

    #[test]
    fn a_diamond_has_one_root_cause_at_its_bottom() {
        let topo = yaml(
            "  checkout: { entry: api }\n",
            "  api: { depends_on: { left: strong, right: strong } }\n  left: { depends_on: { db: strong } }\n  \
             right: { depends_on: { db: strong } }\n  db: {}\n",
        );
        let a = probed(&topo, &[("db", &[Down]), ("left", &[Down])]);
        assert_eq!(
            named(&topo, &a),
            vec![(
                Service,
                v(&["db"]),
                Down,
                v(&["api", "left", "right"]),
                v(&["checkout"])
            )]
        );
        // Only one side failing: that side is the root cause.
        let a = probed(&topo, &[("left", &[Down])]);
        assert_eq!(
            named(&topo, &a),
            vec![(Service, v(&["left"]), Down, v(&["api"]), v(&["checkout"]))]
        );
    }

    #[test]
    fn one_any_of_member_down_explains_only_degradation() {
        let topo = yaml(
            "  pay: { entry: api }\n",
            "  api: { depends_on: { payment: { strength: strong, any_of: [pay-a, pay-b] } } }\n  \
             pay-a: {}\n  pay-b: {}\n",
        );
        // The group is only degraded: the caller is degraded because of pay-a.
        let a = probed(&topo, &[("pay-a", &[Down])]);
        assert_eq!(
            named(&topo, &a),
            vec![(Service, v(&["pay-a"]), Down, v(&["api"]), v(&["pay"]))]
        );
        assert_eq!(
            a.services[topo.index_of("api").unwrap().get()].effective,
            Degraded
        );
        // The caller down on its own: pay-a does not explain that, both are root causes.
        let a = probed(&topo, &[("pay-a", &[Down]), ("api", &[Down])]);
        assert_eq!(
            named(&topo, &a),
            vec![
                (Service, v(&["api"]), Down, v(&[]), v(&["pay"])),
                (Service, v(&["pay-a"]), Down, v(&[]), v(&[])),
            ]
        );
        // The whole group down: the caller is a consequence of both members.
        let a = probed(
            &topo,
            &[("pay-a", &[Down]), ("pay-b", &[Down]), ("api", &[Down])],
        );
        assert_eq!(
            named(&topo, &a),
            vec![
                (Service, v(&["pay-a"]), Down, v(&["api"]), v(&["pay"])),
                (Service, v(&["pay-b"]), Down, v(&["api"]), v(&["pay"])),
            ]
        );
        assert_eq!(because(&topo, &a, "api"), v(&["pay-a", "pay-b"]));
    }

    #[test]
    fn a_strong_cycle_all_failed_is_one_root_cause() {
        let topo = yaml(
            "  main: { entry: top }\n",
            "  top: { depends_on: { a: strong } }\n  a: { depends_on: { b: strong } }\n  \
             b: { depends_on: { a: strong } }\n",
        );
        let a = probed(&topo, &[("a", &[Down]), ("b", &[Down])]);
        assert_eq!(
            named(&topo, &a),
            vec![(Cycle, v(&["a", "b"]), Down, v(&["top"]), v(&["main"]))]
        );
        // Only one member fails its probes: it is the root cause, the other its consequence.
        let a = probed(&topo, &[("b", &[Down])]);
        assert_eq!(
            named(&topo, &a),
            vec![(Service, v(&["b"]), Down, v(&["a", "top"]), v(&["main"]))]
        );
        // A cause outside the cycle explains the whole cycle.
        let topo = yaml(
            "  main: { entry: top }\n",
            "  top: { depends_on: { a: strong } }\n  a: { depends_on: { b: strong } }\n  \
             b: { depends_on: { a: strong, db: strong } }\n  db: {}\n",
        );
        let a = probed(&topo, &[("a", &[Down]), ("b", &[Down]), ("db", &[Down])]);
        assert_eq!(
            named(&topo, &a),
            vec![(
                Service,
                v(&["db"]),
                Down,
                v(&["a", "b", "top"]),
                v(&["main"])
            )]
        );
    }

    #[test]
    fn degraded_chains_and_weak_dependencies() {
        let topo = yaml(
            "  main: { entry: top }\n",
            "  top: { depends_on: { mid: strong, cache: weak } }\n  mid: { depends_on: { db: strong } }\n  \
             db: {}\n  cache: {}\n",
        );
        // A slow database degrades the chain above it.
        let a = probed(&topo, &[("db", &[Degraded])]);
        assert_eq!(
            named(&topo, &a),
            vec![(
                Service,
                v(&["db"]),
                Degraded,
                v(&["mid", "top"]),
                v(&["main"])
            )]
        );
        // Down above a merely degraded dependency: a root cause of its own, not explained.
        let a = probed(&topo, &[("db", &[Degraded]), ("mid", &[Down])]);
        assert_eq!(
            named(&topo, &a),
            vec![
                (Service, v(&["mid"]), Down, v(&["top"]), v(&["main"])),
                (Service, v(&["db"]), Degraded, v(&[]), v(&[])),
            ]
        );
        // A weak dependency down degrades its caller, which is its consequence.
        let a = probed(&topo, &[("cache", &[Down])]);
        assert_eq!(
            named(&topo, &a),
            vec![(Service, v(&["cache"]), Down, v(&["top"]), v(&["main"]))]
        );
        // Also when the caller's own probes are slow: the weak dependency explains it.
        let a = probed(&topo, &[("cache", &[Down]), ("top", &[Degraded])]);
        assert_eq!(
            named(&topo, &a),
            vec![(Service, v(&["cache"]), Down, v(&["top"]), v(&["main"]))]
        );
        // One of two instances down: degraded, a root cause at that level.
        let topo = yaml(
            "  main: { entry: top }\n",
            "  top: { depends_on: { db: strong } }\n  db: { replicas: 2 }\n",
        );
        let a = probed(&topo, &[("db", &[Up, Down])]);
        assert_eq!(
            named(&topo, &a),
            vec![(Service, v(&["db"]), Degraded, v(&["top"]), v(&["main"]))]
        );
    }

    #[test]
    fn unknown_never_makes_a_root_cause() {
        let topo = yaml(
            "  main: { entry: top }\n",
            "  top: { depends_on: { blind: strong } }\n  blind: { depends_on: { db: strong } }\n  db: {}\n",
        );
        let a = probed(&topo, &[("blind", &[State::Unknown])]);
        assert!(named(&topo, &a).is_empty());
        // An unprobed service between a failure and its dependents is a consequence.
        let a = probed(&topo, &[("blind", &[State::Unknown]), ("db", &[Down])]);
        assert_eq!(
            named(&topo, &a),
            vec![(
                Service,
                v(&["db"]),
                Down,
                v(&["blind", "top"]),
                v(&["main"])
            )]
        );
        // Nothing probed, nothing failed: computed, and empty.
        let a = analyze(
            &topo,
            &Options {
                observed: Some(&[
                    vec![State::Unknown],
                    vec![State::Unknown],
                    vec![State::Unknown],
                ]),
                ..Options::default()
            },
        )
        .unwrap();
        assert_eq!(a.root_causes, Some(Vec::new()));
        // A plain analysis computes none.
        let a = analyze(&topo, &Options::default()).unwrap();
        assert_eq!(a.root_causes, None);
    }

    #[test]
    fn every_failed_event_is_a_root_cause() {
        let topo = yaml(
            "  main: { entry: top }\n",
            "  top: { depends_on: { api: strong } }\n  api: { depends_on: { db: strong } }\n  db: {}\n",
        );
        let failed = parse_events(&topo, "db,api").unwrap();
        let a = analyze(
            &topo,
            &Options {
                failed: &failed,
                ..Options::default()
            },
        )
        .unwrap();
        let causes = a.root_causes.as_ref().unwrap();
        assert!(causes.iter().all(|c| c.assumed));
        assert_eq!(
            named(&topo, &a),
            vec![
                (Service, v(&["api"]), Down, v(&["top"]), v(&["main"])),
                (Service, v(&["db"]), Down, v(&[]), v(&[])),
            ]
        );
    }
}
