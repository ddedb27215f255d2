//! Operations (SPEC §1–§2): the analysis graph over (service, operation) nodes.
//!
//! A topology whose services declare `operations:` is *expanded* into a plain topology (one
//! without operations) that the engine analyses unchanged, and the result is mapped back to
//! services. Nodes of the expanded topology, for a service `s` with operations `o1 … ok`:
//! - `s` itself (same [`ServiceIdx`]): the *service* — its instances, failure domains, probes
//!   and its own `depends_on`. Every instance and domain event stays an event of `s`, so one
//!   lost frontend pod is one event, whatever the number of operations.
//! - `s (oi)`, one per operation, with no instance of its own: a strong dependency on `s` (so
//!   whatever fails the service fails every operation at once) plus the operation's own
//!   `depends_on`. An operation's dependencies are its own plus its service's.
//! - `s` *(all operations)*, with no instance: a strong dependency on every `s (oi)`. A link or
//!   a dependency that names no operation of a service that has some enters this node.
//!
//! "All of them" is the conservative reading: a caller that does not say which operation it
//! uses is assumed to need every one, so it fails when any operation fails. That is also what
//! the same file meant before its service was split into operations (the service's
//! `depends_on` was the union of its routes'), so adding `operations:` to a service without
//! touching its callers changes none of their findings; naming an `operation` is what narrows
//! a caller's critical path.
//!
//! Synthetic nodes are numbered after the real services (`services.len()..`), service by
//! service in index order: its operations in name order, then its all-operations node.
//! [`node_name`] gives any node's display name (`frontend (checkout)`), so SPOF paths can name
//! the operation a failure travels through. Everything else in [`Analysis`] is mapped back to
//! real services.

use crate::topology::model::{
    Dependency, Link, OperationIdx, Service, ServiceIdx, ServiceName, Strength, Target, Topology,
};

use crate::state::State;

use super::{Analysis, BlastDetail, OperationAnalysis, Options, RootCause};
use crate::topology::model::RiskRule;

/// What a node of the expanded topology stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    /// A service itself (its instances and own dependencies).
    Service(ServiceIdx),
    /// One operation of a service.
    Operation(ServiceIdx, OperationIdx),
    /// Every operation of a service together.
    All(ServiceIdx),
}

impl Node {
    /// The service the node belongs to.
    pub fn service(self) -> ServiceIdx {
        match self {
            Self::Service(s) | Self::Operation(s, _) | Self::All(s) => s,
        }
    }
}

/// The node numbering of a topology with operations.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Per real service, the first synthetic node of its operations (`u32::MAX` = none).
    first: Vec<u32>,
    /// Every node, by index.
    pub nodes: Vec<Node>,
}

impl Layout {
    /// Numbers the nodes of `topo`.
    pub fn new(topo: &Topology) -> Self {
        let n = topo.services.len();
        let mut nodes: Vec<Node> = (0..n as u32)
            .map(|s| Node::Service(ServiceIdx(s)))
            .collect();
        let mut first = vec![u32::MAX; n];
        for (idx, svc) in topo.iter_services() {
            if svc.operations.is_empty() {
                continue;
            }
            first[idx.get()] = nodes.len() as u32;
            for o in 0..svc.operations.len() {
                nodes.push(Node::Operation(idx, OperationIdx(o as u32)));
            }
            nodes.push(Node::All(idx));
        }
        Self { first, nodes }
    }

