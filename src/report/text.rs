//! The human text format of `analyze`: grouped by link (state, SPOFs with their paths, domain
//! SPOFs with what implies them, N-2 findings), then the most critical services, then risks with
//! hints. Colour (plain ANSI) only when the caller says the output is a terminal.

use std::fmt::Write as _;

use crate::report::report::{Report, Spof, SpofKind};
use crate::state::State;
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

    fn wrap(self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
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
    let width = spofs
        .iter()
        .map(|s| s.id.chars().count())
        .max()
        .unwrap_or(0);
    for s in spofs {
        let id = format!("{:<width$}", s.id);
        let detail = match s.kind {
            SpofKind::Service => path_text(s.path.as_deref().unwrap_or_default()),
            SpofKind::Domain => match s.implied_by.as_deref() {
                Some([]) | None => "shared fate: redundant instances share this domain".to_owned(),
                Some(v) => format!("implied by {}", v.join(", ")),
            },
        };
        let _ = writeln!(out, "    {} {}  {}", p.red("✗"), p.red(&id), p.dim(&detail));
    }
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
        let _ = writeln!(out, "assuming failed: {}", failed.join(", "));
    }
    for link in &report.links {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{} {}  (entry {})  {}",
            p.bold("link"),
            p.bold(&link.name),
            link.entry,
            p.state(link.state)
        );
        let _ = writeln!(
            out,
            "  critical path ({}): {}",
            link.critical_path.len(),
            link.critical_path.join(", ")
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
                let _ = writeln!(out, "  N-2 ({} shown, by impact):", pairs.len());
                for pair in pairs {
                    let what = if pair.kind == "thin-redundancy" {
                        format!("{} has one spare", pair.events.join(""))
                    } else {
                        pair.events.join(" + ")
                    };
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
        let _ = writeln!(out, "{}", p.bold("most critical services (blast radius)"));
        for s in ranked.iter().take(10) {
            let _ = writeln!(
                out,
                "  {}  {} link{} ({}), {} other service{}",
                s.id,
                s.blast_radius.links.len(),
                plural(s.blast_radius.links.len()),
                s.blast_radius.links.join(", "),
                s.blast_radius.services.len(),
                plural(s.blast_radius.services.len())
            );
        }
    }
    let _ = writeln!(out);
    if report.risks.is_empty() {
        let _ = writeln!(out, "no risks found");
    } else {
        let _ = writeln!(out, "{} ({}):", p.bold("risks"), report.risks.len());
        for r in &report.risks {
            let _ = writeln!(
                out,
                "  {} {}  {}",
                p.severity(r.severity),
                r.rule,
                r.message
            );
            let _ = writeln!(out, "          {}", p.dim(&format!("hint: {}", r.hint)));
        }
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
