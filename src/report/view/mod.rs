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

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::{self, Write as _};
use std::str::FromStr;
use std::time::Duration;

use crate::report::render_error::RenderError;
use crate::report::report::{Report, ServiceReport, SpofKind};
use crate::state::State;
use crate::topology::model::{Service, ServiceIdx, Strength, Target, Topology};

/// Default ceiling on service nodes handed to a layout engine (see the module docs).
pub const DEFAULT_MAX_SERVICES: usize = 300;

/// At most this many summary nodes; smaller groups are merged into one "other" node.
const MAX_SUMMARY_NODES: usize = 40;

/// What to cluster services by instead of link critical paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GroupBy {
    /// The service's `owner:`.
    Owner,
    /// The service's first tag (tags are sorted).
    Tag,
    /// The set of zones its instances are in.
    Zone,
}

impl GroupBy {
    /// The word used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Tag => "tag",
            Self::Zone => "zone",
        }
    }
}

impl fmt::Display for GroupBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for GroupBy {
    type Err = RenderError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "owner" => Ok(Self::Owner),
            "tag" => Ok(Self::Tag),
            "zone" => Ok(Self::Zone),
            other => Err(RenderError::UnknownGroupBy(other.to_owned())),
        }
    }
}

/// How to build a view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewOptions {
    /// Cluster by this instead of by link critical path.
    pub group_by: Option<GroupBy>,
    /// Draw only this link's critical path and its direct dependencies.
    pub link: Option<String>,
    /// Most service nodes drawn; the rest are folded into summary nodes.
    pub max_services: usize,
}

impl Default for ViewOptions {
    fn default() -> Self {
        Self {
            group_by: None,
            link: None,
            max_services: DEFAULT_MAX_SERVICES,
        }
    }
}

/// Whether and how a service is a single point of failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SpofMark {
    /// Not a SPOF of any link.
    No,
    /// A SPOF by design (`spofs` of some link).
    Static,
    /// Not by design, but a SPOF now that something already failed (`live_spofs` only).
    Live,
}

/// A drawn service.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceNode {
    /// Its name.
    pub name: String,
    /// Effective state from the report (`unknown` when the report does not list it).
    pub state: State,
    /// SPOF marking.
    pub spof: SpofMark,
    /// Exactly `min_healthy` instances alive: one more failure takes it down.
    pub at_risk: bool,
    /// `2/3 up · az1, az2`, or `3 instances, min 2 · az1` without probe results.
    pub instances: String,
    /// Links whose entry it is.
    pub entry_of: Vec<String>,
    /// Links whose critical path holds it.
    pub on_links: Vec<String>,
    /// Links to name on the node: all of `on_links` when clusters are not links, else those
    /// besides the one whose cluster holds it.
    pub note_links: Vec<String>,
    /// Owner, description: shown as tooltip.
    pub tooltip: String,
}

/// A drawn `any_of` group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupNode {
    /// The group label (the `depends_on` key).
    pub label: String,
    /// The service that depends on the group.
    pub owner: String,
    /// Members that must be alive.
    pub min: usize,
    /// Number of members.
    pub of: usize,
    /// Strength of the dependency on the group.
    pub strength: Strength,
    /// The group's state from its members' effective states.
    pub state: State,
}

/// Services folded into one node.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryNode {
    /// The group it stands for (owner, tag or zone set), or `other`.
    pub group: String,
    /// How many services it holds.
    pub count: usize,
    /// How many of them are in each state, worst first.
    pub states: BTreeMap<State, usize>,
    /// How many of them are on some critical path.
    pub on_critical: usize,
    /// Dependencies between its services and drawn services (left out of the picture).
    pub hidden_edges: usize,
    /// Worst state among them.
    pub state: State,
}

impl SummaryNode {
    /// `412 services, all up` / `412 services: 410 up, 2 unknown`.
    pub fn counts_text(&self) -> String {
        let noun = if self.count == 1 {
            "service"
        } else {
            "services"
        };
        if self.states.len() == 1 {
            let (s, _) = self.states.iter().next().expect("one state");
            return format!("{} {noun}, all {s}", self.count);
        }
        let parts: Vec<String> = State::WORST_FIRST
            .iter()
            .rev()
            .filter_map(|s| self.states.get(s).map(|n| format!("{n} {s}")))
            .collect();
        format!("{} {noun}: {}", self.count, parts.join(", "))
    }
}

