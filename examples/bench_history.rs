//! History benchmark: fills a history database with RUNS inspection runs of 100 probes (100
//! services with one instance each, 10 links), one run a minute ending now, then times the
//! queries `inspect` makes at the end of every run: `history` (availability and p50/p95 per link
//! and service over 24 h and 7 d) and `since_last`. Run by scripts/bench_inspect.sh.
//!
//! usage: bench_history [DIR=/dev/shm/lp-bench-history] [RUNS=10000]
//!
//! RUNS=0 keeps the database already in DIR (opening it upgrades an older schema, and the time
//! that takes is printed), so a query change can be measured without filling it again.
//!
//! The database is filled on tmpfs when DIR is there (10,000 synced transactions on a disk
//! measure the disk, not the queries); the queries then run on the finished file.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use linkpatrol::history::{RunRecord, Store, trends};
use linkpatrol::report::report::ProbeResult;
use linkpatrol::report::timestamp::UtcTime;
use linkpatrol::state::State;

const SERVICES: usize = 100;
const LINKS: usize = 10;

fn topology() -> String {
    use std::fmt::Write as _;
    let mut y = String::from("version: 1\nname: bench-history\nlinks:\n");
    for l in 0..LINKS {
        let _ = writeln!(y, "  link-{l:02}: {{ entry: svc-{:03} }}", l * 10);
    }
    y.push_str("services:\n");
    for s in 0..SERVICES {
        let _ = writeln!(y, "  svc-{s:03}:\n    replicas: 1");
        if s % 10 != 9 {
            let _ = writeln!(y, "    depends_on: {{ svc-{:03}: strong }}", s + 1);
        }
    }
    y
}

/// A small deterministic generator, so runs are repeatable without an RNG crate.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "/dev/shm/lp-bench-history".to_owned()),
    );
    let runs: usize = args.next().map_or(10_000, |s| s.parse().expect("RUNS"));
    let path = dir.join("history.sqlite");
    if runs == 0 {
        let t = Instant::now();
        drop(Store::open(&path).unwrap());
        println!(
            "opened (and upgraded) the existing {} in {:.1} ms",
            path.display(),
            t.elapsed().as_secs_f64() * 1e3
        );
    } else {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
    }

    let topo = linkpatrol::topology::load::load_str(&topology(), "bench.yaml").unwrap();
    let mut rng = Lcg(7);
    let now = UtcTime::now();
    let mut store = Store::open(&path).unwrap();
    let fill = Instant::now();
    for run in 0..runs {
        let started = now.minus(Duration::from_secs(60 * (runs - run) as u64));
        let observed: Vec<Vec<State>> = (0..SERVICES)
            .map(|_| {
                vec![if rng.next() < 0.02 {
                    State::Down
                } else {
                    State::Up
                }]
            })
            .collect();
        let analysis = linkpatrol::analysis::analyze(
            &topo,
            &linkpatrol::analysis::Options {
                observed: Some(&observed),
                ..linkpatrol::analysis::Options::default()
            },
        )
        .unwrap();
        let probes: Vec<Vec<ProbeResult>> = observed
            .iter()
            .map(|states| {
                let st = states[0];
                let latency = 2.0 + 40.0 * rng.next() * rng.next();
                vec![ProbeResult {
                    instance: "0".to_owned(),
                    ok: st == State::Up,
                    state: st,
                    latency_ms: Some((latency * 10.0).round() / 10.0),
                    reason: (st == State::Down).then(|| "connection refused".to_owned()),
                    phases: None,
                }]
            })
            .collect();
        let report = linkpatrol::report::build::build(&topo, &analysis, Some(&probes));
        let tx = store.begin_run().unwrap();
        tx.record(&RunRecord {
            name: &format!("run-{run:06}"),
            started,
            duration_ms: 100.0,
            version: "bench",
            report: &report,
        })
        .unwrap();
        tx.commit().unwrap();
    }
    let filled = fill.elapsed();
    drop(store);
    let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let bytes = size(&path) + size(&dir.join("history.sqlite-wal"));

    let store = Store::open(&path).unwrap();
    let last_run: i64 = store
        .connection()
        .query_row("SELECT max(id) FROM runs", [], |r| r.get(0))
        .unwrap();
    let time = |f: &dyn Fn()| -> Vec<f64> {
        let mut v: Vec<f64> = (0..21)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let history = time(&|| {
        let h = trends::history(store.connection(), store.path(), now).unwrap();
        assert_eq!(h.services.len(), SERVICES);
        assert_eq!(h.links.len(), LINKS);
    });
    let since = time(&|| {
        trends::since_last(store.connection(), store.path(), last_run).unwrap();
    });
    let h = trends::history(store.connection(), store.path(), now).unwrap();
    let s = &h.services[0];
    if runs > 0 {
        println!(
            "runs {runs} x {SERVICES} probes: filled in {:.1} s ({:.2} ms a run), {:.1} MB ({:.1} KB a run)",
            filled.as_secs_f64(),
            filled.as_secs_f64() * 1e3 / runs as f64,
            bytes as f64 / 1e6,
            bytes as f64 / 1e3 / runs as f64
        );
    }
    println!(
        "history (24 h + 7 d, {} links + {} services): median {:.1} ms, max {:.1} ms over 21",
        h.links.len(),
        h.services.len(),
        history[10],
        history[20]
    );
    println!(
        "since_last: median {:.2} ms, max {:.2} ms over 21",
        since[10], since[20]
    );
    println!(
        "sample: {} 24 h runs {} availability {:?} p50 {:?} ms p95 {:?} ms; 7 d runs {}",
        s.id,
        s.last_24h.runs,
        s.last_24h.availability,
        s.last_24h.p50_ms,
        s.last_24h.p95_ms,
        s.last_7d.runs
    );
}
