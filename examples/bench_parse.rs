//! Loader benchmark (not a test; run in release): each way of reading one topology file, so the
//! loader's docs can say why the fast reader exists.
//!
//! ```text
//! python3 scripts/gen_topology.py --services 100000 > target/bench/t.yaml
//! cargo run --release --example bench_parse -- target/bench/t.yaml
//! ```
//!
//! Prints the best of three runs of: serde-saphyr into `IgnoredAny` (its scanner and event
//! stream alone: the floor of anything built on serde-saphyr), serde-saphyr into the raw types,
//! the fast reader into the raw types, and the whole load (reader + `validate`).

use std::time::{Duration, Instant};

use linkpatrol::topology::load::{load_str_with_warnings, options, parse, parse_fast};

fn best_of_three<T>(what: &str, mut f: impl FnMut() -> T) {
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        let out = f();
        best = best.min(start.elapsed());
        // Freeing is not part of reading.
        std::mem::forget(out);
    }
    println!("{:>8.3} s  {what}", best.as_secs_f64());
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: bench_parse TOPOLOGY.yaml");
    let src = std::fs::read_to_string(&path).expect("readable file");
    println!("{path}: {:.1} MB", src.len() as f64 / 1e6);
    best_of_three("serde-saphyr into IgnoredAny (the floor)", || {
        serde_saphyr::from_str_with_options::<serde::de::IgnoredAny>(&src, options(src.len()))
            .expect("well-formed YAML")
    });
    best_of_three("serde-saphyr into the raw types", || {
        parse(&src).expect("serde-saphyr reads it")
    });
    best_of_three("fast reader into the raw types", || {
        parse_fast(&src).expect("the fast reader takes it")
    });
    best_of_three("whole load (fast reader + validate)", || {
        load_str_with_warnings(&src, &path).expect("valid topology")
    });
}
