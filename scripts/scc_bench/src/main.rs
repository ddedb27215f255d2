//! Why `src/analysis/graph.rs` keeps its own iterative Tarjan: this times it (linkpatrol's own
//! `analysis::graph::tarjan`, through a path dependency) against petgraph's
//! `kosaraju_scc` and `tarjan_scc` on two shapes linkpatrol must handle, a layered catalogue
//! (every service calls about three deeper ones) and one long strong chain.
//!
//!   scc_bench SHAPE N ALGORITHM      SHAPE: layered | chain; ALGORITHM: ours | kosaraju | tarjan
//!
//! One algorithm per process, so a stack overflow in one is reported and does not hide the rest.

use std::time::Instant;

use petgraph::graph::{DiGraph, NodeIndex};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, shape, n, algorithm] = args.as_slice() else {
        eprintln!("usage: scc_bench layered|chain N ours|kosaraju|tarjan");
        std::process::exit(2);
    };
    let n: usize = n.parse().expect("N is a number");
    let mut adj: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut x: u64 = 1;
    let mut below = |m: u64| {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (x >> 33) % m
    };
    match shape.as_str() {
        "layered" => {
            for (i, succs) in adj.iter_mut().enumerate() {
                let window = (n - i - 1).min(2000) as u64;
                for _ in 0..3 {
                    if window > 0 {
                        succs.push((i + 1 + below(window) as usize) as u32);
                    }
                }
            }
        }
        "chain" => {
            for (i, succs) in adj.iter_mut().enumerate().take(n - 1) {
                succs.push(i as u32 + 1);
            }
        }
        _ => panic!("unknown shape {shape}"),
    }
    // A strong cycle every 1,000 services.
    for i in (0..n.saturating_sub(5)).step_by(1000) {
        adj[i + 5].push(i as u32);
    }
    let start = Instant::now();
    let mut build_ms = 0.0;
    let components = match algorithm.as_str() {
        "ours" => linkpatrol::analysis::graph::tarjan(n, |_| true, &|v| &adj[v as usize]).len(),
        "kosaraju" | "tarjan" => {
            // petgraph's algorithms need a graph of its own (or the visit traits over ours,
            // reverse edges included for Kosaraju): building it is part of their cost.
            let mut g: DiGraph<(), ()> = DiGraph::with_capacity(n, n * 3);
            for _ in 0..n {
                g.add_node(());
            }
            for (i, succs) in adj.iter().enumerate() {
                for &t in succs {
                    g.add_edge(NodeIndex::new(i), NodeIndex::new(t as usize), ());
                }
            }
            build_ms = start.elapsed().as_secs_f64() * 1e3;
            if algorithm == "kosaraju" {
                petgraph::algo::kosaraju_scc(&g).len()
            } else {
                petgraph::algo::tarjan_scc(&g).len()
            }
        }
        _ => panic!("unknown algorithm {algorithm}"),
    };
    println!(
        "{shape:8} {n:>8} {algorithm:9} {:7.1} ms ({build_ms:.1} ms of it building the graph)  {components} components",
        start.elapsed().as_secs_f64() * 1e3
    );
}
