//! Turns a [`Topology`] and its [`Analysis`] into the serializable [`Report`] (SPEC §5).
//!
//! Everything is sorted here, so the same input gives byte-identical output in every format.

use std::fmt::Write as _;

use crate::analysis::{Analysis, Event, PairKind, RootCause, SpofFinding};
use crate::report::report::{
    BlastRadius, LinkReport, ProbeResult, Report, RiskReport, RootCauseKind, RootCauseReport,
    ServiceReport, Spof, SpofKind, SpofPair,
};
use crate::state::State;
use crate::topology::model::{ServiceIdx, Topology};

/// At most this many distinct probe reasons in a root cause's `reason`.
const MAX_REASONS: usize = 3;

/// Builds the report. `probes`: per service (by index), its probe results, when probed.
pub fn build(topo: &Topology, analysis: &Analysis, probes: Option<&[Vec<ProbeResult>]>) -> Report {
    let name = |s: ServiceIdx| topo.service(s).name.to_string();
    let names = |v: &[ServiceIdx]| -> Vec<String> {
        let mut out: Vec<String> = v.iter().map(|&s| name(s)).collect();
        out.sort();
        out
    };
    let spofs = |findings: &[SpofFinding]| -> Vec<Spof> {
        let mut svcs = Vec::new();
        let mut doms = Vec::new();
        for f in findings {
            match f {
                SpofFinding::Service { service, path } => svcs.push(Spof {
                    kind: SpofKind::Service,
                    id: name(*service),
                    path: Some(
                        path.iter()
                            .map(|&s| crate::analysis::operations::node_name(topo, s))
                            .collect(),
                    ),
                    implied_by: None,
                }),
                SpofFinding::Domain { domain, implied_by } => doms.push(Spof {
                    kind: SpofKind::Domain,
                    id: domain.to_string(),
                    path: None,
                    implied_by: Some(names(implied_by)),
                }),
            }
        }
        svcs.sort_by(|a, b| a.id.cmp(&b.id));
        doms.sort_by(|a, b| a.id.cmp(&b.id));
        svcs.extend(doms);
        svcs
    };
    let mut links: Vec<LinkReport> = analysis
        .links
        .iter()
        .map(|la| {
            let link = &topo.links[la.link];
            LinkReport {
                name: link.name.to_string(),
                entry: name(link.entry),
                state: la.state,
                critical_path: names(&la.critical_path),
                spofs: spofs(&la.spofs),
                live_spofs: la.live_spofs.as_deref().map(spofs),
                pairs: la.pairs.as_ref().map(|pairs| {
                    let mut out: Vec<SpofPair> = pairs
                        .iter()
                        .map(|p| {
                            if let (PairKind::ThinRedundancy, Some(s)) = (p.kind, p.service) {
                                SpofPair {
                                    events: vec![name(s)],
                                    kind: "thin-redundancy".to_owned(),
                                    impact: p.impact,
                                }
                            } else {
                                let mut events: Vec<String> =
                                    p.events.iter().map(|e| e.name(topo)).collect();
                                events.sort();
                                SpofPair {
                                    events,
                                    kind: "pair".to_owned(),
                                    impact: p.impact,
                                }
                            }
                        })
                        .collect();
                    out.sort_by(|a, b| {
                        b.impact
                            .cmp(&a.impact)
                            .then_with(|| a.events.cmp(&b.events))
                    });
                    out
                }),
            }
        })
        .collect();
    links.sort_by(|a, b| a.name.cmp(&b.name));

    let root_causes: Option<Vec<RootCauseReport>> = analysis.root_causes.as_ref().map(|causes| {
        causes
            .iter()
            .map(|c| root_cause(topo, analysis, c, probes))
            .collect()
    });
    let mut services: Vec<ServiceReport> = analysis
        .services
        .iter()
        .enumerate()
        .map(|(s, sa)| {
            let blast_radius = sa
                .blast_radius
                .as_ref()
                .map(|b| {
                    let mut links: Vec<String> = b
                        .links
                        .iter()
                        .map(|&l| topo.links[l].name.to_string())
                        .collect();
                    links.sort();
                    BlastRadius {
                        links,
                        service_count: b.service_count,
                        services: b.services.as_deref().map(names),
                    }
                })
                .unwrap_or_default();
            ServiceReport {
                id: topo.services[s].name.to_string(),
                observed: sa.observed,
                effective: sa.effective,
                upstream: names(&sa.upstream),
                downstream: names(&sa.downstream),
                blast_radius,
                probes: probes.and_then(|p| p.get(s)).cloned(),
                because_of: root_causes.as_ref().map_or_else(Vec::new, |rc| {
                    sa.because_of
                        .iter()
                        .map(|&r| rc[r as usize].id.clone())
                        .collect()
                }),
            }
        })
        .collect();
    services.sort_by(|a, b| a.id.cmp(&b.id));

    let mut risks: Vec<RiskReport> = analysis
        .risks
        .iter()
        .map(|r| RiskReport {
            rule: r.rule,
            severity: r.severity,
            subjects: r.subjects.clone(),
            message: r.message.clone(),
            hint: r.hint.clone(),
        })
        .collect();
    risks.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.rule.cmp(&b.rule))
            .then_with(|| a.subjects.cmp(&b.subjects))
    });

    let assumed_failed = analysis.assumed_failed.as_ref().map(|evs| {
        let mut v: Vec<String> = evs.iter().map(|e| e.name(topo)).collect();
        v.sort();
        v.dedup();
        v
    });
    Report {
        topology: topo.name.clone(),
        root_causes,
        links,
        services,
        risks,
        assumed_failed,
        run: None,
        since_last: None,
        history: None,
        shard: None,
    }
}

