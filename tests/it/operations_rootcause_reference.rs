//! Observed and effective states and root causes over (service, operation) (issue 14), against
//! a reference written from SPEC §1–§2 over pairs, independently of the engine's expansion
//! into nodes (no all-operations node here: a call naming no operation of a service with some
//! is read as "all of them" where it is evaluated). Seeded random topologies with operations
//! (those of `analysis_operations`), random instance states for the services' probes and for
//! the operations' own probes, and sometimes `--fail` events.

use crate::analysis_operations::random_with_operations;
use crate::topo::{Rng, all_events, brute_observed, closed_failed_classes, failed, hit};
use linkpatrol::analysis::{Analysis, BlastDetail, Event, Options, analyze};
use linkpatrol::state::State;
use linkpatrol::topology::model::{Dependency, OperationIdx, Strength, Target, Topology};

const TOPOLOGIES: u64 = 1_500;

/// A node: a service as a whole (`None`) or one of its operations.
type Node = (usize, Option<usize>);

/// `(members as nodes, state, assumed, consequences as nodes, links)`, sorted.
type Cause = (Vec<Node>, State, bool, Vec<Node>, Vec<usize>);

/// The reference's nodes, states and dependencies.
struct Pairs<'a> {
    topo: &'a Topology,
    nodes: Vec<Node>,
}

impl<'a> Pairs<'a> {
    fn new(topo: &'a Topology) -> Self {
        let mut nodes: Vec<Node> = (0..topo.services.len()).map(|s| (s, None)).collect();
        for (s, svc) in topo.services.iter().enumerate() {
            nodes.extend((0..svc.operations.len()).map(|o| (s, Some(o))));
        }
        Self { topo, nodes }
    }

    fn index(&self, n: Node) -> usize {
        self.nodes.iter().position(|&m| m == n).expect("a node")
    }

    /// The dependencies of node `k`: a service's own; an operation's service (strong, as the
    /// `None` entry) and the operation's own.
    fn deps(&self, k: usize) -> Vec<Option<&'a Dependency>> {
        let (s, o) = self.nodes[k];
        let svc = &self.topo.services[s];
        match o {
            None => svc.depends_on.iter().map(Some).collect(),
            Some(o) => std::iter::once(None)
                .chain(svc.operations[o].depends_on.iter().map(Some))
                .collect(),
        }
    }

    /// The nodes a call to service `t` (naming `op`) stands for: the service, the operation
    /// named, or every operation.
    fn targets(&self, t: usize, op: Option<usize>) -> Vec<usize> {
        let svc = &self.topo.services[t];
        match op {
            _ if svc.operations.is_empty() => vec![t],
            Some(o) => vec![self.index((t, Some(o)))],
            None => (0..svc.operations.len())
                .map(|o| self.index((t, Some(o))))
                .collect(),
        }
    }

    /// The state of one call target under `eff`: the worst of the nodes it stands for, where
    /// only `down` and `degraded` count (`unknown` never propagates).
    fn call_state(&self, t: usize, op: Option<usize>, eff: &[State]) -> State {
        let worst = self
            .targets(t, op)
            .into_iter()
            .map(|k| eff[k])
            .filter(|s| failed(*s))
            .max();
        match worst {
            Some(s) => s,
            None if self.topo.services[t].operations.is_empty() => eff[t],
            None => State::Up,
        }
    }

    /// What the `j`-th dependency of node `k` imposes on it, and its target's state.
    fn imposed(&self, k: usize, dep: Option<&Dependency>, eff: &[State]) -> (State, State) {
        let Some(d) = dep else {
            // An operation on its service: strong.
            let st = eff[self.nodes[k].0];
            return (impose(Strength::Strong, st), st);
        };
        let st = match &d.target {
            Target::Service(t) => self.call_state(t.get(), d.operation.map(OperationIdx::get), eff),
            Target::AnyOf { members, min } => {
                let states: Vec<State> = members
                    .iter()
                    .map(|m| self.call_state(m.get(), None, eff))
                    .collect();
                let alive = states.iter().filter(|s| **s != State::Down).count();
                if alive < *min {
                    State::Down
                } else if states.iter().any(|s| failed(*s)) {
                    State::Degraded
                } else {
                    State::Up
                }
            }
        };
        (impose(d.strength, st), st)
    }

    fn effective(&self, observed: &[State]) -> Vec<State> {
        let mut eff = observed.to_vec();
        loop {
            let next: Vec<State> = (0..self.nodes.len())
                .map(|k| {
                    self.deps(k)
                        .into_iter()
                        .map(|d| self.imposed(k, d, &eff).0)
                        .fold(observed[k], State::max)
                })
                .collect();
            if next == eff {
                return eff;
            }
            eff = next;
        }
    }

    /// The nodes that explain failed node `k` through one dependency (SPEC §2 root cause: a
    /// dependency that imposes exactly `k`'s state), through to the operations of a call that
    /// names none.
    fn explainers(&self, k: usize, dep: Option<&Dependency>, eff: &[State]) -> Vec<usize> {
        let (imposed, st) = self.imposed(k, dep, eff);
        if imposed != eff[k] {
            return Vec::new();
        }
        let Some(d) = dep else {
            return vec![self.nodes[k].0];
        };
        // Through a call: the nodes it stands for that fail as badly as the call does.
        let through = |t: usize, op: Option<usize>, level: State| -> Vec<usize> {
            self.targets(t, op)
                .into_iter()
                .filter(|&n| eff[n] == level)
                .collect()
        };
        match &d.target {
            Target::Service(t) => through(t.get(), d.operation.map(OperationIdx::get), st),
            Target::AnyOf { members, .. } => members
                .iter()
                .flat_map(|m| {
                    let ms = self.call_state(m.get(), None, eff);
                    let counts = if st == State::Down {
                        ms == State::Down
                    } else {
                        failed(ms)
                    };
                    if counts {
                        through(m.get(), None, ms)
                    } else {
                        Vec::new()
                    }
                })
                .collect(),
        }
    }
}

