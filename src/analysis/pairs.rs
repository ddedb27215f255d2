//! N-2 (`--depth 2`): minimal pairs of events that take a link down while neither does alone.
//!
//! For each candidate first event (every instance and domain touching a critical path) the
//! kill sets are recomputed on the residual system where that event already happened; the
//! entry's kill set there is exactly the set of second events completing a pair. Only the strong
//! ancestors of what the first event touches are recomputed; every other set is the clean
//! system's (tokens are numbered stably so the two mix). Instances of one service with the same
//! domains are interchangeable, so one per class is evaluated. Pairs that contain a single-event
//! SPOF are dropped (not minimal). Two instances of one service fold into one `thin-redundancy`
//! finding. Findings are sorted by impact (services down, descending), then by event names, and
//! capped per link.
//!
//! Cost: per candidate, only its strong ancestors are looked at, and on an acyclic region none
//! of their sets is rebuilt: [`spof::recompute_deltas`] computes what the first event *adds* to
//! each clean set (a handful of tokens where the sets hold thousands), and the entry's addition
//! is exactly its partners. A candidate whose ancestors hold a strong cycle has those sets
//! rebuilt in place in one table that is restored afterwards from an undo log. The impact of a
//! pair is propagated once, whichever links share it. History, `--depth 2` on the 10,000-service
//! files of `scripts/gen_topology.py` (CPU, release build, `scripts/bench_scale.sh`): copying the
//! whole table per candidate, 6.4 s on the catalogue shape; rebuilding the ancestors' sets,
//! 7.2 s on the layered shape (10.8 s on a loaded machine); adding deltas, 3.6 s there on the
//! same loaded machine, and 2.8 s → 1.5 s on the catalogue shape.

use std::collections::BTreeMap;

use crate::analysis::event::{Domains, Event, Instances};
use crate::analysis::graph::Graph;
use crate::analysis::graph::Use;
use crate::analysis::killset::KillRef;
use crate::analysis::propagate::DownPropagator;
use crate::analysis::spof::{self, Delta, Deltas, Plan, Residual, TokenKind};
use crate::analysis::{PairFinding, PairKind};
use crate::topology::model::{ServiceIdx, Strength, Topology};

/// An event in dense form: an instance `(service, position)` or a domain number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Ev {
    Inst(u32, u32),
    Dom(u32),
}

impl Ev {
    fn apply(self, p: &mut DownPropagator<'_>) {
        match self {
            Self::Inst(s, i) => p.fail_instance(s, i),
            Self::Dom(d) => p.fail_domain(d),
        }
    }

    fn to_event(self, domains: &Domains) -> Event {
        match self {
            Self::Inst(s, i) => Event::Instance {
                service: ServiceIdx(s),
                instance: i,
            },
            Self::Dom(d) => Event::Domain(domains.list[d as usize].clone()),
        }
    }
}

