//! The Graphviz picture (SPEC §7): a [`GraphView`] turned into typed graphviz-rust structures.
//!
//! Every id and every attribute value goes through [`quoted`] or [`html`], the only two places
//! that escape, so a service called `api-gateway` or `a "b"` is always valid DOT. Ids are the
//! service names themselves (so the SVG `<title>` of a node is its service), clusters are named
//! `cluster_link:<link>` / `cluster_<by>:<key>`. The output only depends on the view, which only
//! depends on the input: same input, same bytes.
//!
//! Look: left to right; strong edges solid and heavy, weak edges dashed and light with their
//! timeout (or a warning that they have none); `any_of` groups as a small OR node showing `≥min of
//! n`; fill by effective state; SPOFs outlined thick red with a SPOF badge (SVG class `spof`);
//! services at risk (no spare instance left) outlined orange with a badge (class `at-risk`); the
//! caption on top lists links, domain SPOFs (shared fate stands out) and what was folded; a
//! legend cluster explains it all. A service with operations (SPEC §1) stays one node, each
//! operation a compartment of its label with a port (`"frontend":op1`): the edges of an
//! operation's own calls leave from its port's east side, calls and links naming it enter its
//! west side, and the service's own calls leave from the node.

use std::fmt::Write as _;

use graphviz_rust::dot_structures::{
    Attribute, Edge, EdgeTy, Graph, GraphAttributes, Id, Node, NodeId, Port, Stmt, Subgraph, Vertex,
};
use graphviz_rust::printer::{DotPrinter, PrinterContext};

use crate::report::render_error::RenderError;
use crate::report::report::Report;
use crate::report::view::{
    Caption, ClusterKind, GraphView, GroupNode, LinkNode, NodeKind, OperationPort, ServiceNode,
    SpofMark, SummaryNode, ViewEdge, ViewOptions,
};
use crate::state::State;
use crate::terminal::{is_unprintable, printable};
use crate::topology::model::{Strength, Topology};

/// Fill, outline and text colour of a state.
pub struct Palette {
    /// Node fill.
    pub fill: &'static str,
    /// Node outline.
    pub border: &'static str,
}

/// The colours of a state: up green, degraded amber, down red, unknown grey.
pub fn palette(state: State) -> Palette {
    match state {
        State::Up => Palette {
            fill: "#d4efd0",
            border: "#2e7d32",
        },
        State::Degraded => Palette {
            fill: "#ffe2a0",
            border: "#b7791f",
        },
        State::Down => Palette {
            fill: "#f6b8b1",
            border: "#c62828",
        },
        State::Unknown => Palette {
            fill: "#e4e7eb",
            border: "#7b8794",
        },
    }
}

/// Outline of a SPOF.
pub const SPOF_COLOR: &str = "#d50000";
/// Outline width of a SPOF.
pub const SPOF_PENWIDTH: &str = "4";
/// Outline of a service at risk.
pub const AT_RISK_COLOR: &str = "#e65100";
/// Outline (dashed) of a SPOF of another link than the one drawn.
pub const SPOF_ELSEWHERE_COLOR: &str = "#ef9a9a";
/// Fill of link nodes.
const LINK_FILL: &str = "#263238";
const STRONG_COLOR: &str = "#37474f";
const WEAK_COLOR: &str = "#90a4ae";
const FONT: &str = "Helvetica,Arial,sans-serif";

/// The DOT text of `topo` as `report` describes it: [`GraphView::build`] then [`to_dot`].
pub fn render_dot(
    topo: &Topology,
    report: &Report,
    options: &ViewOptions,
) -> Result<String, RenderError> {
    Ok(to_dot(&GraphView::build(topo, report, options)?))
}

/// The DOT text of a view.
pub fn to_dot(view: &GraphView) -> String {
    let mut ctx = PrinterContext::default();
    let mut text = build_graph(view).print(&mut ctx);
    text.push('\n');
    text
}

/// A quoted DOT id: the one place plain strings are escaped (`\` and `"`, newlines as `\n`).
pub fn quoted(s: &str) -> Id {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            // Shown, not obeyed (and Graphviz refuses some of them).
            c if is_unprintable(c) => {
                out.push_str(&printable(&c.to_string()).replace('\\', "\\\\"));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    Id::Escaped(out)
}

/// Escapes text for inside a Graphviz HTML-like label: the one place label text is escaped.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push_str("<BR/>"),
            // XML forbids most of them, so Graphviz would refuse the label: shown as escapes.
            c if is_unprintable(c) => out.push_str(&printable(&c.to_string())),
            c => out.push(c),
        }
    }
    out
}

