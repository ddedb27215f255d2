//! Text and JSON renderings of a [`DiffReport`] (`linkpatrol diff`). User text in the text form
//! is made [printable] before it is styled.

use std::fmt::Write as _;

use crate::analysis::diff::{DiffReport, LinkStatus};
use crate::report::text::Paint;
use crate::terminal::printable;

/// Renders the diff as pretty JSON ending in a newline.
pub fn render_diff_json(diff: &DiffReport) -> String {
    let mut s = serde_json::to_string_pretty(diff).expect("a diff always serializes");
    s.push('\n');
    s
}

/// Renders the diff for a terminal: `+` added, `-` removed, `~` changed.
pub fn render_diff_text(diff: &DiffReport, color: bool) -> String {
    let p = Paint::new(color);
    let add = |s: &str| {
        let s = printable(s);
        if color {
            format!("\x1b[32m+ {s}\x1b[0m")
        } else {
            format!("+ {s}")
        }
    };
    let del = |s: &str| {
        let s = printable(s);
        if color {
            format!("\x1b[31m- {s}\x1b[0m")
        } else {
            format!("- {s}")
        }
    };
    let chg = |s: &str| {
        let s = printable(s);
        if color {
            format!("\x1b[33m~ {s}\x1b[0m")
        } else {
            format!("~ {s}")
        }
    };
    let mut out = String::new();
    let title = if diff.old == diff.new {
        diff.old.clone()
    } else {
        format!("{} → {}", diff.old, diff.new)
    };
    let _ = writeln!(out, "{}", p.bold(&format!("diff {title}")));
    if diff.is_empty() {
        let _ = writeln!(out, "no changes");
        return out;
    }
    let section = |out: &mut String, name: &str| {
        let _ = writeln!(out);
        let _ = writeln!(out, "{}", p.bold(name));
    };
    if !diff.services_added.is_empty() || !diff.services_removed.is_empty() {
        section(&mut out, "services");
        for s in &diff.services_added {
            let _ = writeln!(out, "  {}", add(s));
        }
        for s in &diff.services_removed {
            let _ = writeln!(out, "  {}", del(s));
        }
    }
    if !diff.operations_added.is_empty() || !diff.operations_removed.is_empty() {
        section(&mut out, "operations");
        for s in &diff.operations_added {
            let _ = writeln!(out, "  {}", add(s));
        }
        for s in &diff.operations_removed {
            let _ = writeln!(out, "  {}", del(s));
        }
    }
    if !diff.edges_added.is_empty()
        || !diff.edges_removed.is_empty()
        || !diff.strength_changed.is_empty()
    {
        section(&mut out, "edges");
        let via = |g: &Option<String>| {
            g.as_ref()
                .map(|g| format!(" (any_of {g})"))
                .unwrap_or_default()
        };
        for e in &diff.edges_added {
            let _ = writeln!(
                out,
                "  {}",
                add(&format!(
                    "{} → {} {}{}",
                    e.from,
                    e.to,
                    e.strength,
                    via(&e.group)
                ))
            );
        }
        for e in &diff.edges_removed {
            let _ = writeln!(
                out,
                "  {}",
                del(&format!(
                    "{} → {} {}{}",
                    e.from,
                    e.to,
                    e.strength,
                    via(&e.group)
                ))
            );
        }
        for c in &diff.strength_changed {
            let _ = writeln!(
                out,
                "  {}",
                chg(&format!(
                    "{} → {}{}: {} → {}",
                    c.from,
                    c.to,
                    via(&c.group),
                    c.old,
                    c.new
                ))
            );
        }
    }
    if !diff.redundancy_changed.is_empty() || !diff.group_min_changed.is_empty() {
        section(&mut out, "redundancy");
        for g in &diff.group_min_changed {
            let _ = writeln!(
                out,
                "  {}",
                chg(&format!(
                    "{} any_of {}: min {} → {}",
                    g.service, g.group, g.old_min, g.new_min
                ))
            );
        }
        for r in &diff.redundancy_changed {
            let _ = writeln!(
                out,
                "  {}",
                chg(&format!(
                    "{}: {} instances, min_healthy {} (spare {}) → {} instances, min_healthy {} (spare {})",
                    r.service,
                    r.old_instances,
                    r.old_min_healthy,
                    r.old_spare(),
                    r.new_instances,
                    r.new_min_healthy,
                    r.new_spare()
                ))
            );
        }
    }
    for l in &diff.links {
        let head = match l.status {
            LinkStatus::Added => add(&format!("link {}", l.name)),
            LinkStatus::Removed => del(&format!("link {}", l.name)),
            LinkStatus::Changed => chg(&format!("link {}", l.name)),
        };
        let _ = writeln!(out);
        let _ = writeln!(out, "{head}");
        if l.status == LinkStatus::Changed && l.old_entry != l.new_entry {
            let _ = writeln!(
                out,
                "  entry {} → {}",
                printable(l.old_entry.as_deref().unwrap_or("-")),
                printable(l.new_entry.as_deref().unwrap_or("-"))
            );
        }
        for s in &l.spofs_added {
            let _ = writeln!(out, "  {}", add(&format!("SPOF {s}")));
        }
        for s in &l.spofs_removed {
            let _ = writeln!(out, "  {}", del(&format!("SPOF {s}")));
        }
        if !l.critical_path_added.is_empty() {
            let _ = writeln!(
                out,
                "  {}",
                add(&format!(
                    "critical path: {}",
                    l.critical_path_added.join(", ")
                ))
            );
        }
        if !l.critical_path_removed.is_empty() {
            let _ = writeln!(
                out,
                "  {}",
                del(&format!(
                    "critical path: {}",
                    l.critical_path_removed.join(", ")
                ))
            );
        }
    }
    if !diff.risks_added.is_empty() || !diff.risks_removed.is_empty() {
        section(&mut out, "risks");
        for r in &diff.risks_added {
            let _ = writeln!(
                out,
                "  {}",
                add(&format!("{} {}: {}", r.severity, r.rule, r.message))
            );
        }
        for r in &diff.risks_removed {
            let _ = writeln!(
                out,
                "  {}",
                del(&format!("{} {}: {}", r.severity, r.rule, r.message))
            );
        }
    }
    let _ = writeln!(out);
    if diff.gates_fail() {
        let _ = writeln!(
            out,
            "{}",
            p.red("this change adds a single point of failure or an error-level risk")
        );
    }
    out
}
