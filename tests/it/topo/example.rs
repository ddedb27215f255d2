//! Topologies and matching reports for the renderer tests and the benchmark.
//!
//! The example is a YAML file read by the real loader; every report here comes from the real
//! analysis and report builder over probe outcomes chosen by the test (fixed for the example,
//! seeded random for generated topologies), exactly as `probe` builds its report.

use std::time::Duration;

use super::{dep, service};
use linkpatrol::probe::ProbeOutcome;
use linkpatrol::report::probed::from_outcomes_at;
use linkpatrol::report::report::Report;
use linkpatrol::state::State;
use linkpatrol::topology::load::load_str;
use linkpatrol::topology::model::{
    Defaults, Domain, Instance, Link, LinkName, RiskSettings, Service, ServiceIdx, Strength,
    Target, Topology,
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

/// What the example's probes found, per service in index order, per instance in file order:
/// (state, latency in ms, reason). `mysql-replica` has no probe.
fn example_outcomes() -> Vec<Vec<ProbeOutcome>> {
    let up = |ms: f64| outcome(State::Up, ms, None);
    vec![
        vec![outcome(State::Down, 0.4, Some("connection refused"))],
        vec![
            up(3.1),
            ProbeOutcome {
                slow: true,
                ..outcome(State::Degraded, 412.0, Some("slow: 412 ms, over 300 ms"))
            },
            up(2.7),
        ],
        vec![up(1.8)],
        vec![],
        vec![up(4.2), up(3.9)],
        vec![
            up(12.5),
            outcome(State::Down, 2000.0, Some("timeout after 2s")),
            up(11.9),
        ],
        vec![up(6.0), up(5.4)],
        vec![up(0.6), up(0.7)],
        vec![outcome(
            State::Down,
            2000.0,
            Some("status 503, expected 200"),
        )],
        vec![up(48.0)],
    ]
}

fn outcome(state: State, ms: f64, reason: Option<&str>) -> ProbeOutcome {
    ProbeOutcome {
        state,
        latency: Some(Duration::from_secs_f64(ms / 1000.0)),
        reason: reason.map(str::to_owned),
        attempts: 1,
        slow: false,
        phases: None,
    }
}

/// The report of a probed topology as the commands build it (`report::probed`), with the
/// analysis to `depth`.
pub fn probed_report(topo: &Topology, outcomes: &[Vec<ProbeOutcome>], depth: u8) -> Report {
    from_outcomes_at(topo, outcomes, &[], depth).expect("the analysis runs")
}

/// The delivery-platform example (`example.yaml`), loaded by the real loader, probed as
/// [`example_outcomes`] says, analysed and reported by the real analysis and report builder.
pub fn example() -> (Topology, Report) {
    let topo = load_str(include_str!("example.yaml"), "tests/it/topo/example.yaml")
        .expect("the example topology is valid");
    let names: Vec<&str> = topo.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, EXAMPLE_SERVICES);
    let report = probed_report(&topo, &example_outcomes(), 2);
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

    // Every instance found up (90 %), degraded, down or unknown; the real analysis does the rest.
    let outcomes: Vec<Vec<ProbeOutcome>> = topo
        .services
        .iter()
        .map(|s| {
            s.instances
                .iter()
                .map(|_| match rng.below(100) {
                    0..=89 => outcome(State::Up, 2.0, None),
                    90..=94 => outcome(State::Degraded, 450.0, Some("slow: 450 ms, over 300 ms")),
                    95..=97 => outcome(State::Down, 0.3, Some("connection refused")),
                    _ => outcome(State::Unknown, 0.0, Some("no answer before the deadline")),
                })
                .collect()
        })
        .collect();
    let report = probed_report(&topo, &outcomes, 1);
    (topo, report)
}
