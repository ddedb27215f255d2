//! `linkpatrol demo [--serve] [-o DIR]`: every feature in one command, with nothing to set up.
//!
//! Starts the in-process fleet of [`crate::demo`] on `127.0.0.1:18xxx`, writes the bundled
//! topology into the output directory (so `probe`, `render --probe` and `watch` can be pointed
//! at it with `-f`), runs `inspect` against the fleet into the same directory (every file of
//! SPEC §6, history included, so a second `demo` shows what changed), and prints inspect's
//! summary with the path of `report.html`, then every service that is not up and why. With
//! `--serve` the fleet stays up until Ctrl-C.
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
use super::inspect::{InspectOptions, InspectOutcome};
use crate::cli::FailOn;
use crate::demo::{Fleet, TOPOLOGY};
use crate::report::output::write_atomic;
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
    /// The topology copy the reports were made from, `DIR/topology.yaml`.
    pub topology: PathBuf,
    /// `DIR/latest/report.html`.
    pub html: PathBuf,
    /// The inspection itself (report, run folder, files).
    pub inspection: InspectOutcome,
    /// The summary printed for the user.
    pub summary: String,
}

/// Inspects the running fleet through the bundled topology: writes `DIR/topology.yaml`, then
/// runs `inspect` into `DIR` (`runs/<time>/`, `latest`, `history.sqlite`, `metrics.prom`).
pub fn inspect_fleet(ctx: &super::Context, dir: &Path) -> anyhow::Result<Written> {
    let topology_path = write_atomic(dir, TOPOLOGY_FILE, TOPOLOGY.as_bytes())?;
    let origin = topology_path.display().to_string();
    let loaded = crate::topology::load::load_str_with_warnings(TOPOLOGY, &origin)
        .map_err(|e| anyhow::anyhow!("the bundled topology does not load: {e}"))?;
    let options = InspectOptions {
        out_dir: dir.to_owned(),
        // The demo shows findings; they never decide its exit code.
        fail_on: FailOn::Never,
        progress: !ctx.quiet,
        ..InspectOptions::default()
    };
    let inspection = super::inspect::run(&loaded.topology, &options)
        .with_context(|| format!("inspection into `{}` failed", dir.display()))?;
    let html = inspection.latest.join("report.html");
    let summary = format!(
        "{}{}",
        inspection.summary(),
        summary(&inspection.report, &topology_path)
    );
    Ok(Written {
        topology: topology_path,
        html,
        inspection,
        summary,
    })
}

/// What the demo adds to inspect's summary: every service that is not up with its probes'
/// reasons (the slow one and the lost instance included, which are no root cause of anything),
/// the services that are up, and where the topology copy is.
fn summary(report: &Report, topology: &Path) -> String {
    let mut s = String::new();
    let width = report
        .services
        .iter()
        .map(|s| s.id.len())
        .max()
        .unwrap_or(0);
    let unwell: Vec<_> = report
        .services
        .iter()
        .filter(|svc| svc.effective != State::Up)
        .collect();
    if !unwell.is_empty() {
        let _ = writeln!(s, "services not up:");
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
        "{} of {} services up: {}",
        up.len(),
        report.services.len(),
        up.join(", ")
    );
    let _ = writeln!(
        s,
        "topology: {} (`linkpatrol demo --serve` keeps the fleet up to probe it)",
        topology.display()
    );
    s
}
