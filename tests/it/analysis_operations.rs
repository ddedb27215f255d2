//! Operations (issue 14) against a brute force written over (service, operation) pairs,
//! independently of the engine's expansion into nodes: seeded random topologies whose services
//! have operations, dependencies and links that name an operation (or none: all of them), and
//! the hand cases of the issue.

use std::collections::BTreeSet;

use crate::topo::{Rng, all_events, dep, random_topology};
use linkpatrol::analysis::{BlastDetail, Event, Options, SpofFinding, analyze, parse_events};
use linkpatrol::state::State;
use linkpatrol::topology::model::{
    Dependency, Domain, Operation, OperationIdx, ServiceIdx, Strength, Target, Topology,
};

const TOPOLOGIES: u64 = 1_500;

/// A random topology where about 40% of the services have one to three operations, each with
/// its own dependencies, and half of the calls and links into them name one operation.
#[allow(clippy::needless_range_loop)] // index pairs (s, t) over services
pub fn random_with_operations(seed: u64) -> Topology {
    let mut topo = random_topology(seed, 8);
    let mut r = Rng::new(seed.wrapping_mul(0x9e37_79b9).wrapping_add(14));
    let n = topo.services.len();
    let ops: Vec<usize> = (0..n)
        .map(|_| if r.pct(40) { 1 + r.below(3) } else { 0 })
        .collect();
    let pick = |r: &mut Rng, t: usize| -> Option<OperationIdx> {
        (ops[t] > 0 && r.pct(50)).then(|| OperationIdx(r.below(ops[t]) as u32))
    };
    for s in 0..n {
        for d in &mut topo.services[s].depends_on {
            if let Target::Service(t) = d.target {
                d.operation = pick(&mut r, t.get());
            }
        }
        for o in 0..ops[s] {
            let mut deps: Vec<Dependency> = Vec::new();
            for t in 0..n {
                if t != s && r.pct(30) {
                    let strength = if r.pct(70) {
                        Strength::Strong
                    } else {
                        Strength::Weak
                    };
                    let mut d = dep(
                        &format!("s{t:02}"),
                        strength,
                        Some(200),
                        Target::Service(ServiceIdx(t as u32)),
                    );
                    d.operation = pick(&mut r, t);
                    deps.push(d);
                }
            }
            topo.services[s].operations.push(Operation {
                name: format!("o{o}"),
                description: None,
                depends_on: deps,
                probes: Vec::new(),
            });
        }
    }
    for l in 0..topo.links.len() {
        let e = topo.links[l].entry.get();
        topo.links[l].operation = pick(&mut r, e);
    }
    topo
}

/// Brute force over (service, operation): `(service down, per service its operations down)`
/// when `events` fail. A service is down when too few instances live or a strong dependency of
/// its own is down; an operation when its service is, or a strong dependency of its own is. A
/// call that names no operation of a service with operations needs all of them.
fn brute(topo: &Topology, events: &[&Event]) -> (Vec<bool>, Vec<Vec<bool>>) {
    let n = topo.services.len();
    let dead_inst = |s: usize, i: usize| {
        events.iter().any(|e| match e {
            Event::Instance { service, instance } => service.get() == s && *instance as usize == i,
            Event::Domain(d) => topo.services[s].instances[i].domains.contains(d),
        })
    };
    let mut svc: Vec<bool> = (0..n)
        .map(|s| {
            let alive = (0..topo.services[s].instances.len())
                .filter(|&i| !dead_inst(s, i))
                .count();
            alive < topo.services[s].min_healthy
        })
        .collect();
    let mut op: Vec<Vec<bool>> = topo
        .services
        .iter()
        .map(|s| vec![false; s.operations.len()])
        .collect();
    let target_down = |svc: &[bool], op: &[Vec<bool>], t: ServiceIdx, o: Option<OperationIdx>| {
        if op[t.get()].is_empty() {
            return svc[t.get()];
        }
        match o {
            Some(o) => op[t.get()][o.get()],
            None => op[t.get()].iter().any(|d| *d),
        }
    };
    let dep_down = |svc: &[bool], op: &[Vec<bool>], d: &Dependency| {
        if d.strength != Strength::Strong {
            return false;
        }
        match &d.target {
            Target::Service(t) => target_down(svc, op, *t, d.operation),
            Target::AnyOf { members, min } => {
                members
                    .iter()
                    .filter(|m| !target_down(svc, op, **m, None))
                    .count()
                    < *min
            }
        }
    };
    loop {
        let mut changed = false;
        for s in 0..n {
            if !svc[s]
                && topo.services[s]
                    .depends_on
                    .iter()
                    .any(|d| dep_down(&svc, &op, d))
            {
                svc[s] = true;
                changed = true;
            }
            for o in 0..op[s].len() {
                if !op[s][o]
                    && (svc[s]
                        || topo.services[s].operations[o]
                            .depends_on
                            .iter()
                            .any(|d| dep_down(&svc, &op, d)))
                {
                    op[s][o] = true;
                    changed = true;
                }
            }
        }
        if !changed {
            return (svc, op);
        }
    }
}

