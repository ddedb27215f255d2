//! `linkpatrol demo [--serve] [-o DIR]`: every feature in one command, with nothing to set up.
//!
//! Starts the in-process fleet of [`crate::demo`] on `127.0.0.1:18xxx`, writes the bundled
//! topology into the output directory (so `probe`, `render --probe` and `watch` can be pointed
//! at it with `-f`), probes and analyses it, writes the reports beside it, and prints a short
//! summary with the path of `report.html`. With `--serve` the fleet stays up until Ctrl-C.
//!
//! The topology is the copy embedded in the binary ([`crate::demo::TOPOLOGY`]), never a file
//! of the working directory: the fleet answers exactly that file, and `demo` works from any
//! directory. `-f` is ignored.
//!
//! Exit codes: 0 whatever the fleet's findings (showing them is the point); 3 when the tool
//! itself fails, a busy port included: that is the machine's state, not the user's input, so
//! it is not exit 2, and the message names the port and who usually holds it.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::ExitStatus;
use super::render::{RenderFormat, RenderSettings, render_files};
use crate::demo::{Fleet, TOPOLOGY};
use crate::report::output::{write_atomic, write_files};
use crate::report::render_error::RenderError;
use crate::report::report::Report;
use crate::state::State;

/// The file name of the topology written beside the reports.
pub const TOPOLOGY_FILE: &str = "topology.yaml";

/// Runs `linkpatrol demo`.
pub fn run(ctx: &super::Context, args: &crate::cli::DemoArgs) -> anyhow::Result<ExitStatus> {
    let fleet = match Fleet::start_bundled() {
        Ok(fleet) => fleet,
        Err(e) => {
            eprintln!("error: cannot start the demo fleet: {e}");
            return Ok(ExitStatus::Failure);
        }
    };
    let (low, high) = fleet.port_range();
    let fleet_line = format!(
        "demo fleet: {} endpoints answering on {}, ports {low}-{high}",
        fleet.plan().endpoints.len(),
        fleet.host()
    );
    if !ctx.quiet {
        eprintln!("{fleet_line}");
    }
    let written = inspect_fleet(ctx, &args.out_dir)?;
    let mut out = std::io::stdout().lock();
    if !ctx.quiet {
        out.write_all(written.summary.as_bytes())?;
    }
    if args.serve {
        let topology = written.topology.display();
        writeln!(
            out,
            "\nThe fleet stays up until Ctrl-C. From another terminal, try:\n  \
             linkpatrol -f {topology} probe\n  \
             linkpatrol -f {topology} probe config-center platform-callback\n  \
             linkpatrol -f {topology} render --probe --format html -o /tmp/lp-render"
        )?;
        out.flush()?;
        drop(out);
        fleet
            .wait_for_interrupt()
            .context("cannot wait for Ctrl-C")?;
        if !ctx.quiet {
            eprintln!("demo fleet stopped");
        }
    }
    fleet.stop();
    Ok(ExitStatus::Success)
}

/// What one demo inspection left behind.
#[derive(Debug)]
pub struct Written {
    /// The topology copy the reports were made from.
    pub topology: PathBuf,
    /// `report.html`.
    pub html: PathBuf,
    /// Every file written, the topology first.
    pub files: Vec<PathBuf>,
    /// The summary printed for the user.
    pub summary: String,
}

