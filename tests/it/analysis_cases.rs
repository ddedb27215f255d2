//! Hand-checked cases, one per subtle rule of SPEC §2.

use crate::topo::{Dep, build, svc, svc_in};
use linkpatrol::analysis::{Event, Options, PairKind, SpofFinding, analyze, parse_events};
use linkpatrol::state::State;
use linkpatrol::topology::model::{Domain, RiskRule, ServiceIdx, Strength, Topology};

fn name(topo: &Topology, s: ServiceIdx) -> String {
    topo.service(s).name.to_string()
}

/// `(id, path or implied_by)` per SPOF.
type Named = Vec<(String, Vec<String>)>;

/// Service SPOF names with their paths, and domain SPOFs with `implied_by`, of the first link.
fn spofs(topo: &Topology, opts: &Options<'_>) -> (Named, Named) {
    let a = analyze(topo, opts).expect("analysis runs");
    let mut svcs = Vec::new();
    let mut doms = Vec::new();
    for f in &a.links[0].spofs {
        match f {
            SpofFinding::Service { service, path } => svcs.push((
                name(topo, *service),
                path.iter().map(|&s| name(topo, s)).collect(),
            )),
            SpofFinding::Domain { domain, implied_by } => doms.push((
                domain.to_string(),
                implied_by.iter().map(|&s| name(topo, s)).collect(),
            )),
        }
    }
    (svcs, doms)
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn diamond_with_a_shared_strong_dependency() {
    // api → {left, right} (both replicated), both → db (single). Dominators of api would find
    // db too, but articulation-point reasoning over "every path" misses nothing here only by
    // luck; what matters: db is a SPOF, left/right are not.
    let topo = build(
        vec![
            svc("api", 2, 1, vec![Dep::Strong("left"), Dep::Strong("right")]),
            svc("left", 2, 1, vec![Dep::Strong("db")]),
            svc("right", 2, 1, vec![Dep::Strong("db")]),
            svc("db", 1, 1, vec![]),
        ],
        &[("checkout", "api")],
    );
    let (s, d) = spofs(&topo, &Options::default());
    assert_eq!(s, vec![("db".to_owned(), strs(&["api", "left", "db"]))]);
    assert!(d.is_empty());
}

#[test]
fn any_of_whose_members_share_a_dependency() {
    // pay-a and pay-b are alternatives, but both strongly need `vault` (single instance):
    // the group dies with vault, so vault is a SPOF and the members are not.
    let topo = build(
        vec![
            svc(
                "api",
                2,
                1,
                vec![Dep::AnyOf(Strength::Strong, vec!["pay-a", "pay-b"], 1)],
            ),
            svc("pay-a", 1, 1, vec![Dep::Strong("vault")]),
            svc("pay-b", 1, 1, vec![Dep::Strong("vault")]),
            svc("vault", 1, 1, vec![]),
        ],
        &[("pay", "api")],
    );
    let (s, _) = spofs(&topo, &Options::default());
    assert_eq!(
        s,
        vec![("vault".to_owned(), strs(&["api", "pay-a", "vault"]))]
    );
    let a = analyze(&topo, &Options::default()).unwrap();
    let br = a.services[topo.index_of("pay-a").unwrap().get()]
        .blast_radius
        .clone()
        .unwrap();
    assert!(
        br.service_count == 0 && br.links.is_empty(),
        "an alternative alone takes nothing down"
    );
    let vault = a.services[topo.index_of("vault").unwrap().get()]
        .blast_radius
        .clone()
        .unwrap();
    assert_eq!(vault.service_count, 3);
    assert_eq!(vault.links, vec![0]);
}

#[test]
fn all_replicas_in_one_zone_is_a_shared_fate_domain_spof() {
    let topo = build(
        vec![
            svc_in(
                "api",
                vec![vec!["zone=az1", "host=h1"], vec!["zone=az2", "host=h2"]],
                1,
                vec![Dep::Strong("db")],
            ),
            svc_in(
                "db",
                vec![vec!["zone=az1", "host=h3"], vec!["zone=az1", "host=h4"]],
                1,
                vec![],
            ),
        ],
        &[("orders", "api")],
    );
    let (s, d) = spofs(&topo, &Options::default());
    assert!(s.is_empty(), "db has a spare instance");
    assert_eq!(
        d,
        vec![("zone=az1".to_owned(), vec![])],
        "shared fate: implied by nothing"
    );
    let a = analyze(&topo, &Options::default()).unwrap();
    let risk = a
        .risks
        .iter()
        .find(|r| r.rule == RiskRule::Spof)
        .expect("spof risk");
    assert!(risk.message.contains("shared fate"), "{}", risk.message);
}

#[test]
fn domain_spof_implied_by_a_service_spof() {
    let topo = build(
        vec![
            svc_in(
                "api",
                vec![vec!["zone=az1"], vec!["zone=az2"]],
                1,
                vec![Dep::Strong("db")],
            ),
            svc_in("db", vec![vec!["zone=az1"]], 1, vec![]),
        ],
        &[("orders", "api")],
    );
    let (s, d) = spofs(&topo, &Options::default());
    assert_eq!(s, vec![("db".to_owned(), strs(&["api", "db"]))]);
    assert_eq!(d, vec![("zone=az1".to_owned(), strs(&["db"]))]);
}

#[test]
fn strong_cycle_stays_up_until_something_fails() {
    let topo = build(
        vec![
            svc("a", 1, 1, vec![Dep::Strong("b")]),
            svc("b", 2, 1, vec![Dep::Strong("a")]),
            svc("entry", 2, 1, vec![Dep::Strong("a")]),
        ],
        &[("l", "entry")],
    );
    let a = analyze(&topo, &Options::default()).unwrap();
    // Least fixpoint: nothing failed, nothing down.
    assert!(a.services.iter().all(|s| s.effective == State::Unknown));
    let (s, _) = spofs(&topo, &Options::default());
    assert_eq!(s, vec![("a".to_owned(), strs(&["entry", "a"]))]);
    let cycle = a
        .risks
        .iter()
        .find(|r| r.rule == RiskRule::StrongCycle)
        .expect("cycle risk");
    assert_eq!(cycle.message, "strong dependency cycle: a → b → a");
    assert_eq!(cycle.subjects, strs(&["a", "b"]));
    // Failing b's instances takes the whole loop and the entry down.
    let failed = parse_events(&topo, "b").unwrap();
    let a = analyze(
        &topo,
        &Options {
            failed: &failed,
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(a.links[0].state, State::Down);
    assert_eq!(a.links[0].live_spofs, Some(vec![]));
}

#[test]
fn two_of_three_quorum() {
    // raft needs 2 of 3 members alive: no single member is a SPOF; every pair of members is.
    let topo = build(
        vec![
            svc(
                "api",
                2,
                1,
                vec![Dep::AnyOf(Strength::Strong, vec!["n1", "n2", "n3"], 2)],
            ),
            svc("n1", 1, 1, vec![]),
            svc("n2", 1, 1, vec![]),
            svc("n3", 1, 1, vec![]),
        ],
        &[("write", "api")],
    );
    let (s, d) = spofs(&topo, &Options::default());
    assert!(s.is_empty() && d.is_empty());
    let a = analyze(
        &topo,
        &Options {
            depth: 2,
            ..Options::default()
        },
    )
    .unwrap();
    let pairs = a.links[0].pairs.as_ref().unwrap();
    let names: Vec<Vec<String>> = pairs
        .iter()
        .map(|p| p.events.iter().map(|e| e.name(&topo)).collect())
        .collect();
    assert_eq!(
        names,
        vec![
            strs(&["n1/0", "n2/0"]),
            strs(&["n1/0", "n3/0"]),
            strs(&["n2/0", "n3/0"]),
            strs(&["api/0", "api/1"]),
        ]
    );
    assert!(
        pairs[..3]
            .iter()
            .all(|p| p.kind == PairKind::Pair && p.impact == 3)
    );
    assert_eq!(
        pairs[3].kind,
        PairKind::ThinRedundancy,
        "api itself has one spare"
    );
    assert_eq!(pairs[3].impact, 1);
    // One member down: the quorum is now 2 of 2, both survivors are live SPOFs.
    let failed = parse_events(&topo, "n1").unwrap();
    let a = analyze(
        &topo,
        &Options {
            failed: &failed,
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(a.links[0].state, State::Degraded);
    let live: Vec<String> = a.links[0]
        .live_spofs
        .as_ref()
        .unwrap()
        .iter()
        .map(|f| match f {
            SpofFinding::Service { service, .. } => name(&topo, *service),
            SpofFinding::Domain { domain, .. } => domain.to_string(),
        })
        .collect();
    assert_eq!(live, strs(&["n2", "n3"]));
}

#[test]
fn thin_redundancy_folds_instance_pairs() {
    let topo = build(
        vec![
            svc("api", 3, 1, vec![Dep::Strong("db")]),
            svc("db", 2, 1, vec![]),
        ],
        &[("l", "api")],
    );
    let a = analyze(
        &topo,
        &Options {
            depth: 2,
            ..Options::default()
        },
    )
    .unwrap();
    let pairs = a.links[0].pairs.as_ref().unwrap();
    assert_eq!(pairs.len(), 1);
    assert_eq!(pairs[0].kind, PairKind::ThinRedundancy);
    assert_eq!(pairs[0].service, topo.index_of("db"));
    assert_eq!(pairs[0].impact, 2);
}

#[test]
fn effective_state_rules() {
    // strong down → down; weak down → degraded; weak degraded → nothing; unknown → nothing.
    let topo = build(
        vec![
            svc("a", 1, 1, vec![Dep::Strong("x")]),
            svc("b", 1, 1, vec![Dep::Weak("x")]),
            svc("c", 1, 1, vec![Dep::Weak("y")]),
            svc("d", 1, 1, vec![Dep::Strong("y")]),
            svc("e", 1, 1, vec![Dep::Strong("z")]),
            svc("x", 1, 1, vec![]),
            svc("y", 2, 1, vec![]),
            svc("z", 1, 1, vec![]),
        ],
        &[("l", "a")],
    );
    let failed = parse_events(&topo, "x,y/1").unwrap();
    let a = analyze(
        &topo,
        &Options {
            failed: &failed,
            ..Options::default()
        },
    )
    .unwrap();
    let st = |n: &str| a.services[topo.index_of(n).unwrap().get()].effective;
    assert_eq!(st("x"), State::Down);
    assert_eq!(st("a"), State::Down);
    assert_eq!(st("b"), State::Degraded);
    assert_eq!(st("y"), State::Degraded);
    assert_eq!(
        st("c"),
        State::Unknown,
        "a degraded weak dependency changes nothing"
    );
    assert_eq!(st("d"), State::Degraded);
    assert_eq!(st("e"), State::Unknown, "unknown does not propagate");
    assert_eq!(a.links[0].state, State::Down);
    assert_eq!(
        a.assumed_failed
            .unwrap()
            .iter()
            .map(|e| e.name(&topo))
            .collect::<Vec<_>>(),
        strs(&["x/0", "y/1"])
    );
}

#[test]
fn observed_states_from_probes() {
    let topo = build(
        vec![
            svc(
                "api",
                2,
                1,
                vec![Dep::AnyOf(Strength::Strong, vec!["p", "q"], 1)],
            ),
            svc("p", 1, 1, vec![]),
            svc("q", 1, 1, vec![]),
        ],
        &[("l", "api")],
    );
    let observed = vec![
        vec![State::Up, State::Up],
        vec![State::Down],
        vec![State::Up],
    ];
    let a = analyze(
        &topo,
        &Options {
            observed: Some(&observed),
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(a.services[1].observed, State::Down);
    assert_eq!(
        a.services[0].effective,
        State::Degraded,
        "group degraded: a member is not up"
    );
    let live: Vec<String> = a.links[0]
        .live_spofs
        .as_ref()
        .unwrap()
        .iter()
        .map(|f| match f {
            SpofFinding::Service { service, .. } => name(&topo, *service),
            SpofFinding::Domain { domain, .. } => domain.to_string(),
        })
        .collect();
    assert_eq!(
        live,
        strs(&["q"]),
        "the surviving alternative is now a live SPOF"
    );
    assert!(a.links[0].spofs.is_empty());
}

#[test]
fn parse_events_forms_and_suggestions() {
    let topo = build(
        vec![
            svc_in(
                "order-db",
                vec![vec!["zone=az1"], vec!["zone=az2"]],
                1,
                vec![],
            ),
            svc("order-service", 1, 1, vec![Dep::Strong("order-db")]),
        ],
        &[("l", "order-service")],
    );
    let db = topo.index_of("order-db").unwrap();
    assert_eq!(
        parse_events(&topo, "order-db/1, zone=az1").unwrap(),
        vec![
            Event::Instance {
                service: db,
                instance: 1
            },
            Event::Domain(Domain {
                key: "zone".into(),
                value: "az1".into()
            }),
        ]
    );
    assert_eq!(parse_events(&topo, "order-db").unwrap().len(), 2);
    assert_eq!(
        parse_events(&topo, "order-bd").unwrap_err(),
        "unknown service `order-bd`, did you mean `order-db`?"
    );
    assert_eq!(
        parse_events(&topo, "zone=az3").unwrap_err(),
        "unknown failure domain `zone=az3`, did you mean `zone=az1`?"
    );
    assert!(
        parse_events(&topo, "order-db/7")
            .unwrap_err()
            .contains("instances: 0, 1")
    );
    assert!(parse_events(&topo, "order-db,,x").is_err());
    assert_eq!(
        parse_events(&topo, "zzzzzzzz").unwrap_err(),
        "unknown service `zzzzzzzz`"
    );
}

#[test]
fn unknown_link_is_an_error_with_a_suggestion() {
    let topo = build(vec![svc("a", 1, 1, vec![])], &[("orders", "a")]);
    let err = analyze(
        &topo,
        &Options {
            link: Some("ordres"),
            ..Options::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown link `ordres`, did you mean `orders`?"
    );
}

#[test]
fn interchangeable_replicas_give_every_pair() {
    // Two alternatives, each needing both of its two identical replicas: any replica of one
    // plus any replica of the other takes the link down (4 pairs), none alone does.
    let topo = build(
        vec![
            svc(
                "api",
                1,
                1,
                vec![Dep::AnyOf(Strength::Strong, vec!["s", "t"], 1)],
            ),
            svc("s", 2, 2, vec![]),
            svc("t", 2, 2, vec![]),
        ],
        &[("l", "api")],
    );
    let a = analyze(
        &topo,
        &Options {
            depth: 2,
            ..Options::default()
        },
    )
    .unwrap();
    let pairs: Vec<Vec<String>> = a.links[0]
        .pairs
        .as_ref()
        .unwrap()
        .iter()
        .map(|p| p.events.iter().map(|e| e.name(&topo)).collect())
        .collect();
    assert_eq!(
        pairs,
        vec![
            strs(&["s/0", "t/0"]),
            strs(&["s/0", "t/1"]),
            strs(&["s/1", "t/0"]),
            strs(&["s/1", "t/1"]),
        ]
    );
}
