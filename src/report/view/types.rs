//! The view's data: nodes, edges, clusters and caption, as the DOT and Mermaid writers read them.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::report::render_error::RenderError;
use crate::state::State;
use crate::topology::model::Strength;

/// Default ceiling on service nodes handed to a layout engine (see the module docs).
pub const DEFAULT_MAX_SERVICES: usize = 300;

/// Service nodes in the whole-system overview once a topology is folded, besides the links'
/// entries: shared hotspots and the SPOFs that take most links down (each node is ~4 SVG
/// texts; the overview of 20,000 services stays under 800).
pub const OVERVIEW_MAX_SERVICES: usize = 60;

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
    /// In a one-link picture: a SPOF of other links, not of the one drawn.
    Elsewhere,
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
    /// Links to name on the node ("critical for …"): all of `on_links`, or in a one-link picture
    /// those besides the link drawn.
    pub note_links: Vec<String>,
    /// Links it is a service SPOF of (by design, or now after probing), sorted.
    pub spof_links: Vec<String>,
    /// In a one-link picture: off that link's critical path, drawn as context.
    pub context: bool,
    /// Owner, description: shown as tooltip.
    pub tooltip: String,
    /// Its blast radius from the report: links it takes down, other services it takes down.
    pub blast: (usize, usize),
    /// In a picture where every service on the path is a SPOF ([`GraphView::all_spof`]): the
    /// worst of them by blast radius, the one node still outlined thick red.
    pub worst_spof: bool,
    /// Its operations (SPEC §1), in name order: each drawn as a port of the node, where the
    /// edges of its own calls leave and the calls naming it enter. Empty for most services.
    pub operations: Vec<OperationPort>,
}

/// One operation of a drawn service: a port of its node.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationPort {
    /// The operation's name.
    pub name: String,
    /// Its effective state from the report (`unknown` when the report lacks it).
    pub state: State,
    /// Links that enter the service at this operation.
    pub entry_of: Vec<String>,
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
    /// How many of them are on some critical path (in a one-link picture: on that link's).
    pub on_critical: usize,
    /// In a one-link picture: a fold of the link's critical path (every member is on it), drawn
    /// inside the cluster; otherwise a fold of context.
    pub in_path: bool,
    /// Links whose critical path runs through it (the whole-system picture), by name.
    pub links: Vec<String>,
    /// Dependencies between its services and drawn services (left out of the picture).
    pub hidden_edges: usize,
    /// Worst state among them.
    pub state: State,
}

impl SummaryNode {
    /// `412 services, all up` / `412 services: 410 up, 2 unknown`; `412 services` unprobed.
    /// Without observed states (`probed` false), only the count: a static picture says no state.
    pub fn counts_text(&self, probed: bool) -> String {
        let noun = if self.count == 1 {
            "service"
        } else {
            "services"
        };
        if !probed {
            return format!("{} {noun}", self.count);
        }
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

/// A link, drawn as the entry node its route starts from.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkNode {
    /// The link's name.
    pub name: String,
    /// Its state (only shown after probing).
    pub state: State,
    /// Services on its critical path.
    pub critical_path: usize,
    /// Its SPOFs (services and domains).
    pub spofs: usize,
}

/// What a node stands for.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A link's entry point (an edge leads from it to the link's entry service).
    Link(LinkNode),
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
            NodeKind::Link(l) => l.state,
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
    /// Not one dependency but a route of strong ones through folded services: `from` depends
    /// on `to` through services the picture does not draw (see [`GraphView::folded`]).
    pub indirect: bool,
    /// The caller's operation that makes the call (index into its node's
    /// [`ServiceNode::operations`]); `None` = the service itself (every operation).
    pub from_op: Option<usize>,
    /// The operation of the dependency the call names (index into its node's
    /// [`ServiceNode::operations`]); `None` = the service (all of its operations).
    pub to_op: Option<usize>,
}

impl ViewEdge {
    /// The text on the edge: timeout, `no timeout`, or `×N` for folded edges.
    pub fn label(&self) -> Option<String> {
        if self.indirect {
            return None;
        }
        if self.count > 1 {
            return Some(format!("×{}", self.count));
        }
        if let Some(t) = self.timeout {
            return Some(crate::duration::show(t));
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
    /// Links and domain SPOFs left out of the caption (it shows the worst [`CAPTION_LINES`]).
    pub more_links: usize,
    /// Domain SPOFs left out of the caption.
    pub more_domain_spofs: usize,
    /// Whether states were observed: without that, the caption shows none.
    pub probed: bool,
    /// Said once, in red, when every service on the path is a SPOF ([`AllSpof`]).
    pub all_spof: Option<String>,
}

/// Every service on the drawn critical path (of the link drawn, or of every link in the
/// whole-system picture) is a SPOF: a chain without redundancy. Red on every node would say
/// nothing, so the caption says it once, the nodes get a thin red outline with their blast
/// radius, and only the worst by blast radius (most links, then most services) keeps the thick
/// outline and the badge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllSpof {
    /// How many services are on the path(s), all SPOFs.
    pub services: usize,
    /// The worst by blast radius (ties kept, at most three), by name.
    pub worst: Vec<String>,
    /// Their blast radius: links, other services.
    pub blast: (usize, usize),
}

/// The caption lists at most this many links and this many domain SPOFs (the worst first).
pub const CAPTION_LINES: usize = 10;

/// The picture's content. See the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphView {
    /// Nodes: services by name, then groups, then summaries.
    pub nodes: Vec<ViewNode>,
    /// Edges: from link nodes to their entries, then in the order of the callers' `depends_on`.
    pub edges: Vec<ViewEdge>,
    /// Clusters, in name order for groups, link order for links.
    pub clusters: Vec<ViewCluster>,
    /// Caption.
    pub caption: Caption,
    /// How clusters were chosen.
    pub group_by: Option<GroupBy>,
    /// The one link drawn (`--link`); `None` for the whole system.
    pub link: Option<String>,
    /// Whether states were observed (probes or `--fail`): without that, no state is shown.
    pub probed: bool,
    /// Whether services were folded into summary nodes (a large topology).
    pub folded: bool,
    /// Set when every service on the drawn path is a SPOF (see [`AllSpof`]).
    pub all_spof: Option<AllSpof>,
}