    /// Per node, what its own probes observed, for the operations (SPEC §1: an operation's own
    /// probe decides that operation's observed state): from `per_operation` (per service, per
    /// operation, per instance, as [`Options::operations_observed`] holds them) by the same
    /// rule as a service's instances (fewer than `min_healthy` alive = `down`). `unknown` for
    /// an operation without a probe of its own and for every other node.
    pub fn own_observed(
        &self,
        topo: &Topology,
        per_operation: Option<&[Vec<Vec<State>>]>,
    ) -> Vec<State> {
        self.nodes
            .iter()
            .map(|node| match *node {
                Node::Operation(s, o) => per_operation
                    .and_then(|p| p.get(s.get()))
                    .and_then(|ops| ops.get(o.get()))
                    .filter(|states| !states.is_empty())
                    .map_or(State::Unknown, |states| {
                        super::propagate::observed_state(topo.service(s), Some(states), &[])
                    }),
                _ => State::Unknown,
            })
            .collect()
    }

    /// Sets the observed state of every operation node (SPEC §1: an operation's own probe
    /// decides that operation's observed state; the service's probes decide the service's and
    /// every operation's): the worse of its service's and its own probes' (`own`, from
    /// [`Self::own_observed`]), where a known state wins over `unknown` (an operation without
    /// a probe of its own is as its service). An all-operations node is observed as the worst
    /// of its operations, the same way. `unknown` would not do for either: it does not
    /// propagate, so an operation of a healthy service would stay `unknown`. The `--fail`
    /// events' own states are not adjusted: they take instances, never an operation alone.
    pub fn set_observed(&self, observed: &mut [State], own: &[State]) {
        for (i, node) in self.nodes.iter().enumerate() {
            match *node {
                Node::Operation(s, _) => observed[i] = known_worst(observed[s.get()], own[i]),
                Node::All(s) => {
                    let first = self.first[s.get()] as usize;
                    observed[i] = observed[first..i]
                        .iter()
                        .fold(observed[s.get()], |acc, &st| known_worst(acc, st));
                }
                Node::Service(_) => {}
            }
        }
    }

    /// Per node, the index of its service: what N-2 impacts count (services, not nodes).
    pub fn service_of(&self) -> Vec<u32> {
        self.nodes.iter().map(|n| n.service().0).collect()
    }

    /// A SPOF path over expanded nodes, as reported: all-operations nodes dropped (the
    /// operation that carries the failure is named instead), and a service right after one of
    /// its own operations dropped, except as the last element, the SPOF itself.
    pub fn collapse_path(&self, path: &[ServiceIdx]) -> Vec<ServiceIdx> {
        collapse_path(self, path)
    }

    /// The node a link or a dependency enters: the named operation, else all operations of a
    /// service with operations, else the service.
    pub fn target(&self, topo: &Topology, s: ServiceIdx, op: Option<OperationIdx>) -> ServiceIdx {
        let first = self.first[s.get()];
        if first == u32::MAX {
            return s;
        }
        match op {
            Some(o) => ServiceIdx(first + o.0),
            None => ServiceIdx(first + topo.service(s).operations.len() as u32),
        }
    }
}

/// The display name of node `idx` of `topo`'s expanded topology: `frontend`, or
/// `frontend (checkout)` for an operation. For a topology without operations, the service's
/// name.
pub fn node_name(topo: &Topology, idx: ServiceIdx) -> String {
    if idx.get() < topo.services.len() {
        return topo.service(idx).name.as_str().to_owned();
    }
    Layout::new(topo).node_name(topo, idx)
}

impl Layout {
    /// [`node_name`] without numbering the nodes again: for naming many of them.
    pub fn node_name(&self, topo: &Topology, idx: ServiceIdx) -> String {
        match self.nodes.get(idx.get()) {
            Some(Node::Operation(s, o)) => {
                let svc = topo.service(*s);
                format!("{} ({})", svc.name, svc.operation_name(*o))
            }
            Some(n) => topo.service(n.service()).name.as_str().to_owned(),
            None => format!("#{}", idx.0),
        }
    }
}

/// The worse of two observed states, where a known state wins over `unknown`.
fn known_worst(a: State, b: State) -> State {
    match (a, b) {
        (State::Unknown, x) | (x, State::Unknown) => x,
        (x, y) => x.max(y),
    }
}

