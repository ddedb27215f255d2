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
use crate::topology::model::{OperationIdx, ServiceIdx, Strength, Target};

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
        self.add_between(from, to, (None, None), strength, timeout, single);
    }

    /// [`Self::add`] from operation `ports.0` of `from` to operation `ports.1` of `to` (single
    /// edges only: a folded edge joins the nodes).
    fn add_between(
        &mut self,
        from: usize,
        to: usize,
        ports: (Option<usize>, Option<usize>),
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
            let mut e = single_edge(from, to, strength, timeout);
            (e.from_op, e.to_op) = ports;
            self.edges.push(e);
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
        indirect: false,
        from_op: None,
        to_op: None,
    }
}

/// Adds the edges (and the group nodes they pass through) to `nodes`; returns the nodes in
/// their final order, the edges indexing them, and how many indirect edges were left out.
pub(super) fn edges(
    facts: &Facts<'_>,
    cluster_of: &[Option<usize>],
    nodes: Drawn,
    folded: bool,
    focus: Option<&str>,
) -> (Vec<ViewNode>, Vec<ViewEdge>, usize) {
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
    for (link_node, entry, op) in entries {
        if let Rep::Node(to) = rep[entry] {
            let op = op.filter(|_| is_service_node(&nodes, to));
            set.add_between(link_node, to, (None, op), Strength::Strong, None, true);
        }
    }
    for (i, s) in facts.topo.services.iter().enumerate() {
        let Rep::Node(from) = rep[i] else { continue };
        // The service's own calls leave the node; each operation's own leave its port.
        let own = s.depends_on.iter().map(|d| (None, d));
        let ops = s
            .operations
            .iter()
            .enumerate()
            .flat_map(|(o, op)| op.depends_on.iter().map(move |d| (Some(o), d)));
        for (from_op, d) in own.chain(ops) {
            match &d.target {
                Target::Service(t) => {
                    let Rep::Node(to) = rep[t.get()] else {
                        continue;
                    };
                    let single = is_service_node(&nodes, from) && is_service_node(&nodes, to);
                    let ports = (from_op, d.operation.map(OperationIdx::get));
                    set.add_between(from, to, ports, d.strength, d.timeout, single);
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
                        let key = match from_op {
                            None => format!("{}/{}", s.name, d.label),
                            Some(o) => format!("{} ({})/{}", s.name, s.operations[o].name, d.label),
                        };
                        let key = fresh_key(&key, &mut used);
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
                        set.add_between(from, g, (from_op, None), d.strength, d.timeout, true);
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
    let left_out = if folded {
        reach_edges(facts, focus, &rep, &nodes, &mut edges)
    } else {
        0
    };
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
    let (nodes, edges) = order_nodes(nodes, edges);
    (nodes, edges, left_out)
}

/// Folded, the drawn services lose the dependencies that ran through folded ones: the
/// overview's hotspots would float without an edge, and nobody could see which links share
/// them. So each drawn service gets an indirect edge to every drawn service it reaches through
/// strong dependencies over folded services of a critical path (the drawn link's, in a
/// one-link picture), stopping at the first drawn one; an indirect edge implied by the other
/// edges (`a → b → c` makes `a ⇢ c` redundant) is left out. Searches from at most a few hundred
/// drawn services over the critical paths: linear in the topology per drawn service.
fn reach_edges(
    facts: &Facts<'_>,
    focus: Option<&str>,
    rep: &[Rep],
    nodes: &[ViewNode],
    edges: &mut Vec<ViewEdge>,
) -> usize {
    let topo = facts.topo;
    let on_path = |i: usize| match focus {
        Some(f) => facts.on_links[i].iter().any(|l| l == f),
        None => !facts.on_links[i].is_empty(),
    };
    let drawn_service = |i: usize| match rep[i] {
        Rep::Node(k) if matches!(nodes[k].kind, NodeKind::Service(_)) => Some(k),
        _ => None,
    };
    let sources: Vec<usize> = (0..topo.services.len())
        .filter(|&i| drawn_service(i).is_some() && on_path(i))
        .collect();
    let index: HashMap<usize, usize> = sources
        .iter()
        .enumerate()
        .map(|(k, &i)| (drawn_service(i).expect("drawn"), k))
        .collect();
    let m = sources.len();
    // Direct edges between drawn services, and the indirect ones found.
    let mut direct = vec![vec![false; m]; m];
    // Only strong ones: a weak edge does not say the caller needs what lies behind it.
    let strong = |e: &&ViewEdge| e.strength == Strength::Strong;
    for e in edges.iter().filter(strong) {
        if let (Some(&a), Some(&b)) = (index.get(&e.from), index.get(&e.to)) {
            direct[a][b] = true;
        }
    }
    // Through OR nodes: the caller reaches the members directly for this purpose.
    let mut via_group: HashMap<usize, Vec<usize>> = HashMap::new();
    for e in edges.iter().filter(strong) {
        if matches!(nodes[e.from].kind, NodeKind::Group(_)) {
            via_group.entry(e.from).or_default().push(e.to);
        }
    }
    for e in edges.iter().filter(strong) {
        if let (Some(&a), Some(members)) = (index.get(&e.from), via_group.get(&e.to)) {
            for t in members {
                if let Some(&b) = index.get(t) {
                    direct[a][b] = true;
                }
            }
        }
    }
    let mut reach = vec![vec![false; m]; m];
    let mut seen = vec![usize::MAX; topo.services.len()];
    let mut stack = Vec::new();
    for (a, &src) in sources.iter().enumerate() {
        stack.clear();
        stack.push(src);
        seen[src] = a;
        while let Some(i) = stack.pop() {
            for d in topo.services[i]
                .depends_on
                .iter()
                .filter(|d| d.strength == Strength::Strong)
            {
                for t in d.targets() {
                    let t = t.get();
                    if seen[t] == a || !on_path(t) {
                        continue;
                    }
                    seen[t] = a;
                    match drawn_service(t).and_then(|k| index.get(&k)) {
                        // A route over folded services only: the first hop from `src` is a
                        // folded one, or it would be a direct edge.
                        Some(&b) if i != src => reach[a][b] = true,
                        None if drawn_service(t).is_none() => stack.push(t),
                        // A direct dependency, or a drawn service off the path.
                        Some(_) | None => {}
                    }
                }
            }
        }
    }
    // Transitive closure of direct and indirect edges (a few hundred nodes: rows of bits).
    let words = m.div_ceil(64);
    let mut closure: Vec<Vec<u64>> = (0..m)
        .map(|a| {
            let mut row = vec![0u64; words];
            for b in (0..m).filter(|&b| direct[a][b] || reach[a][b]) {
                row[b / 64] |= 1 << (b % 64);
            }
            row
        })
        .collect();
    for k in 0..m {
        let row_k = closure[k].clone();
        for row in &mut closure {
            if row[k / 64] & (1 << (k % 64)) != 0 {
                for (w, r) in row.iter_mut().zip(&row_k) {
                    *w |= r;
                }
            }
        }
    }
    let reaches = |w: usize, b: usize| closure[w][b / 64] & (1 << (b % 64)) != 0;
    let mut found = Vec::new();
    for a in 0..m {
        for b in 0..m {
            if !reach[a][b] || direct[a][b] || a == b {
                continue;
            }
            // Implied: another successor `w` of `a`, not in a cycle with `a`, reaches `b`.
            let implied = (0..m).any(|w| {
                w != a && w != b && (direct[a][w] || reach[a][w]) && reaches(w, b) && !reaches(w, a)
            });
            if !implied {
                found.push((a, b));
            }
        }
    }
    // The overview: a hotspot on every link's path says so on its node ("critical for …",
    // grouped under one label by the DOT writer), and fifty edges into it would say nothing
    // more. (Every link, not the most links any service is on: else, where no service is on
    // every link, the most shared hotspots lost their edges.)
    let links = facts.entry_of.iter().map(Vec::len).sum::<usize>();
    if focus.is_none() && links > 1 {
        found.retain(|&(_, b)| facts.on_links[sources[b]].len() < links);
    }
    // Past the cap, each end keeps its most important edges: a drawn service its edges into
    // the targets with the largest blast radius (links, then services it takes down) first, a
    // target its first edges in; an edge that is the k-th of either end comes before any that
    // is only the (k+1)-th of both. So every link's entry keeps its worst hotspots and every
    // hotspot an edge in. (Round robin over the targets alone spent the whole cap on the few
    // sources listed first: at 20,000 services 33 of 50 entries got none.)
    let weight = |k: usize| {
        let i = sources[k];
        (facts.blast[i], facts.on_links[i].len())
    };
    let mut by_weight = found.clone();
    by_weight.sort_by(|x, y| {
        x.0.cmp(&y.0)
            .then(weight(y.1).cmp(&weight(x.1)))
            .then(x.1.cmp(&y.1))
    });
    let mut out_rank: HashMap<(usize, usize), usize> = HashMap::new();
    let mut last = usize::MAX;
    let mut r = 0;
    for &(a, b) in &by_weight {
        if a != last {
            (last, r) = (a, 0);
        }
        r += 1;
        out_rank.insert((a, b), r);
    }
    // A target's first edges in come from the sources it matters most to (the first sources
    // listed would otherwise take every target's first edge).
    let mut by_source_rank = found.clone();
    by_source_rank.sort_by_key(|&(a, b)| (b, out_rank[&(a, b)], a));
    let mut in_rank: HashMap<usize, usize> = HashMap::new();
    // (rank at its better end, at its source, at its target, from, to)
    let mut keyed: Vec<[usize; 5]> = by_source_rank
        .iter()
        .map(|&(a, b)| {
            let rt = in_rank.entry(b).or_insert(0);
            *rt += 1;
            let rs = out_rank[&(a, b)];
            [rs.min(*rt), rs, *rt, a, b]
        })
        .collect();
    keyed.sort_unstable();
    let mut found: Vec<(usize, usize)> = keyed.into_iter().map(|k| (k[3], k[4])).collect();
    let total = found.len();
    found.truncate(MAX_INDIRECT_EDGES);
    found.sort_unstable();
    for (a, b) in found {
        edges.push(ViewEdge {
            from: drawn_service(sources[a]).expect("drawn"),
            to: drawn_service(sources[b]).expect("drawn"),
            strength: Strength::Strong,
            timeout: None,
            weak_without_timeout: false,
            count: 1,
            indirect: true,
            from_op: None,
            to_op: None,
        });
    }
    total.saturating_sub(MAX_INDIRECT_EDGES)
}

/// Most indirect edges in one picture (each is laid out by `dot`, and a bundle of hundreds
/// into the same hotspots reads as a smear).
pub(super) const MAX_INDIRECT_EDGES: usize = 200;

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
