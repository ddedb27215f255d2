//! The Markdown format of `analyze` and `diff`, for review documents: one table per concern,
//! code spans for ids, pipes escaped.

use std::fmt::Write as _;

use crate::analysis::diff::{DiffReport, LinkStatus};
use crate::report::report::{Report, Spof, SpofKind};
use crate::report::text::path_text;

/// Escapes a table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn code(s: &str) -> String {
    format!("`{}`", s.replace('|', "\\|"))
}

fn codes(v: &[String]) -> String {
    v.iter().map(|s| code(s)).collect::<Vec<_>>().join(", ")
}

fn spof_table(out: &mut String, spofs: &[Spof]) {
    let _ = writeln!(out, "| kind | id | why |");
    let _ = writeln!(out, "| --- | --- | --- |");
    for s in spofs {
        let (kind, why) = match s.kind {
            SpofKind::Service => ("service", path_text(s.path.as_deref().unwrap_or_default())),
            SpofKind::Domain => (
                "domain",
                match s.implied_by.as_deref() {
                    Some([]) | None => "shared fate: no single service explains it".to_owned(),
                    Some(v) => format!("implied by {}", v.join(", ")),
                },
            ),
        };
        let _ = writeln!(out, "| {kind} | {} | {} |", code(&s.id), cell(&why));
    }
}

/// Renders the `analyze` report as Markdown.
pub fn render_markdown(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {} — core link analysis", cell(&report.topology));
    let _ = writeln!(out);
    if let Some(failed) = &report.assumed_failed {
        let _ = writeln!(out, "Assuming failed: {}.", codes(failed));
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "| link | entry | state | critical path | SPOFs |");
    let _ = writeln!(out, "| --- | --- | --- | ---: | ---: |");
    for l in &report.links {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            code(&l.name),
            code(&l.entry),
            l.state,
            l.critical_path.len(),
            l.spofs.len()
        );
    }
    for l in &report.links {
        let _ = writeln!(out);
        let _ = writeln!(out, "## Link {}", code(&l.name));
        let _ = writeln!(out);
        let _ = writeln!(out, "Entry {}, state **{}**.", code(&l.entry), l.state);
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Critical path ({}): {}.",
            l.critical_path.len(),
            codes(&l.critical_path)
        );
        let _ = writeln!(out);
        let _ = writeln!(out, "### Single points of failure");
        let _ = writeln!(out);
        if l.spofs.is_empty() {
            let _ = writeln!(out, "None: no single failure takes this link down.");
        } else {
            spof_table(&mut out, &l.spofs);
        }
        if let Some(live) = &l.live_spofs {
            let _ = writeln!(out);
            let _ = writeln!(out, "### Live single points of failure");
            let _ = writeln!(out);
            if l.state == crate::state::State::Down {
                let _ = writeln!(out, "The link is already down.");
            } else if live.is_empty() {
                let _ = writeln!(out, "None: no single further failure takes it down.");
            } else {
                spof_table(&mut out, live);
            }
        }
        if let Some(pairs) = &l.pairs {
            let _ = writeln!(out);
            let _ = writeln!(out, "### Pairs of failures (N-2)");
            let _ = writeln!(out);
            if pairs.is_empty() {
                let _ = writeln!(out, "None: no pair of failures takes it down.");
            } else {
                let _ = writeln!(out, "| events | finding | services down |");
                let _ = writeln!(out, "| --- | --- | ---: |");
                for p in pairs {
                    let finding = if p.kind == "thin-redundancy" {
                        "thin redundancy: one spare only"
                    } else {
                        "pair"
                    };
                    let _ = writeln!(out, "| {} | {finding} | {} |", codes(&p.events), p.impact);
                }
            }
        }
    }
    let mut ranked: Vec<_> = report
        .services
        .iter()
        .filter(|s| !s.blast_radius.links.is_empty())
        .collect();
    ranked.sort_by(|a, b| {
        b.blast_radius
            .links
            .len()
            .cmp(&a.blast_radius.links.len())
            .then(
                b.blast_radius
                    .services
                    .len()
                    .cmp(&a.blast_radius.services.len()),
            )
            .then_with(|| a.id.cmp(&b.id))
    });
    if !ranked.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "## Most critical services");
        let _ = writeln!(out);
        let _ = writeln!(out, "| service | links down | other services down |");
        let _ = writeln!(out, "| --- | --- | ---: |");
        for s in ranked.iter().take(20) {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                code(&s.id),
                codes(&s.blast_radius.links),
                s.blast_radius.services.len()
            );
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "## Risks");
    let _ = writeln!(out);
    if report.risks.is_empty() {
        let _ = writeln!(out, "None.");
    } else {
        let _ = writeln!(out, "| severity | rule | message | hint |");
        let _ = writeln!(out, "| --- | --- | --- | --- |");
        for r in &report.risks {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                r.severity,
                code(r.rule.id()),
                cell(&r.message),
                cell(&r.hint)
            );
        }
    }
    out
}

