//! The Mermaid picture (`graph LR`), for Markdown documents that render Mermaid.
//!
//! It draws the same [`GraphView`] as the DOT picture: a `classDef` per state, a `spof` and an
//! `atrisk` class, thick `==>` strong edges and dotted `-.->` weak ones (with timeouts), an OR
//! node per `any_of` group, a `subgraph` per link critical path (or group), a caption node and a
//! legend. Node ids are `n0`, `n1`, … (services), `g0` … (OR nodes), `s0` … (summaries) and
//! `c0` … (clusters): Mermaid ids cannot safely hold `-` in every renderer, so names only ever
//! appear in quoted labels, escaped by [`label`].
//!
//! Mermaid has no ports, so a service's operations (SPEC §1), which the DOT picture draws as
//! ports of the node, are lines of its label here (`▸ checkout`, with the state once observed),
//! and an edge says which operation it leaves from or enters (`from checkout`, `to checkout`)
//! in its label. A subgraph per service would make the service several nodes, which is what
//! operations exist to avoid.

use std::fmt::Write as _;

use crate::report::dot::{AT_RISK_COLOR, SPOF_COLOR, palette};
use crate::report::render_error::RenderError;
use crate::report::report::Report;
use crate::report::view::{ClusterKind, GraphView, NodeKind, SpofMark, ViewOptions};
use crate::state::State;
use crate::topology::model::{Strength, Topology};

/// The Mermaid text of `topo` as `report` describes it.
pub fn render_mermaid(
    topo: &Topology,
    report: &Report,
    options: &ViewOptions,
) -> Result<String, RenderError> {
    Ok(to_mermaid(&GraphView::build(topo, report, options)?))
}

/// Escapes text for a quoted Mermaid label: characters Mermaid or Markdown could read as syntax
/// become Mermaid entity codes (`#34;`), newlines become `<br/>`.
pub fn label(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("#34;"),
            '#' => out.push_str("#35;"),
            '&' => out.push_str("#38;"),
            '<' => out.push_str("#60;"),
            '>' => out.push_str("#62;"),
            '`' => out.push_str("#96;"),
            '|' => out.push_str("#124;"),
            '\n' => out.push_str("<br/>"),
            '\r' => {}
            c if crate::terminal::is_unprintable(c) => {
                out.push_str(&crate::terminal::printable(&c.to_string()));
            }
            c => out.push(c),
        }
    }
    out
}

fn mermaid_id(node: usize, kind: &NodeKind) -> String {
    let prefix = match kind {
        NodeKind::Service(_) => 'n',
        NodeKind::Link(_) => 'l',
        NodeKind::Group(_) => 'g',
        NodeKind::Summary(_) => 's',
    };
    format!("{prefix}{node}")
}