/// The N-2 findings of each entry (same order as `entries`).
pub fn pairs(
    topo: &Topology,
    g: &Graph,
    inst: &Instances,
    domains: &Domains,
    entries: &[u32],
    cap: usize,
    service_of: Option<&[u32]>,
) -> Vec<Vec<PairFinding>> {
    let n = g.n;
    let clean = Residual::none(n, inst);
    // Stable tokens let the sets of the clean system be reused under each first event: only
    // the strong ancestors of what the first event touches are recomputed.
    let tokens = spof::stable_tokens(n, domains);
    let plan = Plan::new(g, entries);
    let base = spof::region_kill_sets(topo, g, inst, domains, &clean, &tokens, &plan, None);
    let base_entry = |k: usize| {
        base[entries[k] as usize]
            .as_ref()
            .expect("entries are planned")
    };
    // Is `ev` alone a SPOF of entry k?
    let single = |k: usize, ev: Ev| -> bool {
        let set = base_entry(k);
        match ev {
            Ev::Inst(s, _) => set.contains(tokens.of_service[s as usize]),
            Ev::Dom(d) => set.contains(tokens.domain(d)),
        }
    };
    let region = &plan.region;
    // Candidate first events. Instances of one service with the same domains are
    // interchangeable (swapping them is a symmetry of the model), so only the first of each
    // such class is evaluated; the others get the same partners with the two swapped.
    let mut candidates: Vec<(Ev, Vec<u32>)> = Vec::new();
    for s in 0..n as u32 {
        if !region[s as usize] {
            continue;
        }
        let svc = &topo.services[s as usize];
        let mut classes: Vec<(u32, Vec<u32>)> = Vec::new();
        for (i, instance) in svc.instances.iter().enumerate() {
            match classes
                .iter_mut()
                .find(|(r, _)| svc.instances[*r as usize].domains == instance.domains)
            {
                Some((_, twins)) => twins.push(i as u32),
                None => classes.push((i as u32, Vec::new())),
            }
        }
        for (r, twins) in classes {
            candidates.push((Ev::Inst(s, r), twins));
        }
    }
    for (d, members) in domains.members.iter().enumerate() {
        if members.iter().any(|&(s, _)| region[s as usize]) {
            candidates.push((Ev::Dom(d as u32), Vec::new()));
        }
    }

    // Pairs found per entry, each as (smaller, larger); sorted and deduplicated at the end.
    let mut found: Vec<Vec<(Ev, Ev)>> = vec![Vec::new(); entries.len()];
    let mut prop = DownPropagator::new(topo, g, inst, domains);
    // The clean sets, updated in place per first event and restored after.
    let mut sets = base.clone();
    let mut undo: Vec<(u32, Option<KillRef>)> = Vec::new();
    // What each first event adds to the clean sets (acyclic regions: no set is rebuilt).
    let mut deltas = Deltas::new(n);
    // Visit stamps (the candidate's number) instead of clearing per candidate.
    let mut affected = vec![u32::MAX; n];
    let mut comps: Vec<u32> = Vec::new();
    let mut stack: Vec<u32> = Vec::new();
    let mut record = |k: usize, a: Ev, b: Ev| {
        found[k].push(if a < b { (a, b) } else { (b, a) });
    };
    for (c, (e1, twins)) in candidates.iter().enumerate() {
        let stamp = c as u32;
        let e1 = *e1;
        let live: Vec<usize> = (0..entries.len()).filter(|&k| !single(k, e1)).collect();
        if live.is_empty() {
            continue;
        }
        prop.reset();
        e1.apply(&mut prop);
        prop.propagate();
        // Strong ancestors (in the region) of the services e1 touches, by component.
        comps.clear();
        let hit: &[(u32, u32)] = match e1 {
            Ev::Inst(s, _) => &[(s, 0)][..],
            Ev::Dom(d) => &domains.members[d as usize],
        };
        for &(s, _) in hit {
            if region[s as usize] && affected[s as usize] != stamp {
                affected[s as usize] = stamp;
                stack.push(s);
            }
        }
        while let Some(v) = stack.pop() {
            comps.push(plan.scc_of[v as usize]);
            for use_ in &g.users[v as usize] {
                let u = match *use_ {
                    Use::Strong(u) => u,
                    Use::Member(gid) if g.groups[gid as usize].strength == Strength::Strong => {
                        g.groups[gid as usize].owner
                    }
                    _ => continue,
                };
                if region[u as usize] && affected[u as usize] != stamp {
                    affected[u as usize] = stamp;
                    stack.push(u);
                }
            }
        }
        comps.sort_unstable();
        comps.dedup();
        let failed = (prop.dead_instances(), prop.down_mask());
        let by_delta = spof::recompute_deltas(
            topo,
            g,
            inst,
            domains,
            failed,
            &tokens,
            &plan,
            &comps,
            &base,
            &mut deltas,
        );
        if !by_delta {
            spof::recompute_in_place(
                topo, g, inst, domains, failed, &tokens, &plan, &comps, &mut sets, &mut undo,
            );
        }
        for &k in &live {
            let entry = entries[k] as usize;
            if affected[entry] != stamp {
                // Nothing below the entry changed: its set is the clean one, all singles.
                continue;
            }
            // Second events: what kills the entry now and did not alone (those are SPOFs, and
            // a pair holding one is not minimal). Kill sets only grow with what has failed.
            let mut partners: Vec<Ev> = Vec::new();
            let mut partner = |t: u32| match tokens.decode(t) {
                TokenKind::Service(s) => partners.extend(
                    inst.range(s)
                        .enumerate()
                        .filter(|&(_, f)| !prop.dead_instances()[f])
                        .map(|(i, _)| Ev::Inst(s, i as u32)),
                ),
                TokenKind::Domain(d) => partners.push(Ev::Dom(d)),
            };
            if by_delta {
                match deltas.get(entries[k]) {
                    Some(Delta::Tokens(added)) => added.iter().for_each(|&t| partner(t)),
                    // The entry is not down under e1 alone (it is live).
                    Some(Delta::Down) | None => continue,
                }
            } else {
                let set = sets[entry].as_ref().expect("entries are planned");
                let clean = base_entry(k);
                if std::sync::Arc::ptr_eq(set, clean) {
                    continue;
                }
                set.for_each_not_in(clean, partner);
            }
            partners.retain(|&e2| e2 != e1);
            for &e2 in &partners {
                record(k, e1, e2);
            }
            if let Ev::Inst(s, r) = e1 {
                for &m in twins {
                    let twin = Ev::Inst(s, m);
                    for &e2 in &partners {
                        let e2 = if e2 == twin { Ev::Inst(s, r) } else { e2 };
                        record(k, twin, e2);
                    }
                }
            }
        }
        for (v, old) in undo.drain(..).rev() {
            sets[v as usize] = old;
        }
    }

    // The impact of a pair does not depend on the link: many links share most pairs, so each
    // pair is propagated once.
    let mut impacts: foldhash::HashMap<(Ev, Ev), usize> = foldhash::HashMap::default();
    found
        .into_iter()
        .map(|mut set| {
            set.sort_unstable();
            set.dedup();
            let mut thin: BTreeMap<u32, (Ev, Ev)> = BTreeMap::new();
            let mut list: Vec<(PairKind, (Ev, Ev), Option<u32>)> = Vec::new();
            for (a, b) in set {
                match (a, b) {
                    (Ev::Inst(s, _), Ev::Inst(t, _)) if s == t => {
                        thin.entry(s).or_insert((a, b));
                    }
                    _ => list.push((PairKind::Pair, (a, b), None)),
                }
            }
            for (s, pair) in thin {
                list.push((PairKind::ThinRedundancy, pair, Some(s)));
            }
            let mut findings: Vec<(PairFinding, Vec<String>)> = list
                .into_iter()
                .map(|(kind, (a, b), svc)| {
                    let impact = *impacts.entry((a, b)).or_insert_with(|| {
                        prop.reset();
                        a.apply(&mut prop);
                        b.apply(&mut prop);
                        prop.propagate();
                        match service_of {
                            None => prop.down_list().len(),
                            Some(map) => {
                                let mut down: Vec<u32> =
                                    prop.down_list().iter().map(|&v| map[v as usize]).collect();
                                down.sort_unstable();
                                down.dedup();
                                down.len()
                            }
                        }
                    });
                    let f = PairFinding {
                        kind,
                        events: [a.to_event(domains), b.to_event(domains)],
                        service: svc.map(ServiceIdx),
                        impact,
                    };
                    let key = match svc {
                        Some(s) => vec![topo.services[s as usize].name.to_string()],
                        None => vec![f.events[0].name(topo), f.events[1].name(topo)],
                    };
                    (f, key)
                })
                .collect();
            findings.sort_by(|x, y| y.0.impact.cmp(&x.0.impact).then_with(|| x.1.cmp(&y.1)));
            findings.truncate(cap);
            findings.into_iter().map(|(f, _)| f).collect()
        })
        .collect()
}