/// How reports name operation `o` of service `s`: `frontend (checkout)`.
pub fn operation_name(topo: &Topology, s: ServiceIdx, o: OperationIdx) -> String {
    let svc = topo.service(s);
    format!("{} ({})", svc.name, svc.operation_name(o))
}

/// The expanded topology: no service has operations; nodes as [`Layout`] numbers them.
pub fn expand(topo: &Topology, layout: &Layout) -> Topology {
    let map_dep = |d: &Dependency| -> Dependency {
        let target = match &d.target {
            Target::Service(t) => Target::Service(layout.target(topo, *t, d.operation)),
            Target::AnyOf { members, min } => Target::AnyOf {
                members: members
                    .iter()
                    .map(|&m| layout.target(topo, m, None))
                    .collect(),
                min: *min,
            },
        };
        Dependency {
            target,
            operation: None,
            ..d.clone()
        }
    };
    let strong = |label: &str, t: ServiceIdx| Dependency {
        label: label.to_owned(),
        strength: Strength::Strong,
        timeout: None,
        fallback: None,
        target: Target::Service(t),
        operation: None,
    };
    let virtual_of = |svc: &Service, name: String, depends_on: Vec<Dependency>| Service {
        name: ServiceName::new(name),
        description: None,
        owner: svc.owner.clone(),
        tags: svc.tags.clone(),
        core: svc.core,
        core_explicit: svc.core_explicit,
        instances: Vec::new(),
        min_healthy: 0,
        depends_on,
        operations: Vec::new(),
    };
    let mut services: Vec<Service> = Vec::with_capacity(layout.nodes.len());
    for node in &layout.nodes {
        let svc = topo.service(node.service());
        services.push(match *node {
            Node::Service(_) => Service {
                depends_on: svc.depends_on.iter().map(map_dep).collect(),
                operations: Vec::new(),
                ..svc.clone()
            },
            Node::Operation(s, o) => {
                let op = &svc.operations[o.get()];
                let mut deps = vec![strong(svc.name.as_str(), s)];
                deps.extend(op.depends_on.iter().map(map_dep));
                virtual_of(svc, format!("{} ({})", svc.name, op.name), deps)
            }
            Node::All(s) => {
                let deps = (0..svc.operations.len() as u32)
                    .map(|o| {
                        let op = OperationIdx(o);
                        strong(svc.operation_name(op), layout.target(topo, s, Some(op)))
                    })
                    .collect();
                virtual_of(svc, all_name(&svc.name), deps)
            }
        });
    }
    let links = topo
        .links
        .iter()
        .map(|l| Link {
            entry: layout.target(topo, l.entry, l.operation),
            operation: None,
            ..l.clone()
        })
        .collect();
    Topology {
        links,
        services,
        ..topo.clone()
    }
}

/// Options for the expanded run: the full blast radius, so it can be mapped back.
pub fn expanded_options<'a>(opts: &Options<'a>) -> Options<'a> {
    Options {
        blast_radius: match opts.blast_radius {
            BlastDetail::Off => BlastDetail::Off,
            _ => BlastDetail::Full,
        },
        ..opts.clone()
    }
}

/// A SPOF path over expanded nodes, as reported: all-operations nodes dropped (the operation
/// that carries the failure is named instead), and a service right after one of its own
/// operations dropped (that hop is the operation running on the service), except as the last
/// element, the SPOF itself, which then replaces its operation.
fn collapse_path(layout: &Layout, path: &[ServiceIdx]) -> Vec<ServiceIdx> {
    if path.iter().all(|p| p.get() < layout.first.len()) {
        return path.to_vec();
    }
    let mut out: Vec<ServiceIdx> = Vec::with_capacity(path.len());
    for (i, &p) in path.iter().enumerate() {
        match layout.nodes[p.get()] {
            Node::All(_) => {}
            Node::Service(s) => {
                let after_own_op = out.last().is_some_and(|l| {
                    layout.nodes[l.get()] == Node::Operation(s, op_of(layout, *l))
                });
                if after_own_op {
                    if i + 1 == path.len() {
                        out.pop();
                        out.push(p);
                    }
                } else {
                    out.push(p);
                }
            }
            Node::Operation(..) => out.push(p),
        }
    }
    out
}

