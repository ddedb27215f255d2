//! Stage 2: failure propagation, SPOFs, N-2 pairs, blast radius and risks (SPEC §2).
//!
//! Pure and synchronous: [`analyze`] reads a [`Topology`] and [`Options`] (optionally the
//! observed per-instance states from probes, and `--fail` events) and returns an [`Analysis`]
//! indexed like the model. [`crate::report::build`] turns it into the serializable report.
//!
//! Semantics that the SPEC leaves open, fixed here:
//! - `unknown` never propagates; an unknown `any_of` member counts as alive.
//! - Cycles resolve to the least fixpoint: a strong cycle with nothing failed stays up.
//! - `spofs` are always design-time (nothing failed). `live_spofs` are computed whenever
//!   observed states or `--fail` events are given: the single further events that take the
//!   link down given what already failed. A link already down has `live_spofs = []`.
//! - N-2 pairs and blast radii are design-time too (computed as if nothing had failed).
//! - Root causes ([`rootcause`]) are computed whenever observed states or `--fail` events are
//!   given, from the observed and effective states; a service the `--fail` events fail is one.
//! - Link filter (`--link`): only that link is analysed and reported; the risk rules other than
//!   `spof` still look at every link (hotspots need them all).

pub mod blast;
pub mod diff;
pub mod event;
pub mod graph;
pub mod killset;
pub mod operations;
pub mod pairs;
pub mod propagate;
pub mod risk;
pub mod rootcause;
pub mod spof;

use std::collections::BTreeMap;

use crate::state::State;
use crate::topology::model::{Domain, ServiceIdx, Severity, Topology};

pub use event::{Event, EventSet, parse_events};
pub use risk::Risk;
pub use rootcause::{RootCause, RootCauseKind};

use event::{Domains, Instances};
use graph::Graph;
use propagate::DownPropagator;
use spof::{Residual, TokenKind};

/// What to analyse and with what knowledge.
#[derive(Debug, Clone)]
pub struct Options<'a> {
    /// 1 = single events only; 2 = also minimal pairs (N-2).
    pub depth: u8,
    /// Only this link (by name); `None` = every link.
    pub link: Option<&'a str>,
    /// Events assumed failed (`--fail`), as [`parse_events`] returns them for this topology.
    pub failed: &'a [Event],
    /// Per service (by index), per instance (by position), the state its probe found;
    /// `None` = nothing probed.
    pub observed: Option<&'a [Vec<State>]>,
    /// Per service (by index), per operation (by [`OperationIdx`](crate::topology::model::OperationIdx)), per instance, the state
    /// the operation's own probe found (SPEC §1); an empty list = no probe of its own (or not
    /// probed). `None` = no operation probed. Read only for services with operations.
    pub operations_observed: Option<&'a [Vec<Vec<State>>]>,
    /// How much of every service's blast radius to compute.
    pub blast_radius: BlastDetail,
    /// At most this many N-2 findings per link.
    pub pairs_cap: usize,
}

impl Options<'_> {
    /// Whether states were observed or assumed: probes ran, or `--fail` events were given.
    fn knows_states(&self) -> bool {
        self.observed.is_some() || self.operations_observed.is_some() || !self.failed.is_empty()
    }
}

impl Default for Options<'_> {
    fn default() -> Self {
        Self {
            depth: 1,
            link: None,
            failed: &[],
            observed: None,
            operations_observed: None,
            blast_radius: BlastDetail::Count,
            pairs_cap: 50,
        }
    }
}

/// How much of the blast radius (SPEC §2) to compute for every service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BlastDetail {
    /// None at all.
    Off,
    /// The links and the number of other services (the default: small at every size).
    #[default]
    Count,
    /// The links, the count and the list of the other services (`analyze --blast full`).
    Full,
}

/// Why an analysis could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnalysisError {
    /// `--link` names no link.
    #[error("{0}")]
    UnknownLink(String),
    /// `--depth` other than 1 or 2.
    #[error("unsupported depth `{0}`, expected 1 or 2")]
    Depth(u8),
}