/// An HTML-like label. Graphviz writes each font run as its own SVG `<text>`, where a leading or
/// trailing space collapses, so spaces at run boundaries become no-break spaces. (User text is
/// escaped by [`html`] and holds no `<` or `>`, so only spaces next to tags change.)
fn html_id(markup: &str) -> Id {
    let markup = markup.replace("> ", ">&#160;").replace(" <", "&#160;<");
    Id::Html(format!("<{markup}>"))
}

fn attr(key: &str, value: &str) -> Attribute {
    Attribute(Id::Plain(key.to_owned()), quoted(value))
}

fn html_attr(key: &str, markup: &str) -> Attribute {
    Attribute(Id::Plain(key.to_owned()), html_id(markup))
}

fn node_id(key: &str) -> NodeId {
    NodeId(quoted(key), None)
}

/// The typed graph of a view.
pub fn build_graph(view: &GraphView) -> Graph {
    // The folded overview stacks dozens of links and hotspots per column: closer rows keep it
    // from growing ten times taller than wide.
    let overview = view.folded && view.link.is_none();
    let nodesep = if overview { "0.12" } else { "0.3" };
    let mut stmts = vec![
        Stmt::GAttribute(GraphAttributes::Graph(vec![
            attr("rankdir", "LR"),
            attr("fontname", FONT),
            attr("fontsize", "11"),
            attr("bgcolor", "white"),
            attr("pad", "0.3"),
            attr("nodesep", nodesep),
            attr("ranksep", "0.75"),
            attr("newrank", "true"),
            // Routes of several links into the same services merge instead of crossing.
            attr("concentrate", "true"),
            attr("labelloc", "t"),
            attr("labeljust", "l"),
            html_attr("label", &caption_label(&view.caption)),
        ])),
        Stmt::GAttribute(GraphAttributes::Node(vec![
            attr("shape", "box"),
            attr("style", "rounded,filled"),
            attr("fontname", FONT),
            attr("fontsize", "11"),
            attr("margin", "0.12,0.06"),
            attr("penwidth", "1.2"),
        ])),
        Stmt::GAttribute(GraphAttributes::Edge(vec![
            attr("fontname", FONT),
            attr("fontsize", "9"),
            attr("arrowsize", "0.7"),
        ])),
    ];

    let mut in_cluster: Vec<Vec<Stmt>> = vec![Vec::new(); view.clusters.len()];
    let mut outside = Vec::new();
    let mut folded = Vec::new();
    let mut entries = Vec::new();
    // The folded overview: the hotspots every link needs have no dotted edge (it would say
    // nothing), so they are grouped under one label that says it instead.
    let links = view
        .nodes
        .iter()
        .filter(|n| matches!(n.kind, NodeKind::Link(_)))
        .count();
    let mut every_link = Vec::new();
    let mut hotspots = Vec::new();
    for node in &view.nodes {
        let stmt = Stmt::Node(Node::new(
            node_id(&node.key),
            node_attributes(view, &node.kind),
        ));
        match (node.cluster, &node.kind) {
            (None, NodeKind::Service(s))
                if view.folded && view.link.is_none() && links > 1 && s.on_links.len() == links =>
            {
                every_link.push(stmt);
            }
            (Some(c), _) => in_cluster[c].push(stmt),
            (None, NodeKind::Summary(_)) => folded.push((stmt, node.key.as_str())),
            (None, NodeKind::Link(_)) => entries.push(stmt),
            (None, NodeKind::Service(s)) if overview && s.entry_of.is_empty() => {
                hotspots.push((s.blast, node.key.as_str()));
                outside.push(stmt);
            }
            (None, _) => outside.push(stmt),
        }
    }
    // Every link starts in the first column, on the left.
    if !entries.is_empty() {
        let mut body = vec![Stmt::GAttribute(GraphAttributes::Graph(vec![attr(
            "rank", "source",
        )]))];
        body.extend(entries);
        stmts.push(Stmt::Subgraph(Subgraph {
            id: quoted("links"),
            stmts: body,
        }));
    }
    for (cluster, nodes) in view.clusters.iter().zip(in_cluster) {
        let (id, label, border) = match &cluster.kind {
            ClusterKind::Link { state } if view.probed => (
                format!("cluster_link:{}", cluster.name),
                format!(
                    "critical path of <B>{}</B>  <FONT COLOR=\"{}\">{}</FONT>",
                    html(&cluster.name),
                    palette(*state).border,
                    state_word(*state)
                ),
                palette(*state).border,
            ),
            ClusterKind::Link { .. } => (
                format!("cluster_link:{}", cluster.name),
                format!("critical path of <B>{}</B>", html(&cluster.name)),
                "#546e7a",
            ),
            ClusterKind::Group(by) => (
                format!("cluster_{by}:{}", cluster.name),
                format!("<I>{by}</I> <B>{}</B>", html(&cluster.name)),
                "#90a4ae",
            ),
        };
        // Every service on it a SPOF: the cluster says so, once, and is outlined red.
        let (label, border) = match (&cluster.kind, &view.all_spof) {
            (ClusterKind::Link { .. }, Some(_)) => (
                format!(
                    "{label}  <FONT COLOR=\"{SPOF_COLOR}\"><B>every service here is a SPOF</B></FONT>"
                ),
                SPOF_COLOR,
            ),
            _ => (label, border),
        };
        let mut body = vec![Stmt::GAttribute(GraphAttributes::Graph(vec![
            html_attr("label", &label),
            attr("style", "rounded,filled"),
            attr("fillcolor", "#f7f9fb"),
            attr("color", border),
            attr("penwidth", "1.6"),
            attr("fontsize", "12"),
            attr("labeljust", "l"),
            attr("margin", "12"),
        ]))];
        body.extend(nodes);
        stmts.push(Stmt::Subgraph(Subgraph {
            id: quoted(&id),
            stmts: body,
        }));
    }
    stmts.extend(outside);
    if !every_link.is_empty() {
        let mut body = vec![Stmt::GAttribute(GraphAttributes::Graph(vec![
            html_attr(
                "label",
                &format!(
                    "<B>On every link's critical path</B> <I>({} services; no dotted edges into them)</I>",
                    every_link.len()
                ),
            ),
            attr("style", "rounded,dashed"),
            attr("color", SPOF_ELSEWHERE_COLOR),
            attr("fontsize", "11"),
            attr("labeljust", "l"),
        ]))];
        body.extend(every_link);
        stmts.push(Stmt::Subgraph(Subgraph {
            id: quoted("cluster_every_link"),
            stmts: body,
        }));
    }
    if !folded.is_empty() {
        stmts.push(Stmt::Subgraph(folded_cluster(folded)));
    }
    for e in &view.edges {
        stmts.push(Stmt::Edge(edge(view, e)));
    }
    stmts.extend(hotspot_columns(hotspots, links));
    let mut legend_key = "legend".to_owned();
    while view.nodes.iter().any(|n| n.key == legend_key) {
        legend_key.push('\'');
    }
    stmts.push(Stmt::Subgraph(legend(view, &legend_key)));
    // Invisible edges from every sink put the legend in the last column, right of the graph,
    // instead of above it; weight 0 keeps them from pulling anything.
    let mut has_out = vec![false; view.nodes.len()];
    for e in &view.edges {
        has_out[e.from] = true;
    }
    for (node, out) in view.nodes.iter().zip(has_out) {
        if !out {
            stmts.push(Stmt::Edge(Edge {
                ty: EdgeTy::Pair(
                    Vertex::N(node_id(&node.key)),
                    Vertex::N(node_id(&legend_key)),
                ),
                attributes: vec![attr("style", "invis"), attr("weight", "0")],
            }));
        }
    }
    Graph::DiGraph {
        id: quoted(&view.caption.title),
        strict: false,
        stmts,
    }
}

