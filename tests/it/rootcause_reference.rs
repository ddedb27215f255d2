//! Root causes (SPEC §2) against a naive reference on thousands of seeded random topologies
//! with random probe outcomes and random `--fail` events.
//!
//! The reference works from the definition on the topology itself (no engine graph): effective
//! states by repeated sweeps, the "is explained by" relation from each dependency's imposed
//! state, its transitive closure by Floyd–Warshall, root causes as the closed classes of that
//! closure, consequences as everything that reaches one. The engine uses Tarjan and a walk.

use crate::topo::{
    Rng, all_events, brute_effective, brute_imposed, brute_observed, closed_failed_classes, failed,
    hit, random_topology,
};
use linkpatrol::analysis::{Analysis, BlastDetail, Event, Options, RootCauseKind, analyze};
use linkpatrol::state::State;
use linkpatrol::topology::model::{Strength, Target, Topology};

const TOPOLOGIES: u64 = 4_000;

/// `(members, state, assumed, services, links)`, all by index, ascending.
type Cause = (Vec<usize>, State, bool, Vec<usize>, Vec<usize>);

/// The reference: root causes from the definition, sorted like the engine sorts them.
fn reference(topo: &Topology, probed: &[Vec<State>], events: &[Event]) -> Vec<Cause> {
    let n = topo.services.len();
    let observed: Vec<State> = (0..n)
        .map(|s| {
            let states: Vec<State> = (0..topo.services[s].instances.len())
                .map(|i| {
                    if hit(topo, events, s, i) {
                        State::Down
                    } else {
                        probed[s][i]
                    }
                })
                .collect();
            brute_observed(&topo.services[s], &states)
        })
        .collect();
    let assumed: Vec<State> = (0..n)
        .map(|s| {
            let states: Vec<State> = (0..topo.services[s].instances.len())
                .map(|i| {
                    if hit(topo, events, s, i) {
                        State::Down
                    } else {
                        State::Unknown
                    }
                })
                .collect();
            brute_observed(&topo.services[s], &states)
        })
        .collect();
    let eff = brute_effective(topo, &observed);
    let forced: Vec<bool> = (0..n)
        .map(|s| failed(eff[s]) && assumed[s] == eff[s])
        .collect();

    // explains[s][t]: t is a dependency that imposes exactly s's failed state on s.
    let mut reach = vec![vec![false; n]; n];
    for s in 0..n {
        if !failed(eff[s]) {
            continue;
        }
        reach[s][s] = true;
        if forced[s] {
            continue;
        }
        for dep in &topo.services[s].depends_on {
            if brute_imposed(dep, &eff) != eff[s] {
                continue;
            }
            match &dep.target {
                Target::Service(t) => reach[s][t.get()] = true,
                Target::AnyOf { members, min } => {
                    let alive = members
                        .iter()
                        .filter(|m| eff[m.get()] != State::Down)
                        .count();
                    for m in members {
                        let counts = if alive < *min {
                            eff[m.get()] == State::Down
                        } else {
                            failed(eff[m.get()])
                        };
                        if counts {
                            reach[s][m.get()] = true;
                        }
                    }
                }
            }
        }
    }
    let mut out: Vec<Cause> = closed_failed_classes(&mut reach, &eff)
        .into_iter()
        .map(|class| {
            let state = eff[class[0]];
            let members: Vec<usize> = class
                .iter()
                .copied()
                .filter(|&m| observed[m] == state || forced[m])
                .collect();
            assert!(!members.is_empty(), "a closed class has an own failure");
            let services: Vec<usize> = (0..n)
                .filter(|&u| !members.contains(&u) && class.iter().any(|&c| reach[u][c]))
                .collect();
            let links: Vec<usize> = (0..topo.links.len())
                .filter(|&l| {
                    let e = topo.links[l].entry.get();
                    members.contains(&e) || services.contains(&e)
                })
                .collect();
            let all_assumed = members.iter().all(|&m| forced[m]);
            (members, state, all_assumed, services, links)
        })
        .collect();
    out.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then(b.4.len().cmp(&a.4.len()))
            .then(b.3.len().cmp(&a.3.len()))
            .then_with(|| a.0.cmp(&b.0))
    });
    out
}