/// The result of [`analyze`].
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// The analysed links, in name order.
    pub links: Vec<LinkAnalysis>,
    /// Every service, by [`ServiceIdx`].
    pub services: Vec<ServiceAnalysis>,
    /// Risk findings, sorted (severity worst first, rule, subjects).
    pub risks: Vec<Risk>,
    /// The `--fail` events, sorted; `None` when none were given.
    pub assumed_failed: Option<Vec<Event>>,
    /// Services by criticality: most links taken down first, then most services, then name.
    /// Empty unless the blast radius was computed.
    pub ranking: Vec<ServiceIdx>,
    /// The independent failures and what each explains, sorted (see [`rootcause`]); `None`
    /// unless observed states or `--fail` events were given. Covers every service and link,
    /// whatever `--link` selects.
    pub root_causes: Option<Vec<RootCause>>,
}

/// One analysed link.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkAnalysis {
    /// Index into [`Topology::links`].
    pub link: usize,
    /// Effective state of the entry.
    pub state: State,
    /// The entry and everything strong-reachable from it, in index (= name) order.
    pub critical_path: Vec<ServiceIdx>,
    /// Design-time SPOFs: services first, then domains, each in id order.
    pub spofs: Vec<SpofFinding>,
    /// SPOFs given what already failed; `None` unless observed states or `--fail` were given.
    pub live_spofs: Option<Vec<SpofFinding>>,
    /// N-2 findings with `depth: 2`, sorted by impact then events, capped.
    pub pairs: Option<Vec<PairFinding>>,
}

/// One single point of failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpofFinding {
    /// A service without a spare instance whose loss takes the link down.
    Service {
        /// The service.
        service: ServiceIdx,
        /// A shortest path from the entry to it along which the failure travels.
        path: Vec<ServiceIdx>,
    },
    /// A failure domain whose loss takes the link down.
    Domain {
        /// `key=value`.
        domain: Domain,
        /// The service SPOFs of the same link with an instance in it (empty = shared fate).
        implied_by: Vec<ServiceIdx>,
    },
}

/// Kind of an N-2 finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PairKind {
    /// Two different events.
    Pair,
    /// Two instances of one service: it has one spare only.
    ThinRedundancy,
}

/// One N-2 finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairFinding {
    /// Pair or thin redundancy.
    pub kind: PairKind,
    /// The two events (for thin redundancy: one pair of the service's instances).
    pub events: [Event; 2],
    /// For thin redundancy, the service.
    pub service: Option<ServiceIdx>,
    /// Services down when both events happen.
    pub impact: usize,
}

/// One analysed service.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceAnalysis {
    /// From probes and `--fail` events.
    pub observed: State,
    /// With dependencies.
    pub effective: State,
    /// Services that depend on it (any strength, groups included).
    pub upstream: Vec<ServiceIdx>,
    /// Services it depends on.
    pub downstream: Vec<ServiceIdx>,
    /// What goes down when all its instances fail; `None` when not computed.
    pub blast_radius: Option<BlastRadius>,
    /// Positions in [`Analysis::root_causes`] of the root causes this service is a
    /// consequence of, ascending; empty when it is healthy, is itself a root cause, or root
    /// causes were not computed.
    pub because_of: Vec<u32>,
    /// Its operations (SPEC §1), by [`OperationIdx`](crate::topology::model::OperationIdx); empty for a service without any.
    pub operations: Vec<OperationAnalysis>,
}

/// One analysed operation of a service: a node of its own in the analysis graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationAnalysis {
    /// The worse of its service's observed state and its own probe's (the service's alone
    /// when it has no probe of its own).
    pub observed: State,
    /// With the service's and its own dependencies.
    pub effective: State,
    /// Like [`ServiceAnalysis::because_of`], for the operation.
    pub because_of: Vec<u32>,
}

/// The links and other services down when a service fails entirely.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlastRadius {
    /// Indices into [`Topology::links`] (all links, not only the analysed ones), ascending.
    pub links: Vec<usize>,
    /// How many other services go down.
    pub service_count: usize,
    /// Those other services, ascending; only with [`BlastDetail::Full`].
    pub services: Option<Vec<ServiceIdx>>,
}

