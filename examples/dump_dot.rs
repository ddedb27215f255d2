//! Prints the DOT of a generated topology: `cargo run --example dump_dot -- N [max_services]`.

#[path = "../tests/it/topo/mod.rs"]
mod topo;

use linkpatrol::report::dot::to_dot;
use linkpatrol::report::view::{GraphView, ViewOptions};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(300);
    let max: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(300);
    let (topo, report) = topo::example::generate(n, 42);
    let options = ViewOptions {
        max_services: max,
        ..ViewOptions::default()
    };
    let view = GraphView::build(&topo, &report, &options).expect("view");
    print!("{}", to_dot(&view));
}
