//! The engine against a brute-force reference on thousands of seeded random topologies:
//! critical path, service and domain SPOFs with `implied_by` and paths, the `spof` risks (one
//! per event, naming every link it takes down), blast radius (links, count and, with
//! `BlastDetail::Full`, the list), N-2, `--fail` states and live SPOFs.

use std::collections::{BTreeMap, BTreeSet};

use crate::topo::{
    acyclic, all_events, brute_critical_path, brute_down, brute_states, path_is_valid,
    random_topology,
};
use linkpatrol::analysis::{BlastDetail, Event, Options, PairKind, SpofFinding, analyze};
use linkpatrol::state::State;
use linkpatrol::topology::model::{Domain, RiskRule, ServiceIdx, Topology};

const TOPOLOGIES: u64 = 2_500;

/// Service SPOFs, and domain SPOFs with their `implied_by`.
type SpofSets = (BTreeSet<ServiceIdx>, BTreeSet<(Domain, Vec<ServiceIdx>)>);

/// Brute-force SPOFs of the link at `entry`, with `base` already failed: (services, domains
/// with implied_by). `None` when `base` alone takes the entry down.
fn brute_spofs(topo: &Topology, entry: ServiceIdx, base: &[Event]) -> Option<SpofSets> {
    let base_refs: Vec<&Event> = base.iter().collect();
    if brute_down(topo, &base_refs)[entry.get()] {
        return None;
    }
    let mut services = BTreeSet::new();
    let mut domains = Vec::new();
    for e in all_events(topo) {
        let mut refs = base_refs.clone();
        refs.push(&e);
        if !brute_down(topo, &refs)[entry.get()] {
            continue;
        }
        match e {
            Event::Instance { service, .. } => {
                services.insert(service);
            }
            Event::Domain(d) => domains.push(d),
        }
    }
    let doms = domains
        .into_iter()
        .map(|d| {
            let implied: Vec<ServiceIdx> = services
                .iter()
                .copied()
                .filter(|s| {
                    topo.service(*s)
                        .instances
                        .iter()
                        .any(|i| i.domains.contains(&d))
                })
                .collect();
            (d, implied)
        })
        .collect();
    Some((services, doms))
}

fn engine_spofs(topo: &Topology, entry: ServiceIdx, spofs: &[SpofFinding]) -> SpofSets {
    let mut services = BTreeSet::new();
    let mut domains = BTreeSet::new();
    for f in spofs {
        match f {
            SpofFinding::Service { service, path } => {
                assert!(
                    path_is_valid(topo, path, entry, *service),
                    "bad path {path:?} to {service:?}"
                );
                services.insert(*service);
            }
            SpofFinding::Domain { domain, implied_by } => {
                domains.insert((domain.clone(), implied_by.clone()));
            }
        }
    }
    (services, domains)
}