/// Runs the whole analysis.
///
/// A topology with operations is analysed over (service, operation) nodes
/// ([`operations`]) and mapped back; one without is analysed as it is.
pub fn analyze(topo: &Topology, opts: &Options<'_>) -> Result<Analysis, AnalysisError> {
    if !(1..=2).contains(&opts.depth) {
        return Err(AnalysisError::Depth(opts.depth));
    }
    if topo.has_operations() {
        let layout = operations::Layout::new(topo);
        let expanded = operations::expand(topo, &layout);
        let own = layout.own_observed(topo, opts.operations_observed);
        let a = analyze_nodes(
            &expanded,
            &operations::expanded_options(opts),
            &|observed| layout.set_observed(observed, &own),
            &|path| layout.collapse_path(&path),
            Some(&layout.service_of()),
        )?;
        return Ok(operations::map_back(topo, &layout, opts, a));
    }
    analyze_nodes(topo, opts, &|_| {}, &|p| p, None)
}

/// [`analyze`] over the nodes of a topology without operations; `fix_observed` adjusts the
/// observed states (from probes and `--fail`) before anything is derived from them (not the
/// states the `--fail` events alone give, which only ever touch instances), and `fix_path`
/// every SPOF path before the risks quote them; `service_of` maps each node to the service
/// it counts as in N-2 impacts (`None` = itself).
fn analyze_nodes(
    topo: &Topology,
    opts: &Options<'_>,
    fix_observed: &dyn Fn(&mut [State]),
    fix_path: &dyn Fn(Vec<ServiceIdx>) -> Vec<ServiceIdx>,
    service_of: Option<&[u32]>,
) -> Result<Analysis, AnalysisError> {
    let selected: Vec<usize> = match opts.link {
        None => (0..topo.links.len()).collect(),
        Some(name) => match topo.links.iter().position(|l| l.name.as_str() == name) {
            Some(i) => vec![i],
            None => {
                return Err(AnalysisError::UnknownLink(unknown_link(topo, name)));
            }
        },
    };
    let graph = Graph::new(topo);
    let inst = Instances::new(topo);
    let domains = Domains::new(topo);
    let n = topo.services.len();

    // Observed and effective states.
    let mut failed_inst = vec![false; inst.total()];
    for e in opts.failed {
        match e {
            Event::Instance { service, instance } => {
                // Events come from `parse_events`; ignore one that names no instance.
                if service.get() < n && (*instance as usize) < inst.range(service.0).len() {
                    failed_inst[inst.flat(service.0, *instance)] = true;
                }
            }
            Event::Domain(d) => {
                if let Some(id) = domains.id(d) {
                    for &(s, i) in &domains.members[id as usize] {
                        failed_inst[inst.flat(s, i)] = true;
                    }
                }
            }
        }
    }
    let mut observed: Vec<State> = topo
        .services
        .iter()
        .enumerate()
        .map(|(s, svc)| {
            let probed = opts.observed.and_then(|o| o.get(s)).map(Vec::as_slice);
            propagate::observed_state(svc, probed, &failed_inst[inst.range(s as u32)])
        })
        .collect();
    fix_observed(&mut observed);
    let effective = propagate::effective_states(&graph, &observed);
    let causes = if opts.knows_states() {
        let assumed: Vec<State> = topo
            .services
            .iter()
            .enumerate()
            .map(|(s, svc)| {
                propagate::observed_state(svc, None, &failed_inst[inst.range(s as u32)])
            })
            .collect();
        Some(rootcause::root_causes(
            topo, &graph, &observed, &effective, &assumed,
        ))
    } else {
        None
    };

    let entries: Vec<u32> = selected.iter().map(|&l| topo.links[l].entry.0).collect();
    let mut prop = DownPropagator::new(topo, &graph, &inst, &domains);

    // Design-time SPOFs.
    let clean = Residual::none(n, &inst);
    let mut design = link_spofs(topo, &graph, &inst, &domains, &clean, &entries, &mut prop);

    // Live SPOFs.
    let mut live = if opts.knows_states() {
        let mut dead_inst = failed_inst.clone();
        if let Some(obs) = opts.observed {
            for (s, states) in obs.iter().enumerate().take(n) {
                for (i, st) in states.iter().enumerate() {
                    if *st == State::Down && i < inst.range(s as u32).len() {
                        dead_inst[inst.flat(s as u32, i as u32)] = true;
                    }
                }
            }
        }
        let residual = Residual {
            dead_inst,
            down: effective.iter().map(|&s| s == State::Down).collect(),
        };
        Some(link_spofs(
            topo, &graph, &inst, &domains, &residual, &entries, &mut prop,
        ))
    } else {
        None
    };

    let mut pairs = if opts.depth >= 2 {
        Some(pairs::pairs(
            topo,
            &graph,
            &inst,
            &domains,
            &entries,
            opts.pairs_cap,
            service_of,
        ))
    } else {
        None
    };

    let all_paths: Vec<Vec<ServiceIdx>> = topo
        .links
        .iter()
        .map(|l| critical_path(&graph, l.entry.0))
        .collect();

    let fix = |v: Vec<SpofFinding>| -> Vec<SpofFinding> {
        v.into_iter()
            .map(|f| match f {
                SpofFinding::Service { service, path } => SpofFinding::Service {
                    service,
                    path: fix_path(path),
                },
                d @ SpofFinding::Domain { .. } => d,
            })
            .collect()
    };
    // Each link's findings are moved out of the per-link lists, not cloned: on a dense
    // 100,000-service topology they are 315,000 SPOF paths.
    let links: Vec<LinkAnalysis> = selected
        .iter()
        .enumerate()
        .map(|(k, &l)| LinkAnalysis {
            link: l,
            state: effective[topo.links[l].entry.get()],
            critical_path: all_paths[l].clone(),
            spofs: fix(design[k].take().unwrap_or_default()),
            live_spofs: live.as_mut().map(|v| fix(v[k].take().unwrap_or_default())),
            pairs: pairs.as_mut().map(|p| std::mem::take(&mut p[k])),
        })
        .collect();

    let mut blast = match opts.blast_radius {
        BlastDetail::Off => None,
        detail => Some(blast::blast_radius(
            topo,
            &graph,
            detail == BlastDetail::Full,
        )),
    };
    // Ranked before the services take their blast radii.
    let ranking = if let Some(b) = &blast {
        let mut r: Vec<ServiceIdx> = (0..n as u32).map(ServiceIdx).collect();
        r.sort_by(|a, c| {
            let (x, y) = (&b[a.get()], &b[c.get()]);
            y.links
                .len()
                .cmp(&x.links.len())
                .then(y.service_count.cmp(&x.service_count))
                .then(a.cmp(c))
        });
        r
    } else {
        Vec::new()
    };
    let mut upstream: Vec<Vec<ServiceIdx>> = vec![Vec::new(); n];
    let mut downstream: Vec<Vec<ServiceIdx>> = vec![Vec::new(); n];
    for (idx, svc) in topo.iter_services() {
        for dep in &svc.depends_on {
            for t in dep.targets() {
                downstream[idx.get()].push(*t);
                upstream[t.get()].push(idx);
            }
        }
    }
    let (root_causes, mut because_of) = match causes {
        Some(c) => (Some(c.causes), c.because_of),
        None => (None, Vec::new()),
    };
    let services: Vec<ServiceAnalysis> = (0..n)
        .map(|s| {
            let mut up = std::mem::take(&mut upstream[s]);
            up.sort_unstable();
            up.dedup();
            let mut down = std::mem::take(&mut downstream[s]);
            down.sort_unstable();
            down.dedup();
            ServiceAnalysis {
                observed: observed[s],
                effective: effective[s],
                upstream: up,
                downstream: down,
                blast_radius: blast.as_mut().map(|b| std::mem::take(&mut b[s])),
                because_of: because_of
                    .get_mut(s)
                    .map(std::mem::take)
                    .unwrap_or_default(),
                operations: Vec::new(),
            }
        })
        .collect();

    let risks = risk::risks(topo, &graph, &links, &all_paths);
    let assumed_failed = if opts.failed.is_empty() {
        None
    } else {
        let mut v = opts.failed.to_vec();
        v.sort();
        v.dedup();
        Some(v)
    };
    Ok(Analysis {
        links,
        services,
        risks,
        assumed_failed,
        ranking,
        root_causes,
    })
}

