//! Topologies and matching reports built in code, for the renderer tests and the benchmark.
//!
//! Reports here are written by hand (the example) or by a simple stand-in (generated topologies:
//! critical path by strong reachability, single-instance services on it as SPOFs). They only
//! have to be plausible pictures.

use super::{dep, service};
use linkpatrol::report::report::{
    BlastRadius, LinkReport, ProbeResult, Report, RiskReport, ServiceReport, Spof, SpofKind,
    SpofPair,
};
use linkpatrol::state::State;
use linkpatrol::topology::model::{
    Defaults, Domain, Instance, Link, LinkName, RiskRule, RiskSettings, Service, ServiceIdx,
    Severity, Strength, Target, Topology,
};

fn inst(id: &str, zone: &str, host: &str, labels: &[(&str, &str)]) -> Instance {
    let mut domains = vec![
        Domain {
            key: "zone".into(),
            value: zone.into(),
        },
        Domain {
            key: "host".into(),
            value: host.into(),
        },
    ];
    let mut l: Vec<Domain> = labels
        .iter()
        .map(|(k, v)| Domain {
            key: (*k).into(),
            value: (*v).into(),
        })
        .collect();
    l.sort();
    domains.extend(l);
    Instance {
        id: id.into(),
        address: Some(format!("127.0.0.1:{}", 18000 + id.len())),
        domains,
        probe: None,
    }
}

/// A service of the example: owned by `owner`, with no dependencies yet.
fn owned_service(name: &str, owner: &str, instances: Vec<Instance>, min: usize) -> Service {
    Service {
        owner: Some(owner.into()),
        ..service(name, instances, min)
    }
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).to_owned()).collect()
}

fn probe(instance: &str, state: State, ms: f64, reason: Option<&str>) -> ProbeResult {
    ProbeResult {
        instance: instance.into(),
        ok: state.is_alive(),
        state,
        latency_ms: Some(ms),
        reason: reason.map(str::to_owned),
        phases: None,
    }
}

/// Names of the example's services, in index order.
pub const EXAMPLE_SERVICES: [&str; 10] = [
    "analytics",
    "mq",
    "mysql-primary",
    "mysql-replica",
    "order-gateway",
    "order-service",
    "platform-callback",
    "redis",
    "sms-a",
    "sms-b",
];

