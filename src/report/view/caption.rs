//! The caption: the topology's name, one line per link, the domain SPOFs merged over links, the
//! events assumed failed, and what the selection left out or folded.

use std::collections::BTreeMap;

use super::{Caption, DomainSpofLine, LinkLine};
use crate::report::report::{Report, SpofKind};

/// The caption of `report`'s picture, with `notes` from selection and folding.
pub(super) fn caption(report: &Report, notes: Vec<String>) -> Caption {
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
    Caption {
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
        notes,
    }
}
