//! Selection and folding: which services may appear (`--link`), which get their own node and
//! which are folded into summary nodes (past `max_services`), and the clusters they sit in.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;

use super::facts::Facts;
use super::{
    ClusterKind, GroupBy, NodeKind, SpofMark, SummaryNode, ViewCluster, ViewNode, ViewOptions,
};
use crate::report::render_error::RenderError;
use crate::report::report::Report;
use crate::state::State;
use crate::topology::model::Topology;

/// At most this many summary nodes; smaller groups are merged into one "other" node.
const MAX_SUMMARY_NODES: usize = 40;

/// Which node a service is drawn as.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Rep {
    Hidden,
    Node(usize),
}

/// The nodes decided so far, and which node stands for each service.
pub(super) struct Drawn {
    pub(super) nodes: Vec<ViewNode>,
    pub(super) rep: Vec<Rep>,
    /// Keys taken by services and nodes.
    pub(super) used: BTreeSet<String>,
    /// The summary nodes' indices.
    pub(super) summaries: Range<usize>,
}

/// The services that may appear at all: every one, or with `--link` that link's critical path
/// and its direct dependencies (noted in the caption).
pub(super) fn candidates(
    topo: &Topology,
    report: &Report,
    options: &ViewOptions,
    caption_notes: &mut Vec<String>,
) -> Result<Vec<usize>, RenderError> {
    let n = topo.services.len();
    let mut candidate = vec![true; n];
    if let Some(link_name) = &options.link {
        let link = report
            .links
            .iter()
            .find(|l| &l.name == link_name)
            .ok_or_else(|| RenderError::UnknownLink {
                link: link_name.clone(),
                known: report.links.iter().map(|l| l.name.clone()).collect(),
            })?;
        candidate = vec![false; n];
        for id in &link.critical_path {
            if let Some(i) = topo.index_of(id) {
                candidate[i.get()] = true;
            }
        }
        let on_path = candidate.clone();
        for (i, s) in topo.services.iter().enumerate() {
            if on_path[i] {
                for d in &s.depends_on {
                    for t in d.targets() {
                        candidate[t.get()] = true;
                    }
                }
            }
        }
        let shown = candidate.iter().filter(|c| **c).count();
        caption_notes.push(format!(
            "showing link {link_name}: its critical path and direct dependencies, {shown} of {n} services"
        ));
    }
    Ok((0..n).filter(|&i| candidate[i]).collect())
}

/// Which candidates get their own node, by priority tier; and whether any were folded.
pub(super) fn keep(
    facts: &Facts<'_>,
    candidates: &[usize],
    max_services: usize,
) -> (Vec<bool>, bool) {
    let mut keep = vec![false; facts.topo.services.len()];
    if candidates.len() <= max_services {
        for &i in candidates {
            keep[i] = true;
        }
        return (keep, false);
    }
    let on_path = |i: usize| !facts.on_links[i].is_empty();
    // Services off every critical path are folded even when unhealthy: alone, without
    // edges that rank them, they would stack into one endless column. Their summary
    // node counts them by state and takes the worst state's colour.
    let tiers: [&dyn Fn(usize) -> bool; 3] = [
        &|i| facts.spof[i] != SpofMark::No || !facts.entry_of[i].is_empty(),
        &|i| on_path(i) && !facts.healthy(i),
        &|i| on_path(i),
    ];
    let mut kept = 0;
    'tiers: for tier in tiers {
        for &i in candidates {
            if !keep[i] && tier(i) {
                if kept == max_services {
                    break 'tiers;
                }
                keep[i] = true;
                kept += 1;
            }
        }
    }
    (keep, true)
}

/// The clusters (links, or `--group-by` groups of kept services) and each service's cluster.
pub(super) fn clusters(
    facts: &Facts<'_>,
    report: &Report,
    options: &ViewOptions,
    keep: &[bool],
) -> (Vec<ViewCluster>, Vec<Option<usize>>) {
    let n = facts.topo.services.len();
    let mut clusters = Vec::new();
    let mut cluster_of = vec![None; n];
    match options.group_by {
        None => {
            let mut links: Vec<_> = report.links.iter().collect();
            links.sort_by(|a, b| a.name.cmp(&b.name));
            let mut index_of_link = HashMap::new();
            for l in &links {
                index_of_link.insert(l.name.as_str(), clusters.len());
                clusters.push(ViewCluster {
                    name: l.name.clone(),
                    kind: ClusterKind::Link { state: l.state },
                });
            }
            for (c, on) in cluster_of.iter_mut().zip(&facts.on_links) {
                if let Some(home) = home_link(on, options.link.as_deref()) {
                    *c = index_of_link.get(home).copied();
                }
            }
        }
        Some(by) => {
            let keys: BTreeSet<String> = (0..n)
                .filter(|&i| keep[i])
                .filter_map(|i| facts.group_key(i, by))
                .collect();
            let index: HashMap<String, usize> = keys
                .iter()
                .enumerate()
                .map(|(k, v)| (v.clone(), k))
                .collect();
            clusters = keys
                .into_iter()
                .map(|name| ViewCluster {
                    name,
                    kind: ClusterKind::Group(by),
                })
                .collect();
            for (i, c) in cluster_of.iter_mut().enumerate() {
                *c = facts.group_key(i, by).and_then(|k| index.get(&k).copied());
            }
        }
    }
    (clusters, cluster_of)
}

