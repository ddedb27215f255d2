//! Turns a [`Topology`] and its [`Analysis`] into the serializable [`Report`] (SPEC §5).
//!
//! Everything is sorted here, so the same input gives byte-identical output in every format.

use std::fmt::Write as _;

use crate::analysis::{
    Analysis, Event, LinkAnalysis, PairKind, Risk, RootCause, ServiceAnalysis, SpofFinding,
};
use crate::report::report::{
    BlastRadius, LinkReport, OperationReport, ProbeResult, Report, RiskReport, RootCauseKind,
    RootCauseReport, ServiceReport, Spof, SpofKind, SpofPair,
};
use crate::state::State;
use crate::topology::model::{OperationIdx, ServiceIdx, Topology};

/// At most this many distinct probe reasons in a root cause's `reason`.
const MAX_REASONS: usize = 3;

/// Builds the report. `probes`: per service (by index), its probe results, when probed.
pub fn build(topo: &Topology, analysis: &Analysis, probes: Option<&[Vec<ProbeResult>]>) -> Report {
    build_probed(topo, analysis, probes, None)
}

/// Per service (by index), per operation (by [`OperationIdx`]), the results of the
/// operation's own probe per instance; an empty list for an operation without one.
pub type OperationProbes = [Vec<Vec<ProbeResult>>];

/// [`build`], with the results of the operations' own probes (SPEC §1) when they ran.
pub fn build_probed(
    topo: &Topology,
    analysis: &Analysis,
    probes: Option<&[Vec<ProbeResult>]>,
    op_probes: Option<&OperationProbes>,
) -> Report {
    let root_causes = root_cause_reports(topo, analysis, probes, op_probes);
    assemble(topo, analysis, probes, op_probes, root_causes, None)
}

/// [`build`] without probes, for a caller done with the analysis: its risks move into the
/// report instead of being copied, and its links and services are freed one by one as their
/// reports are built, so the report's memory reuses theirs; `analysis` is left without them.
/// On the layered 100,000-service topology of `scripts/gen_topology.py` the risks are 187,000
/// findings, each with its subjects, message and hint: their copy was 120 MB of the 860 MB
/// peak of `analyze`.
pub fn build_taking(topo: &Topology, analysis: &mut Analysis) -> Report {
    // Root causes read the links and services: built before those are taken.
    let root_causes = root_cause_reports(topo, analysis, None, None);
    let taken = Taken {
        risks: std::mem::take(&mut analysis.risks),
        links: std::mem::take(&mut analysis.links),
        services: std::mem::take(&mut analysis.services),
    };
    assemble(topo, analysis, None, None, root_causes, Some(taken))
}

/// What [`build_taking`] took out of the analysis.
struct Taken {
    risks: Vec<Risk>,
    links: Vec<LinkAnalysis>,
    services: Vec<ServiceAnalysis>,
}

/// The root causes for the report, in the analysis's order.
fn root_cause_reports(
    topo: &Topology,
    analysis: &Analysis,
    probes: Option<&[Vec<ProbeResult>]>,
    op_probes: Option<&OperationProbes>,
) -> Option<Vec<RootCauseReport>> {
    analysis.root_causes.as_ref().map(|causes| {
        causes
            .iter()
            .map(|c| root_cause(topo, analysis, c, probes, op_probes))
            .collect()
    })
}

