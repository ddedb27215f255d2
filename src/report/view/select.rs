//! Selection and folding: which services may appear (`--link`), which get their own node and
//! which are folded into summary nodes (past `max_services`), and the clusters they sit in.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Range;

use super::facts::Facts;
use super::{
    ClusterKind, GroupBy, LinkNode, NodeKind, OVERVIEW_MAX_SERVICES, SpofMark, SummaryNode,
    ViewCluster, ViewNode, ViewOptions,
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
    /// Link nodes, the entry service each leads to, and the operation of it the link enters.
    pub(super) entries: Vec<(usize, usize, Option<usize>)>,
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
                let deps = s
                    .depends_on
                    .iter()
                    .chain(s.operations.iter().flat_map(|o| &o.depends_on));
                for d in deps {
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
///
/// Past `max_services` candidates the picture folds. A one-link picture keeps its critical
/// path first (entries and SPOFs of the link, unhealthy services, the rest of the path) and
/// folds the context, healthy branches first. The whole-system picture becomes an overview of
/// at most [`OVERVIEW_MAX_SERVICES`] services: entries, then SPOFs and shared hotspots by the
/// number of links they matter to, then unhealthy services on critical paths.
pub(super) fn keep(
    facts: &Facts<'_>,
    candidates: &[usize],
    max_services: usize,
    focus: Option<&str>,
) -> (Vec<bool>, bool) {
    let mut keep = vec![false; facts.topo.services.len()];
    if candidates.len() <= max_services {
        for &i in candidates {
            keep[i] = true;
        }
        return (keep, false);
    }
    let on_path = |i: usize| match focus {
        Some(f) => facts.on_links[i].iter().any(|l| l == f),
        None => !facts.on_links[i].is_empty(),
    };
    let is_spof = |i: usize| matches!(facts.spof[i], SpofMark::Static | SpofMark::Live);
    let limit = if focus.is_some() {
        max_services
    } else {
        max_services.min(OVERVIEW_MAX_SERVICES)
    };
    // The overview ranks SPOFs and hotspots by how many links they matter to.
    let mut ordered: Vec<usize> = candidates.to_vec();
    if focus.is_none() {
        ordered.sort_by_key(|&i| {
            std::cmp::Reverse(facts.spof_links[i].len().max(facts.on_links[i].len() / 2))
        });
    }
    // Services off every critical path are folded even when unhealthy: alone, without
    // edges that rank them, they would stack into one endless column. Their summary
    // node counts them by state and takes the worst state's colour.
    let entries = |i: usize| match focus {
        Some(f) => facts.entry_of[i].iter().any(|l| l == f),
        None => !facts.entry_of[i].is_empty(),
    };
    let overview = focus.is_none();
    let tiers: [&dyn Fn(usize) -> bool; 4] = [
        &|i| entries(i),
        &|i| on_path(i) && (is_spof(i) || (overview && facts.on_links[i].len() > 1)),
        &|i| on_path(i) && !facts.healthy(i),
        &|i| on_path(i) && !overview,
    ];
    // The overview's entries come on top of its budget: each link node leads to one.
    let mut kept = 0;
    let mut cap = if overview { max_services } else { limit };
    for (t, tier) in tiers.into_iter().enumerate() {
        if overview && t == 1 {
            cap = (kept + limit).min(max_services);
        }
        for &i in &ordered {
            if kept >= cap {
                break;
            }
            if !keep[i] && tier(i) {
                keep[i] = true;
                kept += 1;
            }
        }
    }
    if overview {
        keep_a_hotspot_per_link(facts, candidates, &mut keep);
    }
    (keep, true)
}

/// The overview: a link none of whose critical path is drawn besides its entry would lead
/// nowhere (at 20,000 services, link-033's 18 services share no hotspot with other links), so
/// its worst service by blast radius (links, then services it takes down) is drawn too, on top
/// of the budget like the entries.
fn keep_a_hotspot_per_link(facts: &Facts<'_>, candidates: &[usize], keep: &mut [bool]) {
    let beyond_entry = |i: usize, l: &String| !facts.entry_of[i].contains(l);
    let mut covered: HashSet<&str> = HashSet::new();
    for (i, _) in keep.iter().enumerate().filter(|(_, k)| **k) {
        for l in facts.on_links[i].iter().filter(|l| beyond_entry(i, l)) {
            covered.insert(l);
        }
    }
    let mut best: BTreeMap<&str, usize> = BTreeMap::new();
    let worse = |a: usize, b: usize| {
        (
            facts.blast[a],
            facts.on_links[a].len(),
            std::cmp::Reverse(a),
        ) < (
            facts.blast[b],
            facts.on_links[b].len(),
            std::cmp::Reverse(b),
        )
    };
    for &i in candidates {
        for l in facts.on_links[i].iter().filter(|l| beyond_entry(i, l)) {
            if covered.contains(l.as_str()) {
                continue;
            }
            let b = best.entry(l).or_insert(i);
            if worse(*b, i) {
                *b = i;
            }
        }
    }
    for i in best.into_values() {
        keep[i] = true;
    }
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
            // A one-link picture: its critical path is the cluster, exactly. The whole-system
            // picture has no link clusters (a service shared by links cannot sit in all of
            // them); its link nodes and "critical for" lines say which link needs what.
            if let Some(focus) = options.link.as_deref()
                && let Some(l) = report.links.iter().find(|l| l.name == focus)
            {
                clusters.push(ViewCluster {
                    name: l.name.clone(),
                    kind: ClusterKind::Link { state: l.state },
                });
                for (c, on) in cluster_of.iter_mut().zip(&facts.on_links) {
                    if on.iter().any(|l| l == focus) {
                        *c = Some(0);
                    }
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
        let focus = options.link.as_deref();
        let note_links = facts.on_links[i]
            .iter()
            .filter(|l| Some(l.as_str()) != focus)
            .cloned()
            .collect();
        let context = focus.is_some_and(|f| !facts.on_links[i].iter().any(|l| l == f));
        rep[i] = Rep::Node(nodes.len());
        nodes.push(ViewNode {
            key: topo.services[i].name.to_string(),
            kind: NodeKind::Service(facts.service_node(i, note_links, context)),
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
        entries: Vec::new(),
    }
}

/// One node per link (only the link drawn, in a one-link picture), by name, leading to its
/// entry service.
pub(super) fn link_nodes(
    facts: &Facts<'_>,
    report: &Report,
    options: &ViewOptions,
    out: &mut Drawn,
) {
    let mut links: Vec<_> = report
        .links
        .iter()
        .filter(|l| options.link.as_deref().is_none_or(|f| f == l.name))
        .collect();
    links.sort_by(|a, b| a.name.cmp(&b.name));
    for l in links {
        let Some(entry) = facts.topo.index_of(&l.entry) else {
            continue;
        };
        let key = fresh_key(&format!("link:{}", l.name), &mut out.used);
        let op = l
            .operation
            .as_deref()
            .and_then(|o| facts.topo.service(entry).operation_index(o))
            .map(crate::topology::model::OperationIdx::get);
        out.entries.push((out.nodes.len(), entry.get(), op));
        out.nodes.push(ViewNode {
            key,
            kind: NodeKind::Link(LinkNode {
                name: l.name.clone(),
                state: l.state,
                critical_path: l.critical_path.len(),
                spofs: l.spofs.len(),
            }),
            cluster: None,
        });
    }
}

/// Summary nodes for the folded candidates: one per owner (or `--group-by` key), at most
/// [`MAX_SUMMARY_NODES`], the smallest merged; noted in the caption. In a one-link picture the
/// folded services of the link's critical path get their own summary nodes, inside its
/// cluster (so the cluster is still exactly the critical path, some of it counted), apart
/// from the folded context outside.
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
    let focus = options.link.as_deref();
    let on_focus = |i: usize| focus.is_some_and(|f| facts.on_links[i].iter().any(|l| l == f));
    let folded_path: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|&i| !keep[i] && on_focus(i))
        .collect();
    let folded_rest: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|&i| !keep[i] && !on_focus(i))
        .collect();
    let mut sets = Vec::new();
    if folded_path.is_empty() {
        sets.push((folded_rest, false, MAX_SUMMARY_NODES));
    } else {
        // Most of the budget for the path; the context is what the picture can lose.
        sets.push((folded_path, true, MAX_SUMMARY_NODES - MAX_SUMMARY_NODES / 4));
        sets.push((folded_rest, false, MAX_SUMMARY_NODES / 4));
    }
    let mut notes = Vec::new();
    let mut total_groups = 0;
    let mut total_folded = 0;
    for (members, in_path, max_groups) in sets {
        if members.is_empty() {
            continue;
        }
        let groups = group(facts, by, &members, max_groups);
        total_groups += groups.len();
        total_folded += members.len();
        notes.push((in_path, members.len(), groups.len()));
        for (group, members) in groups {
            // The path's folds sit in the link's cluster (index 0), unless clusters are groups.
            let cluster = (in_path && options.group_by.is_none()).then_some(0);
            push_summary(facts, focus, group, &members, in_path, cluster, out);
        }
    }
    let kept_count = candidates.len() - total_folded;
    match (focus, notes.as_slice()) {
        (Some(link), notes) if notes.iter().any(|n| n.0) => {
            let path = facts
                .on_links
                .iter()
                .filter(|l| l.iter().any(|l| l == link))
                .count();
            let mut note = format!(
                "critical path of {link}: {path} services, more than {} to draw: {} drawn (entry, SPOFs, unhealthy first), {} folded by {by} into {} summary node{} inside the cluster",
                options.max_services,
                path - notes[0].1,
                notes[0].1,
                notes[0].2,
                if notes[0].2 == 1 { "" } else { "s" },
            );
            if let Some((_, n, g)) = notes.get(1) {
                let _ = std::fmt::Write::write_fmt(
                    &mut note,
                    format_args!("; {n} context services (off the path) folded into {g}"),
                );
            }
            caption_notes.push(note);
        }
        (Some(_), [(_, n, g)]) => caption_notes.push(format!(
            "the whole critical path drawn; {n} context services (off the path, healthy branches first) folded by {by} into {g} summary nodes"
        )),
        _ => caption_notes.push(format!(
            "{} services: drawing {kept_count} (entries, SPOFs, then critical paths, unhealthy first) and folding {total_folded} into {total_groups} summary nodes by {by}",
            candidates.len(),
        )),
    }
    out.summaries = summary_start..out.nodes.len();
}

/// `members` by `by` key, largest first, at most `max_groups` (the smallest merged into one).
fn group(
    facts: &Facts<'_>,
    by: GroupBy,
    members: &[usize],
    max_groups: usize,
) -> Vec<(String, Vec<usize>)> {
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for &i in members {
        let key = facts.group_key(i, by).unwrap_or_else(|| format!("no {by}"));
        groups.entry(key).or_default().push(i);
    }
    let mut ordered: Vec<(String, Vec<usize>)> = groups.into_iter().collect();
    ordered.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    if ordered.len() > max_groups {
        let rest = ordered.split_off(max_groups.max(1) - 1);
        let groups = rest.len();
        let members = rest.into_iter().flat_map(|(_, m)| m).collect();
        ordered.push((format!("{groups} other {by} groups"), members));
    }
    ordered
}

/// One summary node for `members`; in the link's cluster when it folds the link's path.
fn push_summary(
    facts: &Facts<'_>,
    focus: Option<&str>,
    group: String,
    members: &[usize],
    in_path: bool,
    cluster: Option<usize>,
    out: &mut Drawn,
) {
    let mut states = BTreeMap::new();
    let mut on_critical = 0;
    let mut worst = State::Up;
    let mut links = BTreeSet::new();
    for &i in members {
        let s = facts.state(i);
        *states.entry(s).or_insert(0) += 1;
        worst = worst.max(s);
        let on = match focus {
            Some(f) => facts.on_links[i].iter().any(|l| l == f),
            None => !facts.on_links[i].is_empty(),
        };
        if on {
            on_critical += 1;
        }
        if focus.is_none() {
            links.extend(facts.on_links[i].iter().map(String::as_str));
        }
    }
    let prefix = if in_path { "path:" } else { "summary:" };
    let key = fresh_key(&format!("{prefix}{group}"), &mut out.used);
    let idx = out.nodes.len();
    for &i in members {
        out.rep[i] = Rep::Node(idx);
    }
    out.nodes.push(ViewNode {
        key,
        kind: NodeKind::Summary(SummaryNode {
            group,
            count: members.len(),
            states,
            on_critical,
            in_path,
            links: links.into_iter().map(str::to_owned).collect(),
            hidden_edges: 0,
            state: worst,
        }),
        cluster,
    });
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
