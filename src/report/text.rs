//! The human text format of `analyze`: root causes first when something failed (`--fail`), then
//! grouped by link (state, SPOFs with their paths, domain SPOFs with what implies them, N-2
//! findings), then the most critical services, then risks with hints. Colour (plain ANSI) only
//! when the caller says the output is a terminal.
//!
//! Long lists are capped so that a 100,000-service topology still reads on one screen per
//! link: at most [`MAX_LINES`] lines per list (SPOFs, N-2 findings, critical services, risks of
//! one rule) and 20 names of a critical path, then "… and 312 more; `--format json` for all".
//!
//! [`root_cause_lines`] and [`because_text`] are shared with the `probe` table, so both say
//! the same thing the same way.

use std::fmt::Write as _;

use crate::report::report::{Report, RootCauseReport, Spof, SpofKind};
use crate::state::State;
use crate::terminal::{printable, printable_join};
use crate::topology::model::Severity;

/// ANSI styling, or none.
#[derive(Debug, Clone, Copy)]
pub struct Paint {
    on: bool,
}

impl Paint {
    /// Styling on or off.
    pub fn new(on: bool) -> Self {
        Self { on }
    }

    /// `s` made [printable] (it may hold user text), then styled: the only escapes in the
    /// output are the ones written here.
    fn wrap(self, code: &str, s: &str) -> String {
        let s = printable(s);
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.into_owned()
        }
    }

    /// Bold.
    pub fn bold(self, s: &str) -> String {
        self.wrap("1", s)
    }

    /// Dimmed.
    pub fn dim(self, s: &str) -> String {
        self.wrap("2", s)
    }

    /// Coloured by state.
    pub fn state(self, st: State) -> String {
        let code = match st {
            State::Up => "32",
            State::Unknown => "90",
            State::Degraded => "33",
            State::Down => "1;31",
        };
        self.wrap(code, st.as_str())
    }

    /// Coloured by severity.
    pub fn severity(self, sev: Severity) -> String {
        let code = match sev {
            Severity::Info => "36",
            Severity::Warning => "33",
            Severity::Error => "1;31",
        };
        self.wrap(code, &format!("{:<7}", sev.to_string()))
    }

    /// Red, for SPOFs.
    pub fn red(self, s: &str) -> String {
        self.wrap("31", s)
    }
}

/// `a → b ⟶ c`: the last hop (into the failing service) drawn longer.
pub fn path_text(path: &[String]) -> String {
    match path {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} ⟶ {last}", init.join(" → ")),
    }
}

fn spof_lines(out: &mut String, p: Paint, spofs: &[Spof]) {
    let visible = &spofs[..shown(spofs.len())];
    let width = visible
        .iter()
        .map(|s| s.id.chars().count())
        .max()
        .unwrap_or(0);
    for s in visible {
        let id = format!("{:<width$}", s.id);
        let detail = match s.kind {
            SpofKind::Service => path_text(s.path.as_deref().unwrap_or_default()),
            SpofKind::Domain => match s.implied_by.as_deref() {
                Some([]) | None => "shared fate: redundant instances share this domain".to_owned(),
                Some(v) => format!("implied by {}", capped_strings(v, MAX_NAMES)),
            },
        };
        let _ = writeln!(out, "    {} {}  {}", p.red("✗"), p.red(&id), p.dim(&detail));
    }
    more_line(out, p, "    ", spofs.len() - visible.len());
}

/// At most this many lines in one list of the text output (SPOFs of a link, N-2 findings,
/// risks of one rule, most critical services); the JSON report has them all.
pub const MAX_LINES: usize = 10;

/// How many of `len` lines to show: all of them when that hides at most one, else
/// [`MAX_LINES`].
fn shown(len: usize) -> usize {
    if len <= MAX_LINES + 1 { len } else { MAX_LINES }
}

/// At most this many names of a link's critical path.
const MAX_PATH_NAMES: usize = 20;

/// `… and 312 more; `--format json` for all`, when `hidden` is not zero.
fn more_line(out: &mut String, p: Paint, indent: &str, hidden: usize) {
    if hidden > 0 {
        let _ = writeln!(
            out,
            "{indent}{}",
            p.dim(&format!("… and {hidden} more; `--format json` for all"))
        );
    }
}

