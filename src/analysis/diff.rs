//! `diff`: what changes between two topologies — services and edges added or removed, strength
//! and redundancy changes, per link the SPOFs and critical-path members added or removed, and
//! risks added or removed. [`DiffReport::gates_fail`] says whether the change should fail CI.
//!
//! Services, links and domains are matched by name; an edge is `(from, to)` plus the `any_of`
//! group label when it is a group membership.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::analysis::{BlastDetail, Options, SpofFinding, analyze};
use crate::topology::model::{
    OperationIdx, RiskRule, ServiceIdx, Severity, Strength, Target, Topology,
};

/// The whole difference.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct DiffReport {
    /// `name:` of the old topology.
    pub old: String,
    /// `name:` of the new topology.
    pub new: String,
    /// Services only in the new file, sorted.
    pub services_added: Vec<String>,
    /// Services only in the old file, sorted.
    pub services_removed: Vec<String>,
    /// Operations only in the new file, as `service (operation)`, sorted; a changed
    /// operation shows in the edges from `service (operation)`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub operations_added: Vec<String>,
    /// Operations only in the old file, as `service (operation)`, sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub operations_removed: Vec<String>,
    /// Edges only in the new file, sorted.
    pub edges_added: Vec<Edge>,
    /// Edges only in the old file, sorted.
    pub edges_removed: Vec<Edge>,
    /// Edges in both with another strength, sorted.
    pub strength_changed: Vec<StrengthChange>,
    /// Services in both with other instance counts or `min_healthy`, sorted.
    pub redundancy_changed: Vec<RedundancyChange>,
    /// `any_of` groups in both (same owner and label) with another `min`, sorted.
    pub group_min_changed: Vec<GroupMinChange>,
    /// Links added, removed or changed, sorted by name; unchanged links are left out.
    pub links: Vec<LinkDiff>,
    /// Risks only in the new file.
    pub risks_added: Vec<RiskEntry>,
    /// Risks only in the old file.
    pub risks_removed: Vec<RiskEntry>,
}

/// One dependency edge.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Edge {
    /// The caller.
    pub from: String,
    /// The callee.
    pub to: String,
    /// The `any_of` group label, for a group membership.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Strong or weak.
    pub strength: Strength,
}

/// An edge whose strength changed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct StrengthChange {
    /// The caller.
    pub from: String,
    /// The callee.
    pub to: String,
    /// The `any_of` group label, for a group membership.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Before.
    pub old: Strength,
    /// After.
    pub new: Strength,
}

/// A service whose redundancy changed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RedundancyChange {
    /// The service.
    pub service: String,
    /// Instances before.
    pub old_instances: usize,
    /// Instances after.
    pub new_instances: usize,
    /// `min_healthy` before.
    pub old_min_healthy: usize,
    /// `min_healthy` after.
    pub new_min_healthy: usize,
}

impl RedundancyChange {
    /// Spare instances before.
    pub fn old_spare(&self) -> usize {
        self.old_instances - self.old_min_healthy
    }

    /// Spare instances after.
    pub fn new_spare(&self) -> usize {
        self.new_instances - self.new_min_healthy
    }
}

/// An `any_of` group whose `min` changed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct GroupMinChange {
    /// The service declaring the group.
    pub service: String,
    /// The group label.
    pub group: String,
    /// `min` before.
    pub old_min: usize,
    /// `min` after.
    pub new_min: usize,
}

/// How a link changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkStatus {
    /// Only in the new file.
    Added,
    /// Only in the old file.
    Removed,
    /// In both, with different entry, SPOFs or critical path.
    Changed,
}

/// What changed on one link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkDiff {
    /// The link.
    pub name: String,
    /// Added, removed or changed.
    pub status: LinkStatus,
    /// Entry before, if it existed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_entry: Option<String>,
    /// Entry after, if it exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_entry: Option<String>,
    /// SPOF ids (service names, `key=value`) new on this link, sorted.
    pub spofs_added: Vec<String>,
    /// SPOF ids no longer on this link, sorted.
    pub spofs_removed: Vec<String>,
    /// Services that joined the critical path, sorted.
    pub critical_path_added: Vec<String>,
    /// Services that left the critical path, sorted.
    pub critical_path_removed: Vec<String>,
}

/// A risk, as compared across files.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RiskEntry {
    /// Rule id.
    pub rule: RiskRule,
    /// Severity.
    pub severity: Severity,
    /// Subjects.
    pub subjects: Vec<String>,
    /// Message.
    pub message: String,
}