/// The delivery-platform example: platform-callback → order-gateway → order-service → mysql
/// primary/replica, redis, mq; sms `any_of` of sms-a/sms-b; analytics weak. One service SPOF
/// (mysql-primary), one domain SPOF implied by it (zone=az1), one with empty `implied_by`
/// (rack=r7: both redis instances share a rack), order-service at risk (2 of 3 alive, min 2).
pub fn example() -> (Topology, Report) {
    let idx =
        |name: &str| ServiceIdx(EXAMPLE_SERVICES.iter().position(|n| *n == name).unwrap() as u32);
    let mut analytics = owned_service(
        "analytics",
        "data-team",
        vec![inst("0", "az2", "an-1", &[])],
        1,
    );
    analytics.description = Some("Order analytics pipeline".into());
    analytics.core = false;
    let mq = owned_service(
        "mq",
        "platform-team",
        vec![
            inst("mq-1", "az1", "mq-1", &[]),
            inst("mq-2", "az2", "mq-2", &[]),
            inst("mq-3", "az3", "mq-3", &[]),
        ],
        2,
    );
    let primary = owned_service(
        "mysql-primary",
        "dba-team",
        vec![inst("0", "az1", "db-1", &[])],
        1,
    );
    let replica = owned_service(
        "mysql-replica",
        "dba-team",
        vec![inst("0", "az2", "db-2", &[])],
        1,
    );
    let mut gateway = owned_service(
        "order-gateway",
        "order-team",
        vec![
            inst("gw-1", "az1", "gw-1", &[]),
            inst("gw-2", "az2", "gw-2", &[]),
        ],
        1,
    );
    gateway.depends_on.push(dep(
        "order-service",
        Strength::Strong,
        Some(2000),
        Target::Service(idx("order-service")),
    ));
    let mut order = owned_service(
        "order-service",
        "order-team",
        vec![
            inst("os-1", "az1", "os-1", &[]),
            inst("os-2", "az2", "os-2", &[]),
            inst("os-3", "az3", "os-3", &[]),
        ],
        2,
    );
    order.description = Some("Accepts and stores orders".into());
    order.depends_on = vec![
        dep(
            "mysql-primary",
            Strength::Strong,
            Some(500),
            Target::Service(idx("mysql-primary")),
        ),
        dep(
            "db-read",
            Strength::Strong,
            Some(300),
            Target::AnyOf {
                members: vec![idx("mysql-primary"), idx("mysql-replica")],
                min: 1,
            },
        ),
        dep(
            "redis",
            Strength::Strong,
            Some(100),
            Target::Service(idx("redis")),
        ),
        dep("mq", Strength::Strong, None, Target::Service(idx("mq"))),
        dep(
            "analytics",
            Strength::Weak,
            None,
            Target::Service(idx("analytics")),
        ),
        dep(
            "sms",
            Strength::Weak,
            Some(800),
            Target::AnyOf {
                members: vec![idx("sms-a"), idx("sms-b")],
                min: 1,
            },
        ),
    ];
    let mut callback = owned_service(
        "platform-callback",
        "order-team",
        vec![
            inst("cb-1", "az1", "edge-1", &[]),
            inst("cb-2", "az2", "edge-2", &[]),
        ],
        1,
    );
    callback.description = Some("Receives order callbacks from the delivery platform".into());
    callback.depends_on.push(dep(
        "order-gateway",
        Strength::Strong,
        Some(3000),
        Target::Service(idx("order-gateway")),
    ));
    let redis = owned_service(
        "redis",
        "platform-team",
        vec![
            inst("r-1", "az1", "cache-1", &[("rack", "r7")]),
            inst("r-2", "az2", "cache-2", &[("rack", "r7")]),
        ],
        1,
    );
    let sms_a = owned_service(
        "sms-a",
        "notify-team",
        vec![inst("0", "az1", "sms-a", &[])],
        1,
    );
    let sms_b = owned_service(
        "sms-b",
        "notify-team",
        vec![inst("0", "az2", "sms-b", &[])],
        1,
    );
    let services = vec![
        analytics, mq, primary, replica, gateway, order, callback, redis, sms_a, sms_b,
    ];
    let topo = Topology::from_parts(
        "takeaway-isv",
        Defaults::default(),
        vec![
            Link {
                name: LinkName::new("order-acceptance"),
                entry: idx("platform-callback"),
                operation: None,
                description: Some(
                    "The platform pushes an order; the merchant must be able to accept it.".into(),
                ),
            },
            Link {
                name: LinkName::new("order-status"),
                entry: idx("order-gateway"),
                operation: None,
                description: Some("Merchants query the state of an order.".into()),
            },
        ],
        services,
        RiskSettings::default(),
    );

    let acceptance_path = s(&[
        "mq",
        "mysql-primary",
        "mysql-replica",
        "order-gateway",
        "order-service",
        "platform-callback",
        "redis",
    ]);
    let status_path = s(&[
        "mq",
        "mysql-primary",
        "mysql-replica",
        "order-gateway",
        "order-service",
        "redis",
    ]);
    let spofs = |entry_path: &[&str]| {
        vec![
            Spof {
                kind: SpofKind::Service,
                id: "mysql-primary".into(),
                path: Some(s(entry_path)),
                implied_by: None,
            },
            Spof {
                kind: SpofKind::Domain,
                id: "rack=r7".into(),
                path: None,
                implied_by: Some(vec![]),
            },
            Spof {
                kind: SpofKind::Domain,
                id: "zone=az1".into(),
                path: None,
                implied_by: Some(s(&["mysql-primary"])),
            },
        ]
    };
    let live = |entry_path: &[&str]| {
        let mut v = spofs(entry_path);
        let order_path = &entry_path[..entry_path.len() - 1];
        v.insert(
            1,
            Spof {
                kind: SpofKind::Service,
                id: "order-service".into(),
                path: Some(s(order_path)),
                implied_by: None,
            },
        );
        v
    };
    let links = vec![
        LinkReport {
            name: "order-acceptance".into(),
            entry: "platform-callback".into(),
            operation: None,
            state: State::Degraded,
            critical_path: acceptance_path,
            spofs: spofs(&[
                "platform-callback",
                "order-gateway",
                "order-service",
                "mysql-primary",
            ]),
            live_spofs: Some(live(&[
                "platform-callback",
                "order-gateway",
                "order-service",
                "mysql-primary",
            ])),
            pairs: Some(vec![
                SpofPair {
                    events: s(&["order-service"]),
                    kind: "thin-redundancy".into(),
                    impact: 3,
                },
                SpofPair {
                    events: s(&["zone=az2", "zone=az3"]),
                    kind: "pair".into(),
                    impact: 5,
                },
            ]),
        },
        LinkReport {
            name: "order-status".into(),
            entry: "order-gateway".into(),
            operation: None,
            state: State::Degraded,
            critical_path: status_path,
            spofs: spofs(&["order-gateway", "order-service", "mysql-primary"]),
            live_spofs: Some(live(&["order-gateway", "order-service", "mysql-primary"])),
            pairs: None,
        },
    ];
    let up = |id: &str, ms: f64| probe(id, State::Up, ms, None);
    let svc = |id: &str,
               observed: State,
               effective: State,
               upstream: &[&str],
               downstream: &[&str],
               blast: (&[&str], &[&str]),
               probes: Option<Vec<ProbeResult>>| ServiceReport {
        id: id.into(),
        observed,
        effective,
        upstream: s(upstream),
        downstream: s(downstream),
        blast_radius: BlastRadius {
            links: s(blast.0),
            service_count: blast.1.len(),
            services: None,
        },
        probes,
        because_of: Vec::new(),
        operations: Vec::new(),
    };
    let all_up = ["order-gateway", "order-service", "platform-callback"];
    let services = vec![
        svc(
            "analytics",
            State::Down,
            State::Down,
            &["order-service"],
            &[],
            (&[], &[]),
            Some(vec![probe(
                "0",
                State::Down,
                0.4,
                Some("connection refused"),
            )]),
        ),
        svc(
            "mq",
            State::Degraded,
            State::Degraded,
            &["order-service"],
            &[],
            (&["order-acceptance", "order-status"], &all_up),
            Some(vec![
                up("mq-1", 3.1),
                probe(
                    "mq-2",
                    State::Degraded,
                    412.0,
                    Some("slow: 412 ms, over 300 ms"),
                ),
                up("mq-3", 2.7),
            ]),
        ),
        svc(
            "mysql-primary",
            State::Up,
            State::Up,
            &["order-service"],
            &[],
            (&["order-acceptance", "order-status"], &all_up),
            Some(vec![up("0", 1.8)]),
        ),
        svc(
            "mysql-replica",
            State::Unknown,
            State::Unknown,
            &["order-service"],
            &[],
            (&[], &[]),
            None,
        ),
        svc(
            "order-gateway",
            State::Up,
            State::Degraded,
            &["platform-callback"],
            &["order-service"],
            (
                &["order-acceptance", "order-status"],
                &["platform-callback"],
            ),
            Some(vec![up("gw-1", 4.2), up("gw-2", 3.9)]),
        ),
        svc(
            "order-service",
            State::Degraded,
            State::Degraded,
            &["order-gateway"],
            &[
                "analytics",
                "mq",
                "mysql-primary",
                "mysql-replica",
                "redis",
                "sms-a",
                "sms-b",
            ],
            (
                &["order-acceptance", "order-status"],
                &["order-gateway", "platform-callback"],
            ),
            Some(vec![
                up("os-1", 12.5),
                probe("os-2", State::Down, 2000.0, Some("timeout after 2s")),
                up("os-3", 11.9),
            ]),
        ),
        svc(
            "platform-callback",
            State::Up,
            State::Degraded,
            &[],
            &["order-gateway"],
            (&["order-acceptance"], &[]),
            Some(vec![up("cb-1", 6.0), up("cb-2", 5.4)]),
        ),
        svc(
            "redis",
            State::Up,
            State::Up,
            &["order-service"],
            &[],
            (&["order-acceptance", "order-status"], &all_up),
            Some(vec![up("r-1", 0.6), up("r-2", 0.7)]),
        ),
        svc(
            "sms-a",
            State::Down,
            State::Down,
            &["order-service"],
            &[],
            (&[], &[]),
            Some(vec![probe(
                "0",
                State::Down,
                2000.0,
                Some("status 503, expected 200"),
            )]),
        ),
        svc(
            "sms-b",
            State::Up,
            State::Up,
            &["order-service"],
            &[],
            (&[], &[]),
            Some(vec![up("0", 48.0)]),
        ),
    ];
    let risks = vec![
        RiskReport {
            rule: RiskRule::Spof,
            severity: Severity::Error,
            subjects: s(&["mysql-primary"]),
            message: "a failure of `mysql-primary` alone takes down order-acceptance, order-status"
                .into(),
            hint:
                "add a standby instance in another zone, or a replica the service can fail over to"
                    .into(),
        },
        RiskReport {
            rule: RiskRule::NoncoreOnCriticalPath,
            severity: Severity::Warning,
            subjects: s(&["analytics"]),
            message: "`analytics` is marked `core: false` but `order-service` calls it".into(),
            hint: "keep it weak with a timeout, or call it asynchronously".into(),
        },
        RiskReport {
            rule: RiskRule::UnprobedCritical,
            severity: Severity::Warning,
            subjects: s(&["mysql-replica"]),
            message:
                "`mysql-replica` is on the critical path of order-acceptance and nothing probes it"
                    .into(),
            hint: "add a `mysql` probe".into(),
        },
        RiskReport {
            rule: RiskRule::WeakWithoutTimeout,
            severity: Severity::Warning,
            subjects: s(&["order-service", "analytics"]),
            message:
                "weak dependency `order-service` → `analytics` has no timeout <and> no fallback"
                    .into(),
            hint: "set `timeout:` so a slow `analytics` cannot stall `order-service`".into(),
        },
    ];
    let report = Report {
        topology: "takeaway-isv".into(),
        root_causes: None,
        links,
        services,
        risks,
        assumed_failed: None,
        run: None,
        since_last: None,
        history: None,
        shard: None,
    };
    (topo, report)
}

