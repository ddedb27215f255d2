//! Writes the example topology's pictures into a directory, for looking at them.
//!
//! `cargo run --example render_example -- DIR`

#[path = "../tests/it/topo/mod.rs"]
mod topo;

use linkpatrol::report::dot::to_dot;
use linkpatrol::report::graphviz::{Graphviz, ImageFormat};
use linkpatrol::report::html::{HtmlOptions, render_html};
use linkpatrol::report::markdown::{MarkdownOptions, render_markdown};
use linkpatrol::report::mermaid::to_mermaid;
use linkpatrol::report::output::write_files;
use linkpatrol::report::view::{GraphView, ViewOptions};

fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/example".into());
    let (topo, report) = topo::example::example();
    let view = GraphView::build(&topo, &report, &ViewOptions::default())?;
    let dot = to_dot(&view);
    let gv = Graphviz::new();
    let svg = String::from_utf8(gv.render(&dot, ImageFormat::Svg)?)?;
    let png = gv.render(&dot, ImageFormat::Png)?;
    let md = render_markdown(
        &topo,
        &report,
        &MarkdownOptions {
            mermaid: Some(ViewOptions::default()),
            changes: None,
        },
    )?;
    let changes = vec![
        "order-service: up → degraded (os-2: timeout after 2s)".to_owned(),
        "new SPOF: zone=az1 on order-status".to_owned(),
    ];
    let html = render_html(
        &topo,
        &report,
        &HtmlOptions {
            svg: Some(&svg),
            svg_missing_reason: None,
            changes: Some(&changes),
            generated_at: Some("2026-11-25 12:00 UTC"),
            ..HtmlOptions::default()
        },
    );
    let written = write_files(
        std::path::Path::new(&dir),
        &[
            ("graph.dot", dot.as_bytes()),
            ("graph.svg", svg.as_bytes()),
            ("graph.png", &png),
            ("graph.mmd", to_mermaid(&view).as_bytes()),
            ("report.md", md.as_bytes()),
            ("report.html", html.as_bytes()),
        ],
    )?;
    for p in written {
        println!("{}", p.display());
    }
    Ok(())
}