/// What a node stands for.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// One service.
    Service(ServiceNode),
    /// The OR node of an `any_of` group.
    Group(GroupNode),
    /// Several services folded together.
    Summary(SummaryNode),
}

/// One node of the picture.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewNode {
    /// Unique id: the service name for services; a fresh id for the others.
    pub key: String,
    /// What it stands for.
    pub kind: NodeKind,
    /// Index into [`GraphView::clusters`].
    pub cluster: Option<usize>,
}

impl ViewNode {
    /// The state its fill shows.
    pub fn state(&self) -> State {
        match &self.kind {
            NodeKind::Service(s) => s.state,
            NodeKind::Group(g) => g.state,
            NodeKind::Summary(s) => s.state,
        }
    }
}

/// One edge: a dependency, or several folded ones.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewEdge {
    /// Index into [`GraphView::nodes`]: the caller.
    pub from: usize,
    /// Index into [`GraphView::nodes`]: the dependency.
    pub to: usize,
    /// Strong or weak (strong if any folded one is).
    pub strength: Strength,
    /// The caller's timeout, if declared (single edges only).
    pub timeout: Option<Duration>,
    /// A weak dependency without a timeout (behaves like a strong one when slow).
    pub weak_without_timeout: bool,
    /// How many dependencies this edge stands for.
    pub count: usize,
}

impl ViewEdge {
    /// The text on the edge: timeout, `no timeout`, or `×N` for folded edges.
    pub fn label(&self) -> Option<String> {
        if self.count > 1 {
            return Some(format!("×{}", self.count));
        }
        if let Some(t) = self.timeout {
            return Some(format_duration(t));
        }
        if self.weak_without_timeout {
            return Some("no timeout".to_owned());
        }
        None
    }
}

/// What a cluster groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterKind {
    /// A link's critical path.
    Link {
        /// The link's state.
        state: State,
    },
    /// An owner, tag or zone group.
    Group(GroupBy),
}

/// A named group of nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewCluster {
    /// The link name or group key.
    pub name: String,
    /// What it is.
    pub kind: ClusterKind,
}

/// A link's line in the caption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkLine {
    /// Link name.
    pub name: String,
    /// Its state.
    pub state: State,
    /// Services on its critical path.
    pub critical_path: usize,
    /// SPOFs (services and domains).
    pub spofs: usize,
}

/// A domain SPOF in the caption, merged over links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainSpofLine {
    /// `key=value`.
    pub id: String,
    /// Links it takes down.
    pub links: Vec<String>,
    /// Service SPOFs that explain it; empty = shared fate.
    pub implied_by: Vec<String>,
}

/// The caption: what the picture is, and what it cannot show as a node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Caption {
    /// The topology's name.
    pub title: String,
    /// One line per link.
    pub links: Vec<LinkLine>,
    /// Domain SPOFs over all links.
    pub domain_spofs: Vec<DomainSpofLine>,
    /// Events assumed failed (`analyze --fail`).
    pub assumed_failed: Vec<String>,
    /// What was left out or folded, in words.
    pub notes: Vec<String>,
}

/// The picture's content. See the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphView {
    /// Nodes: services by name, then groups, then summaries.
    pub nodes: Vec<ViewNode>,
    /// Edges, in the order of the callers' `depends_on`.
    pub edges: Vec<ViewEdge>,
    /// Clusters, in name order for groups, link order for links.
    pub clusters: Vec<ViewCluster>,
    /// Caption.
    pub caption: Caption,
    /// How clusters were chosen.
    pub group_by: Option<GroupBy>,
}

/// Per-service facts gathered from the topology and the report.
struct Facts<'a> {
    topo: &'a Topology,
    report_of: Vec<Option<&'a ServiceReport>>,
    spof: Vec<SpofMark>,
    on_links: Vec<Vec<String>>,
    entry_of: Vec<Vec<String>>,
}