fn link_down(topo: &Topology, l: usize, events: &[&Event]) -> bool {
    let (svc, op) = brute(topo, events);
    let link = &topo.links[l];
    let e = link.entry.get();
    if op[e].is_empty() {
        return svc[e];
    }
    match link.operation {
        Some(o) => op[e][o.get()],
        None => op[e].iter().any(|d| *d),
    }
}

/// Services and domains whose single failure (on top of `base`) takes link `l` down.
fn brute_spofs(
    topo: &Topology,
    l: usize,
    base: &[Event],
) -> (BTreeSet<ServiceIdx>, BTreeSet<Domain>) {
    let mut services = BTreeSet::new();
    let mut domains = BTreeSet::new();
    for e in all_events(topo) {
        let mut refs: Vec<&Event> = base.iter().collect();
        refs.push(&e);
        if link_down(topo, l, &refs) {
            match e {
                Event::Instance { service, .. } => {
                    services.insert(service);
                }
                Event::Domain(d) => {
                    domains.insert(d);
                }
            }
        }
    }
    (services, domains)
}

/// Strong reachability over (service, operation), as services.
fn brute_critical_path(topo: &Topology, l: usize) -> Vec<ServiceIdx> {
    let n = topo.services.len();
    let mut seen_svc = vec![false; n];
    let mut seen_op: Vec<Vec<bool>> = topo
        .services
        .iter()
        .map(|s| vec![false; s.operations.len()])
        .collect();
    // (service, operation or none); none on a service with operations = all of them.
    let mut stack: Vec<(usize, Option<usize>)> = vec![(
        topo.links[l].entry.get(),
        topo.links[l].operation.map(OperationIdx::get),
    )];
    while let Some((s, o)) = stack.pop() {
        let svc = &topo.services[s];
        let mut deps: Vec<&Dependency> = Vec::new();
        if !svc.operations.is_empty() {
            let ops: Vec<usize> = match o {
                Some(o) => vec![o],
                None => (0..svc.operations.len()).collect(),
            };
            for o in ops {
                if !std::mem::replace(&mut seen_op[s][o], true) {
                    deps.extend(&svc.operations[o].depends_on);
                }
            }
        }
        if !std::mem::replace(&mut seen_svc[s], true) {
            deps.extend(&svc.depends_on);
        }
        for d in deps {
            if d.strength != Strength::Strong {
                continue;
            }
            match &d.target {
                Target::Service(t) => stack.push((t.get(), d.operation.map(OperationIdx::get))),
                Target::AnyOf { members, .. } => {
                    stack.extend(members.iter().map(|m| (m.get(), None)));
                }
            }
        }
    }
    (0..n)
        .filter(|&s| seen_svc[s])
        .map(|s| ServiceIdx(s as u32))
        .collect()
}

fn engine_spofs(spofs: &[SpofFinding]) -> (BTreeSet<ServiceIdx>, BTreeSet<Domain>) {
    let mut services = BTreeSet::new();
    let mut domains = BTreeSet::new();
    for f in spofs {
        match f {
            SpofFinding::Service { service, path } => {
                assert_eq!(path.last(), Some(service), "a path ends at its SPOF");
                services.insert(*service);
            }
            SpofFinding::Domain { domain, .. } => {
                domains.insert(domain.clone());
            }
        }
    }
    (services, domains)
}