/// The Mermaid text of a view.
pub fn to_mermaid(view: &GraphView) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "graph LR");
    for state in State::WORST_FIRST {
        let p = palette(state);
        let _ = writeln!(
            w,
            "  classDef {state} fill:{},stroke:{},color:#1b1b1b",
            p.fill, p.border
        );
    }
    let _ = writeln!(
        w,
        "  classDef atrisk stroke:{AT_RISK_COLOR},stroke-width:3px"
    );
    // `spof` after `atrisk`: its outline wins on a node that is both.
    let _ = writeln!(w, "  classDef spof stroke:{SPOF_COLOR},stroke-width:4px");
    if view.all_spof.is_some() {
        let _ = writeln!(
            w,
            "  classDef spofthin stroke:{SPOF_COLOR},stroke-width:1.5px"
        );
    }
    let _ = writeln!(
        w,
        "  classDef caption fill:#ffffff,stroke:#b0bec5,color:#263238,text-align:left"
    );

    // Caption.
    let c = &view.caption;
    let mut cap = format!("<b>{}</b>", label(&c.title));
    if let Some(line) = &c.all_spof {
        let _ = write!(cap, "<br/><b>{}</b>", label(line));
    }
    for l in &c.links {
        let _ = write!(cap, "<br/>link <b>{}</b>", label(&l.name));
        if c.probed {
            let _ = write!(cap, ": {}", l.state);
        }
        let _ = write!(
            cap,
            " · {} on critical path · {} SPOFs",
            l.critical_path, l.spofs
        );
    }
    if c.more_links > 0 {
        let _ = write!(cap, "<br/><i>and {} more links</i>", c.more_links);
    }
    if !c.assumed_failed.is_empty() {
        let _ = write!(
            cap,
            "<br/>what-if: assumed failed {}",
            label(&c.assumed_failed.join(", "))
        );
    }
    for d in &c.domain_spofs {
        let why = if d.implied_by.is_empty() {
            "shared fate".to_owned()
        } else {
            let shown = d.implied_by.len().min(3);
            let more = d.implied_by.len() - shown;
            let mut text = format!("implied by {}", label(&d.implied_by[..shown].join(", ")));
            if more > 0 {
                let _ = write!(text, " and {more} more");
            }
            text
        };
        let _ = write!(
            cap,
            "<br/>domain SPOF <b>{}</b> takes down {}: {why}",
            label(&d.id),
            label(&d.links.join(", "))
        );
    }
    if c.more_domain_spofs > 0 {
        let _ = write!(
            cap,
            "<br/><i>and {} more domain SPOFs</i>",
            c.more_domain_spofs
        );
    }
    for note in &c.notes {
        let _ = write!(cap, "<br/><i>{}</i>", label(note));
    }
    let _ = writeln!(w, "  caption[\"{cap}\"]:::caption");

    // Nodes, inside their clusters.
    let node_line = |i: usize| -> String {
        let node = &view.nodes[i];
        let id = mermaid_id(i, &node.kind);
        match &node.kind {
            NodeKind::Service(s) => {
                let mut text = String::new();
                let _ = write!(text, "<b>{}</b><br/>", label(&s.name));
                if view.probed {
                    let _ = write!(text, "{} · ", s.state);
                }
                text.push_str(&label(&s.instances));
                if !s.note_links.is_empty() {
                    let lead = if view.link.is_some() {
                        "also critical for"
                    } else {
                        "critical for"
                    };
                    let _ = write!(text, "<br/>{lead} {}", label(&s.note_links.join(", ")));
                }
                // Mermaid has no ports: each operation is a line of the node, and the edges
                // of its calls (and the calls naming it) say which operation they are.
                for op in &s.operations {
                    let _ = write!(text, "<br/>▸ {}", label(&op.name));
                    if view.probed {
                        let _ = write!(text, " · {}", op.state);
                    }
                }
                if s.at_risk {
                    text.push_str("<br/>⚠ AT RISK: no spare left");
                }
                let all_spof =
                    view.all_spof.is_some() && matches!(s.spof, SpofMark::Static | SpofMark::Live);
                match s.spof {
                    _ if all_spof && s.worst_spof => {
                        let _ = write!(
                            text,
                            "<br/><b>WORST SPOF</b>: takes down {} links, {} other services",
                            s.blast.0, s.blast.1
                        );
                    }
                    _ if all_spof => {
                        let _ = write!(
                            text,
                            "<br/>SPOF · takes down {} links, {} other services",
                            s.blast.0, s.blast.1
                        );
                    }
                    SpofMark::No => {}
                    SpofMark::Static => text.push_str("<br/><b>SPOF</b>"),
                    SpofMark::Live => text.push_str("<br/><b>SPOF now</b>"),
                    SpofMark::Elsewhere => {
                        let _ = write!(
                            text,
                            "<br/>SPOF of {} only",
                            label(&s.spof_links.join(", "))
                        );
                    }
                }
                format!("{id}[\"{text}\"]")
            }
            NodeKind::Link(l) => {
                let mut text = format!("▶ <b>{}</b>", label(&l.name));
                if view.probed {
                    let _ = write!(text, "<br/>{}", l.state);
                }
                format!("{id}([\"{text}\"])")
            }
            NodeKind::Group(g) => format!(
                "{id}{{{{\"OR {}<br/>≥{} of {}\"}}}}",
                label(&g.label),
                g.min,
                g.of
            ),
            NodeKind::Summary(s) => {
                let mut text = format!(
                    "<b>{}</b><br/>{}",
                    label(&s.group),
                    label(&s.counts_text(view.probed))
                );
                if s.on_critical > 0 {
                    let _ = write!(text, "<br/>{} on critical paths", s.on_critical);
                }
                format!("{id}[/\"{text}\"/]")
            }
        }
    };
    for (ci, cluster) in view.clusters.iter().enumerate() {
        let title = match &cluster.kind {
            ClusterKind::Link { state } if view.probed => {
                format!("critical path of {} · {}", label(&cluster.name), state)
            }
            ClusterKind::Link { .. } => format!("critical path of {}", label(&cluster.name)),
            ClusterKind::Group(by) => format!("{by} {}", label(&cluster.name)),
        };
        let _ = writeln!(w, "  subgraph c{ci}[\"{title}\"]");
        for (i, node) in view.nodes.iter().enumerate() {
            if node.cluster == Some(ci) {
                let _ = writeln!(w, "    {}", node_line(i));
            }
        }
        let _ = writeln!(w, "  end");
    }
    for (i, node) in view.nodes.iter().enumerate() {
        if node.cluster.is_none() {
            let _ = writeln!(w, "  {}", node_line(i));
        }
    }

    // Edges.
    let mut strong = Vec::new();
    let mut weak = Vec::new();
    for (k, e) in view.edges.iter().enumerate() {
        let from = mermaid_id(e.from, &view.nodes[e.from].kind);
        let to = mermaid_id(e.to, &view.nodes[e.to].kind);
        let arrow = match e.strength {
            // Through folded services: a plain dotted arrow, no thick style.
            _ if e.indirect => "-.->",
            Strength::Strong => {
                strong.push(k.to_string());
                "==>"
            }
            Strength::Weak => {
                weak.push(k.to_string());
                "-.->"
            }
        };
        let op_name = |n: usize, op: Option<usize>| match (&view.nodes[n].kind, op) {
            (NodeKind::Service(s), Some(o)) => s.operations.get(o).map(|p| p.name.as_str()),
            _ => None,
        };
        let mut parts: Vec<String> = Vec::new();
        if let Some(o) = op_name(e.from, e.from_op) {
            parts.push(format!("from {o}"));
        }
        if let Some(o) = op_name(e.to, e.to_op) {
            parts.push(format!("to {o}"));
        }
        parts.extend(e.label());
        let text = (!parts.is_empty()).then(|| parts.join(" · "));
        match text {
            Some(text) => {
                let _ = writeln!(w, "  {from} {arrow}|\"{}\"| {to}", label(&text));
            }
            None => {
                let _ = writeln!(w, "  {from} {arrow} {to}");
            }
        }
    }
    if !strong.is_empty() {
        let _ = writeln!(w, "  linkStyle {} stroke:#37474f", strong.join(","));
    }
    if !weak.is_empty() {
        let _ = writeln!(w, "  linkStyle {} stroke:#90a4ae", weak.join(","));
    }

    // Classes: state first, then the markings, so their outline wins.
    for (i, node) in view.nodes.iter().enumerate() {
        let id = mermaid_id(i, &node.kind);
        let _ = writeln!(w, "  class {id} {}", node.state());
    }
    for (i, node) in view.nodes.iter().enumerate() {
        if let NodeKind::Service(s) = &node.kind {
            let id = mermaid_id(i, &node.kind);
            if s.at_risk {
                let _ = writeln!(w, "  class {id} atrisk");
            }
            if matches!(s.spof, SpofMark::Static | SpofMark::Live) {
                // Every service a SPOF: only the worst keeps the thick outline.
                let class = if view.all_spof.is_some() && !s.worst_spof {
                    "spofthin"
                } else {
                    "spof"
                };
                let _ = writeln!(w, "  class {id} {class}");
            }
        }
    }

    // Legend.
    let _ = writeln!(w, "  subgraph legend[\"Legend\"]");
    let _ = writeln!(w, "    direction LR");
    for (k, state) in State::WORST_FIRST.iter().rev().enumerate() {
        let _ = writeln!(w, "    lg{k}[\"{state}\"]:::{state}");
    }
    let _ = writeln!(w, "    lgs[\"SPOF\"]:::spof");
    let _ = writeln!(w, "  end");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_cannot_break_out() {
        assert_eq!(label("a\"b#c|d`e<f>"), "a#34;b#35;c#124;d#96;e#60;f#62;");
    }
}
