//! DOT generation and Graphviz layout time for generated topologies.
//!
//! `cargo run --release --example bench_render -- [N ...]` (default 1000 3000 10000). For each
//! size: the time to build the view and the DOT text (what linkpatrol does), the drawn node and
//! edge counts after folding, and the time `dot -Tsvg` takes on that DOT (killed after
//! `BENCH_DOT_TIMEOUT` seconds, default 120). With `BENCH_UNFOLDED=1` it also hands Graphviz the
//! unfolded graph, to show why folding exists.

#[path = "../tests/it/topo/mod.rs"]
mod topo;

use std::time::{Duration, Instant};

use linkpatrol::report::dot::to_dot;
use linkpatrol::report::graphviz::{Graphviz, ImageFormat};
use linkpatrol::report::view::{GraphView, ViewOptions};

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("sizes are numbers"))
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_000, 3_000, 10_000]
    } else {
        sizes
    };
    let limit = Duration::from_secs(
        std::env::var("BENCH_DOT_TIMEOUT")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(120),
    );
    let unfolded = std::env::var("BENCH_UNFOLDED").is_ok_and(|v| v == "1");
    let gv = Graphviz::new().with_timeout(limit);
    println!(
        "| services | edges | mode | drawn nodes | drawn edges | view+DOT | DOT bytes | dot -Tsvg |"
    );
    println!("| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |");
    for n in sizes {
        let (topo, report) = topo::example::generate(n, 42);
        let mut modes = vec![("folded (max 300)", ViewOptions::default())];
        if unfolded {
            modes.push((
                "unfolded",
                ViewOptions {
                    max_services: usize::MAX,
                    ..ViewOptions::default()
                },
            ));
        }
        for (mode, options) in modes {
            let started = Instant::now();
            let view = GraphView::build(&topo, &report, &options).expect("view");
            let dot = to_dot(&view);
            let gen_time = started.elapsed();
            let started = Instant::now();
            let layout = match gv.render(&dot, ImageFormat::Svg) {
                Ok(svg) => format!(
                    "{:.2} s ({} KiB SVG)",
                    started.elapsed().as_secs_f64(),
                    svg.len() / 1024
                ),
                Err(e) => format!("failed: {e}"),
            };
            println!(
                "| {n} | {} | {mode} | {} | {} | {:.1} ms | {} | {layout} |",
                topo.edge_count(),
                view.nodes.len(),
                view.edges.len(),
                gen_time.as_secs_f64() * 1000.0,
                dot.len(),
            );
        }
    }
}