#[test]
fn operations_agree_with_brute_force() {
    let mut with_ops = 0;
    for seed in 0..TOPOLOGIES {
        let topo = random_with_operations(seed);
        if topo.has_operations() {
            with_ops += 1;
        }
        let a = analyze(
            &topo,
            &Options {
                blast_radius: BlastDetail::Full,
                ..Options::default()
            },
        )
        .expect("analysis runs");
        for la in &a.links {
            assert_eq!(
                la.critical_path,
                brute_critical_path(&topo, la.link),
                "seed {seed}: critical path"
            );
            assert_eq!(
                engine_spofs(&la.spofs),
                brute_spofs(&topo, la.link, &[]),
                "seed {seed}: spofs of link {}",
                la.link
            );
        }
        assert_eq!(a.services.len(), topo.services.len());
        for (s, sa) in a.services.iter().enumerate() {
            let all: Vec<Event> = (0..topo.services[s].instances.len())
                .map(|i| Event::Instance {
                    service: ServiceIdx(s as u32),
                    instance: i as u32,
                })
                .collect();
            let refs: Vec<&Event> = all.iter().collect();
            let (svc, op) = brute(&topo, &refs);
            let want: Vec<ServiceIdx> = (0..svc.len())
                .filter(|&t| t != s && (svc[t] || op[t].iter().any(|d| *d)))
                .map(|t| ServiceIdx(t as u32))
                .collect();
            let want_links: Vec<usize> = (0..topo.links.len())
                .filter(|&l| link_down(&topo, l, &refs))
                .collect();
            let br = sa.blast_radius.as_ref().expect("computed");
            assert_eq!(br.links, want_links, "seed {seed}: blast links of {s}");
            assert_eq!(
                br.services.as_ref(),
                Some(&want),
                "seed {seed}: blast of {s}"
            );
            assert_eq!(br.service_count, want.len(), "seed {seed}");
        }
        // What-if: one event failed; link states and live SPOFs.
        let events = all_events(&topo);
        let base = vec![events[seed as usize % events.len()].clone()];
        let refs: Vec<&Event> = base.iter().collect();
        let a = analyze(
            &topo,
            &Options {
                failed: &base,
                ..Options::default()
            },
        )
        .expect("analysis runs");
        for la in &a.links {
            let down = link_down(&topo, la.link, &refs);
            assert_eq!(la.state == State::Down, down, "seed {seed}: what-if state");
            let live = la.live_spofs.as_ref().expect("live with --fail");
            if down {
                assert!(live.is_empty(), "seed {seed}");
            } else {
                assert_eq!(
                    engine_spofs(live),
                    brute_spofs(&topo, la.link, &base),
                    "seed {seed}: live spofs"
                );
            }
        }
    }
    assert!(
        with_ops > TOPOLOGIES / 2,
        "{with_ops} topologies with operations"
    );
}

/// The hand cases, from YAML.
fn load(yaml: &str) -> Topology {
    linkpatrol::topology::load::load_str(yaml, "t.yaml").expect("valid")
}

const BOUTIQUE: &str = "version: 1
name: t
links:
  checkout: { entry: api-gateway }
  browse: { entry: frontend, operation: home }
  whole-frontend: { entry: frontend }
services:
  api-gateway:
    replicas: 2
    depends_on:
      frontend: { strength: strong, operation: checkout }
  frontend:
    replicas: 3
    depends_on: { currency: strong }
    operations:
      home: { depends_on: { catalog: strong, ad: { strength: weak, timeout: 100ms } } }
      cart: { depends_on: { cart: strong } }
      checkout: { depends_on: { checkout: strong } }
  currency: {}
  catalog: {}
  ad: {}
  cart: {}
  checkout: { replicas: 2 }
";

fn spof_text(topo: &Topology, a: &linkpatrol::analysis::Analysis, link: &str) -> Vec<String> {
    let la = a
        .links
        .iter()
        .find(|l| topo.links[l.link].name.as_str() == link)
        .unwrap();
    la.spofs
        .iter()
        .map(|f| match f {
            SpofFinding::Service { path, .. } => path
                .iter()
                .map(|&s| linkpatrol::analysis::operations::node_name(topo, s))
                .collect::<Vec<_>>()
                .join(" → "),
            SpofFinding::Domain { domain, .. } => domain.to_string(),
        })
        .collect()
}

#[test]
fn frontend_with_three_operations_and_three_replicas() {
    let topo = load(BOUTIQUE);
    let a = analyze(&topo, &Options::default()).unwrap();
    // The frontend has spares: one lost pod is one event and takes no operation down.
    assert_eq!(
        spof_text(&topo, &a, "browse"),
        ["frontend (home) → catalog", "frontend (home) → currency"]
    );
    let fe = topo.index_of("frontend").unwrap();
    let fail = parse_events(&topo, "frontend/0").unwrap();
    let b = analyze(
        &topo,
        &Options {
            failed: &fail,
            ..Options::default()
        },
    )
    .unwrap();
    assert!(b.links.iter().all(|l| l.state != State::Down));
    // All three pods: every operation at once, so every link.
    let blast = a.services[fe.get()].blast_radius.as_ref().unwrap();
    assert_eq!(blast.links, [0, 1, 2]);
    assert_eq!(blast.service_count, 1, "api-gateway");
}