fn known_worst(a: State, b: State) -> State {
    match (a, b) {
        (State::Unknown, x) | (x, State::Unknown) => x,
        (x, y) => x.max(y),
    }
}

fn impose(strength: Strength, st: State) -> State {
    match (strength, st) {
        (Strength::Strong, State::Down) => State::Down,
        (Strength::Strong, State::Degraded) | (Strength::Weak, State::Down) => State::Degraded,
        _ => State::Up,
    }
}

/// The reference: observed and effective state per node, and the root causes.
fn reference(
    p: &Pairs<'_>,
    probed: &[Vec<State>],
    op_probed: &[Vec<Vec<State>>],
    events: &[Event],
) -> (Vec<State>, Vec<State>, Vec<Cause>) {
    let topo = p.topo;
    let observed_of = |s: usize, states: &dyn Fn(usize) -> State| -> State {
        let v: Vec<State> = (0..topo.services[s].instances.len())
            .map(|i| {
                if hit(topo, events, s, i) {
                    State::Down
                } else {
                    states(i)
                }
            })
            .collect();
        brute_observed(&topo.services[s], &v)
    };
    let m = p.nodes.len();
    // An operation's own probe decides its own observed state; events only touch instances.
    // An operation's own probe decides its own observed state, its service's probes too: the
    // worse of the two, a known state winning over `unknown`. Events only touch instances.
    let service_observed: Vec<State> = (0..topo.services.len())
        .map(|s| observed_of(s, &|i| probed[s][i]))
        .collect();
    let observed: Vec<State> = p
        .nodes
        .iter()
        .map(|&(s, o)| match o {
            None => service_observed[s],
            Some(o) if op_probed[s][o].is_empty() => service_observed[s],
            Some(o) => known_worst(
                service_observed[s],
                brute_observed(&topo.services[s], &op_probed[s][o]),
            ),
        })
        .collect();
    let assumed: Vec<State> = p
        .nodes
        .iter()
        .map(|&(s, o)| match o {
            None => observed_of(s, &|_| State::Unknown),
            Some(_) => State::Unknown,
        })
        .collect();
    let eff = p.effective(&observed);
    let forced: Vec<bool> = (0..m)
        .map(|k| failed(eff[k]) && assumed[k] == eff[k])
        .collect();
    let mut reach = vec![vec![false; m]; m];
    for k in 0..m {
        if !failed(eff[k]) {
            continue;
        }
        reach[k][k] = true;
        if forced[k] {
            continue;
        }
        for d in p.deps(k) {
            for t in p.explainers(k, d, &eff) {
                reach[k][t] = true;
            }
        }
    }
    let mut causes: Vec<Cause> = closed_failed_classes(&mut reach, &eff)
        .into_iter()
        .map(|class| {
            let state = eff[class[0]];
            let members: Vec<usize> = class
                .iter()
                .copied()
                .filter(|&k| observed[k] == state || forced[k])
                .collect();
            assert!(!members.is_empty(), "a closed class has an own failure");
            let consequences: Vec<usize> = (0..m)
                .filter(|&u| !members.contains(&u) && class.iter().any(|&c| reach[u][c]))
                .collect();
            let explained = |k: usize| members.contains(&k) || consequences.contains(&k);
            // A link into every operation is explained where one of them is, at its state.
            let links: Vec<usize> = (0..topo.links.len())
                .filter(|&l| {
                    let link = &topo.links[l];
                    let e = link.entry.get();
                    let op = link.operation.map(OperationIdx::get);
                    let st = p.call_state(e, op, &eff);
                    p.targets(e, op).into_iter().any(|k| {
                        explained(k) && (eff[k] == st || topo.services[e].operations.is_empty())
                    })
                })
                .collect();
            let all_assumed = members.iter().all(|&k| forced[k]);
            (
                members.iter().map(|&k| p.nodes[k]).collect(),
                state,
                all_assumed,
                consequences.iter().map(|&k| p.nodes[k]).collect(),
                links,
            )
        })
        .collect();
    causes.sort();
    (observed, eff, causes)
}

