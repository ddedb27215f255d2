//! Per-service facts gathered once from the topology and the report: state, SPOF marking, the
//! links each service is on or is the entry of.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use super::{AllSpof, GroupBy, OperationPort, ServiceNode, SpofMark};
use crate::report::report::{Report, ServiceReport, SpofKind};
use crate::state::State;
use crate::topology::model::{Service, Topology};

/// Per-service facts gathered from the topology and the report.
pub(super) struct Facts<'a> {
    pub(super) topo: &'a Topology,
    pub(super) report_of: Vec<Option<&'a ServiceReport>>,
    /// SPOF marking, relative to the link drawn when there is one.
    pub(super) spof: Vec<SpofMark>,
    /// Links each service is a service SPOF of (by design or now), sorted.
    pub(super) spof_links: Vec<Vec<String>>,
    pub(super) on_links: Vec<Vec<String>>,
    pub(super) entry_of: Vec<Vec<String>>,
    /// Effective states, indexed like the services (`unknown` when the report lacks one).
    pub(super) states: Vec<State>,
    /// Whether the states were observed (probes ran or `--fail` decided them).
    pub(super) probed: bool,
    /// Blast radius per service: links, other services (from the report).
    pub(super) blast: Vec<(usize, usize)>,
    /// Set when every service on the drawn path is a SPOF.
    pub(super) all_spof: Option<AllSpof>,
}

impl<'a> Facts<'a> {
    /// Facts of `report`; with `focus`, SPOF marks say whether a service is a SPOF of that
    /// link or only of others ([`SpofMark::Elsewhere`]).
    pub(super) fn new(topo: &'a Topology, report: &'a Report, focus: Option<&str>) -> Self {
        let n = topo.services.len();
        let by_id: HashMap<&str, &ServiceReport> =
            report.services.iter().map(|s| (s.id.as_str(), s)).collect();
        let report_of: Vec<Option<&ServiceReport>> = topo
            .services
            .iter()
            .map(|s| by_id.get(s.name.as_str()).copied())
            .collect();
        let mut spof = vec![SpofMark::No; n];
        let mut spof_links: Vec<Vec<String>> = vec![Vec::new(); n];
        let mut on_links = vec![Vec::new(); n];
        let mut entry_of = vec![Vec::new(); n];
        let mut links: Vec<_> = report.links.iter().collect();
        links.sort_by(|a, b| a.name.cmp(&b.name));
        for link in links {
            let here = focus.is_none_or(|f| f == link.name);
            for id in &link.critical_path {
                if let Some(i) = topo.index_of(id) {
                    on_links[i.get()].push(link.name.clone());
                }
            }
            if let Some(i) = topo.index_of(&link.entry) {
                entry_of[i.get()].push(link.name.clone());
            }
            for (s, live) in link
                .spofs
                .iter()
                .map(|s| (s, false))
                .chain(link.live_spofs.iter().flatten().map(|s| (s, true)))
            {
                if s.kind != SpofKind::Service {
                    continue;
                }
                let Some(i) = topo.index_of(&s.id) else {
                    continue;
                };
                let i = i.get();
                if spof_links[i].last() != Some(&link.name) {
                    spof_links[i].push(link.name.clone());
                }
                let mark = match (here, live) {
                    (false, _) => SpofMark::Elsewhere,
                    (true, false) => SpofMark::Static,
                    (true, true) => SpofMark::Live,
                };
                // A SPOF of the link drawn wins over one elsewhere; by design over live.
                let rank = |m: SpofMark| match m {
                    SpofMark::No => 0,
                    SpofMark::Elsewhere => 1,
                    SpofMark::Live => 2,
                    SpofMark::Static => 3,
                };
                if rank(mark) > rank(spof[i]) {
                    spof[i] = mark;
                }
            }
        }
        for l in &mut on_links {
            l.dedup();
        }
        let states = report_of
            .iter()
            .map(|r| r.map_or(State::Unknown, |r| r.effective))
            .collect();
        let blast: Vec<(usize, usize)> = report_of
            .iter()
            .map(|r| {
                r.map_or((0, 0), |r| {
                    (r.blast_radius.links.len(), r.blast_radius.service_count)
                })
            })
            .collect();
        let all_spof = all_spof(topo, focus, &on_links, &spof, &blast);
        Self {
            topo,
            report_of,
            spof,
            spof_links,
            on_links,
            entry_of,
            states,
            probed: report.observed(),
            blast,
            all_spof,
        }
    }

    pub(super) fn state(&self, i: usize) -> State {
        self.states[i]
    }

    pub(super) fn healthy(&self, i: usize) -> bool {
        matches!(self.state(i), State::Up | State::Unknown)
    }

    pub(super) fn group_key(&self, i: usize, by: GroupBy) -> Option<String> {
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

    pub(super) fn service_node(
        &self,
        i: usize,
        note_links: Vec<String>,
        context: bool,
    ) -> ServiceNode {
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
            spof_links: self.spof_links[i].clone(),
            context,
            tooltip,
            blast: self.blast[i],
            worst_spof: self
                .all_spof
                .as_ref()
                .is_some_and(|a| a.worst.iter().any(|w| w == s.name.as_str())),
            operations: s
                .operations
                .iter()
                .map(|op| OperationPort {
                    name: op.name.clone(),
                    state: self.report_of[i]
                        .and_then(|r| r.operations.iter().find(|o| o.name == op.name))
                        .map_or(State::Unknown, |o| o.effective),
                    entry_of: self
                        .topo
                        .links
                        .iter()
                        .filter(|l| {
                            l.entry.get() == i
                                && l.operation.is_some_and(|o| s.operation_name(o) == op.name)
                        })
                        .map(|l| l.name.to_string())
                        .collect(),
                })
                .collect(),
        }
    }
}

/// [`AllSpof`] when every service on the path drawn (`focus`'s, or every link's) is a SPOF of
/// it, and there are at least two: then the worst by blast radius (most links, then most
/// services; ties kept, at most three).
fn all_spof(
    topo: &Topology,
    focus: Option<&str>,
    on_links: &[Vec<String>],
    spof: &[SpofMark],
    blast: &[(usize, usize)],
) -> Option<AllSpof> {
    let on_path: Vec<usize> = (0..on_links.len())
        .filter(|&i| match focus {
            Some(f) => on_links[i].iter().any(|l| l == f),
            None => !on_links[i].is_empty(),
        })
        .collect();
    let red = |i: usize| matches!(spof[i], SpofMark::Static | SpofMark::Live);
    if on_path.len() < 2 || !on_path.iter().all(|&i| red(i)) {
        return None;
    }
    let top = on_path.iter().map(|&i| blast[i]).max()?;
    let worst: Vec<String> = on_path
        .iter()
        .filter(|&&i| blast[i] == top)
        .take(3)
        .map(|&i| topo.services[i].name.to_string())
        .collect();
    Some(AllSpof {
        services: on_path.len(),
        worst,
        blast: top,
    })
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
