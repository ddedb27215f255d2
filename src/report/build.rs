//! Turns a [`Topology`] and its [`Analysis`] into the serializable [`Report`] (SPEC §5).
//!
//! Everything is sorted here, so the same input gives byte-identical output in every format.

use crate::analysis::{Analysis, PairKind, SpofFinding};
use crate::report::report::{
    BlastRadius, LinkReport, ProbeResult, Report, RiskReport, ServiceReport, Spof, SpofKind,
    SpofPair,
};
use crate::topology::model::{ServiceIdx, Topology};

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
                    path: Some(path.iter().map(|&s| name(s)).collect()),
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
                        services: names(&b.services),
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
        links,
        services,
        risks,
        assumed_failed,
        run: None,
        since_last: None,
        history: None,
    }
}