impl DiffReport {
    /// Whether the change adds a SPOF to any link or a risk at error level: exit 1 in CI.
    pub fn gates_fail(&self) -> bool {
        self.links.iter().any(|l| !l.spofs_added.is_empty())
            || self
                .risks_added
                .iter()
                .any(|r| r.severity == Severity::Error)
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.services_added.is_empty()
            && self.services_removed.is_empty()
            && self.operations_added.is_empty()
            && self.operations_removed.is_empty()
            && self.edges_added.is_empty()
            && self.edges_removed.is_empty()
            && self.strength_changed.is_empty()
            && self.redundancy_changed.is_empty()
            && self.group_min_changed.is_empty()
            && self.links.is_empty()
            && self.risks_added.is_empty()
            && self.risks_removed.is_empty()
    }
}

type EdgeKey = (String, String, Option<String>);

fn edges(topo: &Topology) -> BTreeMap<EdgeKey, Strength> {
    // An operation's edges leave from `service (operation)`; a call naming an operation
    // enters `service (operation)`.
    let callee = |t: ServiceIdx, op: Option<OperationIdx>| match op {
        Some(o) => format!(
            "{} ({})",
            topo.service(t).name,
            topo.service(t).operation_name(o)
        ),
        None => topo.service(t).name.to_string(),
    };
    let mut out = BTreeMap::new();
    for svc in &topo.services {
        let callers = std::iter::once((svc.name.to_string(), &svc.depends_on)).chain(
            svc.operations
                .iter()
                .map(|o| (format!("{} ({})", svc.name, o.name), &o.depends_on)),
        );
        for (from, deps) in callers {
            for dep in deps {
                match &dep.target {
                    Target::Service(t) => {
                        out.insert(
                            (from.clone(), callee(*t, dep.operation), None),
                            dep.strength,
                        );
                    }
                    Target::AnyOf { members, .. } => {
                        for m in members {
                            out.insert(
                                (from.clone(), callee(*m, None), Some(dep.label.clone())),
                                dep.strength,
                            );
                        }
                    }
                }
            }
        }
    }
    out
}

fn operations(topo: &Topology) -> BTreeSet<String> {
    topo.services
        .iter()
        .flat_map(|s| {
            s.operations
                .iter()
                .map(move |o| format!("{} ({})", s.name, o.name))
        })
        .collect()
}

/// Per link: entry, SPOF ids, critical path names.
type LinkFacts = BTreeMap<String, (String, BTreeSet<String>, BTreeSet<String>)>;

fn link_facts(topo: &Topology) -> (LinkFacts, BTreeSet<RiskEntry>) {
    let a = analyze(
        topo,
        &Options {
            blast_radius: BlastDetail::Off,
            ..Options::default()
        },
    )
    .expect("depth 1 over every link always runs");
    let name = |s: crate::topology::model::ServiceIdx| topo.service(s).name.to_string();
    let links = a
        .links
        .iter()
        .map(|la| {
            let link = &topo.links[la.link];
            let spofs = la
                .spofs
                .iter()
                .map(|f| match f {
                    SpofFinding::Service { service, .. } => name(*service),
                    SpofFinding::Domain { domain, .. } => domain.to_string(),
                })
                .collect();
            let cp = la.critical_path.iter().map(|&s| name(s)).collect();
            (link.name.to_string(), (name(link.entry), spofs, cp))
        })
        .collect();
    let risks = a
        .risks
        .into_iter()
        .map(|r| RiskEntry {
            rule: r.rule,
            severity: r.severity,
            subjects: r.subjects,
            message: r.message,
        })
        .collect();
    (links, risks)
}

fn minus<T: Ord + Clone>(a: &BTreeSet<T>, b: &BTreeSet<T>) -> Vec<T> {
    a.difference(b).cloned().collect()
}