/// The report; with `taken`, its risks, links and services stand for the analysis's.
fn assemble(
    topo: &Topology,
    analysis: &Analysis,
    probes: Option<&[Vec<ProbeResult>]>,
    op_probes: Option<&OperationProbes>,
    root_causes: Option<Vec<RootCauseReport>>,
    taken: Option<Taken>,
) -> Report {
    let name = |s: ServiceIdx| topo.service(s).name.as_str().to_owned();
    let names = |v: &[ServiceIdx]| -> Vec<String> {
        let mut out: Vec<String> = v.iter().map(|&s| name(s)).collect();
        out.sort();
        out
    };
    // The expanded nodes, numbered once, for the paths that pass an operation.
    let layout = std::sync::OnceLock::new();
    let node_name = |s: ServiceIdx| {
        if s.get() < topo.services.len() {
            name(s)
        } else {
            layout
                .get_or_init(|| crate::analysis::operations::Layout::new(topo))
                .node_name(topo, s)
        }
    };
    let spofs = |findings: &[SpofFinding]| -> Vec<Spof> {
        let mut svcs = Vec::with_capacity(findings.len());
        let mut doms = Vec::new();
        for f in findings {
            match f {
                SpofFinding::Service { service, path } => svcs.push(Spof {
                    kind: SpofKind::Service,
                    id: name(*service),
                    path: Some(path.iter().map(|&s| node_name(s)).collect()),
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
    // The risks and the links are built on threads of their own while the services are, once
    // a topology is large enough for a thread to pay (a dense 100,000-service topology has
    // 190,000 risks and 315,000 SPOF paths).
    let large = topo.services.len() >= crate::par::PARALLEL_MIN_SERVICES;
    let (owned_risks, owned_links, owned_services) = match taken {
        Some(t) => (Some(t.risks), Some(t.links), Some(t.services)),
        None => (None, None, None),
    };
    let (links, services, risks) = std::thread::scope(|scope| {
        // Moving owned risks costs next to nothing: only copies get a thread.
        let risks =
            (large && owned_risks.is_none()).then(|| scope.spawn(|| risk_reports(analysis)));
        let link_report = |la: &LinkAnalysis| {
            let link = &topo.links[la.link];
            LinkReport {
                name: link.name.as_str().to_owned(),
                entry: name(link.entry),
                operation: link
                    .operation
                    .map(|o| topo.service(link.entry).operation_name(o).to_owned()),
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
        };
        let build_links = move || {
            let mut links: Vec<LinkReport> = match owned_links {
                // Each link's analysis is freed once its report is built.
                Some(owned) => owned.into_iter().map(|la| link_report(&la)).collect(),
                None => analysis.links.iter().map(link_report).collect(),
            };
            links.sort_by(|a, b| a.name.cmp(&b.name));
            links
        };
        let (links_thread, links_here) = if large {
            (Some(scope.spawn(build_links)), None)
        } else {
            (None, Some(build_links()))
        };
        let because = |list: &[u32]| -> Vec<String> {
            root_causes.as_ref().map_or_else(Vec::new, |rc| {
                list.iter().map(|&r| rc[r as usize].id.clone()).collect()
            })
        };
        let service_report = |s: usize, sa: &ServiceAnalysis| {
            let blast_radius = sa
                .blast_radius
                .as_ref()
                .map(|b| {
                    let mut links: Vec<String> = b
                        .links
                        .iter()
                        .map(|&l| topo.links[l].name.as_str().to_owned())
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
                id: topo.services[s].name.as_str().to_owned(),
                observed: sa.observed,
                effective: sa.effective,
                upstream: names(&sa.upstream),
                downstream: names(&sa.downstream),
                blast_radius,
                probes: probes.and_then(|p| p.get(s)).cloned(),
                because_of: because(&sa.because_of),
                operations: sa
                    .operations
                    .iter()
                    .enumerate()
                    .map(|(o, oa)| {
                        let op = OperationIdx(o as u32);
                        OperationReport {
                            name: topo.services[s].operation_name(op).to_owned(),
                            id: crate::analysis::operations::operation_name(
                                topo,
                                ServiceIdx(s as u32),
                                op,
                            ),
                            observed: oa.observed,
                            effective: oa.effective,
                            probes: op_probes
                                .and_then(|p| p.get(s))
                                .and_then(|ops| ops.get(o))
                                .filter(|r| !r.is_empty())
                                .cloned(),
                            because_of: because(&oa.because_of),
                        }
                    })
                    .collect(),
            }
        };
        let mut services: Vec<ServiceReport> = match owned_services {
            // Each service's analysis is freed once its report is built.
            Some(owned) => owned
                .into_iter()
                .enumerate()
                .map(|(s, sa)| service_report(s, &sa))
                .collect(),
            None => analysis
                .services
                .iter()
                .enumerate()
                .map(|(s, sa)| service_report(s, sa))
                .collect(),
        };
        services.sort_by(|a, b| a.id.cmp(&b.id));
        let risks = match (risks, owned_risks) {
            (Some(handle), _) => joined(handle),
            (None, Some(owned)) => sorted_risks(owned.into_iter().map(risk_report).collect()),
            (None, None) => risk_reports(analysis),
        };
        let links = match (links_thread, links_here) {
            (Some(handle), _) => joined(handle),
            (None, here) => here.expect("built here when not on a thread"),
        };
        (links, services, risks)
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

/// The result of a scoped thread; its panic goes on unwinding here.
fn joined<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    match handle.join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// The analysis's risks for the report, in report order.
fn risk_reports(analysis: &Analysis) -> Vec<RiskReport> {
    sorted_risks(analysis.risks.iter().cloned().map(risk_report).collect())
}

/// One risk for the report.
fn risk_report(r: Risk) -> RiskReport {
    RiskReport {
        rule: r.rule,
        severity: r.severity,
        subjects: r.subjects,
        message: r.message,
        hint: r.hint,
    }
}

/// `risks` in report order.
fn sorted_risks(mut risks: Vec<RiskReport>) -> Vec<RiskReport> {
    risks.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.rule.cmp(&b.rule))
            .then_with(|| a.subjects.cmp(&b.subjects))
    });
    risks
}

/// One root cause for the report: names, owner, and the reason from its members' probes.
fn root_cause(
    topo: &Topology,
    analysis: &Analysis,
    cause: &RootCause,
    probes: Option<&[Vec<ProbeResult>]>,
    op_probes: Option<&OperationProbes>,
) -> RootCauseReport {
    let mut members: Vec<String> = cause
        .members
        .iter()
        .map(|&m| topo.service(m).name.as_str().to_owned())
        .collect();
    members.sort();
    // What failed on its own, by name: a service, or one operation of it (`frontend
    // (checkout)`, as SPOF paths name it) when only the operation's own probe fails.
    let mut parts: Vec<(String, String)> = cause
        .members
        .iter()
        .flat_map(|&m| {
            let ops: Vec<OperationIdx> = cause
                .member_operations
                .iter()
                .filter(|(s, _)| *s == m)
                .map(|&(_, o)| o)
                .collect();
            if ops.is_empty() {
                vec![(
                    topo.service(m).name.as_str().to_owned(),
                    member_reason(topo, analysis, m, probes),
                )]
            } else {
                ops.into_iter()
                    .map(|o| {
                        (
                            crate::analysis::operations::operation_name(topo, m, o),
                            operation_reason(topo, m, o, op_probes),
                        )
                    })
                    .collect()
            }
        })
        .collect();
    parts.sort();
    let mut operations: Vec<String> = cause
        .operations
        .iter()
        .map(|&(s, o)| crate::analysis::operations::operation_name(topo, s, o))
        .collect();
    operations.sort();
    let mut services: Vec<String> = cause
        .services
        .iter()
        .map(|&s| topo.service(s).name.as_str().to_owned())
        .collect();
    services.sort();
    let mut links: Vec<String> = cause
        .links
        .iter()
        .filter(|&&l| analysis.links.iter().any(|la| la.link == l))
        .map(|&l| topo.links[l].name.as_str().to_owned())
        .collect();
    links.sort();
    let (kind, reason) = match cause.kind {
        crate::analysis::RootCauseKind::Service => (
            RootCauseKind::Service,
            parts.iter().map(|(_, r)| r.as_str()).collect::<String>(),
        ),
        crate::analysis::RootCauseKind::Cycle => {
            let each: Vec<String> = parts.iter().map(|(m, r)| format!("`{m}`: {r}")).collect();
            (
                RootCauseKind::Cycle,
                format!(
                    "strong cycle whose members all fail, nothing outside explains it; {}",
                    each.join("; ")
                ),
            )
        }
    };
    let operation = match (cause.kind, cause.member_operations.as_slice()) {
        (crate::analysis::RootCauseKind::Service, [(s, o)]) => {
            Some(topo.service(*s).operation_name(*o).to_owned())
        }
        _ => None,
    };
    RootCauseReport {
        id: parts
            .iter()
            .map(|(m, _)| m.as_str())
            .collect::<Vec<_>>()
            .join(" + "),
        operation,
        operations,
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

/// Why operation `o` of service `s` fails on its own: its own probe's failing results.
fn operation_reason(
    topo: &Topology,
    s: ServiceIdx,
    o: OperationIdx,
    op_probes: Option<&OperationProbes>,
) -> String {
    let results = op_probes
        .and_then(|p| p.get(s.get()))
        .and_then(|ops| ops.get(o.get()))
        .map_or(&[][..], Vec::as_slice);
    failing_reason(
        topo.service(s),
        results,
        "failing by its own probe".to_owned(),
    )
}

/// The distinct reasons of the failing `results` (the first few), prefixed by how many
/// instances fail when the service has several; `otherwise` when none says why.
fn failing_reason(
    svc: &crate::topology::model::Service,
    results: &[ProbeResult],
    otherwise: String,
) -> String {
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
        text = otherwise;
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
    failing_reason(
        svc,
        results,
        format!("{} by its own probes", analysis.services[m.get()].observed),
    )
}
