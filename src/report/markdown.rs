//! The Markdown report: shared by `analyze --format md` and `inspect`'s `report.md`.
//!
//! Sections, each present only when it has content: root causes (after probing or `--fail`: one
//! row each with state, owner, reason and what it takes down), links (state, why, critical path size, SPOF
//! count), SPOFs with their explanation (the strong path for a service, `implied_by` or "shared
//! fate" for a domain), live SPOFs, N-2 pairs, risks with hints, probe results per instance,
//! changes since the last run, and the graph as a Mermaid block. All user text is escaped by
//! [`md`], so a name cannot break a table or start a link.

use std::fmt::Write as _;

use crate::report::MAX_ROWS;
use crate::report::mermaid::to_mermaid;
use crate::report::render_error::RenderError;
use crate::report::report::{Report, RootCauseKind, RootCauseReport, Spof, SpofKind};
use crate::report::text::takes_down;
use crate::report::view::{GraphView, ViewOptions};
use crate::topology::model::Topology;

/// What to put in the Markdown report besides the report itself.
#[derive(Debug, Clone, Default)]
pub struct MarkdownOptions<'a> {
    /// Include the graph as a Mermaid block, built with these options; `None` leaves it out.
    pub mermaid: Option<ViewOptions>,
    /// Changes since the last run, one line each; `None` when unknown.
    pub changes: Option<&'a [String]>,
}

/// Escapes Markdown syntax in inline text and table cells.
pub fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Like [`md`], but keeps paired backticks, which messages use to quote values (STYLE §5).
pub fn md_with_code(s: &str) -> String {
    let parts: Vec<&str> = s.split('`').collect();
    if parts.len().is_multiple_of(2) {
        return md(s);
    }
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| if i % 2 == 1 { code(p) } else { md(p) })
        .collect()
}

fn code(s: &str) -> String {
    // Inside a code span only a backtick is special; a pipe still splits a table cell.
    format!("`{}`", s.replace('`', "'").replace('|', "\\|"))
}

/// Names shown in one risk's subjects before `and N more`.
const MAX_SUBJECTS: usize = 10;

/// `*… and 312 more SPOFs of this link; `linkpatrol analyze --format json` lists every one*`,
/// when `total` is over [`MAX_ROWS`].
fn more(w: &mut String, total: usize, what: &str) {
    if total > MAX_ROWS {
        let _ = writeln!(
            w,
            "\n*… and {} more {what}; `linkpatrol analyze --format json` lists every one*",
            total - MAX_ROWS
        );
    }
}

fn spof_line(s: &Spof) -> String {
    match s.kind {
        SpofKind::Service => {
            let path = s
                .path
                .as_ref()
                .map(|p| p.iter().map(|x| md(x)).collect::<Vec<_>>().join(" → "))
                .unwrap_or_default();
            format!("- **{}** (service): {path}", md(&s.id))
        }
        SpofKind::Domain => match s.implied_by.as_deref() {
            Some(by) if !by.is_empty() => format!(
                "- **{}** (domain): implied by {}",
                md(&s.id),
                by.iter().map(|x| md(x)).collect::<Vec<_>>().join(", ")
            ),
            _ => format!(
                "- **{}** (domain): **shared fate**: redundant instances share this domain",
                md(&s.id)
            ),
        },
    }
}

/// At most this many names per list in a root cause's row.
const MAX_NAMES: usize = 20;

/// The root-cause section: one row per root cause with what it takes down (SPEC §2).
fn root_causes(w: &mut String, report: &Report, causes: &[RootCauseReport]) {
    let _ = writeln!(w, "## Root causes\n");
    if causes.is_empty() {
        let _ = writeln!(w, "Nothing failed.\n");
        return;
    }
    let _ = writeln!(w, "| root cause | state | owner | reason | takes down |");
    let _ = writeln!(w, "| --- | --- | --- | --- | --- |");
    for c in causes {
        let _ = writeln!(
            w,
            "| **{}**{} | **{}** | {} | {} | {} |",
            md(&c.id),
            if c.kind == RootCauseKind::Cycle {
                " (strong cycle)"
            } else {
                ""
            },
            c.state,
            c.owner.as_deref().map(md).unwrap_or_default(),
            md_with_code(&c.reason),
            md(&takes_down(report, c, MAX_NAMES))
        );
    }
    let _ = writeln!(w);
}