/// The critical path of the link whose entry is `entry`: sorted service indices.
pub fn critical_path(g: &Graph, entry: u32) -> Vec<ServiceIdx> {
    g.strong_reach([entry])
        .iter()
        .enumerate()
        .filter(|(_, r)| **r)
        .map(|(i, _)| ServiceIdx(i as u32))
        .collect()
}

/// SPOFs of each entry relative to `residual`; `None` for an entry that is already down.
fn link_spofs(
    topo: &Topology,
    g: &Graph,
    inst: &Instances,
    domains: &Domains,
    residual: &Residual,
    entries: &[u32],
    prop: &mut DownPropagator<'_>,
) -> Vec<Option<Vec<SpofFinding>>> {
    let ks = spof::kill_sets(topo, g, inst, domains, residual, entries);
    // Service tokens → the links they kill, to explain each with one propagation.
    let mut by_service: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    let mut out: Vec<Option<Vec<SpofFinding>>> = Vec::with_capacity(entries.len());
    let mut svc_spofs: Vec<Vec<u32>> = vec![Vec::new(); entries.len()];
    for (k, set) in ks.targets.iter().enumerate() {
        if residual.down[entries[k] as usize] {
            out.push(None);
            continue;
        }
        let mut findings = Vec::new();
        set.for_each(|t| match ks.tokens.decode(t) {
            TokenKind::Service(s) => {
                by_service.entry(s).or_default().push(k);
                svc_spofs[k].push(s);
            }
            TokenKind::Domain(d) => findings.push(d),
        });
        let doms = findings
            .into_iter()
            .map(|d| SpofFinding::Domain {
                domain: domains.list[d as usize].clone(),
                implied_by: implied_by(inst, domains, residual, &svc_spofs[k], d),
            })
            .collect();
        out.push(Some(doms));
    }
    let mut paths: Vec<Vec<(u32, Vec<u32>)>> = svc_spofs
        .iter()
        .map(|v| Vec::with_capacity(v.len()))
        .collect();
    let clean = residual.is_clean();
    // Paths only cross critical paths, which are closed under strong dependencies.
    prop.reset();
    prop.set_mask(Some(g.strong_reach(entries.iter().copied())));
    let mut search = spof::PathSearch::new(g.n);
    for (s, ks_links) in by_service {
        prop.reset();
        if !clean {
            residual.apply(prop, inst);
        }
        prop.fail_service(s);
        prop.propagate();
        search.toward(g, prop, s);
        for k in ks_links {
            let path = search
                .path_from(g, prop, entries[k])
                .expect("a service in the entry's kill set brings the entry down");
            paths[k].push((s, path));
        }
    }
    prop.reset();
    prop.set_mask(None);
    for (k, slot) in out.iter_mut().enumerate() {
        if let Some(doms) = slot {
            let services = std::mem::take(&mut paths[k]);
            let mut v: Vec<SpofFinding> = Vec::with_capacity(services.len() + doms.len());
            v.extend(services.into_iter().map(|(s, p)| SpofFinding::Service {
                service: ServiceIdx(s),
                path: p.into_iter().map(ServiceIdx).collect(),
            }));
            v.append(doms);
            *doms = v;
        }
    }
    out
}