fn engine(a: &Analysis) -> Vec<Cause> {
    a.root_causes
        .as_ref()
        .expect("computed after probing")
        .iter()
        .map(|c| {
            (
                c.members.iter().map(|m| m.get()).collect(),
                c.state,
                c.assumed,
                c.services.iter().map(|s| s.get()).collect(),
                c.links.clone(),
            )
        })
        .collect()
}

/// SPEC §2 read literally, as a cross-check of the reference: a root cause's member fails on
/// its own, and no strong dependency fails as badly as it does, except through this root cause
/// itself (the rest of its cycle).
fn spec_literal(topo: &Topology, a: &Analysis, seed: u64) {
    for c in a.root_causes.as_ref().expect("computed") {
        for &m in &c.members {
            let sa = &a.services[m.get()];
            assert_eq!(sa.effective, c.state, "seed {seed}");
            if c.assumed {
                continue;
            }
            assert_eq!(
                c.kind == RootCauseKind::Cycle,
                c.members.len() > 1,
                "seed {seed}"
            );
            assert_eq!(sa.observed, c.state, "seed {seed}: own failure");
            // Healing this root cause and what it explains leaves the rest as it is.
            let healed: Vec<State> = a
                .services
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let idx = linkpatrol::topology::model::ServiceIdx(i as u32);
                    if c.members.contains(&idx) || c.services.contains(&idx) {
                        State::Up
                    } else {
                        s.effective
                    }
                })
                .collect();
            for dep in &topo.services[m.get()].depends_on {
                if dep.strength != Strength::Strong {
                    continue;
                }
                assert!(
                    brute_imposed(dep, &healed) < c.state,
                    "seed {seed}: a strong dependency explains root cause {m:?}"
                );
            }
        }
    }
}

#[test]
fn root_causes_agree_with_the_reference() {
    const KINDS: [State; 4] = [State::Up, State::Degraded, State::Down, State::Unknown];
    let mut with_causes = 0;
    let mut cycles = 0;
    let mut assumed = 0;
    for seed in 0..TOPOLOGIES {
        let topo = random_topology(seed + 31_000_000, 8);
        let mut r = Rng::new(seed ^ 0x5EED);
        let probed: Vec<Vec<State>> = topo
            .services
            .iter()
            .map(|s| {
                s.instances
                    .iter()
                    .map(|_| {
                        if r.pct(60) {
                            State::Up
                        } else {
                            KINDS[r.below(4)]
                        }
                    })
                    .collect()
            })
            .collect();
        let events: Vec<Event> = if r.pct(30) {
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
                failed: &events,
                blast_radius: BlastDetail::Off,
                ..Options::default()
            },
        )
        .expect("analysis runs");
        let want = reference(&topo, &probed, &events);
        let got = engine(&a);
        assert_eq!(got, want, "seed {seed}: root causes");
        spec_literal(&topo, &a, seed);
        // Every failed service is a root cause's member or some root cause's consequence, and
        // `because_of` is the inverse of `services`.
        for (s, sa) in a.services.iter().enumerate() {
            let listed: Vec<u32> = (0..want.len() as u32)
                .filter(|&r| want[r as usize].3.contains(&s))
                .collect();
            assert_eq!(sa.because_of, listed, "seed {seed}: because_of of {s}");
            let member = want.iter().any(|c| c.0.contains(&s));
            assert_eq!(
                failed(sa.effective),
                member || !listed.is_empty(),
                "seed {seed}: {s} accounted for"
            );
            assert!(!member || listed.is_empty(), "seed {seed}: {s} both");
        }
        with_causes += usize::from(!want.is_empty());
        cycles += want.iter().filter(|c| c.0.len() > 1).count();
        assumed += want.iter().filter(|c| c.2).count();
    }
    // The generator reaches the interesting cases.
    assert!(with_causes > TOPOLOGIES as usize / 2, "{with_causes}");
    assert!(cycles > 10, "cycles: {cycles}");
    assert!(assumed > 100, "assumed: {assumed}");
}