/// The Markdown report.
pub fn render_markdown(
    topo: &Topology,
    report: &Report,
    options: &MarkdownOptions<'_>,
) -> Result<String, RenderError> {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "# linkpatrol report: {}\n", md(&report.topology));
    if let Some(run) = &report.run {
        let _ = writeln!(
            w,
            "Inspection {} started {}, took {:.1} s (linkpatrol {}).\n",
            code(&run.id),
            md(&run.start),
            run.duration_seconds,
            md(&run.version)
        );
        for warning in &run.warnings {
            let _ = writeln!(w, "> Warning: {}\n", md(warning));
        }
    }
    if let Some(failed) = &report.assumed_failed {
        let _ = writeln!(
            w,
            "> What-if: assumed failed {}.\n",
            failed
                .iter()
                .map(|f| code(f))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }

    if let Some(causes) = &report.root_causes {
        root_causes(w, report, causes);
    }

    let _ = writeln!(w, "## Links\n");
    // A state column only once observed (probes or `--fail`): before that every link is
    // `unknown`, which reads as a problem (issue 15). JSON keeps it (SPEC §5).
    let observed = report.observed();
    if report.root_causes.is_some() {
        let _ = writeln!(w, "| link | entry | state | why | critical path | SPOFs |");
        let _ = writeln!(w, "| --- | --- | --- | --- | ---: | ---: |");
    } else if observed {
        let _ = writeln!(w, "| link | entry | state | critical path | SPOFs |");
        let _ = writeln!(w, "| --- | --- | --- | ---: | ---: |");
    } else {
        let _ = writeln!(w, "| link | entry | critical path | SPOFs |");
        let _ = writeln!(w, "| --- | --- | ---: | ---: |");
    }
    for l in &report.links {
        let spofs = match &l.live_spofs {
            Some(live) => format!("{} ({} live)", l.spofs.len(), live.len()),
            None => l.spofs.len().to_string(),
        };
        let why = if report.root_causes.is_some() {
            format!(" {} |", md_with_code(&l.why(report)))
        } else {
            String::new()
        };
        let state = if observed {
            format!(" **{}** |", l.state)
        } else {
            String::new()
        };
        let _ = writeln!(
            w,
            "| {} | {} |{state}{why} {} | {spofs} |",
            md(&l.name),
            md(&l.entered()),
            l.critical_path.len()
        );
    }
    let _ = writeln!(w);
    matrix_section(w, topo, report);

    if report.links.iter().any(|l| !l.spofs.is_empty()) {
        let _ = writeln!(w, "## Single points of failure\n");
        for l in report.links.iter().filter(|l| !l.spofs.is_empty()) {
            let _ = writeln!(w, "### {}\n", md(&l.name));
            for s in l.spofs.iter().take(MAX_ROWS) {
                let _ = writeln!(w, "{}", spof_line(s));
            }
            more(w, l.spofs.len(), "SPOFs of this link");
            let _ = writeln!(w);
        }
    }

    if report
        .links
        .iter()
        .any(|l| l.live_spofs.as_ref().is_some_and(|s| !s.is_empty()))
    {
        let _ = writeln!(w, "## Live SPOFs (the system as it is now)\n");
        for l in &report.links {
            if let Some(live) = l.live_spofs.as_ref().filter(|s| !s.is_empty()) {
                let _ = writeln!(w, "### {}\n", md(&l.name));
                for s in live.iter().take(MAX_ROWS) {
                    let _ = writeln!(w, "{}", spof_line(s));
                }
                more(w, live.len(), "live SPOFs of this link");
                let _ = writeln!(w);
            }
        }
    }

    if report
        .links
        .iter()
        .any(|l| l.pairs.as_ref().is_some_and(|p| !p.is_empty()))
    {
        let _ = writeln!(w, "## N-2: pairs of failures\n");
        let _ = writeln!(w, "| link | events | kind | services down |");
        let _ = writeln!(w, "| --- | --- | --- | ---: |");
        let mut hidden = 0;
        for l in &report.links {
            let pairs = l.pairs.as_deref().unwrap_or_default();
            hidden += pairs.len().saturating_sub(MAX_ROWS);
            for p in pairs.iter().take(MAX_ROWS) {
                let _ = writeln!(
                    w,
                    "| {} | {} | {} | {} |",
                    md(&l.name),
                    p.events
                        .iter()
                        .map(|e| code(e))
                        .collect::<Vec<_>>()
                        .join(" + "),
                    md(&p.kind),
                    p.impact
                );
            }
        }
        if hidden > 0 {
            let _ = writeln!(
                w,
                "\n*… and {hidden} more pairs ({MAX_ROWS} a link shown); `linkpatrol analyze --format json` lists every one*"
            );
        }
        let _ = writeln!(w);
    }

    if !report.risks.is_empty() {
        let _ = writeln!(w, "## Risks\n");
        let mut of_rule: std::collections::BTreeMap<&str, usize> =
            std::collections::BTreeMap::new();
        for r in &report.risks {
            let n = of_rule.entry(r.rule.id()).or_default();
            *n += 1;
            if *n > MAX_ROWS {
                continue;
            }
            let mut subjects: Vec<String> = r
                .subjects
                .iter()
                .take(MAX_SUBJECTS)
                .map(|s| md(s))
                .collect();
            if r.subjects.len() > MAX_SUBJECTS {
                subjects.push(format!("and {} more", r.subjects.len() - MAX_SUBJECTS));
            }
            let _ = writeln!(
                w,
                "- **{}** {} ({}): {}  \n  *Hint:* {}",
                r.severity,
                code(r.rule.id()),
                subjects.join(", "),
                md_with_code(&r.message),
                md_with_code(&r.hint)
            );
        }
        for (rule, n) in of_rule {
            more(w, n, &format!("{} risks", code(rule)));
        }
        let _ = writeln!(w);
    }

    if report.services.iter().any(|s| s.probes.is_some()) {
        let _ = writeln!(w, "## Probe results\n");
        let _ = writeln!(
            w,
            "| service | instance | state | latency | reason |\n| --- | --- | --- | ---: | --- |"
        );
        for s in &report.services {
            // The service's probe, then each operation's own (`frontend (checkout)`).
            let own = std::iter::once((&s.id, &s.probes));
            let ops = s.operations.iter().map(|o| (&o.id, &o.probes));
            for (id, p) in own
                .chain(ops)
                .flat_map(|(id, p)| p.iter().flatten().map(move |p| (id, p)))
            {
                let latency = p
                    .latency_ms
                    .map(|ms| format!("{ms:.1} ms"))
                    .unwrap_or_default();
                let _ = writeln!(
                    w,
                    "| {} | {} | {} | {latency} | {} |",
                    md(id),
                    md(&p.instance),
                    p.state,
                    md_with_code(p.reason.as_deref().unwrap_or(""))
                );
            }
        }
        let _ = writeln!(w);
    }

    if let Some(changes) = options.changes {
        let _ = writeln!(w, "## Changes since the last run\n");
        if changes.is_empty() {
            let _ = writeln!(w, "No changes.");
        }
        for c in changes {
            let _ = writeln!(w, "- {}", md(c));
        }
        let _ = writeln!(w);
    }

    if let Some(history) = &report.history {
        write_history(w, history);
    }

    if let Some(view_options) = &options.mermaid {
        let view = GraphView::build(topo, report, view_options)?;
        let _ = writeln!(w, "## Graph\n\n```mermaid\n{}```", to_mermaid(&view));
    }
    Ok(out)
}