fn op_of(layout: &Layout, idx: ServiceIdx) -> OperationIdx {
    match layout.nodes[idx.get()] {
        Node::Operation(_, o) => o,
        _ => OperationIdx(u32::MAX),
    }
}

/// Real services of a list of nodes, sorted and unique.
fn services_of(layout: &Layout, v: &[ServiceIdx]) -> Vec<ServiceIdx> {
    let mut out: Vec<ServiceIdx> = v.iter().map(|s| layout.nodes[s.get()].service()).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Maps the analysis of the expanded topology back to the services of `topo`.
pub fn map_back(topo: &Topology, layout: &Layout, opts: &Options<'_>, a: Analysis) -> Analysis {
    let n = topo.services.len();
    // SPOF paths were collapsed during the run (the risks quote them).
    let links = a
        .links
        .into_iter()
        .map(|mut l| {
            l.critical_path = services_of(layout, &l.critical_path);
            l
        })
        .collect();

    // Upstream and downstream between services, from the file (operations included).
    let mut upstream: Vec<Vec<ServiceIdx>> = vec![Vec::new(); n];
    let mut downstream: Vec<Vec<ServiceIdx>> = vec![Vec::new(); n];
    for (idx, svc) in topo.iter_services() {
        let deps = svc
            .depends_on
            .iter()
            .chain(svc.operations.iter().flat_map(|o| &o.depends_on));
        for dep in deps {
            for t in dep.targets() {
                downstream[idx.get()].push(*t);
                upstream[t.get()].push(idx);
            }
        }
    }
    let full = opts.blast_radius == BlastDetail::Full;
    let mut nodes = a.services;
    let operations: Vec<Vec<OperationAnalysis>> = topo
        .iter_services()
        .map(|(s, svc)| {
            (0..svc.operations.len() as u32)
                .map(|o| {
                    let node = layout.target(topo, s, Some(OperationIdx(o)));
                    OperationAnalysis {
                        observed: nodes[node.get()].observed,
                        effective: nodes[node.get()].effective,
                        because_of: std::mem::take(&mut nodes[node.get()].because_of),
                    }
                })
                .collect()
        })
        .collect();
    let services: Vec<_> = nodes
        .into_iter()
        .take(n)
        .zip(operations)
        .enumerate()
        .map(|(s, (mut sa, ops))| {
            sa.operations = ops;
            let mut up = std::mem::take(&mut upstream[s]);
            up.sort_unstable();
            up.dedup();
            let mut down = std::mem::take(&mut downstream[s]);
            down.sort_unstable();
            down.dedup();
            sa.upstream = up;
            sa.downstream = down;
            if let Some(b) = &mut sa.blast_radius {
                let others: Vec<ServiceIdx> = b
                    .services
                    .take()
                    .map(|v| services_of(layout, &v))
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|t| t.get() != s)
                    .collect();
                b.service_count = others.len();
                b.services = full.then_some(others);
            }
            sa
        })
        .collect::<Vec<_>>();
    let ranking = if a.ranking.is_empty() {
        Vec::new()
    } else {
        let mut r: Vec<ServiceIdx> = (0..n as u32).map(ServiceIdx).collect();
        let key = |s: &ServiceIdx| {
            services[s.get()]
                .blast_radius
                .as_ref()
                .map_or((0, 0), |b| (b.links.len(), b.service_count))
        };
        r.sort_by(|x, y| key(y).cmp(&key(x)).then(x.cmp(y)));
        r
    };
    let root_causes = a
        .root_causes
        .map(|v| v.into_iter().map(|c| cause_back(layout, c)).collect());
    // Synthetic node names as the expanded topology spells them.
    let mut synthetic: std::collections::HashMap<String, String> =
        std::collections::HashMap::default();
    for node in &layout.nodes {
        let svc = topo.service(node.service());
        match *node {
            Node::Operation(_, o) => {
                synthetic.insert(
                    format!("{} ({})", svc.name, svc.operation_name(o)),
                    svc.name.as_str().to_owned(),
                );
            }
            Node::All(_) => {
                synthetic.insert(all_name(&svc.name), String::new());
            }
            Node::Service(_) => {}
        }
    }
    let risks = a
        .risks
        .into_iter()
        .filter_map(|mut r| match r.rule {
            // Per-service rules: the service's own node speaks for its operations.
            RiskRule::NoncoreOnCriticalPath
            | RiskRule::UnprobedCritical
            | RiskRule::SharedHotspot => (!synthetic.contains_key(&r.subjects[0])).then_some(r),
            RiskRule::DeepStrongChain => {
                // `frontend (all operations) → frontend (checkout) → frontend` is no hop: the
                // chain goes on from the operation.
                let mut chain: Vec<String> = Vec::with_capacity(r.subjects.len());
                for s in std::mem::take(&mut r.subjects) {
                    match synthetic.get(&s) {
                        Some(svc) if svc.is_empty() => continue,
                        _ => {}
                    }
                    let after_own_op = chain
                        .last()
                        .and_then(|p| synthetic.get(p))
                        .is_some_and(|svc| *svc == s);
                    if !after_own_op {
                        chain.push(s);
                    }
                }
                let depth = chain.len().saturating_sub(1);
                if depth <= topo.risks.max_strong_depth {
                    return None;
                }
                r.message = format!(
                    "{} has a strong chain of depth {depth} (more than {}): {}",
                    r.message
                        .split(" has a strong chain")
                        .next()
                        .unwrap_or_default(),
                    topo.risks.max_strong_depth,
                    chain.join(" → ")
                );
                r.subjects = chain;
                Some(r)
            }
            _ => Some(r),
        })
        .collect();
    Analysis {
        links,
        services,
        risks,
        assumed_failed: a.assumed_failed,
        ranking,
        root_causes,
    }
}