/// The service SPOFs of a link (`spofs`, ascending) with an instance still alive in domain
/// `d`, ascending. Walks whichever is shorter: the domain's members, or the SPOFs' instances.
/// A zone holds a third of all instances, so scanning it for every link that loses it was 3 %
/// of `analyze`'s samples on the layered 100,000-service topology of `scripts/gen_topology.py`
/// (its links have about 6,000 service SPOFs each, against 31,000 instances per zone).
fn implied_by(
    inst: &Instances,
    domains: &Domains,
    residual: &Residual,
    spofs: &[u32],
    d: u32,
) -> Vec<ServiceIdx> {
    let members = &domains.members[d as usize];
    if members.len() <= spofs.len() {
        let mut implied: Vec<ServiceIdx> = members
            .iter()
            .filter(|&&(s, i)| !residual.dead_inst[inst.flat(s, i)])
            .map(|&(s, _)| s)
            .filter(|s| spofs.binary_search(s).is_ok())
            .map(ServiceIdx)
            .collect();
        implied.dedup();
        implied
    } else {
        spofs
            .iter()
            .copied()
            .filter(|&s| {
                inst.range(s)
                    .any(|f| !residual.dead_inst[f] && domains.of_instance(f).contains(&d))
            })
            .map(ServiceIdx)
            .collect()
    }
}

fn unknown_link(topo: &Topology, name: &str) -> String {
    match crate::diag::closest(name, topo.links.iter().map(|l| l.name.as_str())) {
        Some(best) => format!("unknown link `{name}`, did you mean `{best}`?"),
        None => format!("unknown link `{name}`"),
    }
}

/// The worst severity among `risks`, if any.
pub fn worst_risk(risks: &[Risk]) -> Option<Severity> {
    risks.iter().map(|r| r.severity).max()
}