/// Renders a diff as Markdown.
pub fn render_diff_markdown(diff: &DiffReport) -> String {
    let mut out = String::new();
    let title = if diff.old == diff.new {
        diff.old.clone()
    } else {
        format!("{} → {}", diff.old, diff.new)
    };
    let _ = writeln!(out, "# Topology diff: {}", cell(&title));
    let _ = writeln!(out);
    if diff.is_empty() {
        let _ = writeln!(out, "No changes.");
        return out;
    }
    if diff.gates_fail() {
        let _ = writeln!(
            out,
            "**This change adds a single point of failure or an error-level risk.**"
        );
        let _ = writeln!(out);
    }
    let mut rows: Vec<(String, String)> = Vec::new();
    for s in &diff.services_added {
        rows.push(("service added".into(), code(s)));
    }
    for s in &diff.services_removed {
        rows.push(("service removed".into(), code(s)));
    }
    let via = |g: &Option<String>| {
        g.as_ref()
            .map(|g| format!(" (any_of {})", code(g)))
            .unwrap_or_default()
    };
    for e in &diff.edges_added {
        rows.push((
            "edge added".into(),
            format!(
                "{} → {} {}{}",
                code(&e.from),
                code(&e.to),
                e.strength,
                via(&e.group)
            ),
        ));
    }
    for e in &diff.edges_removed {
        rows.push((
            "edge removed".into(),
            format!(
                "{} → {} {}{}",
                code(&e.from),
                code(&e.to),
                e.strength,
                via(&e.group)
            ),
        ));
    }
    for c in &diff.strength_changed {
        rows.push((
            "strength changed".into(),
            format!(
                "{} → {}{}: {} → {}",
                code(&c.from),
                code(&c.to),
                via(&c.group),
                c.old,
                c.new
            ),
        ));
    }
    for r in &diff.redundancy_changed {
        rows.push((
            "redundancy changed".into(),
            format!(
                "{}: spare {} → {} ({} → {} instances, min_healthy {} → {})",
                code(&r.service),
                r.old_spare(),
                r.new_spare(),
                r.old_instances,
                r.new_instances,
                r.old_min_healthy,
                r.new_min_healthy
            ),
        ));
    }
    for g in &diff.group_min_changed {
        rows.push((
            "any_of min changed".into(),
            format!(
                "{} group {}: min {} → {}",
                code(&g.service),
                code(&g.group),
                g.old_min,
                g.new_min
            ),
        ));
    }
    for l in &diff.links {
        let status = match l.status {
            LinkStatus::Added => "link added",
            LinkStatus::Removed => "link removed",
            LinkStatus::Changed => "link changed",
        };
        let mut parts = Vec::new();
        if !l.spofs_added.is_empty() {
            parts.push(format!("new SPOFs {}", codes(&l.spofs_added)));
        }
        if !l.spofs_removed.is_empty() {
            parts.push(format!("SPOFs gone {}", codes(&l.spofs_removed)));
        }
        if !l.critical_path_added.is_empty() {
            parts.push(format!(
                "joined critical path {}",
                codes(&l.critical_path_added)
            ));
        }
        if !l.critical_path_removed.is_empty() {
            parts.push(format!(
                "left critical path {}",
                codes(&l.critical_path_removed)
            ));
        }
        if l.old_entry != l.new_entry && l.status == LinkStatus::Changed {
            parts.push(format!(
                "entry {} → {}",
                code(l.old_entry.as_deref().unwrap_or("-")),
                code(l.new_entry.as_deref().unwrap_or("-"))
            ));
        }
        rows.push((
            status.into(),
            format!("{}: {}", code(&l.name), parts.join("; ")),
        ));
    }
    for r in &diff.risks_added {
        rows.push((
            format!("risk added ({})", r.severity),
            format!("{}: {}", code(r.rule.id()), cell(&r.message)),
        ));
    }
    for r in &diff.risks_removed {
        rows.push((
            format!("risk removed ({})", r.severity),
            format!("{}: {}", code(r.rule.id()), cell(&r.message)),
        ));
    }
    let _ = writeln!(out, "| change | what |");
    let _ = writeln!(out, "| --- | --- |");
    for (a, b) in rows {
        let _ = writeln!(out, "| {a} | {b} |");
    }
    out
}