/// A root cause over expanded nodes, over services: its members' services (and which members
/// are one operation only), the services it fails as a whole, and the operations it fails
/// whose service stays up. An all-operations node is never named: it fails only with one of
/// the operations.
fn cause_back(layout: &Layout, c: RootCause) -> RootCause {
    let whole = |v: &[ServiceIdx]| -> Vec<ServiceIdx> {
        v.iter()
            .filter_map(|&p| match layout.nodes[p.get()] {
                Node::Service(s) => Some(s),
                _ => None,
            })
            .collect()
    };
    let ops = |v: &[ServiceIdx], covered: &[ServiceIdx]| -> Vec<(ServiceIdx, OperationIdx)> {
        let mut out: Vec<_> = v
            .iter()
            .filter_map(|&p| match layout.nodes[p.get()] {
                Node::Operation(s, o) if !covered.contains(&s) => Some((s, o)),
                _ => None,
            })
            .collect();
        out.sort_unstable();
        out
    };
    let whole_members = whole(&c.members);
    let member_operations = ops(&c.members, &whole_members);
    let members = services_of(layout, &c.members);
    let mut services: Vec<ServiceIdx> = whole(&c.services);
    services.sort_unstable();
    let covered: Vec<ServiceIdx> = whole_members.iter().chain(&services).copied().collect();
    let operations = ops(&c.services, &covered)
        .into_iter()
        .filter(|op| !member_operations.contains(op))
        .collect();
    RootCause {
        members,
        services,
        member_operations,
        operations,
        ..c
    }
}

/// The name of a service's all-operations node in the expanded topology.
fn all_name(service: &ServiceName) -> String {
    format!("{service} (all operations)")
}