fn state_word(state: State) -> &'static str {
    match state {
        State::Up => "UP",
        State::Degraded => "DEGRADED",
        State::Down => "DOWN",
        State::Unknown => "UNKNOWN",
    }
}

fn small(text: &str, color: &str) -> String {
    format!("<FONT POINT-SIZE=\"9\" COLOR=\"{color}\">{text}</FONT>")
}

fn row(cell: &str) -> String {
    format!("<TR><TD>{cell}</TD></TR>")
}

fn badge(text: &str, color: &str) -> String {
    format!(
        "<TR><TD BGCOLOR=\"{color}\" CELLPADDING=\"2\"><FONT POINT-SIZE=\"9\" COLOR=\"white\"><B> {text} </B></FONT></TD></TR>"
    )
}

fn node_attributes(view: &GraphView, kind: &NodeKind) -> Vec<Attribute> {
    match kind {
        NodeKind::Service(s) => service_attributes(view, s),
        NodeKind::Link(l) => link_attributes(view, l),
        NodeKind::Group(g) => group_attributes(g),
        NodeKind::Summary(s) => summary_attributes(view, s),
    }
}

/// `a, b` or `a, b and 3 more` (at most `max` names).
fn few(names: &[String], max: usize) -> String {
    if names.len() <= max {
        names.join(", ")
    } else {
        format!("{} and {} more", names[..max].join(", "), names.len() - max)
    }
}

