//! The Markdown format of `diff`, for review documents: one table per concern, code spans for
//! ids, pipes escaped.

use std::fmt::Write as _;

use crate::analysis::diff::{DiffReport, LinkStatus};

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
    for (what, names) in [
        ("service added", &diff.services_added),
        ("service removed", &diff.services_removed),
        ("operation added", &diff.operations_added),
        ("operation removed", &diff.operations_removed),
    ] {
        rows.extend(names.iter().map(|s| (what.to_owned(), code(s))));
    }
    let via = |g: &Option<String>| {
        g.as_ref()
            .map(|g| format!(" (any_of {})", code(g)))
            .unwrap_or_default()
    };
    for (what, edges) in [
        ("edge added", &diff.edges_added),
        ("edge removed", &diff.edges_removed),
    ] {
        rows.extend(edges.iter().map(|e| {
            (
                what.to_owned(),
                format!(
                    "{} → {} {}{}",
                    code(&e.from),
                    code(&e.to),
                    e.strength,
                    via(&e.group)
                ),
            )
        }));
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
