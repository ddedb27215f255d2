//! Edges and `any_of` group nodes between the drawn nodes: parallel edges into summary nodes are
//! folded (`×N`) or left out and counted, and the nodes end up ordered services, groups,
//! summaries, links.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::time::Duration;

use super::facts::Facts;
use super::select::{Drawn, Rep, fresh_key};
use super::{GroupNode, NodeKind, ViewEdge, ViewNode};
use crate::analysis::graph::Group;
use crate::state::State;
use crate::topology::model::{ServiceIdx, Strength, Target};

/// The edges being collected, with the parallel edges already folded.
struct EdgeSet<'a> {
    edges: Vec<ViewEdge>,
    summaries: &'a Range<usize>,
    /// Edges left out per summary node.
    hidden: BTreeMap<usize, usize>,
    folded_edge: HashMap<(usize, usize, Strength), usize>,
}

impl EdgeSet<'_> {
    fn add(
        &mut self,
        from: usize,
        to: usize,
        strength: Strength,
        timeout: Option<Duration>,
        single: bool,
    ) {
        if from == to {
            return;
        }
        let summaries = self.summaries;
        // Edges of folded groups are left out: a group connects to services at every depth,
        // so its edges span dozens of ranks and `dot` spends minutes placing them (42 s for
        // 700 such edges at 1,000 services). The group node counts them instead.
        if summaries.contains(&from) || summaries.contains(&to) {
            if summaries.contains(&from) != summaries.contains(&to) {
                let group = if summaries.contains(&from) { from } else { to };
                *self.hidden.entry(group).or_insert(0) += 1;
            }
            return;
        }
        if single {
            self.edges.push(single_edge(from, to, strength, timeout));
            return;
        }
        if let Some(&e) = self.folded_edge.get(&(from, to, strength)) {
            self.edges[e].count += 1;
            self.edges[e].timeout = None;
            self.edges[e].weak_without_timeout = false;
        } else {
            self.folded_edge
                .insert((from, to, strength), self.edges.len());
            self.edges.push(single_edge(from, to, strength, timeout));
        }
    }
}

/// One dependency drawn as one edge.
fn single_edge(from: usize, to: usize, strength: Strength, timeout: Option<Duration>) -> ViewEdge {
    ViewEdge {
        from,
        to,
        strength,
        timeout,
        weak_without_timeout: strength == Strength::Weak && timeout.is_none(),
        count: 1,
    }
}

/// Adds the edges (and the group nodes they pass through) to `nodes`; returns the nodes in
/// their final order and the edges indexing them.
pub(super) fn edges(
    facts: &Facts<'_>,
    cluster_of: &[Option<usize>],
    nodes: Drawn,
) -> (Vec<ViewNode>, Vec<ViewEdge>) {
    let Drawn {
        mut nodes,
        rep,
        mut used,
        summaries,
        entries,
    } = nodes;
    let mut set = EdgeSet {
        edges: Vec::new(),
        summaries: &summaries,
        hidden: BTreeMap::new(),
        folded_edge: HashMap::new(),
    };
    let is_service_node =
        |nodes: &[ViewNode], k: usize| matches!(nodes[k].kind, NodeKind::Service(_));
    for (link_node, entry) in entries {
        if let Rep::Node(to) = rep[entry] {
            set.add(link_node, to, Strength::Strong, None, true);
        }
    }
    for (i, s) in facts.topo.services.iter().enumerate() {
        let Rep::Node(from) = rep[i] else { continue };
        for d in &s.depends_on {
            match &d.target {
                Target::Service(t) => {
                    let Rep::Node(to) = rep[t.get()] else {
                        continue;
                    };
                    let single = is_service_node(&nodes, from) && is_service_node(&nodes, to);
                    set.add(from, to, d.strength, d.timeout, single);
                }
                Target::AnyOf { members, min } => {
                    let drawn = members.iter().any(|m| rep[m.get()] != Rep::Hidden);
                    if !drawn {
                        continue;
                    }
                    if is_service_node(&nodes, from) {
                        // The one any_of rule (SPEC §2), the analysis' own; before probing
                        // nothing is known, and the group shows no state.
                        let state = if facts.probed {
                            Group {
                                owner: i as u32,
                                strength: d.strength,
                                members: members.iter().map(|m| m.get() as u32).collect(),
                                min: *min as u32,
                            }
                            .state(&facts.states)
                        } else {
                            State::Unknown
                        };
                        let key = fresh_key(&format!("{}/{}", s.name, d.label), &mut used);
                        let g = nodes.len();
                        let cluster = group_cluster(cluster_of, i, members);
                        nodes.push(ViewNode {
                            key,
                            kind: NodeKind::Group(GroupNode {
                                label: d.label.clone(),
                                owner: s.name.to_string(),
                                min: *min,
                                of: members.len(),
                                strength: d.strength,
                                state,
                            }),
                            cluster,
                        });
                        set.add(from, g, d.strength, d.timeout, true);
                        let mut seen = BTreeSet::new();
                        for m in members {
                            let Rep::Node(to) = rep[m.get()] else {
                                continue;
                            };
                            if seen.insert(to) {
                                let single = is_service_node(&nodes, to);
                                set.add(g, to, d.strength, None, single);
                            }
                        }
                    } else {
                        for m in members {
                            let Rep::Node(to) = rep[m.get()] else {
                                continue;
                            };
                            set.add(from, to, d.strength, None, false);
                        }
                    }
                }
            }
        }
    }
    let EdgeSet {
        mut edges, hidden, ..
    } = set;
    for (group, count) in hidden {
        if let NodeKind::Summary(s) = &mut nodes[group].kind {
            s.hidden_edges = count;
        }
    }
    // The caller's timeout sits on the edge into a group, not on the edges to its members.
    for e in &mut edges {
        if matches!(nodes[e.from].kind, NodeKind::Group(_)) {
            e.weak_without_timeout = false;
        }
    }
    // Group nodes sit after the service nodes that own them; order services, groups,
    // summaries, links regardless of when they were created.
    order_nodes(nodes, edges)
}

/// The cluster of an OR node: its owner's, when every member is in that cluster too.
fn group_cluster(
    cluster_of: &[Option<usize>],
    owner: usize,
    members: &[ServiceIdx],
) -> Option<usize> {
    let c = cluster_of[owner]?;
    members
        .iter()
        .all(|m| cluster_of[m.get()] == Some(c))
        .then_some(c)
}

/// Reorders nodes to services, groups, summaries, links (stable within each) and remaps edges.
fn order_nodes(nodes: Vec<ViewNode>, edges: Vec<ViewEdge>) -> (Vec<ViewNode>, Vec<ViewEdge>) {
    let rank = |n: &ViewNode| match n.kind {
        NodeKind::Service(_) => 0,
        NodeKind::Group(_) => 1,
        NodeKind::Summary(_) => 2,
        NodeKind::Link(_) => 3,
    };
    let mut order: Vec<usize> = (0..nodes.len()).collect();
    order.sort_by_key(|&i| (rank(&nodes[i]), i));
    let mut new_index = vec![0; nodes.len()];
    for (new, &old) in order.iter().enumerate() {
        new_index[old] = new;
    }
    let mut slots: Vec<Option<ViewNode>> = nodes.into_iter().map(Some).collect();
    let nodes = order
        .iter()
        .map(|&old| slots[old].take().expect("each node once"))
        .collect();
    let edges = edges
        .into_iter()
        .map(|mut e| {
            e.from = new_index[e.from];
            e.to = new_index[e.to];
            e
        })
        .collect();
    (nodes, edges)
}
