//! From one inspection's [`Report`] to the engine's [`Inspection`]: what may page.
//!
//! - One finding per **root cause** (SPEC §2, `report.root_causes`): critical when `down`,
//!   a warning when `degraded`; its reason, the links and services it explains, its owner.
//!   Dependents are never findings of their own: they are listed under their root cause.
//! - One finding per **link that is down**, owned by its entry's owner, *covered* by the root
//!   causes that explain it: while one of those alerts fires, the link does not page again.
//! - One finding per **last spare**: a live SPOF that is not a design SPOF (a service, or a
//!   failure domain, that has spares by design and is down to its last). Design SPOFs are the
//!   review's business, not the pager's. A last spare that is itself a firing root cause is
//!   covered by it, and the root cause's reason says what one more failure takes down.

use std::collections::{BTreeMap, BTreeSet};

use super::engine::{AlertKey, AlertKind, Detail, Finding, Inspection, Severity};
use crate::report::report::{Report, SpofKind};
use crate::state::State;
use crate::topology::model::Topology;

/// The findings of `report`, made at `at_ms` (ms since the epoch).
pub fn from_report(topology: &Topology, report: &Report, at_ms: u64) -> Inspection {
    let mut findings = Vec::new();
    let causes = report.root_causes.as_deref().unwrap_or_default();

    // Last spares first: a root cause that is one gets a note in its reason.
    let mut spares: BTreeMap<(SpofKind, &str), BTreeSet<&str>> = BTreeMap::new();
    for link in &report.links {
        let Some(live) = &link.live_spofs else {
            continue;
        };
        if link.state == State::Down {
            continue;
        }
        for s in live {
            let by_design = link.spofs.iter().any(|d| d.kind == s.kind && d.id == s.id);
            if !by_design {
                spares
                    .entry((s.kind, s.id.as_str()))
                    .or_default()
                    .insert(link.name.as_str());
            }
        }
    }

    for rc in causes {
        let severity = match rc.state {
            State::Down => Severity::Critical,
            State::Degraded => Severity::Warning,
            State::Up | State::Unknown => continue,
        };
        let mut reason = rc.reason.clone();
        if let Some(links) = spares.get(&(SpofKind::Service, rc.id.as_str())) {
            reason.push_str("; now its last spare: one more failure takes down ");
            reason.push_str(&join(links.iter().copied()));
        }
        findings.push(Finding {
            key: AlertKey::new(AlertKind::RootCause, &rc.id),
            severity,
            owner: rc.owner.clone(),
            detail: Detail {
                state: rc.state.as_str().to_owned(),
                reason: Some(reason),
                links: rc.links.clone(),
                services: rc.services.clone(),
                causes: Vec::new(),
            },
            covered_by: Vec::new(),
        });
    }

    for ((kind, id), links) in &spares {
        let (owner, reason) = match kind {
            SpofKind::Service => {
                let owner = topology
                    .index_of(id)
                    .and_then(|i| topology.service(i).owner.clone());
                (owner, spare_reason(topology, report, id))
            }
            SpofKind::Domain => (
                None,
                Some(format!(
                    "every other failure domain of its services failed: {id} is the last"
                )),
            ),
        };
        let covered_by = if causes.iter().any(|c| c.id == *id) {
            vec![AlertKey::new(AlertKind::RootCause, *id)]
        } else {
            Vec::new()
        };
        findings.push(Finding {
            key: AlertKey::new(AlertKind::LastSpare, *id),
            severity: Severity::Warning,
            owner,
            detail: Detail {
                state: "last-spare".to_owned(),
                reason,
                links: links.iter().map(|l| (*l).to_owned()).collect(),
                services: Vec::new(),
                causes: Vec::new(),
            },
            covered_by,
        });
    }

    for link in &report.links {
        if link.state != State::Down {
            continue;
        }
        let explained: Vec<String> = causes
            .iter()
            .filter(|c| c.links.contains(&link.name))
            .map(|c| c.id.clone())
            .collect();
        let owner = topology
            .index_of(&link.entry)
            .and_then(|i| topology.service(i).owner.clone());
        findings.push(Finding {
            key: AlertKey::new(AlertKind::LinkDown, &link.name),
            severity: Severity::Critical,
            owner,
            detail: Detail {
                state: "down".to_owned(),
                reason: Some(format!("its entry `{}` is down", link.entry)),
                links: vec![link.name.clone()],
                services: Vec::new(),
                causes: explained.clone(),
            },
            covered_by: explained
                .into_iter()
                .map(|c| AlertKey::new(AlertKind::RootCause, c))
                .collect(),
        });
    }
    Inspection { at_ms, findings }
}

/// `1 of 3 instances left (needs 1)` from the service's probes.
fn spare_reason(topology: &Topology, report: &Report, id: &str) -> Option<String> {
    let svc = report.services.iter().find(|s| s.id == id)?;
    let probes = svc.probes.as_ref()?;
    let ok = probes.iter().filter(|p| p.ok).count();
    let need = topology
        .index_of(id)
        .map_or(1, |i| topology.service(i).min_healthy);
    let failing: BTreeSet<&str> = probes
        .iter()
        .filter(|p| !p.ok)
        .filter_map(|p| p.reason.as_deref())
        .collect();
    let mut s = format!("{ok} of {} instances left (needs {need})", probes.len());
    if !failing.is_empty() {
        s.push_str(": ");
        s.push_str(&join(failing.into_iter().take(3)));
    }
    Some(s)
}

fn join<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::engine::{Engine, Event, Rules};
    use crate::report::report::ProbeResult;

    /// `db` under five dependents in a chain and a fan; `cache` has two instances.
    const TOPOLOGY: &str = r"version: 1