fn link_attributes(view: &GraphView, l: &LinkNode) -> Vec<Attribute> {
    let mut rows = row(&format!(
        "<FONT COLOR=\"white\"><B>▶ {}</B></FONT>",
        html(&l.name)
    ));
    let mut detail = format!(
        "{} services · {} SPOF{}",
        l.critical_path,
        l.spofs,
        if l.spofs == 1 { "" } else { "s" }
    );
    if view.probed {
        detail = format!("{} · {detail}", state_word(l.state));
    }
    rows.push_str(&row(&small(&detail, "#eceff1")));
    let border = if view.probed {
        palette(l.state).border
    } else {
        LINK_FILL
    };
    vec![
        html_attr(
            "label",
            &format!(
                "<TABLE BORDER=\"0\" CELLBORDER=\"0\" CELLSPACING=\"0\" CELLPADDING=\"1\">{rows}</TABLE>"
            ),
        ),
        attr("shape", "cds"),
        attr("style", "filled"),
        attr("fillcolor", LINK_FILL),
        attr("color", border),
        attr("penwidth", if view.probed { "3" } else { "1" }),
        attr("class", "link"),
        attr("tooltip", &format!("link {}", l.name)),
    ]
}

fn service_attributes(view: &GraphView, s: &ServiceNode) -> Vec<Attribute> {
    let p = palette(s.state);
    let text = if s.context { "#78909c" } else { "#37474f" };
    let mut rows = if s.context {
        row(&format!("<FONT COLOR=\"{text}\">{}</FONT>", html(&s.name)))
    } else {
        row(&format!("<B>{}</B>", html(&s.name)))
    };
    // The state is shown once observed; a static render shows the structure only.
    let status = if view.probed {
        format!("{} · {}", s.state, html(&s.instances))
    } else {
        html(&s.instances)
    };
    rows.push_str(&row(&small(&status, text)));
    if !s.note_links.is_empty() {
        let lead = if view.link.is_some() {
            "also critical for"
        } else {
            "critical for"
        };
        rows.push_str(&row(&small(
            &format!("{lead} {}", html(&few(&s.note_links, 3))),
            "#546e7a",
        )));
    }
    // Each operation is a compartment of the node with a port of its own: the edges of its
    // own calls leave there, and calls and links naming it enter there.
    for (o, op) in s.operations.iter().enumerate() {
        rows.push_str(&operation_row(view, o, op, text));
    }
    let mut class = vec![format!("state-{}", s.state)];
    if s.context {
        class.push("context".to_owned());
    }
    if !s.operations.is_empty() {
        class.push("with-operations".to_owned());
    }
    if !s.entry_of.is_empty() {
        class.push("entry".to_owned());
    }
    if s.at_risk {
        rows.push_str(&badge("AT RISK: no spare left", AT_RISK_COLOR));
        class.push("at-risk".to_owned());
    }
    // In the whole-system picture a SPOF badge names the links it takes down; in a one-link
    // picture it is that link's, and other links' SPOFs are only dashed with a grey note.
    let of_links = if view.link.is_none() && !s.spof_links.is_empty() {
        format!(" of {}", html(&few(&s.spof_links, 2)))
    } else {
        String::new()
    };
    // Every service on the path a SPOF: the caption says it once; each node only a thin red
    // outline and its blast radius, and the worst keeps the thick outline and the badge.
    let all_spof = view.all_spof.is_some() && matches!(s.spof, SpofMark::Static | SpofMark::Live);
    let now = if s.spof == SpofMark::Live { " now" } else { "" };
    match s.spof {
        _ if all_spof => {
            let (links, services) = s.blast;
            let radius = format!(
                "takes down {links} link{}, {services} other service{}",
                if links == 1 { "" } else { "s" },
                if services == 1 { "" } else { "s" }
            );
            if s.worst_spof {
                rows.push_str(&badge(&format!("WORST SPOF{of_links}{now}"), SPOF_COLOR));
                rows.push_str(&row(&small(&radius, SPOF_COLOR)));
                class.push("worst-spof".to_owned());
            } else {
                rows.push_str(&row(&small(
                    &format!("SPOF{of_links}{now} · {radius}"),
                    "#c62828",
                )));
            }
            class.push("spof".to_owned());
            class.push("all-spof".to_owned());
            if s.spof == SpofMark::Live {
                class.push("live-spof".to_owned());
            }
        }
        SpofMark::No => {}
        SpofMark::Static => {
            rows.push_str(&badge(&format!("SPOF{of_links}"), SPOF_COLOR));
            class.push("spof".to_owned());
        }
        SpofMark::Live => {
            rows.push_str(&badge(&format!("SPOF{of_links} now"), SPOF_COLOR));
            class.push("spof".to_owned());
            class.push("live-spof".to_owned());
        }
        SpofMark::Elsewhere => {
            rows.push_str(&row(&small(
                &format!("SPOF of {} only", html(&few(&s.spof_links, 2))),
                "#c62828",
            )));
            class.push("spof-elsewhere".to_owned());
        }
    }
    // The SPOF outline wins over the at-risk one.
    let (color, penwidth) = match s.spof {
        _ if all_spof && !s.worst_spof => (SPOF_COLOR, "1.6"),
        SpofMark::Static | SpofMark::Live => (SPOF_COLOR, SPOF_PENWIDTH),
        SpofMark::Elsewhere => (SPOF_ELSEWHERE_COLOR, "2"),
        SpofMark::No if s.at_risk => (AT_RISK_COLOR, "3"),
        SpofMark::No if s.context => ("#b0bec5", "1"),
        SpofMark::No => (p.border, "1.2"),
    };
    let fill = if s.context && !view.probed {
        "#ffffff"
    } else {
        p.fill
    };
    let style = if s.spof == SpofMark::Elsewhere {
        "rounded,filled,dashed"
    } else {
        "rounded,filled"
    };
    vec![
        html_attr(
            "label",
            &format!(
                "<TABLE BORDER=\"0\" CELLBORDER=\"0\" CELLSPACING=\"0\" CELLPADDING=\"1\">{rows}</TABLE>"
            ),
        ),
        attr("fillcolor", fill),
        attr("color", color),
        attr("penwidth", penwidth),
        attr("style", style),
        attr("class", &class.join(" ")),
        attr("tooltip", &s.tooltip),
    ]
}