/// Probes the running fleet through the bundled topology and writes every report into `dir`.
pub fn inspect_fleet(ctx: &super::Context, dir: &Path) -> anyhow::Result<Written> {
    let topology_path = write_atomic(dir, TOPOLOGY_FILE, TOPOLOGY.as_bytes())?;
    let origin = topology_path.display().to_string();
    let loaded = crate::topology::load::load_str_with_warnings(TOPOLOGY, &origin)
        .map_err(|e| anyhow::anyhow!("the bundled topology does not load: {e}"))?;
    let topology = &loaded.topology;
    let (_, report) =
        super::probe::probe_and_analyze(topology, &super::probe::ProbeArgs::default(), ctx.quiet)?
            .context("the bundled topology names a selection it does not have")?;

    let json = crate::report::json::render_json(&report);
    let markdown = crate::report::markdown::render_markdown(
        topology,
        &report,
        &crate::report::markdown::MarkdownOptions {
            mermaid: Some(crate::report::view::ViewOptions::default()),
            changes: None,
        },
    )?;
    let mut files = vec![topology_path.clone()];
    files.extend(write_files(
        dir,
        &[
            ("report.json", json.as_bytes()),
            ("report.md", markdown.as_bytes()),
        ],
    )?);
    let settings = RenderSettings {
        format: RenderFormat::Html,
        out_dir: dir.to_owned(),
        ..RenderSettings::default()
    };
    let mut graph_note = None;
    match render_files(topology, &report, &settings) {
        Ok(drawn) => files.extend(drawn),
        // report.html is still written, with the graph left out and the reason shown.
        Err(e) if matches!(e.downcast_ref(), Some(RenderError::DotNotFound { .. })) => {
            files.push(dir.join("graph.dot"));
            files.push(dir.join("report.html"));
            graph_note = Some(e.to_string());
        }
        Err(e) => return Err(e),
    }
    let html = dir.join("report.html");
    let summary = summary(
        &report,
        &files,
        &html,
        &topology_path,
        graph_note.as_deref(),
    );
    Ok(Written {
        topology: topology_path,
        html,
        files,
        summary,
    })
}

/// Links, what is not up and why, the live SPOFs, and where the reports are.
fn summary(
    report: &Report,
    files: &[PathBuf],
    html: &Path,
    topology: &Path,
    graph_note: Option<&str>,
) -> String {
    let mut s = String::new();
    let width = report
        .links
        .iter()
        .map(|l| l.name.len())
        .chain(report.services.iter().map(|s| s.id.len()))
        .max()
        .unwrap_or(0);
    let _ = writeln!(s, "links of `{}`", report.topology);
    for link in &report.links {
        let live = match link.live_spofs.as_deref() {
            _ if link.state == State::Down => String::new(),
            Some([]) | None => String::new(),
            Some(spofs) => {
                let ids: Vec<&str> = spofs.iter().map(|s| s.id.as_str()).collect();
                format!("  one more failure takes it down: {}", ids.join(", "))
            }
        };
        let _ = writeln!(s, "  {:width$}  {:8}{live}", link.name, link.state.as_str());
    }
    let unwell: Vec<_> = report
        .services
        .iter()
        .filter(|svc| svc.effective != State::Up)
        .collect();
    if !unwell.is_empty() {
        let _ = writeln!(s, "\nservices not up");
        for svc in unwell {
            let reasons: Vec<String> = svc
                .probes
                .iter()
                .flatten()
                .filter(|p| p.state != State::Up)
                .map(|p| format!("{}: {}", p.instance, p.reason.as_deref().unwrap_or("")))
                .collect();
            let why = if reasons.is_empty() {
                let below: Vec<&str> = svc
                    .downstream
                    .iter()
                    .filter(|d| {
                        report
                            .services
                            .iter()
                            .any(|o| &o.id == *d && o.effective != State::Up)
                    })
                    .map(String::as_str)
                    .collect();
                format!("through {}", below.join(", "))
            } else {
                reasons.join("; ")
            };
            let _ = writeln!(
                s,
                "  {:width$}  {:8}  {why}",
                svc.id,
                svc.effective.as_str()
            );
        }
    }
    let up: Vec<&str> = report
        .services
        .iter()
        .filter(|svc| svc.effective == State::Up)
        .map(|svc| svc.id.as_str())
        .collect();
    let _ = writeln!(
        s,
        "\n{} of {} services up: {}",
        up.len(),
        report.services.len(),
        up.join(", ")
    );
    let names: Vec<String> = files
        .iter()
        .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|n| n != TOPOLOGY_FILE && n != "report.html")
        .collect();
    let _ = writeln!(s, "\nreport: {}", html.display());
    let _ = writeln!(
        s,
        "also:   {} (in {})",
        names.join(", "),
        html.parent()
            .map_or_else(String::new, |p| p.display().to_string())
    );
    if let Some(note) = graph_note {
        let _ = writeln!(s, "note:   the graph is left out: {note}");
    }
    let _ = writeln!(
        s,
        "topology: {} (`linkpatrol demo --serve` keeps the fleet up to probe it)",
        topology.display()
    );
    s
}
