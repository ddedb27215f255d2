//! Benchmark of the analysis engine on generated topologies (not a test; run in release):
//!
//! ```text
//! cargo run --release --example bench_analysis            # every phase
//! cargo run --release --example bench_analysis -- depth1  # one phase: depth1 | blast | depth2
//! cargo run --release --example bench_analysis -- depth1 --heavy
//! ```
//!
//! Shape of the large topology: 100,000 services in 10 layers of 10,000, about 300,000
//! dependency edges pointing one to three layers deeper (60 % strong, 30 % weak, 10 % any_of
//! members of 2–3, min 1), 50 strong 2-cycles, 50 links whose entries sit in the top layer;
//! 20 % of services run one instance, the rest 2–3 (min_healthy 1 or 2) spread over 3 zones
//! and 10,000 hosts. The N-2 topology has the same shape at 2,000 services.
//!
//! `--heavy`: every edge points to the next layer and 80 % of single edges are strong, so
//! critical paths and kill sets become far larger (a stress test, not a typical system).

use std::time::Instant;

use linkpatrol::analysis::{BlastDetail, Options, SpofFinding, analyze};
use linkpatrol::topology::model::{
    Defaults, Dependency, Domain, Instance, Link, LinkName, RiskSettings, Service, ServiceIdx,
    ServiceName, Strength, Target, Topology,
};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[allow(clippy::many_single_char_names)]
fn generate(n: usize, links: usize, hosts: usize, seed: u64, heavy: bool) -> Topology {
    let mut r = Rng(seed | 1);
    let layers = 10;
    let per = n / layers;
    let layer_of = |i: usize| i / per;
    let mut services: Vec<Service> = Vec::with_capacity(n);
    for i in 0..n {
        let k = if r.below(100) < 20 { 1 } else { 2 + r.below(2) };
        let min = if k == 3 && r.below(2) == 0 { 2 } else { 1 };
        let instances = (0..k)
            .map(|j| Instance {
                id: j.to_string(),
                address: None,
                domains: vec![
                    Domain {
                        key: "host".into(),
                        value: format!("h{:05}", r.below(hosts)),
                    },
                    Domain {
                        key: "zone".into(),
                        value: format!("az{}", 1 + (j + i) % 3),
                    },
                ],
                probe: None,
            })
            .collect();
        let mut depends_on = Vec::new();
        let l = layer_of(i);
        if l + 1 < layers {
            // ~3.33 edges on average from layers 0..9.
            let m = 2 + r.below(3) + usize::from(r.below(3) == 0);
            let mut used = std::collections::BTreeSet::new();
            let mut e = 0;
            while e < m {
                let ahead = if heavy { 1 } else { 3 };
                let tl = (l + 1 + r.below(ahead)).min(layers - 1);
                let roll = r.below(100);
                if roll < 90 {
                    let t = tl * per + r.below(per);
                    if !used.insert(t) {
                        continue;
                    }
                    depends_on.push(Dependency {
                        label: format!("svc-{t:06}"),
                        strength: if roll < if heavy { 80 } else { 60 } {
                            Strength::Strong
                        } else {
                            Strength::Weak
                        },
                        timeout: None,
                        fallback: None,
                        target: Target::Service(ServiceIdx(t as u32)),
                        operation: None,
                    });
                    e += 1;
                } else {
                    let size = 2 + r.below(2);
                    let mut members: Vec<u32> = (0..size)
                        .map(|_| (tl * per + r.below(per)) as u32)
                        .collect();
                    members.sort_unstable();
                    members.dedup();
                    e += members.len();
                    depends_on.push(Dependency {
                        label: format!("group-{e}"),
                        strength: Strength::Strong,
                        timeout: None,
                        fallback: None,
                        target: Target::AnyOf {
                            min: 1,
                            members: members.into_iter().map(ServiceIdx).collect(),
                        },
                        operation: None,
                    });
                }
            }
        }
        services.push(Service {
            name: ServiceName::new(format!("svc-{i:06}")),
            description: None,
            owner: None,
            tags: Vec::new(),
            core: true,
            core_explicit: false,
            instances,
            min_healthy: min,
            depends_on,
            operations: Vec::new(),
        });
    }
    // Strong 2-cycles: reverse 50 strong edges.
    let mut added = 0;
    while added < 50 {
        let u = r.below(n - per);
        let target = services[u].depends_on.iter().find_map(|d| match d.target {
            Target::Service(t) if d.strength == Strength::Strong => Some(t),
            _ => None,
        });
        if let Some(t) = target {
            let back = ServiceName::new(format!("svc-{u:06}"));
            if services[t.get()]
                .depends_on
                .iter()
                .all(|d| d.label != back.as_str())
            {
                services[t.get()].depends_on.push(Dependency {
                    label: back.to_string(),
                    strength: Strength::Strong,
                    timeout: None,
                    fallback: None,
                    target: Target::Service(ServiceIdx(u as u32)),
                    operation: None,
                });
                added += 1;
            }
        }
    }
    let links = (0..links)
        .map(|l| Link {
            name: LinkName::new(format!("link-{l:02}")),
            entry: ServiceIdx((l * (per / links.max(1))) as u32),
            operation: None,
            description: None,
        })
        .collect();
    Topology::from_parts(
        "bench",
        Defaults::default(),
        links,
        services,
        RiskSettings::default(),
    )
}