/// The port of operation `o` of a service node.
fn operation_port(o: usize) -> String {
    format!("op{o}")
}

/// One operation's compartment: its name (and its state once observed), framed on top, with
/// the port its edges use.
fn operation_row(view: &GraphView, o: usize, op: &OperationPort, text: &str) -> String {
    let (fill, label) = if view.probed {
        (
            palette(op.state).fill,
            format!(
                "{}  {}",
                html(&op.name),
                small(state_word(op.state), palette(op.state).border)
            ),
        )
    } else {
        ("#ffffff", html(&op.name))
    };
    format!(
        "<TR><TD PORT=\"{}\" ALIGN=\"LEFT\" BORDER=\"1\" SIDES=\"T\" COLOR=\"#90a4ae\" BGCOLOR=\"{fill}\" CELLPADDING=\"3\"><FONT POINT-SIZE=\"10\" COLOR=\"{text}\">▸ {label}</FONT></TD></TR>",
        operation_port(o)
    )
}

/// The end of an edge at node `n`: the node, or the port of its operation `op` on the side
/// edges leave (`e`) or enter (`w`) from, left to right.
fn end_at(view: &GraphView, n: usize, op: Option<usize>, side: &str) -> Vertex {
    let key = &view.nodes[n].key;
    match (op, &view.nodes[n].kind) {
        (Some(o), NodeKind::Service(s)) if o < s.operations.len() => Vertex::N(NodeId(
            quoted(key),
            Some(Port(
                Some(Id::Plain(operation_port(o))),
                Some(side.to_owned()),
            )),
        )),
        _ => Vertex::N(node_id(key)),
    }
}

fn group_attributes(g: &GroupNode) -> Vec<Attribute> {
    let p = palette(g.state);
    vec![
        html_attr(
            "label",
            &format!(
                "<B>OR</B> {}<BR/><FONT POINT-SIZE=\"8\">≥{} of {}</FONT>",
                html(&g.label),
                g.min,
                g.of
            ),
        ),
        attr("shape", "ellipse"),
        attr("fontsize", "9"),
        attr("margin", "0.04,0.02"),
        attr("fillcolor", p.fill),
        attr("color", p.border),
        attr("class", "any-of"),
        attr(
            "tooltip",
            &format!(
                "{}: any_of group {} of {} ({} dependency): down when fewer than {} members are alive",
                g.owner, g.label, g.owner, g.strength, g.min
            ),
        ),
    ]
}

