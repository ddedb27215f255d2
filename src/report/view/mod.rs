//! The picture's content, decided once: which nodes are drawn, how they are marked and grouped,
//! which edges join them, and what the caption says.
//!
//! [`GraphView::build`] reads only the [`Topology`] and the [`Report`]; [`crate::report::dot`] and
//! [`crate::report::mermaid`] turn the same view into their syntax, so both pictures tell the same
//! story. Everything here is ordered (services by name, links by name, groups by key), so the same
//! input always gives the same view and therefore the same bytes.
//!
//! Clustering: by default each link's critical path is a cluster. A service on several critical
//! paths sits in the cluster of the *first* link by name, and its node lists the other links
//! ("also on: …"), so no service is drawn twice and no link loses a member silently. With
//! `--group-by owner|tag|zone` the clusters are those groups instead, and every node on a critical
//! path names its links.
//!
//! Large graphs: Graphviz `dot` needs ~4 s for 1,000 plain services and does not finish for 3,000,
//! so a view never holds more than [`ViewOptions::max_services`] service nodes. Past it, services
//! are kept by priority (entries and SPOFs, then unhealthy services on critical paths, then the
//! rest of the critical paths) and everything else is folded into one summary node per owner (or
//! per `--group-by` key; at most 40, the smallest merged), which counts its services by state and
//! takes the worst state's colour. Edges between two summaries are left out, others are merged
//! (`×N`). The caption says what was folded. `--link L` draws only that link's critical path and
//! its direct dependencies.
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
use crate::state::State;
use crate::topology::model::Topology;
pub use types::{
    Caption, ClusterKind, DEFAULT_MAX_SERVICES, DomainSpofLine, GraphView, GroupBy, GroupNode,
    LinkLine, NodeKind, ServiceNode, SpofMark, SummaryNode, ViewCluster, ViewEdge, ViewNode,
    ViewOptions,
};

/// The state of an `any_of` group from its members' states (SPEC §2); `unknown` when unknown
/// members could decide it.
pub fn group_state(members: &[State], min: usize) -> State {
    let alive = members.iter().filter(|s| s.is_alive()).count();
    let unknown = members.iter().filter(|s| **s == State::Unknown).count();
    if alive >= min {
        if members
            .iter()
            .any(|s| matches!(s, State::Down | State::Degraded))
        {
            State::Degraded
        } else {
            State::Up
        }
    } else if alive + unknown >= min {
        State::Unknown
    } else {
        State::Down
    }
}

impl GraphView {
    /// Decides the picture for `topo` as described by `report`.
    ///
    /// Fails only on options that name something absent (`--link` of an unknown link).
    pub fn build(
        topo: &Topology,
        report: &Report,
        options: &ViewOptions,
    ) -> Result<Self, RenderError> {
        let facts = facts::Facts::new(topo, report);
        let mut caption_notes = Vec::new();
        let candidates = select::candidates(topo, report, options, &mut caption_notes)?;
        let (keep, folded) = select::keep(&facts, &candidates, options.max_services);
        let (clusters, cluster_of) = select::clusters(&facts, report, options, &keep);
        let mut nodes = select::service_nodes(&facts, options, &keep, &cluster_of);
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
        let (mut nodes, edges) = edges::edges(&facts, &cluster_of, nodes);
        let caption = caption::caption(report, caption_notes);
        let clusters = drop_empty_clusters(clusters, &mut nodes);
        Ok(Self {
            nodes,
            edges,
            clusters,
            caption,
            group_by: options.group_by,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_state_follows_spec() {
        use State::{Degraded, Down, Unknown, Up};
        assert_eq!(group_state(&[Up, Up], 1), Up);
        assert_eq!(group_state(&[Up, Down], 1), Degraded);
        assert_eq!(group_state(&[Down, Down], 1), Down);
        assert_eq!(group_state(&[Up, Down], 2), Down);
        assert_eq!(group_state(&[Unknown, Unknown], 1), Unknown);
        assert_eq!(group_state(&[Unknown, Down], 1), Unknown);
        assert_eq!(group_state(&[Up, Unknown], 1), Up);
    }
}