/// A tiny deterministic generator (64-bit LCG), so tests need no RNG crate.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A layered topology of `n` services (`svc-00000` …) with about two edges per service, three
/// links, 23 owners, and a plausible report (random states, strong reachability as critical
/// path, single-instance services on it as SPOFs).
pub fn generate(n: usize, seed: u64) -> (Topology, Report) {
    assert!(n >= 10);
    let mut rng = Lcg(seed);
    let name = |i: usize| format!("svc-{i:05}");
    let zones = ["az1", "az2", "az3"];
    let mut services = Vec::with_capacity(n);
    for i in 0..n {
        // The first entry has one instance, so every generated topology has a SPOF.
        let count = if i == 0 { 1 } else { 1 + rng.below(3) as usize };
        let instances = (0..count)
            .map(|k| {
                inst(
                    &k.to_string(),
                    zones[(i + k) % 3],
                    &format!("h{}", rng.below(500)),
                    &[],
                )
            })
            .collect();
        let mut svc = owned_service(&name(i), &format!("team-{:02}", i % 23), instances, 1);
        svc.tags = vec![format!("tier-{}", i % 4)];
        // Dependencies point forward only, so the graph is acyclic.
        let window = (n - i - 1).min(60) as u64;
        if window > 0 {
            let edges = 1 + rng.below(3);
            for e in 0..edges {
                let t = i + 1 + rng.below(window) as usize;
                if svc
                    .depends_on
                    .iter()
                    .any(|d| d.targets().contains(&ServiceIdx(t as u32)))
                {
                    continue;
                }
                let strength = if rng.below(100) < 55 {
                    Strength::Strong
                } else {
                    Strength::Weak
                };
                let timeout = (rng.below(2) == 0).then_some(200 + 100 * rng.below(10));
                if e == 2 && window > 2 {
                    let t2 = if t + 1 < n { t + 1 } else { t - 1 };
                    if t2 != t && t2 > i {
                        svc.depends_on.push(dep(
                            &format!("grp-{i}"),
                            strength,
                            timeout,
                            Target::AnyOf {
                                members: vec![ServiceIdx(t as u32), ServiceIdx(t2 as u32)],
                                min: 1,
                            },
                        ));
                        continue;
                    }
                }
                svc.depends_on.push(dep(
                    &name(t),
                    strength,
                    timeout,
                    Target::Service(ServiceIdx(t as u32)),
                ));
            }
        }
        services.push(svc);
    }
    let entries = [0usize, 1, 2];
    let links: Vec<Link> = entries
        .iter()
        .map(|&e| Link {
            name: LinkName::new(format!("link-{e}")),
            entry: ServiceIdx(e as u32),
            operation: None,
            description: None,
        })
        .collect();
    let topo = Topology::from_parts(
        "generated",
        Defaults::default(),
        links,
        services,
        RiskSettings::default(),
    );

    let states: Vec<State> = (0..n)
        .map(|_| match rng.below(100) {
            0..=89 => State::Up,
            90..=94 => State::Degraded,
            95..=97 => State::Down,
            _ => State::Unknown,
        })
        .collect();
    let mut link_reports = Vec::new();
    for &e in &entries {
        let mut reached = vec![false; n];
        let mut parent = vec![usize::MAX; n];
        let mut stack = vec![e];
        reached[e] = true;
        while let Some(i) = stack.pop() {
            for d in &topo.services[i].depends_on {
                if d.strength == Strength::Strong {
                    for t in d.targets() {
                        if !reached[t.get()] {
                            reached[t.get()] = true;
                            parent[t.get()] = i;
                            stack.push(t.get());
                        }
                    }
                }
            }
        }
        let path_to = |mut i: usize| {
            let mut p = vec![name(i)];
            while parent[i] != usize::MAX {
                i = parent[i];
                p.push(name(i));
            }
            p.reverse();
            p
        };
        let critical: Vec<usize> = (0..n).filter(|&i| reached[i]).collect();
        let spofs = critical
            .iter()
            .filter(|&&i| topo.services[i].instances.len() == 1)
            .map(|&i| Spof {
                kind: SpofKind::Service,
                id: name(i),
                path: Some(path_to(i)),
                implied_by: None,
            })
            .collect();
        link_reports.push(LinkReport {
            name: format!("link-{e}"),
            entry: name(e),
            operation: None,
            state: critical
                .iter()
                .map(|&i| states[i])
                .max()
                .unwrap_or(State::Up),
            critical_path: critical.iter().map(|&i| name(i)).collect(),
            spofs,
            live_spofs: None,
            pairs: None,
        });
    }
    let services = (0..n)
        .map(|i| ServiceReport {
            id: name(i),
            observed: states[i],
            effective: states[i],
            upstream: Vec::new(),
            downstream: Vec::new(),
            blast_radius: BlastRadius::default(),
            probes: None,
            because_of: Vec::new(),
            operations: Vec::new(),
        })
        .collect();
    let report = Report {
        topology: "generated".into(),
        root_causes: None,
        links: link_reports,
        services,
        risks: Vec::new(),
        assumed_failed: None,
        run: None,
        since_last: None,
        history: None,
        shard: None,
    };
    (topo, report)
}
