//! The caption: the topology's name, one line per link, the domain SPOFs merged over links, the
//! events assumed failed, and what the selection left out or folded. At most [`CAPTION_LINES`]
//! links and domain SPOFs, the worst first (down links first, then most SPOFs; domain SPOFs by
//! the links they take down, shared fate first), then a count of the rest.

use std::collections::BTreeMap;

use super::{AllSpof, CAPTION_LINES, Caption, DomainSpofLine, LinkLine};
use crate::report::report::{Report, SpofKind};

/// The caption of `report`'s picture (of `focus` alone, when given), with `notes` from
/// selection and folding.
pub(super) fn caption(
    report: &Report,
    focus: Option<&str>,
    probed: bool,
    notes: Vec<String>,
) -> Caption {
    let links: Vec<_> = report
        .links
        .iter()
        .filter(|l| focus.is_none_or(|f| f == l.name))
        .collect();
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
        line.links.sort();
    }
    let mut link_lines: Vec<LinkLine> = links
        .iter()
        .map(|l| LinkLine {
            name: l.name.clone(),
            state: l.state,
            critical_path: l.critical_path.len(),
            spofs: l.spofs.len(),
        })
        .collect();
    link_lines.sort_by(|a, b| {
        b.state
            .cmp(&a.state)
            .then(b.spofs.cmp(&a.spofs))
            .then(a.name.cmp(&b.name))
    });
    let more_links = link_lines.len().saturating_sub(CAPTION_LINES);
    link_lines.truncate(CAPTION_LINES);
    let mut domain_spofs: Vec<DomainSpofLine> = domain.into_values().collect();
    domain_spofs.sort_by(|a, b| {
        b.links
            .len()
            .cmp(&a.links.len())
            .then(
                a.implied_by
                    .is_empty()
                    .cmp(&b.implied_by.is_empty())
                    .reverse(),
            )
            .then(a.id.cmp(&b.id))
    });
    let more_domain_spofs = domain_spofs.len().saturating_sub(CAPTION_LINES);
    domain_spofs.truncate(CAPTION_LINES);
    Caption {
        title: report.topology.clone(),
        links: link_lines,
        domain_spofs,
        assumed_failed: report.assumed_failed.clone().unwrap_or_default(),
        notes,
        more_links,
        more_domain_spofs,
        probed,
        all_spof: None,
    }
}

/// The caption's one red line when every service on the path is a SPOF: says so once, and names
/// the worst by blast radius.
pub(super) fn all_spof_line(a: &AllSpof, focus: Option<&str>) -> String {
    let whose = match focus {
        Some(l) => format!("link {l}'s critical path"),
        None => "every link's critical path".to_owned(),
    };
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let (links, services) = a.blast;
    let worst = match a.worst.as_slice() {
        [one] => format!("the worst is {one}"),
        many => format!("the worst are {}", many.join(", ")),
    };
    format!(
        "every service on {whose} is a SPOF ({}): no redundancy anywhere; {worst}, taking down {} and {}",
        plural(a.services, "service", "services"),
        plural(links, "link", "links"),
        plural(services, "other service", "other services"),
    )
}