/// The `history` section: availability and latency per link and service, 24 h and 7 d.
fn write_history(w: &mut String, history: &crate::report::report::History) {
    use crate::report::report::WindowStats;
    let pct = |v: Option<f64>| v.map_or_else(|| "–".to_owned(), |a| format!("{:.2} %", a * 100.0));
    let ms = |v: Option<f64>| v.map_or_else(|| "–".to_owned(), |m| format!("{m:.1} ms"));
    let cells = |s: &WindowStats| {
        format!(
            "{} | {} | {} | {}",
            s.runs,
            pct(s.availability),
            ms(s.p50_ms),
            ms(s.p95_ms)
        )
    };
    let _ = writeln!(w, "## History\n");
    let _ = writeln!(
        w,
        "| | runs 24 h | available 24 h | p50 24 h | p95 24 h | runs 7 d | available 7 d | p50 7 d | p95 7 d |"
    );
    let _ = writeln!(
        w,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for (kind, rows) in [("link", &history.links), ("service", &history.services)] {
        for h in rows {
            let _ = writeln!(
                w,
                "| {kind} {} | {} | {} |",
                md(&h.id),
                cells(&h.last_24h),
                cells(&h.last_7d)
            );
        }
    }
    let _ = writeln!(w);
}

/// The link × service matrix ([`crate::report::matrix`]).
fn matrix_section(w: &mut String, topo: &Topology, report: &Report) {
    use crate::report::matrix::{MATRIX_ROWS, Role, matrix};
    let m = matrix(topo, report, MATRIX_ROWS);
    if m.rows.is_empty() {
        return;
    }
    let _ = writeln!(w, "## Which link needs which service\n");
    let _ = writeln!(
        w,
        "SPOF: its loss alone takes the link down · critical: on the critical path, with a spare · weak: reached through a weak dependency, its loss degrades the link · —: not used.\n"
    );
    let _ = write!(w, "| service |");
    for l in &m.links {
        let _ = write!(w, " {} |", md(l));
    }
    let _ = write!(w, "\n| --- |");
    for _ in &m.links {
        let _ = write!(w, " :-: |");
    }
    let _ = writeln!(w);
    for r in &m.rows {
        let _ = write!(w, "| {} |", md(&r.service));
        for c in &r.cells {
            let cell = match c {
                Role::Spof => "**SPOF**",
                other => other.as_str(),
            };
            let _ = write!(w, " {cell} |");
        }
        let _ = writeln!(w);
    }
    if m.more > 0 {
        let _ = writeln!(w, "\nand {} more services.", m.more);
    }
    let _ = writeln!(w);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_syntax_is_escaped() {
        assert_eq!(md("a|b*c_[x](y)"), "a\\|b\\*c\\_\\[x\\](y)");
        assert_eq!(code("a`b|c"), "`a'b\\|c`");
        assert_eq!(md_with_code("`a_b` is *down*"), "`a_b` is \\*down\\*");
    }
}