impl<'a> Facts<'a> {
    fn new(topo: &'a Topology, report: &'a Report) -> Self {
        let n = topo.services.len();
        let by_id: HashMap<&str, &ServiceReport> =
            report.services.iter().map(|s| (s.id.as_str(), s)).collect();
        let report_of = topo
            .services
            .iter()
            .map(|s| by_id.get(s.name.as_str()).copied())
            .collect();
        let mut spof = vec![SpofMark::No; n];
        let mut on_links = vec![Vec::new(); n];
        let mut entry_of = vec![Vec::new(); n];
        let mut links: Vec<_> = report.links.iter().collect();
        links.sort_by(|a, b| a.name.cmp(&b.name));
        for link in links {
            for id in &link.critical_path {
                if let Some(i) = topo.index_of(id) {
                    on_links[i.get()].push(link.name.clone());
                }
            }
            if let Some(i) = topo.index_of(&link.entry) {
                entry_of[i.get()].push(link.name.clone());
            }
            for s in &link.spofs {
                if s.kind == SpofKind::Service
                    && let Some(i) = topo.index_of(&s.id)
                {
                    spof[i.get()] = SpofMark::Static;
                }
            }
            for s in link.live_spofs.iter().flatten() {
                if s.kind == SpofKind::Service
                    && let Some(i) = topo.index_of(&s.id)
                    && spof[i.get()] == SpofMark::No
                {
                    spof[i.get()] = SpofMark::Live;
                }
            }
        }
        for l in &mut on_links {
            l.dedup();
        }
        Self {
            topo,
            report_of,
            spof,
            on_links,
            entry_of,
        }
    }

    fn state(&self, i: usize) -> State {
        self.report_of[i].map_or(State::Unknown, |r| r.effective)
    }

    fn healthy(&self, i: usize) -> bool {
        matches!(self.state(i), State::Up | State::Unknown)
    }

    fn group_key(&self, i: usize, by: GroupBy) -> Option<String> {
        let s = &self.topo.services[i];
        match by {
            GroupBy::Owner => s.owner.clone(),
            GroupBy::Tag => s.tags.first().cloned(),
            GroupBy::Zone => {
                let zones = zones_of(s);
                if zones.is_empty() {
                    None
                } else {
                    Some(zones.join(" + "))
                }
            }
        }
    }

    fn service_node(&self, i: usize, note_links: Vec<String>) -> ServiceNode {
        let s = &self.topo.services[i];
        let probes = self.report_of[i].and_then(|r| r.probes.as_ref());
        let total = s.instances.len();
        let mut instances = match probes {
            Some(p) if !p.is_empty() => {
                let up = p.iter().filter(|r| r.state == State::Up).count();
                let degraded = p.iter().filter(|r| r.state == State::Degraded).count();
                if degraded > 0 {
                    format!("{up}/{total} up, {degraded} degraded")
                } else {
                    format!("{up}/{total} up")
                }
            }
            _ if total == 1 => "1 instance".to_owned(),
            _ if s.min_healthy > 1 => format!("{total} instances, min {}", s.min_healthy),
            _ => format!("{total} instances"),
        };
        let zones = zones_of(s);
        match zones.len() {
            0 => {}
            1..=4 => {
                instances.push_str(" · ");
                instances.push_str(&zones.join(", "));
            }
            n => {
                let _ = write!(instances, " · {n} zones");
            }
        }
        let at_risk = probes.is_some_and(|p| {
            !p.is_empty()
                && s.spare() > 0
                && p.iter().filter(|r| r.state.is_alive()).count() == s.min_healthy
        });
        let mut tooltip = s.name.to_string();
        if let Some(o) = &s.owner {
            let _ = write!(tooltip, " (owner: {o})");
        }
        if let Some(d) = &s.description {
            tooltip.push_str(": ");
            tooltip.push_str(d);
        }
        ServiceNode {
            name: s.name.to_string(),
            state: self.state(i),
            spof: self.spof[i],
            at_risk,
            instances,
            entry_of: self.entry_of[i].clone(),
            on_links: self.on_links[i].clone(),
            note_links,
            tooltip,
        }
    }
}

fn zones_of(s: &Service) -> Vec<String> {
    let zones: BTreeSet<&str> = s
        .instances
        .iter()
        .flat_map(|i| &i.domains)
        .filter(|d| d.key == "zone")
        .map(|d| d.value.as_str())
        .collect();
    zones.into_iter().map(str::to_owned).collect()
}