fn summary_attributes(view: &GraphView, s: &SummaryNode) -> Vec<Attribute> {
    // Before probing every fold is `unknown`: white, like the rest of a static picture.
    let p = palette(s.state);
    let fill = if view.probed { p.fill } else { "#ffffff" };
    let mut rows = row(&format!("<B>{}</B>", html(&s.group)));
    rows.push_str(&row(&small(&html(&s.counts_text(view.probed)), "#37474f")));
    if s.in_path {
        rows.push_str(&row(&small("all on this critical path", "#37474f")));
    } else if !s.links.is_empty() {
        rows.push_str(&row(&small(
            &format!(
                "{} on the critical paths of {} link{}",
                s.on_critical,
                s.links.len(),
                if s.links.len() == 1 { "" } else { "s" }
            ),
            "#37474f",
        )));
    } else if s.on_critical > 0 {
        rows.push_str(&row(&small(
            &format!("{} on critical paths", s.on_critical),
            "#37474f",
        )));
    }
    if s.hidden_edges > 0 {
        rows.push_str(&row(&small(
            &format!("{} edges to drawn services", s.hidden_edges),
            "#546e7a",
        )));
    }
    vec![
        html_attr(
            "label",
            &format!(
                "<TABLE BORDER=\"0\" CELLBORDER=\"0\" CELLSPACING=\"0\" CELLPADDING=\"1\">{rows}</TABLE>"
            ),
        ),
        attr("shape", "folder"),
        attr("style", "filled"),
        attr("fillcolor", fill),
        attr("color", p.border),
        attr(
            "class",
            if s.in_path {
                "summary in-path"
            } else {
                "summary"
            },
        ),
        attr(
            "tooltip",
            &format!("{}: {} (folded)", s.group, s.counts_text(view.probed)),
        ),
    ]
}

/// The folded groups, in a grid of rows of [`FOLDED_ROW`] held by invisible edges (alone they
/// would stack into one tall column).
fn folded_cluster(folded: Vec<(Stmt, &str)>) -> Subgraph {
    let mut stmts = vec![Stmt::GAttribute(GraphAttributes::Graph(vec![
        html_attr(
            "label",
            "<B>Folded</B> <I>(off the drawn critical paths; their edges are not drawn)</I>",
        ),
        attr("style", "rounded,dashed"),
        attr("color", "#90a4ae"),
        attr("fontsize", "11"),
        attr("labeljust", "l"),
    ]))];
    let keys: Vec<&str> = folded.iter().map(|(_, k)| *k).collect();
    stmts.extend(folded.into_iter().map(|(stmt, _)| stmt));
    for row in keys.chunks(FOLDED_ROW) {
        for pair in row.windows(2) {
            stmts.push(Stmt::Edge(Edge {
                ty: EdgeTy::Pair(Vertex::N(node_id(pair[0])), Vertex::N(node_id(pair[1]))),
                attributes: vec![attr("style", "invis")],
            }));
        }
    }
    Subgraph {
        id: quoted("cluster_folded"),
        stmts,
    }
}

/// The folded overview's hotspots in columns: every entry leads to them, so alone they all sit
/// in the rank after the entries, one column as tall as sixty nodes (8,050 pt for 1,580 pt wide
/// at 20,000 services). Invisible edges from each hotspot to the one beside it in the next
/// column wrap them into columns about as tall as the column of links, the worst by blast
/// radius (links, then services it takes down) in the first, nearest the links.
fn hotspot_columns(mut hotspots: Vec<((usize, usize), &str)>, links: usize) -> Vec<Stmt> {
    // A hotspot node (name, instances, "critical for", a badge) is about twice a link node.
    let rows = (links / 2).clamp(HOTSPOT_ROWS.0, HOTSPOT_ROWS.1);
    if hotspots.len() <= rows {
        return Vec::new();
    }
    hotspots.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let columns: Vec<&[((usize, usize), &str)]> = hotspots.chunks(rows).collect();
    let mut stmts = Vec::new();
    for pair in columns.windows(2) {
        for (from, to) in pair[0].iter().zip(pair[1]) {
            stmts.push(Stmt::Edge(Edge {
                ty: EdgeTy::Pair(Vertex::N(node_id(from.1)), Vertex::N(node_id(to.1))),
                attributes: vec![attr("style", "invis"), attr("weight", "0")],
            }));
        }
    }
    stmts
}

/// Fewest and most hotspots per column of the folded overview (see [`hotspot_columns`]).
const HOTSPOT_ROWS: (usize, usize) = (8, 20);

/// Summary nodes per row in the folded cluster.
const FOLDED_ROW: usize = 5;

