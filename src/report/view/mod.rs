//! The picture's content, decided once: which nodes are drawn, how they are marked and grouped,
//! which edges join them, and what the caption says.
//!
//! [`GraphView::build`] reads only the [`Topology`] and the [`Report`]; [`crate::report::dot`] and
//! [`crate::report::mermaid`] turn the same view into their syntax, so both pictures tell the same
//! story. Everything here is ordered (services by name, links by name, groups by key), so the same
//! input always gives the same view and therefore the same bytes.
//!
//! Two kinds of picture. The whole system (no `--link`): no link clusters — a service shared by
//! several links cannot sit in all of them, and putting it in one made the others look shorter
//! than they are — but one node per link, in the first rank, leading to its entry, and on each
//! service the links it is critical for; a SPOF is marked with the links it takes down. One link
//! (`--link L`): L's critical path is the one cluster, exactly; L's SPOFs are red, the SPOFs of
//! other links only dashed ([`SpofMark::Elsewhere`]), the direct dependencies off the path are
//! context. With `--group-by owner|tag|zone` the clusters are those groups instead. States are
//! shown only when observed (probes or `--fail`): a static render shows structure, not
//! `unknown` everywhere. The state of an `any_of` group is the analysis' one rule
//! ([`crate::analysis::graph::Group::state`]).
//!
//! Large graphs: Graphviz `dot` needs ~4 s for 1,000 plain services and does not finish for 3,000,
//! so a view never holds more than [`ViewOptions::max_services`] service nodes. Past it, services
//! are kept by priority (entries and SPOFs, then unhealthy services on critical paths, then the
//! rest of the critical paths) and everything else is folded into one summary node per owner (or
//! per `--group-by` key; at most 40, the smallest merged), which counts its services by state and
//! takes the worst state's colour. Edges between two summaries are left out, others are merged
//! (`×N`). The caption says what was folded and lists at most [`CAPTION_LINES`] links and domain
//! SPOFs, the worst first, then "and N more". Folded, the whole-system picture is an overview of
//! at most [`OVERVIEW_MAX_SERVICES`] services (entries, SPOFs and shared hotspots by how many
//! links they matter to); a one-link picture keeps its critical path and folds its context
//! first, and past the cap folds the rest of its path into summary nodes inside the cluster, so
//! the cluster stays exactly the path (drawn, or counted). Folded, a drawn service also gets an
//! indirect (dotted) edge to each drawn service it needs through folded ones, the implied ones
//! left out: the overview's links lead to the hotspots they share. Past 200 of them, each
//! drawn service keeps its edges into its worst targets by blast radius and each target its
//! first edge in, before any further ones; and an overview link none of whose path is drawn
//! beyond its entry gets its worst service drawn, so every link leads somewhere.
//!
//! When every service on the drawn path is a SPOF (a chain without redundancy), red everywhere
//! would say nothing: [`AllSpof`] says it once in the caption, and only the worst by blast
//! radius keeps the thick outline.
//!
//! One file per step: `types` (the view's data), `facts` (per-service facts from the report),
//! `select` (selection, folding and clusters), `edges` (edges and group nodes), `caption`.
//! [`GraphView::build`] here runs them in that order.

mod caption;
mod edges;
mod facts;
mod select;
mod types;

use crate::report::render_error::RenderError;
use crate::report::report::Report;
use crate::topology::model::Topology;
pub use types::{
    AllSpof, CAPTION_LINES, Caption, ClusterKind, DEFAULT_MAX_SERVICES, DomainSpofLine, GraphView,
    GroupBy, GroupNode, LinkLine, LinkNode, NodeKind, OVERVIEW_MAX_SERVICES, OperationPort,
    ServiceNode, SpofMark, SummaryNode, ViewCluster, ViewEdge, ViewNode, ViewOptions,
};

impl GraphView {
    /// Decides the picture for `topo` as described by `report`.
    ///
    /// Fails only on options that name something absent (`--link` of an unknown link).
    pub fn build(
        topo: &Topology,
        report: &Report,
        options: &ViewOptions,
    ) -> Result<Self, RenderError> {
        let focus = options.link.as_deref();
        let facts = facts::Facts::new(topo, report, focus);
        let mut caption_notes = Vec::new();
        let candidates = select::candidates(topo, report, options, &mut caption_notes)?;
        let (keep, folded) = select::keep(&facts, &candidates, options.max_services, focus);
        let (clusters, cluster_of) = select::clusters(&facts, report, options, &keep);
        let mut nodes = select::service_nodes(&facts, options, &keep, &cluster_of);
        select::link_nodes(&facts, report, options, &mut nodes);
        if folded {
            select::fold(
                &facts,
                options,
                &candidates,
                &keep,
                &mut nodes,
                &mut caption_notes,
            );
        }
        let (mut nodes, edges, left_out) = edges::edges(&facts, &cluster_of, nodes, folded, focus);
        if folded && focus.is_none() {
            caption_notes.push(
                "dotted edges: depends on it through folded services (none into a hotspot every link needs)"
                    .to_owned(),
            );
        }
        if left_out > 0 {
            caption_notes.push(format!(
                "{left_out} more dotted edges left out (kept: each drawn service's edges into its worst hotspots, by blast radius, and each hotspot's first)"
            ));
        }
        let mut caption = caption::caption(report, focus, facts.probed, caption_notes);
        caption.all_spof = facts
            .all_spof
            .as_ref()
            .map(|a| caption::all_spof_line(a, focus));
        let clusters = drop_empty_clusters(clusters, &mut nodes);
        Ok(Self {
            nodes,
            edges,
            clusters,
            caption,
            group_by: options.group_by,
            link: options.link.clone(),
            probed: facts.probed,
            folded,
            all_spof: facts.all_spof.clone(),
        })
    }

    /// Service nodes drawn.
    pub fn service_count(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| matches!(n.kind, NodeKind::Service(_)))
            .count()
    }
}

/// Drops clusters nothing is drawn in (a link whose path is folded or filtered away) and
/// renumbers the nodes' clusters.
fn drop_empty_clusters(clusters: Vec<ViewCluster>, nodes: &mut [ViewNode]) -> Vec<ViewCluster> {
    let mut used_cluster = vec![false; clusters.len()];
    for node in nodes.iter() {
        if let Some(c) = node.cluster {
            used_cluster[c] = true;
        }
    }
    let mut remap = vec![None; clusters.len()];
    let mut kept_clusters = Vec::new();
    for (c, cl) in clusters.into_iter().enumerate() {
        if used_cluster[c] {
            remap[c] = Some(kept_clusters.len());
            kept_clusters.push(cl);
        }
    }
    for node in nodes {
        node.cluster = node.cluster.and_then(|c| remap[c]);
    }
    kept_clusters
}