#[test]
fn engine_agrees_with_brute_force() {
    for seed in 0..TOPOLOGIES {
        // Half of the N-2 seeds without cycles, where pairs come from what each first event
        // adds to the clean kill sets rather than from rebuilt sets.
        let topo = if seed % 8 == 4 {
            acyclic(random_topology(seed, 8))
        } else {
            random_topology(seed, 8)
        };
        let full = seed % 2 == 1;
        let a = analyze(
            &topo,
            &Options {
                depth: u8::from(seed % 4 == 0) + 1,
                pairs_cap: usize::MAX,
                blast_radius: if full {
                    BlastDetail::Full
                } else {
                    BlastDetail::Count
                },
                ..Options::default()
            },
        )
        .expect("analysis runs");
        let events = all_events(&topo);
        // Every SPOF event → the links it takes down, in link (name) order.
        let mut want_risks: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for la in &a.links {
            let entry = topo.links[la.link].entry;
            assert_eq!(
                la.critical_path,
                brute_critical_path(&topo, entry),
                "seed {seed}: critical path"
            );
            assert_eq!(la.state, State::Unknown, "seed {seed}");
            let brute = brute_spofs(&topo, entry, &[]).expect("nothing failed");
            assert_eq!(
                engine_spofs(&topo, entry, &la.spofs),
                brute,
                "seed {seed}: spofs"
            );
            // Service SPOFs have no spare instance.
            for s in &brute.0 {
                assert_eq!(topo.service(*s).spare(), 0, "seed {seed}");
            }
            let link_name = topo.links[la.link].name.to_string();
            let spof_events = brute
                .0
                .iter()
                .map(|&s| topo.service(s).name.to_string())
                .chain(brute.1.iter().map(|(d, _)| d.to_string()));
            for e in spof_events {
                want_risks.entry(e).or_default().push(link_name.clone());
            }
            if let Some(pairs) = &la.pairs {
                let mut want_pairs = BTreeSet::new();
                let mut want_thin = BTreeSet::new();
                let single = |e: &Event| brute_down(&topo, &[e])[entry.get()];
                for (i, e1) in events.iter().enumerate() {
                    if single(e1) {
                        continue;
                    }
                    for e2 in &events[i + 1..] {
                        if single(e2) || !brute_down(&topo, &[e1, e2])[entry.get()] {
                            continue;
                        }
                        match (e1, e2) {
                            (
                                Event::Instance { service: s, .. },
                                Event::Instance { service: t, .. },
                            ) if s == t => {
                                want_thin.insert(*s);
                            }
                            _ => {
                                want_pairs.insert((e1.clone(), e2.clone()));
                            }
                        }
                    }
                }
                let mut got_pairs = BTreeSet::new();
                let mut got_thin = BTreeSet::new();
                for p in pairs {
                    let [a1, a2] = &p.events;
                    let down = brute_down(&topo, &[a1, a2]);
                    assert_eq!(p.impact, down.iter().filter(|d| **d).count(), "seed {seed}");
                    match p.kind {
                        PairKind::ThinRedundancy => {
                            got_thin.insert(p.service.expect("thin names its service"));
                        }
                        PairKind::Pair => {
                            let (x, y) = if a1 < a2 { (a1, a2) } else { (a2, a1) };
                            got_pairs.insert((x.clone(), y.clone()));
                        }
                    }
                }
                assert_eq!(got_thin, want_thin, "seed {seed}: thin redundancy");
                assert_eq!(got_pairs, want_pairs, "seed {seed}: pairs");
                assert!(
                    pairs.windows(2).all(|w| w[0].impact >= w[1].impact),
                    "seed {seed}: sorted by impact"
                );
            }
        }
        for (s, sa) in a.services.iter().enumerate() {
            let all: Vec<Event> = (0..topo.services[s].instances.len())
                .map(|i| Event::Instance {
                    service: ServiceIdx(s as u32),
                    instance: i as u32,
                })
                .collect();
            let refs: Vec<&Event> = all.iter().collect();
            let down = brute_down(&topo, &refs);
            let want: Vec<ServiceIdx> = (0..down.len())
                .filter(|&v| v != s && down[v])
                .map(|v| ServiceIdx(v as u32))
                .collect();
            let want_links: Vec<usize> = (0..topo.links.len())
                .filter(|&l| down[topo.links[l].entry.get()])
                .collect();
            let br = sa.blast_radius.as_ref().expect("computed");
            assert_eq!(
                br.service_count,
                want.len(),
                "seed {seed}: blast count of {s}"
            );
            assert_eq!(
                br.services,
                full.then_some(want),
                "seed {seed}: blast radius of {s}"
            );
            assert_eq!(br.links, want_links, "seed {seed}: blast links of {s}");
        }
        // One `spof` risk per event, its subjects the event then every link it takes down.
        if topo.risks.enabled(RiskRule::Spof) {
            let mut got: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for r in a.risks.iter().filter(|r| r.rule == RiskRule::Spof) {
                let (event, links) = r.subjects.split_first().expect("subjects");
                let old = got.insert(event.clone(), links.to_vec());
                assert!(old.is_none(), "seed {seed}: two spof risks for `{event}`");
            }
            assert_eq!(got, want_risks, "seed {seed}: spof risks");
        }
    }
}