/// One root cause for the report: names, owner, and the reason from its members' probes.
fn root_cause(
    topo: &Topology,
    analysis: &Analysis,
    cause: &RootCause,
    probes: Option<&[Vec<ProbeResult>]>,
) -> RootCauseReport {
    let mut members: Vec<String> = cause
        .members
        .iter()
        .map(|&m| topo.service(m).name.to_string())
        .collect();
    members.sort();
    let mut services: Vec<String> = cause
        .services
        .iter()
        .map(|&s| topo.service(s).name.to_string())
        .collect();
    services.sort();
    let mut links: Vec<String> = cause
        .links
        .iter()
        .filter(|&&l| analysis.links.iter().any(|la| la.link == l))
        .map(|&l| topo.links[l].name.to_string())
        .collect();
    links.sort();
    let reasons: Vec<String> = cause
        .members
        .iter()
        .map(|&m| member_reason(topo, analysis, m, probes))
        .collect();
    let (kind, reason) = match cause.kind {
        crate::analysis::RootCauseKind::Service => (RootCauseKind::Service, reasons.join("")),
        crate::analysis::RootCauseKind::Cycle => {
            let each: Vec<String> = members
                .iter()
                .zip(&reasons)
                .map(|(m, r)| format!("`{m}`: {r}"))
                .collect();
            (
                RootCauseKind::Cycle,
                format!(
                    "strong cycle whose members all fail, nothing outside explains it; {}",
                    each.join("; ")
                ),
            )
        }
    };
    RootCauseReport {
        id: members.join(" + "),
        kind,
        owner: cause
            .members
            .iter()
            .find_map(|&m| topo.service(m).owner.clone()),
        members,
        state: cause.state,
        reason,
        assumed: cause.assumed,
        links,
        services,
    }
}

/// Why member `m` of a root cause fails: the `--fail` events that take it, or its failing
/// probes' reasons (distinct, the first few), prefixed by how many instances fail.
fn member_reason(
    topo: &Topology,
    analysis: &Analysis,
    m: ServiceIdx,
    probes: Option<&[Vec<ProbeResult>]>,
) -> String {
    let svc = topo.service(m);
    let events: Vec<String> = analysis
        .assumed_failed
        .iter()
        .flatten()
        .filter(|e| match e {
            Event::Instance { service, .. } => *service == m,
            Event::Domain(d) => svc.instances.iter().any(|i| i.domains.contains(d)),
        })
        .map(|e| format!("`{}`", e.name(topo)))
        .collect();
    if !events.is_empty() {
        return format!("assumed failed: {}", events.join(", "));
    }
    let results = probes
        .and_then(|p| p.get(m.get()))
        .map_or(&[][..], Vec::as_slice);
    let failing: Vec<&ProbeResult> = results
        .iter()
        .filter(|r| matches!(r.state, State::Down | State::Degraded))
        .collect();
    let mut distinct: Vec<&str> = Vec::new();
    for r in &failing {
        let text = r.reason.as_deref().unwrap_or(r.state.as_str());
        if !distinct.contains(&text) {
            distinct.push(text);
        }
    }
    let mut text = distinct
        .iter()
        .take(MAX_REASONS)
        .copied()
        .collect::<Vec<_>>()
        .join("; ");
    if distinct.len() > MAX_REASONS {
        let _ = write!(text, "; and {} more", distinct.len() - MAX_REASONS);
    }
    if text.is_empty() {
        text = format!("{} by its own probes", analysis.services[m.get()].observed);
    }
    if svc.instances.len() > 1 {
        let alive = results.iter().filter(|r| r.state.is_alive()).count();
        format!(
            "{} of {} instances failing ({alive} alive, {} needed): {text}",
            failing.len(),
            svc.instances.len(),
            svc.min_healthy
        )
    } else {
        text
    }
}
