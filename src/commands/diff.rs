//! `linkpatrol diff OLD NEW`: what a topology change does — services, edges, strengths,
//! redundancy, per-link SPOFs and critical paths, risks. Exit 1 when the change adds a SPOF or
//! an error-level risk, so a migration can be gated in CI.

use std::io::Write;

use super::{Context, ExitStatus, load_or_report};
use crate::analysis::diff::diff;
use crate::cli::{DiffArgs, ReportFormat};
use crate::report::diff_text::{render_diff_json, render_diff_text};

/// Runs `diff`.
pub fn run(ctx: &Context, args: &DiffArgs) -> anyhow::Result<ExitStatus> {
    let load = |path: &std::path::Path| {
        let mut c = ctx.clone();
        c.file = path.to_path_buf();
        load_or_report(&c)
    };
    let (Some(old), Some(new)) = (load(&args.old), load(&args.new)) else {
        return Ok(ExitStatus::Invalid);
    };
    let d = diff(&old.topology, &new.topology);
    let text = match args.format {
        ReportFormat::Text => render_diff_text(&d, ctx.color_stdout),
        ReportFormat::Json => render_diff_json(&d),
        ReportFormat::Md => crate::report::diff_markdown::render_diff_markdown(&d),
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(if d.gates_fail() {
        ExitStatus::Findings
    } else {
        ExitStatus::Success
    })
}