#[test]
fn what_if_and_live_spofs_agree_with_brute_force() {
    for seed in 0..TOPOLOGIES {
        let topo = random_topology(seed + 1_000_000, 7);
        let events = all_events(&topo);
        let mut r = crate::topo::Rng::new(seed);
        let k = 1 + r.below(2);
        let failed: Vec<Event> = (0..k)
            .map(|_| events[r.below(events.len())].clone())
            .collect();
        let a = analyze(
            &topo,
            &Options {
                failed: &failed,
                blast_radius: BlastDetail::Off,
                ..Options::default()
            },
        )
        .expect("analysis runs");
        let refs: Vec<&Event> = failed.iter().collect();
        let down = brute_down(&topo, &refs);
        for (s, sa) in a.services.iter().enumerate() {
            assert_eq!(
                sa.effective == State::Down,
                down[s],
                "seed {seed}: service {s}"
            );
        }
        for la in &a.links {
            let entry = topo.links[la.link].entry;
            assert_eq!(la.state == State::Down, down[entry.get()], "seed {seed}");
            let live = la.live_spofs.as_ref().expect("live spofs with --fail");
            match brute_spofs(&topo, entry, &failed) {
                None => assert!(live.is_empty(), "seed {seed}: link already down"),
                Some(want) => {
                    let mut got = (BTreeSet::new(), BTreeSet::new());
                    for f in live {
                        match f {
                            SpofFinding::Service { service, .. } => {
                                got.0.insert(*service);
                            }
                            SpofFinding::Domain { domain, implied_by } => {
                                got.1.insert(domain.clone());
                                // implied_by: live service SPOFs with an alive instance in it.
                                let refs: Vec<&Event> = failed.iter().collect();
                                let want_implied: Vec<ServiceIdx> = want
                                    .0
                                    .iter()
                                    .copied()
                                    .filter(|s| {
                                        topo.service(*s).instances.iter().enumerate().any(
                                            |(i, inst)| {
                                                inst.domains.contains(domain)
                                                    && !instance_failed(&topo, &refs, *s, i)
                                            },
                                        )
                                    })
                                    .collect();
                                assert_eq!(
                                    implied_by, &want_implied,
                                    "seed {seed}: live implied_by"
                                );
                            }
                        }
                    }
                    let want_domains: BTreeSet<Domain> =
                        want.1.into_iter().map(|(d, _)| d).collect();
                    assert_eq!(got.0, want.0, "seed {seed}: live service spofs");
                    assert_eq!(got.1, want_domains, "seed {seed}: live domain spofs");
                }
            }
        }
    }
}

#[test]
fn probed_states_and_live_spofs_agree_with_brute_force() {
    const KINDS: [State; 4] = [State::Up, State::Up, State::Degraded, State::Down];
    for seed in 0..TOPOLOGIES {
        let topo = random_topology(seed + 7_000_000, 7);
        let mut r = crate::topo::Rng::new(seed ^ 0xABCD);
        let observed: Vec<Vec<State>> = topo
            .services
            .iter()
            .map(|s| {
                s.instances
                    .iter()
                    .map(|_| {
                        if r.pct(15) {
                            State::Unknown
                        } else if r.pct(70) {
                            State::Up
                        } else {
                            KINDS[r.below(4)]
                        }
                    })
                    .collect()
            })
            .collect();
        let a = analyze(
            &topo,
            &Options {
                observed: Some(&observed),
                blast_radius: BlastDetail::Off,
                ..Options::default()
            },
        )
        .expect("analysis runs");
        let want = brute_states(&topo, &observed);
        let got: Vec<State> = a.services.iter().map(|s| s.effective).collect();
        assert_eq!(got, want, "seed {seed}: effective states");
        // Live SPOFs: the down instances are already failed.
        let base: Vec<Event> = topo
            .iter_services()
            .flat_map(|(idx, _)| {
                observed[idx.get()]
                    .iter()
                    .enumerate()
                    .filter(|(_, st)| **st == State::Down)
                    .map(move |(i, _)| Event::Instance {
                        service: idx,
                        instance: i as u32,
                    })
            })
            .collect();
        for la in &a.links {
            let entry = topo.links[la.link].entry;
            assert_eq!(la.state, want[entry.get()], "seed {seed}: link state");
            let live = la.live_spofs.as_ref().expect("live spofs after probing");
            match brute_spofs(&topo, entry, &base) {
                None => assert!(live.is_empty(), "seed {seed}"),
                Some((services, domains)) => {
                    let (gs, gd) = engine_spofs_live(live);
                    assert_eq!(gs, services, "seed {seed}: live service spofs");
                    let domains: BTreeSet<Domain> = domains.into_iter().map(|(d, _)| d).collect();
                    assert_eq!(gd, domains, "seed {seed}: live domain spofs");
                }
            }
        }
    }
}

fn engine_spofs_live(live: &[SpofFinding]) -> (BTreeSet<ServiceIdx>, BTreeSet<Domain>) {
    let mut s = BTreeSet::new();
    let mut d = BTreeSet::new();
    for f in live {
        match f {
            SpofFinding::Service { service, .. } => {
                s.insert(*service);
            }
            SpofFinding::Domain { domain, .. } => {
                d.insert(domain.clone());
            }
        }
    }
    (s, d)
}

/// Whether instance `i` of `s` is taken by one of `events`.
fn instance_failed(topo: &Topology, events: &[&Event], s: ServiceIdx, i: usize) -> bool {
    events.iter().any(|e| match e {
        Event::Instance { service, instance } => *service == s && *instance as usize == i,
        Event::Domain(d) => topo.service(s).instances[i].domains.contains(d),
    })
}