/// `a, b, c and 4 more`, for owned names.
fn capped_strings(names: &[String], max: usize) -> String {
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    capped(&refs, max)
}

/// Renders the `analyze` text output.
pub fn render_text(report: &Report, color: bool) -> String {
    let p = Paint::new(color);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} — {} link{}, {} service{}",
        p.bold(&report.topology),
        report.links.len(),
        plural(report.links.len()),
        report.services.len(),
        plural(report.services.len())
    );
    if let Some(failed) = &report.assumed_failed {
        let _ = writeln!(out, "assuming failed: {}", printable_join(failed, ", "));
    }
    if report.root_causes.as_ref().is_some_and(|r| !r.is_empty()) {
        let _ = writeln!(out);
        out.push_str(&root_cause_lines(report, p));
    }
    // A state appears only once observed (probes or `--fail`): before that every link is
    // `unknown`, which reads as a problem (issue 15). JSON keeps it (SPEC §5).
    let observed = report.observed();
    for link in &report.links {
        let _ = writeln!(out);
        let state = if observed {
            format!("  {}", p.state(link.state))
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{} {}  (entry {}){state}",
            p.bold("link"),
            p.bold(&link.name),
            printable(&link.entered()),
        );
        let cp = &link.critical_path;
        let names = &cp[..cp.len().min(MAX_PATH_NAMES)];
        let rest = if cp.len() > names.len() {
            format!(
                " {}",
                p.dim(&format!(
                    "… and {} more; `--format json` for all",
                    cp.len() - names.len()
                ))
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  critical path ({}): {}{rest}",
            cp.len(),
            printable_join(names, ", ")
        );
        if link.spofs.is_empty() {
            let _ = writeln!(out, "  no single point of failure");
        } else {
            let _ = writeln!(out, "  single points of failure ({}):", link.spofs.len());
            spof_lines(&mut out, p, &link.spofs);
        }
        if let Some(live) = &link.live_spofs {
            if link.state == State::Down {
                let _ = writeln!(out, "  live: the link is already down");
            } else if live.is_empty() {
                let _ = writeln!(out, "  live: no single further failure takes it down");
            } else {
                let _ = writeln!(
                    out,
                    "  live: one more failure takes it down ({}):",
                    live.len()
                );
                spof_lines(&mut out, p, live);
            }
        }
        if let Some(pairs) = &link.pairs {
            if pairs.is_empty() {
                let _ = writeln!(out, "  N-2: no pair of failures takes it down");
            } else {
                let n = shown(pairs.len());
                if n == pairs.len() {
                    let _ = writeln!(out, "  N-2 ({n} shown, by impact):");
                } else {
                    let _ = writeln!(out, "  N-2 ({} in the report, by impact):", pairs.len());
                }
                for pair in &pairs[..n] {
                    let what = if pair.kind == "thin-redundancy" {
                        format!("{} has one spare", pair.events.join(""))
                    } else {
                        pair.events.join(" + ")
                    };
                    let what = printable(&what);
                    let _ = writeln!(
                        out,
                        "    {what}  {}",
                        p.dim(&format!(
                            "({} service{} down)",
                            pair.impact,
                            plural(pair.impact)
                        ))
                    );
                }
                more_line(&mut out, p, "    ", pairs.len() - n);
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
                    .service_count
                    .cmp(&a.blast_radius.service_count),
            )
            .then_with(|| a.id.cmp(&b.id))
    });
    if !ranked.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "{}", p.bold("most critical services (blast radius)"));
        let n = shown(ranked.len());
        for s in &ranked[..n] {
            let b = &s.blast_radius;
            let _ = writeln!(
                out,
                "  {}  {} link{} ({}), {} other service{}",
                printable(&s.id),
                b.links.len(),
                plural(b.links.len()),
                printable(&capped_strings(&b.links, MAX_NAMES)),
                b.service_count,
                plural(b.service_count)
            );
        }
        more_line(&mut out, p, "  ", ranked.len() - n);
    }
    let _ = writeln!(out);
    if report.risks.is_empty() {
        let _ = writeln!(out, "no risks found");
    } else {
        let _ = writeln!(out, "{} ({}):", p.bold("risks"), report.risks.len());
        // Risks come sorted by severity then rule: the first few of each (severity, rule).
        for group in report
            .risks
            .chunk_by(|a, b| a.severity == b.severity && a.rule == b.rule)
        {
            let n = shown(group.len());
            for r in &group[..n] {
                let _ = writeln!(
                    out,
                    "  {} {}  {}",
                    p.severity(r.severity),
                    r.rule,
                    printable(&r.message)
                );
                let _ = writeln!(out, "          {}", p.dim(&format!("hint: {}", r.hint)));
            }
            if group.len() > n {
                let _ = writeln!(
                    out,
                    "  {}",
                    p.dim(&format!(
                        "… and {} more `{}`; `--format json` for all",
                        group.len() - n,
                        group[0].rule
                    ))
                );
            }
        }
    }
    out
}