name: shop
links:
  checkout: { entry: web }
  orders: { entry: order-api }
services:
  web: { owner: web-team, depends_on: { cart: strong, order-api: strong } }
  cart: { depends_on: { db: strong, cache: strong } }
  order-api: { owner: order-team, depends_on: { order-worker: strong, db: strong } }
  order-worker: { depends_on: { ledger: strong } }
  ledger: { depends_on: { db: strong } }
  db: { owner: db-team }
  cache: { owner: db-team, replicas: 2 }
";

    fn topology() -> Topology {
        crate::topology::load::load_str(TOPOLOGY, "t.yaml").unwrap()
    }

    /// A report as `probe` would make it, with the named instances failing.
    fn report(t: &Topology, failing: &[(&str, usize)]) -> Report {
        let mut observed: Vec<Vec<State>> = t
            .services
            .iter()
            .map(|s| vec![State::Up; s.instances.len()])
            .collect();
        for (name, inst) in failing {
            observed[t.index_of(name).unwrap().get()][*inst] = State::Down;
        }
        let analysis = crate::analysis::analyze(
            t,
            &crate::analysis::Options {
                observed: Some(&observed),
                ..crate::analysis::Options::default()
            },
        )
        .unwrap();
        let probes: Vec<Vec<ProbeResult>> = observed
            .iter()
            .map(|states| {
                states
                    .iter()
                    .enumerate()
                    .map(|(i, s)| ProbeResult {
                        instance: i.to_string(),
                        ok: *s == State::Up,
                        state: *s,
                        latency_ms: Some(1.0),
                        reason: (*s != State::Up).then(|| "connection refused".to_owned()),
                        phases: None,
                    })
                    .collect()
            })
            .collect();
        crate::report::build::build(t, &analysis, Some(&probes))
    }

    #[test]
    fn a_db_outage_under_five_dependents_is_one_alert_naming_the_db_then_one_resolution() {
        let t = topology();
        let mut engine = Engine::new(Rules::default());
        let mut sent = Vec::new();
        let plan = [false, true, true, true, true, true, false, false, false];
        for (i, down) in plan.iter().enumerate() {
            let failing: &[(&str, usize)] = if *down { &[("db", 0)] } else { &[] };
            let r = report(&t, failing);
            let insp = from_report(&t, &r, 1_000 * i as u64);
            if *down {
                // Two links down, five dependents down: still only one root cause.
                assert_eq!(
                    insp.findings
                        .iter()
                        .filter(|f| f.key.kind == AlertKind::RootCause)
                        .count(),
                    1
                );
            }
            sent.extend(engine.observe(&insp));
        }
        assert_eq!(sent.len(), 2, "{sent:#?}");
        let (fire, resolve) = (&sent[0], &sent[1]);
        assert_eq!(fire.event, Event::Firing);
        assert_eq!(fire.key, AlertKey::new(AlertKind::RootCause, "db"));
        assert_eq!(fire.owner.as_deref(), Some("db-team"));
        assert_eq!(fire.detail.links, ["checkout", "orders"]);
        assert_eq!(
            fire.detail.services,
            ["cart", "ledger", "order-api", "order-worker", "web"]
        );
        assert!(
            fire.detail
                .reason
                .as_deref()
                .unwrap()
                .contains("connection refused")
        );
        assert_eq!(resolve.event, Event::Resolved);
        assert_eq!(resolve.key, fire.key);
    }

    #[test]
    fn losing_a_spare_warns_once_and_a_design_spof_never_does() {
        let t = topology();
        let r = report(&t, &[("cache", 1)]);
        let insp = from_report(&t, &r, 0);
        let keys: Vec<String> = insp.findings.iter().map(|f| f.key.to_string()).collect();
        // cache is degraded (a root cause, a warning) and now the last spare of `checkout`,
        // which its own alert says; db is a SPOF by design and is up: nothing about it.
        assert_eq!(keys, ["root-cause:cache", "last-spare:cache"]);
        let rc = &insp.findings[0];
        assert_eq!(rc.severity, Severity::Warning);
        assert!(
            rc.detail
                .reason
                .as_deref()
                .unwrap()
                .ends_with("now its last spare: one more failure takes down checkout"),
            "{:?}",
            rc.detail.reason
        );
        let spare = &insp.findings[1];
        assert_eq!(
            spare.covered_by,
            [AlertKey::new(AlertKind::RootCause, "cache")]
        );
        assert_eq!(
            spare.detail.reason.as_deref(),
            Some("1 of 2 instances left (needs 1): connection refused")
        );
        assert_eq!(spare.owner.as_deref(), Some("db-team"));
    }

    #[test]
    fn a_down_link_is_covered_by_its_root_causes_and_owned_by_its_entry() {
        let t = topology();
        let r = report(&t, &[("ledger", 0)]);
        let insp = from_report(&t, &r, 0);
        let down: Vec<&str> = insp
            .findings
            .iter()
            .filter(|f| f.key.kind == AlertKind::LinkDown)
            .map(|f| f.key.subject.as_str())
            .collect();
        assert_eq!(down, ["checkout", "orders"]);
        let orders = insp
            .findings
            .iter()
            .find(|f| f.key == AlertKey::new(AlertKind::LinkDown, "orders"))
            .unwrap();
        assert_eq!(orders.owner.as_deref(), Some("order-team"));
        assert_eq!(orders.detail.causes, ["ledger"]);
        assert_eq!(
            orders.covered_by,
            [AlertKey::new(AlertKind::RootCause, "ledger")]
        );
    }
}