#[test]
fn a_dependency_on_one_operation_needs_only_that_operation() {
    let topo = load(BOUTIQUE);
    let a = analyze(&topo, &Options::default()).unwrap();
    // api-gateway calls only checkout: the catalogue and the cart are off its critical path.
    let la = a
        .links
        .iter()
        .find(|l| topo.links[l.link].name.as_str() == "checkout")
        .unwrap();
    let names: Vec<&str> = la
        .critical_path
        .iter()
        .map(|&s| topo.service(s).name.as_str())
        .collect();
    assert_eq!(names, ["api-gateway", "checkout", "currency", "frontend"]);
    assert_eq!(
        spof_text(&topo, &a, "checkout"),
        ["api-gateway → frontend (checkout) → currency"]
    );
    // checkout has a spare; losing both of its instances takes the link down through the
    // frontend's checkout operation, while the home page stays up.
    let fail = parse_events(&topo, "checkout").unwrap();
    let b = analyze(
        &topo,
        &Options {
            failed: &fail,
            ..Options::default()
        },
    )
    .unwrap();
    let state = |name: &str| {
        b.links
            .iter()
            .find(|l| topo.links[l.link].name.as_str() == name)
            .unwrap()
            .state
    };
    assert_eq!(state("checkout"), State::Down);
    assert_eq!(state("browse"), State::Unknown);
}

#[test]
fn a_link_into_a_service_with_operations_naming_none_needs_all_of_them() {
    let topo = load(BOUTIQUE);
    let a = analyze(&topo, &Options::default()).unwrap();
    let la = a
        .links
        .iter()
        .find(|l| topo.links[l.link].name.as_str() == "whole-frontend")
        .unwrap();
    let names: Vec<&str> = la
        .critical_path
        .iter()
        .map(|&s| topo.service(s).name.as_str())
        .collect();
    assert_eq!(
        names,
        ["cart", "catalog", "checkout", "currency", "frontend"]
    );
    assert_eq!(
        spof_text(&topo, &a, "whole-frontend"),
        [
            "frontend (cart) → cart",
            "frontend (home) → catalog",
            "frontend (cart) → currency"
        ]
    );
    // The weak ad call of the home page degrades, never fails, the whole frontend.
    let fail = parse_events(&topo, "ad").unwrap();
    let b = analyze(
        &topo,
        &Options {
            failed: &fail,
            ..Options::default()
        },
    )
    .unwrap();
    assert!(b.links.iter().all(|l| l.state != State::Down));
}

#[test]
fn diff_names_operations_added_removed_and_changed() {
    let old = load(BOUTIQUE);
    let new = load(
        &BOUTIQUE
            .replace(
                "      cart: { depends_on: { cart: strong } }\n",
                "      wishlist: { depends_on: { cart: weak } }\n",
            )
            .replace(
                "checkout: { depends_on: { checkout: strong } }",
                "checkout: { depends_on: { checkout: strong, ad: weak } }",
            ),
    );
    let d = linkpatrol::analysis::diff::diff(&old, &new);
    assert_eq!(d.operations_added, ["frontend (wishlist)"]);
    assert_eq!(d.operations_removed, ["frontend (cart)"]);
    let added: Vec<String> = d
        .edges_added
        .iter()
        .map(|e| format!("{} → {}", e.from, e.to))
        .collect();
    assert_eq!(
        added,
        ["frontend (checkout) → ad", "frontend (wishlist) → cart"]
    );
    let removed: Vec<String> = d
        .edges_removed
        .iter()
        .map(|e| format!("{} → {}", e.from, e.to))
        .collect();
    assert_eq!(removed, ["frontend (cart) → cart"]);
    // Calls that name an operation are edges into it.
    let gw = linkpatrol::analysis::diff::diff(
        &old,
        &load(&BOUTIQUE.replace(
            "operation: checkout }\n  frontend:",
            "operation: home }\n  frontend:",
        )),
    );
    let added: Vec<String> = gw
        .edges_added
        .iter()
        .map(|e| format!("{} → {}", e.from, e.to))
        .collect();
    assert_eq!(added, ["api-gateway → frontend (home)"]);
}

#[test]
fn the_online_boutique_example_keeps_checkout_off_the_ad_service() {
    let topo = linkpatrol::topology::load::load_file(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/topologies/online-boutique.yaml"
    )))
    .expect("the example is valid");
    let a = analyze(&topo, &Options::default()).unwrap();
    let cp = |link: &str| -> Vec<String> {
        let la = a
            .links
            .iter()
            .find(|l| topo.links[l.link].name.as_str() == link)
            .unwrap();
        la.critical_path
            .iter()
            .map(|&s| topo.service(s).name.to_string())
            .collect()
    };
    assert!(!cp("place-order").contains(&"adservice".to_owned()));
    assert!(cp("place-order").contains(&"paymentservice".to_owned()));
    assert!(!cp("browse").contains(&"paymentservice".to_owned()));
    assert_eq!(
        spof_text(&topo, &a, "place-order")[0],
        "frontend (checkout) → checkoutservice → cartservice"
    );
}