fn edge(view: &GraphView, e: &ViewEdge) -> Edge {
    let from_group = matches!(view.nodes[e.from].kind, NodeKind::Group(_));
    let to_group = matches!(view.nodes[e.to].kind, NodeKind::Group(_));
    if matches!(view.nodes[e.from].kind, NodeKind::Link(_)) {
        return Edge {
            ty: EdgeTy::Pair(
                Vertex::N(node_id(&view.nodes[e.from].key)),
                end_at(view, e.to, e.to_op, "w"),
            ),
            attributes: vec![
                attr("color", LINK_FILL),
                attr("penwidth", "2.4"),
                attr("class", "entry"),
            ],
        };
    }
    if e.indirect {
        // Through folded services: no label (the overview's text budget), a dotted line.
        return Edge {
            ty: EdgeTy::Pair(
                Vertex::N(node_id(&view.nodes[e.from].key)),
                Vertex::N(node_id(&view.nodes[e.to].key)),
            ),
            attributes: vec![
                attr("color", STRONG_COLOR),
                attr("style", "dotted"),
                attr("penwidth", "1.6"),
                attr("class", "indirect"),
                attr("tooltip", "depends on it through folded services"),
            ],
        };
    }
    let mut attributes = match e.strength {
        Strength::Strong => vec![
            attr("color", STRONG_COLOR),
            attr("penwidth", if from_group { "1.8" } else { "2.4" }),
        ],
        Strength::Weak => vec![
            attr("color", WEAK_COLOR),
            attr("style", "dashed"),
            attr("penwidth", "1"),
        ],
    };
    attributes.push(attr("class", &e.strength.to_string()));
    if to_group {
        attributes.push(attr("arrowhead", "none"));
    }
    if let Some(label) = e.label() {
        let color = if e.weak_without_timeout {
            AT_RISK_COLOR
        } else {
            "#546e7a"
        };
        // An `xlabel` is placed after layout, beside the middle of its edge: a `label` makes
        // `dot` rank a virtual node per edge (14 s instead of 0.5 s at 300 services) and
        // drifts away from its edge in a wide rank; a `taillabel` piles up where several
        // edges leave one caller. Tried on the bundled topology and the demos.
        let key = "xlabel";
        attributes.push(attr(key, &label));
        attributes.push(attr("fontcolor", color));
    }
    Edge {
        ty: EdgeTy::Pair(
            end_at(view, e.from, e.from_op, "e"),
            end_at(view, e.to, e.to_op, "w"),
        ),
        attributes,
    }
}

fn caption_label(c: &Caption) -> String {
    let left = |cell: String| format!("<TR><TD ALIGN=\"LEFT\">{cell}</TD></TR>");
    let mut rows = left(format!(
        "<FONT POINT-SIZE=\"18\"><B>{}</B></FONT>",
        html(&c.title)
    ));
    if let Some(line) = &c.all_spof {
        rows.push_str(&left(format!(
            "<FONT COLOR=\"{SPOF_COLOR}\"><B>{}</B></FONT>",
            html(line)
        )));
    }
    for l in &c.links {
        let state = if c.probed {
            format!(
                ": <FONT COLOR=\"{}\"><B>{}</B></FONT>",
                palette(l.state).border,
                state_word(l.state)
            )
        } else {
            String::new()
        };
        rows.push_str(&left(format!(
            "link <B>{}</B>{state} · {} services on the critical path · {} SPOF{}",
            html(&l.name),
            l.critical_path,
            l.spofs,
            if l.spofs == 1 { "" } else { "s" }
        )));
    }
    if c.more_links > 0 {
        rows.push_str(&left(format!("<I>and {} more links</I>", c.more_links)));
    }
    if !c.assumed_failed.is_empty() {
        rows.push_str(&left(format!(
            "<B>what-if</B>: assumed failed {}",
            html(&c.assumed_failed.join(", "))
        )));
    }
    for d in &c.domain_spofs {
        let why = if d.implied_by.is_empty() {
            "shared fate: redundant instances share this domain".to_owned()
        } else {
            format!("implied by {}", html(&few(&d.implied_by, 3)))
        };
        rows.push_str(&left(format!(
            "<FONT COLOR=\"{SPOF_COLOR}\"><B>domain SPOF {}</B></FONT> takes down {} — {why}",
            html(&d.id),
            html(&few(&d.links, 3))
        )));
    }
    if c.more_domain_spofs > 0 {
        rows.push_str(&left(format!(
            "<FONT COLOR=\"{SPOF_COLOR}\"><I>and {} more domain SPOFs</I></FONT>",
            c.more_domain_spofs
        )));
    }
    for note in &c.notes {
        rows.push_str(&left(format!(
            "<FONT COLOR=\"#546e7a\"><I>{}</I></FONT>",
            html(note)
        )));
    }
    format!(
        "<TABLE BORDER=\"0\" CELLBORDER=\"0\" CELLSPACING=\"1\" CELLPADDING=\"1\">{rows}</TABLE>"
    )
}