/// At most this many names in one list of a root cause's line; the rest are counted.
const MAX_NAMES: usize = 10;

/// `a, b, c and 4 more`.
pub fn capped(names: &[&str], max: usize) -> String {
    if names.len() <= max {
        names.join(", ")
    } else {
        format!("{} and {} more", names[..max].join(", "), names.len() - max)
    }
}

/// `down because of `mysql-primary``: why a consequence fails, naming its root causes (the
/// first three, then a count).
pub fn because_text(state: State, causes: &[String]) -> String {
    let quoted: Vec<String> = causes.iter().map(|c| format!("`{c}`")).collect();
    let refs: Vec<&str> = quoted.iter().map(String::as_str).collect();
    format!("{state} because of {}", capped(&refs, 3))
}

/// What one root cause takes down, in words: `takes down links a, b; services c, d; degrades
/// services e`, each list capped at `max` names.
pub fn takes_down(report: &Report, cause: &RootCauseReport, max: usize) -> String {
    let impact = cause.impact(report);
    let mut parts = Vec::new();
    let mut add = |verb: &str, links: &[&str], services: &[&str]| {
        let mut what = Vec::new();
        if !links.is_empty() {
            what.push(format!(
                "link{} {}",
                plural(links.len()),
                capped(links, max)
            ));
        }
        if !services.is_empty() {
            what.push(format!(
                "service{} {}",
                plural(services.len()),
                capped(services, max)
            ));
        }
        if !what.is_empty() {
            parts.push(format!("{verb} {}", what.join("; ")));
        }
    };
    add("takes down", &impact.links_down, &impact.services_down);
    add(
        "degrades",
        &impact.links_degraded,
        &impact.services_degraded,
    );
    if parts.is_empty() {
        "takes nothing else down".to_owned()
    } else {
        parts.join("; ")
    }
}

/// The root causes of a report, worst first: a heading, then per root cause one line (mark,
/// id, state, owner, reason) and one line of what it takes down. Empty without root causes.
pub fn root_cause_lines(report: &Report, p: Paint) -> String {
    let mut out = String::new();
    let Some(causes) = report.root_causes.as_deref() else {
        return out;
    };
    if causes.is_empty() {
        return out;
    }
    let explained = report
        .services
        .iter()
        .filter(|s| !s.because_of.is_empty())
        .count();
    let because = if explained == 0 {
        String::new()
    } else {
        format!(
            "; {explained} other service{} failing because of {}",
            plural(explained),
            if causes.len() == 1 { "it" } else { "them" }
        )
    };
    let _ = writeln!(
        out,
        "{} ({}{because})",
        p.bold(if causes.len() == 1 {
            "root cause"
        } else {
            "root causes"
        }),
        causes.len(),
    );
    for c in causes {
        let mark = if c.state == State::Down {
            p.red("✗")
        } else {
            p.wrap("33", "!")
        };
        let owner = c
            .owner
            .as_deref()
            .map(|o| format!("  {}", p.dim(&format!("owner {o}"))))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {mark} {}  {}{owner}  {}",
            p.bold(&c.id),
            p.state(c.state),
            printable(&c.reason)
        );
        let _ = writeln!(
            out,
            "      {}",
            printable(&takes_down(report, c, MAX_NAMES))
        );
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
