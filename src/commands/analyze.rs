//! `linkpatrol analyze`: the design-time view — critical paths, SPOFs, N-2 pairs, blast radius,
//! risks, and `--fail` what-ifs. No network.

use super::{Context, ExitStatus, load_or_report};
use crate::analysis::{self, BlastDetail, Options, parse_events};
use crate::cli::{AnalyzeArgs, BlastLevel, FailOn, ReportFormat};
use crate::report::build::build_taking;
use crate::report::report::Report;
use crate::report::reporter::{Format, reporter};

/// Runs `analyze`.
pub fn run(ctx: &Context, args: &AnalyzeArgs) -> anyhow::Result<ExitStatus> {
    let Some(loaded) = load_or_report(ctx) else {
        return Ok(ExitStatus::Invalid);
    };
    let topo = &loaded.topology;
    let failed = match args.fail.as_deref().map(|spec| parse_events(topo, spec)) {
        None => Vec::new(),
        Some(Ok(events)) => events,
        Some(Err(msg)) => {
            eprintln!("error: --fail: {}", crate::terminal::printable(&msg));
            return Ok(ExitStatus::Invalid);
        }
    };
    let opts = Options {
        depth: args.depth,
        link: args.link.as_deref(),
        failed: &failed,
        blast_radius: match args.blast {
            BlastLevel::Count => BlastDetail::Count,
            BlastLevel::Full => BlastDetail::Full,
        },
        ..Options::default()
    };
    let mut analysis = match analysis::analyze(topo, &opts) {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "error: {}",
                crate::terminal::printable_lines(&e.to_string())
            );
            return Ok(ExitStatus::Invalid);
        }
    };
    let report = build_taking(topo, &mut analysis);
    let format = match args.format {
        ReportFormat::Text => Format::Text {
            color: ctx.color_stdout,
        },
        ReportFormat::Json => Format::Json,
        ReportFormat::Md => Format::Markdown,
    };
    reporter(format).write(topo, &report, &mut std::io::stdout().lock())?;
    let status = gate(&report, args.fail_on);
    // As in `validate`: the OS reclaims a 100k-service model faster than freeing it.
    std::mem::forget((report, analysis, loaded));
    Ok(status)
}

/// Maps the report to an exit status for `--fail-on` (SPEC §4, the rule in
/// [`gate`](crate::report::gate)): 1 when a finding at or above the threshold exists, else 0.
pub fn gate(report: &Report, fail_on: FailOn) -> ExitStatus {
    if crate::report::gate::has_findings(report, threshold(fail_on)) {
        ExitStatus::Findings
    } else {
        ExitStatus::Success
    }
}

/// The report stage's threshold for the CLI's `--fail-on`.
pub fn threshold(fail_on: FailOn) -> crate::report::gate::Threshold {
    use crate::report::gate::Threshold;
    match fail_on {
        FailOn::Down => Threshold::Down,
        FailOn::Degraded => Threshold::Degraded,
        FailOn::Spof => Threshold::Spof,
        FailOn::Risk => Threshold::Risk,
        FailOn::Never => Threshold::Never,
    }
}