/// CPU time (user + system) of this process so far, in seconds, from /proc/self/stat (clock
/// ticks of 10 ms). Wall time on a busy machine overstates the cost; this does not.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        f.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    // Fields after the command: state is 0, utime is 11, stime is 12.
    (ticks(11) + ticks(12)) / 100.0
}

fn vm_hwm_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let phase = std::env::args().nth(1).unwrap_or_else(|| "all".into());
    let heavy = std::env::args().any(|a| a == "--heavy");
    if phase == "all" || phase == "depth1" || phase == "blast" {
        let t = Instant::now();
        let topo = generate(100_000, 50, 10_000, 0x5EED, heavy);
        println!(
            "generated {} services, {} edges, {} links, {} instances in {:.2?} (VmHWM {:.0} MiB)",
            topo.services.len(),
            topo.edge_count(),
            topo.links.len(),
            topo.services
                .iter()
                .map(|s| s.instances.len())
                .sum::<usize>(),
            t.elapsed(),
            vm_hwm_mib()
        );
        if phase != "blast" {
            let t = Instant::now();
            let c = cpu_secs();
            let a = analyze(
                &topo,
                &Options {
                    blast_radius: BlastDetail::Off,
                    ..Options::default()
                },
            )
            .expect("analysis runs");
            let el = t.elapsed();
            let cpu = cpu_secs() - c;
            let spofs: usize = a.links.iter().map(|l| l.spofs.len()).sum();
            let svc_spofs: usize = a
                .links
                .iter()
                .flat_map(|l| &l.spofs)
                .filter(|f| matches!(f, SpofFinding::Service { .. }))
                .count();
            let cp: usize = a.links.iter().map(|l| l.critical_path.len()).sum();
            println!(
                "depth 1, 50 links: {el:.2?} wall, {cpu:.2}s CPU; {spofs} SPOFs ({svc_spofs} service), critical paths total {cp}, {} risks; VmHWM {:.0} MiB",
                a.risks.len(),
                vm_hwm_mib()
            );
        }
        if phase != "depth1" {
            let t = Instant::now();
            let c = cpu_secs();
            let a = analyze(&topo, &Options::default()).expect("analysis runs");
            let el = t.elapsed();
            let cpu = cpu_secs() - c;
            let total: usize = a
                .services
                .iter()
                .filter_map(|s| s.blast_radius.as_ref())
                .map(|b| b.service_count)
                .sum();
            let top = a.ranking.first().map(|s| {
                let b = a.services[s.get()].blast_radius.as_ref().unwrap();
                (b.links.len(), b.service_count)
            });
            println!(
                "depth 1 + blast radius of all 100,000 services: {el:.2?} wall, {cpu:.2}s CPU; total blast entries {total}, most critical {top:?}; VmHWM {:.0} MiB",
                vm_hwm_mib()
            );
        }
    }
    if phase == "all" || phase == "depth2" {
        let topo = generate(2_000, 5, 200, 0xD2, heavy);
        let t = Instant::now();
        let c = cpu_secs();
        let a = analyze(
            &topo,
            &Options {
                depth: 2,
                ..Options::default()
            },
        )
        .expect("analysis runs");
        let el = t.elapsed();
        let cpu = cpu_secs() - c;
        let pairs: usize = a
            .links
            .iter()
            .filter_map(|l| l.pairs.as_ref())
            .map(Vec::len)
            .sum();
        println!(
            "depth 2 on {} services / {} edges / {} links: {el:.2?} wall, {cpu:.2}s CPU; {pairs} N-2 findings (capped 50/link); VmHWM {:.0} MiB",
            topo.services.len(),
            topo.edge_count(),
            topo.links.len(),
            vm_hwm_mib()
        );
    }
}
