//! Benchmark driver: probes every URL of a fleet once and checks each classification against
//! the ground truth (see `scripts/bench_probe.sh` and ../shared/bench/README.md).
//!
//! usage: probe_fleet FLEET_DIR [CONCURRENCY] [PER_HOST]
//! Reads FLEET_DIR/urls.txt and FLEET_DIR/truth.tsv, builds the topology in code (one service
//! per endpoint, an http probe with timeout 2s, retries 0, slow 10s), probes once, and exits 1
//! if any endpoint is classified wrong.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use linkpatrol::probe::{RunOptions, Selection, run_blocking};
use linkpatrol::state::State;
use linkpatrol::topology::model::{
    Check, Defaults, HttpCheck, HttpExpect, Instance, Probe, RiskSettings, Service, ServiceName,
    Text, Topology,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .ok_or("usage: probe_fleet FLEET_DIR [CONCURRENCY] [PER_HOST]")?;
    let concurrency: usize = args.next().map_or(Ok(256), |s| s.parse())?;
    let per_host: usize = args.next().map_or(Ok(concurrency), |s| s.parse())?;

    let urls = std::fs::read_to_string(format!("{dir}/urls.txt"))?;
    let truth_text = std::fs::read_to_string(format!("{dir}/truth.tsv"))?;
    let truth: HashMap<&str, (&str, &str)> = truth_text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 4).then(|| (f[0], (f[2], f[3])))
        })
        .collect();

    let defaults = Defaults {
        timeout: Duration::from_secs(2),
        retries: 0,
        slow: Duration::from_secs(10),
        concurrency,
        per_host,
        deadline: Duration::from_secs(60),
    };
    let url_list: Vec<&str> = urls.lines().filter(|l| !l.trim().is_empty()).collect();
    let services: Vec<Service> = url_list
        .iter()
        .enumerate()
        .map(|(i, url)| Service {
            name: ServiceName::new(format!("ep-{i:05}")),
            description: None,
            owner: None,
            tags: Vec::new(),
            core: true,
            core_explicit: false,
            instances: vec![Instance {
                id: "0".to_owned(),
                address: None,
                domains: Vec::new(),
                probe: Some(std::sync::Arc::new(Probe {
                    check: Check::Http(HttpCheck {
                        url: Text::plain(*url),
                        method: "GET".to_owned(),
                        headers: Vec::new(),
                        body: None,
                        expect: HttpExpect::default(),
                        max_redirects: 5,
                        tls_verify: true,
                        ca_file: None,
                        cert_min_days: 14,
                        slow_phases: Vec::new(),
                    }),
                    timeout: defaults.timeout,
                    retries: defaults.retries,
                    slow: defaults.slow,
                })),
            }],
            min_healthy: 1,
            depends_on: Vec::new(),
            operations: Vec::new(),
        })
        .collect();
    let topology = Topology::from_parts(
        "fleet",
        defaults,
        Vec::new(),
        services,
        RiskSettings::default(),
    );
    let selected = Selection::all().resolve(&topology)?;

    let start = Instant::now();
    let result = run_blocking(
        &topology,
        &selected,
        &RunOptions::from_defaults(&topology.defaults),
        &mut |_, _| {},
    )?;
    let wall = start.elapsed();

    let mut wrong = 0;
    let mut by_category: HashMap<&str, (usize, usize)> = HashMap::new();
    let mut latencies: HashMap<&str, Vec<Duration>> = HashMap::new();
    for (i, url) in url_list.iter().enumerate() {
        let got = match result.observed[i] {
            State::Up | State::Degraded => "up",
            State::Down => "down",
            State::Unknown => "unknown",
        };
        let (category, expected) = truth.get(url).copied().unwrap_or(("?", "?"));
        if let Some(l) = result.instances[i][0].latency {
            latencies.entry(category).or_default().push(l);
        }
        let entry = by_category.entry(category).or_default();
        entry.0 += 1;
        if got == expected {
            entry.1 += 1;
        } else {
            wrong += 1;
            if wrong <= 10 {
                eprintln!(
                    "wrong: {url} ({category}) expected {expected}, got {got}: {:?}",
                    result.instances[i][0]
                );
            }
        }
    }
    let mut cats: Vec<_> = by_category.into_iter().collect();
    cats.sort_unstable();
    for (cat, (n, right)) in cats {
        let mut l = latencies.remove(cat).unwrap_or_default();
        l.sort_unstable();
        let pct = |p: usize| {
            l.get((l.len() * p / 100).min(l.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        println!(
            "{cat:>8}: {right}/{n} right, latency p50 {:?} p99 {:?} max {:?}",
            pct(50),
            pct(99),
            l.last().copied().unwrap_or_default()
        );
    }
    println!(
        "endpoints: {}  correct: {}  wrong: {wrong}  probe wall: {:.3} s  (concurrency {concurrency}, per host {per_host})",
        url_list.len(),
        url_list.len() - wrong,
        wall.as_secs_f64()
    );
    if wrong > 0 {
        std::process::exit(1);
    }
    Ok(())
}