fn legend(view: &GraphView, key: &str) -> Subgraph {
    let swatch = |state: State, text: &str| {
        let p = palette(state);
        format!(
            "<TR><TD BGCOLOR=\"{}\" COLOR=\"{}\" BORDER=\"1\" WIDTH=\"22\" HEIGHT=\"12\"></TD><TD ALIGN=\"LEFT\">{text}</TD></TR>",
            p.fill, p.border
        )
    };
    let mut rows = String::new();
    let _ = write!(
        rows,
        "<TR><TD BGCOLOR=\"{LINK_FILL}\" WIDTH=\"22\" HEIGHT=\"12\"></TD><TD ALIGN=\"LEFT\">link: where a route enters</TD></TR>"
    );
    if view.probed {
        rows.push_str(&swatch(State::Up, "up"));
        rows.push_str(&swatch(State::Degraded, "degraded"));
        rows.push_str(&swatch(State::Down, "down"));
        rows.push_str(&swatch(State::Unknown, "unknown: no probe"));
    } else {
        rows.push_str(&swatch(
            State::Unknown,
            "not probed: states appear with render --probe",
        ));
    }
    if view.link.is_some() {
        let _ = write!(
            rows,
            "<TR><TD BORDER=\"3\" COLOR=\"{SPOF_COLOR}\" WIDTH=\"22\" HEIGHT=\"12\"></TD><TD ALIGN=\"LEFT\">SPOF of this link: one failure takes it down</TD></TR>"
        );
        let _ = write!(
            rows,
            "<TR><TD BORDER=\"1\" STYLE=\"dashed\" COLOR=\"{SPOF_ELSEWHERE_COLOR}\" WIDTH=\"22\" HEIGHT=\"12\"></TD><TD ALIGN=\"LEFT\">SPOF of another link only</TD></TR>"
        );
        let _ = write!(
            rows,
            "<TR><TD BORDER=\"1\" COLOR=\"#b0bec5\" WIDTH=\"22\" HEIGHT=\"12\"></TD><TD ALIGN=\"LEFT\"><FONT COLOR=\"#78909c\">context: off this critical path</FONT></TD></TR>"
        );
    } else {
        let _ = write!(
            rows,
            "<TR><TD BORDER=\"3\" COLOR=\"{SPOF_COLOR}\" WIDTH=\"22\" HEIGHT=\"12\"></TD><TD ALIGN=\"LEFT\">SPOF of the links named: one failure takes them down</TD></TR>"
        );
    }
    if view.all_spof.is_some() {
        let _ = write!(
            rows,
            "<TR><TD BORDER=\"1\" COLOR=\"{SPOF_COLOR}\" WIDTH=\"22\" HEIGHT=\"12\"></TD><TD ALIGN=\"LEFT\">every service on the path is a SPOF: thin red, with its blast radius; thick red: the worst</TD></TR>"
        );
    }
    let _ = write!(
        rows,
        "<TR><TD BORDER=\"2\" COLOR=\"{AT_RISK_COLOR}\" WIDTH=\"22\" HEIGHT=\"12\"></TD><TD ALIGN=\"LEFT\">at risk: no spare instance left</TD></TR>"
    );
    let _ = write!(
        rows,
        "<TR><TD><FONT COLOR=\"{STRONG_COLOR}\"><B>━━▶</B></FONT></TD><TD ALIGN=\"LEFT\">strong dependency (label: timeout)</TD></TR>"
    );
    let _ = write!(
        rows,
        "<TR><TD><FONT COLOR=\"{WEAK_COLOR}\">╌╌▷</FONT></TD><TD ALIGN=\"LEFT\">weak dependency</TD></TR>"
    );
    if view.edges.iter().any(|e| e.indirect) {
        let _ = write!(
            rows,
            "<TR><TD><FONT COLOR=\"{STRONG_COLOR}\">┈┈▶</FONT></TD><TD ALIGN=\"LEFT\">depends on it through folded services</TD></TR>"
        );
    }
    rows.push_str(
        "<TR><TD><B>OR</B></TD><TD ALIGN=\"LEFT\">any_of group: ≥ min members alive</TD></TR>",
    );
    Subgraph {
        id: quoted("cluster_legend"),
        stmts: vec![
            Stmt::GAttribute(GraphAttributes::Graph(vec![
                attr("label", "Legend"),
                attr("style", "rounded"),
                attr("color", "#b0bec5"),
                attr("fontsize", "11"),
            ])),
            Stmt::Node(Node::new(
                node_id(key),
                vec![
                    html_attr(
                        "label",
                        &format!(
                            "<TABLE BORDER=\"0\" CELLBORDER=\"0\" CELLSPACING=\"3\" CELLPADDING=\"1\">{rows}</TABLE>"
                        ),
                    ),
                    attr("shape", "plaintext"),
                    attr("style", ""),
                    attr("fontsize", "9"),
                ],
            )),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use graphviz_rust::dot_structures::Id;

    #[test]
    fn ids_are_quoted_and_escaped_once() {
        assert_eq!(quoted("api-gateway"), Id::Escaped("\"api-gateway\"".into()));
        assert_eq!(
            quoted("a \"b\"\\"),
            Id::Escaped("\"a \\\"b\\\"\\\\\"".into())
        );
        assert_eq!(html("<a & b>"), "&lt;a &amp; b&gt;");
    }
}