/// One node per kept service, in name order.
pub(super) fn service_nodes(
    facts: &Facts<'_>,
    options: &ViewOptions,
    keep: &[bool],
    cluster_of: &[Option<usize>],
) -> Drawn {
    let topo = facts.topo;
    let n = topo.services.len();
    let mut nodes = Vec::new();
    let mut rep = vec![Rep::Hidden; n];
    for i in (0..n).filter(|&i| keep[i]) {
        let note_links = match options.group_by {
            None => {
                let home = home_link(&facts.on_links[i], options.link.as_deref());
                facts.on_links[i]
                    .iter()
                    .filter(|l| Some(l.as_str()) != home)
                    .cloned()
                    .collect()
            }
            Some(_) => facts.on_links[i].clone(),
        };
        rep[i] = Rep::Node(nodes.len());
        nodes.push(ViewNode {
            key: topo.services[i].name.to_string(),
            kind: NodeKind::Service(facts.service_node(i, note_links)),
            cluster: cluster_of[i],
        });
    }
    let used: BTreeSet<String> = topo.services.iter().map(|s| s.name.to_string()).collect();
    let summaries = nodes.len()..nodes.len();
    Drawn {
        nodes,
        rep,
        used,
        summaries,
    }
}

/// Summary nodes for the folded candidates: one per owner (or `--group-by` key), at most
/// [`MAX_SUMMARY_NODES`], the smallest merged; noted in the caption.
pub(super) fn fold(
    facts: &Facts<'_>,
    options: &ViewOptions,
    candidates: &[usize],
    keep: &[bool],
    out: &mut Drawn,
    caption_notes: &mut Vec<String>,
) {
    let summary_start = out.nodes.len();
    let by = options.group_by.unwrap_or(GroupBy::Owner);
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for &i in candidates {
        if !keep[i] {
            let key = facts.group_key(i, by).unwrap_or_else(|| format!("no {by}"));
            groups.entry(key).or_default().push(i);
        }
    }
    let mut ordered: Vec<(String, Vec<usize>)> = groups.into_iter().collect();
    ordered.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    if ordered.len() > MAX_SUMMARY_NODES {
        let rest = ordered.split_off(MAX_SUMMARY_NODES - 1);
        let groups = rest.len();
        let members = rest.into_iter().flat_map(|(_, m)| m).collect();
        ordered.push((format!("{groups} other {by} groups"), members));
    }
    let folded_count: usize = ordered.iter().map(|(_, m)| m.len()).sum();
    let kept_count = candidates.len() - folded_count;
    caption_notes.push(format!(
        "{} services: drawing {kept_count} (entries, SPOFs, then critical paths, unhealthy first) and folding {folded_count} into {} summary nodes by {by}",
        candidates.len(),
        ordered.len(),
    ));
    for (group, members) in ordered {
        let mut states = BTreeMap::new();
        let mut on_critical = 0;
        let mut worst = State::Up;
        for &i in &members {
            let s = facts.state(i);
            *states.entry(s).or_insert(0) += 1;
            worst = worst.max(s);
            if !facts.on_links[i].is_empty() {
                on_critical += 1;
            }
        }
        let key = fresh_key(&format!("summary:{group}"), &mut out.used);
        let idx = out.nodes.len();
        for &i in &members {
            out.rep[i] = Rep::Node(idx);
        }
        out.nodes.push(ViewNode {
            key,
            kind: NodeKind::Summary(SummaryNode {
                group,
                count: members.len(),
                states,
                on_critical,
                hidden_edges: 0,
                state: worst,
            }),
            cluster: None,
        });
    }
    out.summaries = summary_start..out.nodes.len();
}

/// The link whose cluster holds a service on the critical paths of `on` (sorted): the requested
/// link if it is one of them, else the first by name.
fn home_link<'a>(on: &'a [String], requested: Option<&str>) -> Option<&'a str> {
    requested
        .and_then(|r| on.iter().find(|l| l.as_str() == r))
        .or_else(|| on.first())
        .map(String::as_str)
}

/// A key not yet used by any service or node.
pub(super) fn fresh_key(base: &str, used: &mut BTreeSet<String>) -> String {
    let mut key = base.to_owned();
    while used.contains(&key) {
        key.push('\'');
    }
    used.insert(key.clone());
    key
}