/// `800ms`, `2s`, `1.5s`, `1m`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        format!("{}µs", d.as_micros())
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else if ms < 1000 {
        format!("{ms}ms")
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

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

/// Which node a service is drawn as.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rep {
    Hidden,
    Node(usize),
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
        let facts = Facts::new(topo, report);
        let n = topo.services.len();
        let mut caption_notes = Vec::new();

        // 1. Which services may appear at all.
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

        // 2. Which candidates get their own node; the others are folded.
        let candidates: Vec<usize> = (0..n).filter(|&i| candidate[i]).collect();
        let mut keep = vec![false; n];
        let folded = if candidates.len() <= options.max_services {
            for &i in &candidates {
                keep[i] = true;
            }
            false
        } else {
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
                for &i in &candidates {
                    if !keep[i] && tier(i) {
                        if kept == options.max_services {
                            break 'tiers;
                        }
                        keep[i] = true;
                        kept += 1;
                    }
                }
            }
            true
        };

        // 3. Clusters.
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

        // 4. Service nodes.
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
        let mut used: BTreeSet<String> = topo.services.iter().map(|s| s.name.to_string()).collect();

        // 5. Summary nodes for folded candidates.
        let summary_start = nodes.len();
        if folded {
            let by = options.group_by.unwrap_or(GroupBy::Owner);
            let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
            for &i in &candidates {
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
                let key = fresh_key(&format!("summary:{group}"), &mut used);
                let idx = nodes.len();
                for &i in &members {
                    rep[i] = Rep::Node(idx);
                }
                nodes.push(ViewNode {
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
        }

        // 6. Edges (and group nodes), folding parallel edges between summary nodes.
        let summaries = summary_start..nodes.len();
        let mut hidden: BTreeMap<usize, usize> = BTreeMap::new();
        let mut edges: Vec<ViewEdge> = Vec::new();
        let mut folded_edge: HashMap<(usize, usize, Strength), usize> = HashMap::new();
        let mut add_edge = |edges: &mut Vec<ViewEdge>,
                            from: usize,
                            to: usize,
                            strength: Strength,
                            timeout: Option<Duration>,
                            single: bool| {
            if from == to {
                return;
            }
            // Edges of folded groups are left out: a group connects to services at every depth,
            // so its edges span dozens of ranks and `dot` spends minutes placing them (42 s for
            // 700 such edges at 1,000 services). The group node counts them instead.
            if summaries.contains(&from) || summaries.contains(&to) {
                if summaries.contains(&from) != summaries.contains(&to) {
                    let group = if summaries.contains(&from) { from } else { to };
                    *hidden.entry(group).or_insert(0) += 1;
                }
                return;
            }
            if single {
                edges.push(ViewEdge {
                    from,
                    to,
                    strength,
                    timeout,
                    weak_without_timeout: strength == Strength::Weak && timeout.is_none(),
                    count: 1,
                });
                return;
            }
            if let Some(&e) = folded_edge.get(&(from, to, strength)) {
                edges[e].count += 1;
                edges[e].timeout = None;
                edges[e].weak_without_timeout = false;
            } else {
                folded_edge.insert((from, to, strength), edges.len());
                edges.push(ViewEdge {
                    from,
                    to,
                    strength,
                    timeout,
                    weak_without_timeout: strength == Strength::Weak && timeout.is_none(),
                    count: 1,
                });
            }
        };
        let is_service_node =
            |nodes: &[ViewNode], k: usize| matches!(nodes[k].kind, NodeKind::Service(_));
        for (i, s) in topo.services.iter().enumerate() {
            let Rep::Node(from) = rep[i] else { continue };
            for d in &s.depends_on {
                match &d.target {
                    Target::Service(t) => {
                        let Rep::Node(to) = rep[t.get()] else {
                            continue;
                        };
                        let single = is_service_node(&nodes, from) && is_service_node(&nodes, to);
                        add_edge(&mut edges, from, to, d.strength, d.timeout, single);
                    }
                    Target::AnyOf { members, min } => {
                        if is_service_node(&nodes, from) {
                            let states: Vec<State> =
                                members.iter().map(|m| facts.state(m.get())).collect();
                            let key = fresh_key(&format!("{}/{}", s.name, d.label), &mut used);
                            let g = nodes.len();
                            let cluster = group_cluster(&cluster_of, i, members);
                            nodes.push(ViewNode {
                                key,
                                kind: NodeKind::Group(GroupNode {
                                    label: d.label.clone(),
                                    owner: s.name.to_string(),
                                    min: *min,
                                    of: members.len(),
                                    strength: d.strength,
                                    state: group_state(&states, *min),
                                }),
                                cluster,
                            });
                            add_edge(&mut edges, from, g, d.strength, d.timeout, true);
                            let mut seen = BTreeSet::new();
                            for m in members {
                                let Rep::Node(to) = rep[m.get()] else {
                                    continue;
                                };
                                if seen.insert(to) {
                                    let single = is_service_node(&nodes, to);
                                    add_edge(&mut edges, g, to, d.strength, None, single);
                                }
                            }
                        } else {
                            for m in members {
                                let Rep::Node(to) = rep[m.get()] else {
                                    continue;
                                };
                                add_edge(&mut edges, from, to, d.strength, None, false);
                            }
                        }
                    }
                }
            }
        }
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
        // Group nodes sit after the service nodes that own them; move summaries last so the
        // order is services, groups, summaries regardless of when they were created.
        let (nodes, edges) = order_nodes(nodes, edges);

        // 7. Caption.
        let mut links: Vec<_> = report.links.iter().collect();
        links.sort_by(|a, b| a.name.cmp(&b.name));
        let mut domain: BTreeMap<String, DomainSpofLine> = BTreeMap::new();
        for l in &links {
            for s in l.spofs.iter().filter(|s| s.kind == SpofKind::Domain) {
                let line = domain
                    .entry(s.id.clone())
                    .or_insert_with(|| DomainSpofLine {
                        id: s.id.clone(),
                        links: Vec::new(),
                        implied_by: Vec::new(),
                    });
                line.links.push(l.name.clone());
                for x in s.implied_by.iter().flatten() {
                    if !line.implied_by.contains(x) {
                        line.implied_by.push(x.clone());
                    }
                }
            }
        }
        for line in domain.values_mut() {
            line.implied_by.sort();
        }
        let caption = Caption {
            title: report.topology.clone(),
            links: links
                .iter()
                .map(|l| LinkLine {
                    name: l.name.clone(),
                    state: l.state,
                    critical_path: l.critical_path.len(),
                    spofs: l.spofs.len(),
                })
                .collect(),
            domain_spofs: domain.into_values().collect(),
            assumed_failed: report.assumed_failed.clone().unwrap_or_default(),
            notes: caption_notes,
        };

        // Drop clusters nothing is drawn in (a link whose path is folded or filtered away).
        let mut used_cluster = vec![false; clusters.len()];
        for node in &nodes {
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
        let nodes = nodes
            .into_iter()
            .map(|mut node| {
                node.cluster = node.cluster.and_then(|c| remap[c]);
                node
            })
            .collect();

        Ok(Self {
            nodes,
            edges,
            clusters: kept_clusters,
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

/// The link whose cluster holds a service on the critical paths of `on` (sorted): the requested
/// link if it is one of them, else the first by name.
fn home_link<'a>(on: &'a [String], requested: Option<&str>) -> Option<&'a str> {
    requested
        .and_then(|r| on.iter().find(|l| l.as_str() == r))
        .or_else(|| on.first())
        .map(String::as_str)
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

/// A key not yet used by any service or node.
fn fresh_key(base: &str, used: &mut BTreeSet<String>) -> String {
    let mut key = base.to_owned();
    while used.contains(&key) {
        key.push('\'');
    }
    used.insert(key.clone());
    key
}

/// Reorders nodes to services, groups, summaries (stable within each) and remaps edges.
fn order_nodes(nodes: Vec<ViewNode>, edges: Vec<ViewEdge>) -> (Vec<ViewNode>, Vec<ViewEdge>) {
    let rank = |n: &ViewNode| match n.kind {
        NodeKind::Service(_) => 0,
        NodeKind::Group(_) => 1,
        NodeKind::Summary(_) => 2,
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

    #[test]
    fn durations_read_like_the_file() {
        assert_eq!(format_duration(Duration::from_millis(800)), "800ms");
        assert_eq!(format_duration(Duration::from_secs(2)), "2s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_secs(60)), "1m");
    }
}