/// Compares two topologies.
pub fn diff(old: &Topology, new: &Topology) -> DiffReport {
    let old_svcs: BTreeSet<String> = old.services.iter().map(|s| s.name.to_string()).collect();
    let new_svcs: BTreeSet<String> = new.services.iter().map(|s| s.name.to_string()).collect();
    let mut report = DiffReport {
        old: old.name.clone(),
        new: new.name.clone(),
        services_added: minus(&new_svcs, &old_svcs),
        services_removed: minus(&old_svcs, &new_svcs),
        operations_added: minus(&operations(new), &operations(old)),
        operations_removed: minus(&operations(old), &operations(new)),
        ..DiffReport::default()
    };

    let (oe, ne) = (edges(old), edges(new));
    let to_edge = |(k, s): (&EdgeKey, &Strength)| Edge {
        from: k.0.clone(),
        to: k.1.clone(),
        group: k.2.clone(),
        strength: *s,
    };
    report.edges_added = ne
        .iter()
        .filter(|(k, _)| !oe.contains_key(*k))
        .map(to_edge)
        .collect();
    report.edges_removed = oe
        .iter()
        .filter(|(k, _)| !ne.contains_key(*k))
        .map(to_edge)
        .collect();
    report.strength_changed = oe
        .iter()
        .filter_map(|(k, &os)| match ne.get(k) {
            Some(&ns) if ns != os => Some(StrengthChange {
                from: k.0.clone(),
                to: k.1.clone(),
                group: k.2.clone(),
                old: os,
                new: ns,
            }),
            _ => None,
        })
        .collect();

    for svc in &old.services {
        if let Some(idx) = new.index_of(svc.name.as_str()) {
            let n = new.service(idx);
            if n.instances.len() != svc.instances.len() || n.min_healthy != svc.min_healthy {
                report.redundancy_changed.push(RedundancyChange {
                    service: svc.name.to_string(),
                    old_instances: svc.instances.len(),
                    new_instances: n.instances.len(),
                    old_min_healthy: svc.min_healthy,
                    new_min_healthy: n.min_healthy,
                });
            }
        }
    }

    let group_mins = |topo: &Topology| -> BTreeMap<(String, String), usize> {
        topo.services
            .iter()
            .flat_map(|s| {
                s.depends_on.iter().filter_map(move |d| match &d.target {
                    Target::AnyOf { min, .. } => {
                        Some(((s.name.to_string(), d.label.clone()), *min))
                    }
                    Target::Service(_) => None,
                })
            })
            .collect()
    };
    let (og, ng) = (group_mins(old), group_mins(new));
    report.group_min_changed = og
        .iter()
        .filter_map(|(k, &o)| match ng.get(k) {
            Some(&n) if n != o => Some(GroupMinChange {
                service: k.0.clone(),
                group: k.1.clone(),
                old_min: o,
                new_min: n,
            }),
            _ => None,
        })
        .collect();

    let (ol, orisks) = link_facts(old);
    let (nl, nrisks) = link_facts(new);
    let empty = (String::new(), BTreeSet::new(), BTreeSet::new());
    let names: BTreeSet<&String> = ol.keys().chain(nl.keys()).collect();
    for name in names {
        let (o, n) = (ol.get(name), nl.get(name));
        let status = match (o, n) {
            (None, Some(_)) => LinkStatus::Added,
            (Some(_), None) => LinkStatus::Removed,
            _ => LinkStatus::Changed,
        };
        let (oo, nn) = (o.unwrap_or(&empty), n.unwrap_or(&empty));
        let d = LinkDiff {
            name: name.clone(),
            status,
            old_entry: o.map(|x| x.0.clone()),
            new_entry: n.map(|x| x.0.clone()),
            spofs_added: minus(&nn.1, &oo.1),
            spofs_removed: minus(&oo.1, &nn.1),
            critical_path_added: minus(&nn.2, &oo.2),
            critical_path_removed: minus(&oo.2, &nn.2),
        };
        let changed = status != LinkStatus::Changed
            || d.old_entry != d.new_entry
            || !d.spofs_added.is_empty()
            || !d.spofs_removed.is_empty()
            || !d.critical_path_added.is_empty()
            || !d.critical_path_removed.is_empty();
        if changed {
            report.links.push(d);
        }
    }
    // Risks are matched by rule and subjects; the message may mention other details. A `spof`
    // risk is matched by its event alone (its first subject): the links it takes down are
    // compared link by link above, so a SPOF that reaches one more link is not reported as
    // one risk gone and another added.
    let key = |r: &RiskEntry| {
        let subjects = if r.rule == RiskRule::Spof {
            &r.subjects[..r.subjects.len().min(1)]
        } else {
            &r.subjects[..]
        };
        (r.rule, subjects.to_vec())
    };
    let okeys: BTreeSet<_> = orisks.iter().map(key).collect();
    let nkeys: BTreeSet<_> = nrisks.iter().map(key).collect();
    let sort = |v: &mut Vec<RiskEntry>| {
        v.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(a.rule.cmp(&b.rule))
                .then_with(|| a.subjects.cmp(&b.subjects))
        });
    };
    report.risks_added = nrisks
        .iter()
        .filter(|r| !okeys.contains(&key(r)))
        .cloned()
        .collect();
    report.risks_removed = orisks
        .iter()
        .filter(|r| !nkeys.contains(&key(r)))
        .cloned()
        .collect();
    sort(&mut report.risks_added);
    sort(&mut report.risks_removed);
    report
}