/// The engine's root causes in the reference's terms: members and consequences as nodes
/// (a service as a whole, or an operation whose service is not itself listed).
fn engine_causes(topo: &Topology, a: &Analysis) -> Vec<Cause> {
    let mut out: Vec<Cause> = a
        .root_causes
        .as_ref()
        .expect("computed after probing")
        .iter()
        .map(|c| {
            let member_ops: Vec<Node> = c
                .member_operations
                .iter()
                .map(|(s, o)| (s.get(), Some(o.get())))
                .collect();
            let mut members: Vec<Node> = c
                .members
                .iter()
                .filter(|m| !c.member_operations.iter().any(|(s, _)| s == *m))
                .map(|m| (m.get(), None))
                .chain(member_ops)
                .collect();
            members.sort_unstable();
            let mut consequences: Vec<Node> = c
                .services
                .iter()
                .map(|s| (s.get(), None))
                .chain(c.operations.iter().map(|(s, o)| (s.get(), Some(o.get()))))
                .collect();
            consequences.sort_unstable();
            let _ = topo;
            (members, c.state, c.assumed, consequences, c.links.clone())
        })
        .collect();
    out.sort();
    out
}

/// The reference's causes as the engine reports them: an operation listed only when its
/// service as a whole is neither a member nor a consequence.
fn reported(causes: Vec<Cause>) -> Vec<Cause> {
    let mut out: Vec<Cause> = causes
        .into_iter()
        .map(|(members, state, assumed, consequences, links)| {
            let whole = |v: &[Node], s: usize| v.contains(&(s, None));
            let consequences = consequences
                .iter()
                .copied()
                .filter(|&(s, o)| o.is_none() || !(whole(&members, s) || whole(&consequences, s)))
                .collect();
            let mut consequences: Vec<Node> = consequences;
            consequences.sort_unstable();
            let mut members: Vec<Node> = members
                .iter()
                .copied()
                .filter(|&(s, o)| o.is_none() || !whole(&members, s))
                .collect();
            members.sort_unstable();
            (members, state, assumed, consequences, links)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn operation_states_and_root_causes_agree_with_the_reference() {
    const KINDS: [State; 4] = [State::Up, State::Degraded, State::Down, State::Unknown];
    let mut op_causes = 0;
    let mut op_consequences = 0;
    let mut with_ops = 0;
    for seed in 0..TOPOLOGIES {
        let topo = random_with_operations(seed + 77_000);
        if !topo.has_operations() {
            continue;
        }
        with_ops += 1;
        let mut r = Rng::new(seed ^ 0x0095);
        let state = |r: &mut Rng| {
            if r.pct(65) {
                State::Up
            } else {
                KINDS[r.below(4)]
            }
        };
        let probed: Vec<Vec<State>> = topo
            .services
            .iter()
            .map(|s| s.instances.iter().map(|_| state(&mut r)).collect())
            .collect();
        // About half the operations have a probe of their own.
        let op_probed: Vec<Vec<Vec<State>>> = topo
            .services
            .iter()
            .map(|s| {
                s.operations
                    .iter()
                    .map(|_| {
                        if r.pct(50) {
                            s.instances.iter().map(|_| state(&mut r)).collect()
                        } else {
                            Vec::new()
                        }
                    })
                    .collect()
            })
            .collect();
        let events: Vec<Event> = if r.pct(25) {
            let all = all_events(&topo);
            (0..=r.below(2))
                .map(|_| all[r.below(all.len())].clone())
                .collect()
        } else {
            Vec::new()
        };
        let a = analyze(
            &topo,
            &Options {
                observed: Some(&probed),
                operations_observed: Some(&op_probed),
                failed: &events,
                blast_radius: BlastDetail::Off,
                ..Options::default()
            },
        )
        .expect("analysis runs");
        let p = Pairs::new(&topo);
        let (observed, eff, causes) = reference(&p, &probed, &op_probed, &events);
        for (s, sa) in a.services.iter().enumerate() {
            assert_eq!(sa.observed, observed[s], "seed {seed}: observed of {s}");
            assert_eq!(sa.effective, eff[s], "seed {seed}: effective of {s}");
            assert_eq!(sa.operations.len(), topo.services[s].operations.len());
            for (o, oa) in sa.operations.iter().enumerate() {
                let k = p.index((s, Some(o)));
                assert_eq!(
                    oa.observed, observed[k],
                    "seed {seed}: observed of {s} ({o})"
                );
                assert_eq!(oa.effective, eff[k], "seed {seed}: effective of {s} ({o})");
            }
        }
        for la in &a.links {
            let link = &topo.links[la.link];
            let want = p.call_state(
                link.entry.get(),
                link.operation.map(OperationIdx::get),
                &eff,
            );
            // A link into every operation with none failed shows no failure either (`up`, or
            // `unknown` when nothing of it was known).
            if failed(want) || failed(la.state) {
                assert_eq!(la.state, want, "seed {seed}: state of link {}", la.link);
            }
        }
        let want = reported(causes);
        assert_eq!(engine_causes(&topo, &a), want, "seed {seed}: root causes");
        op_causes += want
            .iter()
            .filter(|c| c.0.iter().any(|(_, o)| o.is_some()))
            .count();
        op_consequences += want
            .iter()
            .filter(|c| c.3.iter().any(|(_, o)| o.is_some()))
            .count();
    }
    // The generator reaches the interesting cases.
    assert!(with_ops > TOPOLOGIES as usize / 2, "{with_ops}");
    assert!(op_causes > 100, "operations as root causes: {op_causes}");
    assert!(
        op_consequences > 50,
        "operations as consequences: {op_consequences}"
    );
}
