//! `linkpatrol render`: analyse (and with `--probe`, probe) the topology and draw the graph
//! into an output directory, printing what it wrote. The files and their write order are
//! [`graph_files`](crate::report::graph_files)'s; this module maps their errors to exit codes
//! (SPEC §4): an unknown link, group-by or format is a usage error (exit 2), everything else,
//! a missing Graphviz included, a failure of the tool (exit 3).

use crate::report::graph_files::{RenderSettings, render_files};
use crate::report::render_error::RenderError;
use crate::report::report::Report;
use crate::topology::model::Topology;

/// Up to this many services, `render --format html` lists every blast radius in full.
const FULL_BLAST_MAX_SERVICES: usize = 5_000;

/// Runs `linkpatrol render`: loads and analyses the topology (without probing), then draws it.
pub fn run(
    ctx: &super::Context,
    args: &crate::cli::RenderArgs,
) -> anyhow::Result<super::ExitStatus> {
    use super::ExitStatus;
    let Some(loaded) = super::load_or_report(ctx) else {
        return Ok(ExitStatus::Invalid);
    };
    let topo = &loaded.topology;
    if args.probe {
        let probe_args = super::probe::ProbeArgs::default();
        let Some((_, report)) = super::probe::probe_and_analyze(topo, &probe_args, ctx.quiet)?
        else {
            return Ok(ExitStatus::Invalid);
        };
        return draw(ctx, topo, &report, args);
    }
    // The HTML report lights up a clicked service's blast radius: it needs the full lists,
    // which grow with the square of the topology; past a few thousand services the page names
    // the links and counts the services instead.
    let options = crate::analysis::Options {
        blast_radius: if args.format == crate::cli::RenderFormatArg::Html
            && topo.services.len() <= FULL_BLAST_MAX_SERVICES
        {
            crate::analysis::BlastDetail::Full
        } else {
            crate::analysis::BlastDetail::Count
        },
        ..crate::analysis::Options::default()
    };
    let analysis = match crate::analysis::analyze(topo, &options) {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "error: {}",
                crate::terminal::printable_lines(&e.to_string())
            );
            return Ok(ExitStatus::Invalid);
        }
    };
    let report = crate::report::build::build(topo, &analysis, None);
    draw(ctx, topo, &report, args)
}

/// Draws an analysed (and possibly probed) report as `render` does, and prints what it wrote.
pub fn draw(
    ctx: &super::Context,
    topo: &Topology,
    report: &Report,
    args: &crate::cli::RenderArgs,
) -> anyhow::Result<super::ExitStatus> {
    use super::ExitStatus;
    use crate::cli::{GroupByArg, RenderFormatArg};
    use crate::report::graph_files::RenderFormat;
    use crate::report::view::GroupBy;
    let settings = RenderSettings {
        format: match args.format {
            RenderFormatArg::Svg => RenderFormat::Svg,
            RenderFormatArg::Png => RenderFormat::Png,
            RenderFormatArg::Dot => RenderFormat::Dot,
            RenderFormatArg::Mermaid => RenderFormat::Mermaid,
            RenderFormatArg::Html => RenderFormat::Html,
        },
        out_dir: args.out_dir.clone(),
        link: args.link.clone(),
        group_by: args.group_by.map(|g| match g {
            GroupByArg::Owner => GroupBy::Owner,
            GroupByArg::Tag => GroupBy::Tag,
            GroupByArg::Zone => GroupBy::Zone,
        }),
        ..RenderSettings::default()
    };
    match render_files(topo, report, &settings) {
        Ok(written) => {
            if !ctx.quiet {
                for path in written {
                    println!(
                        "wrote {}",
                        crate::terminal::printable(&path.display().to_string())
                    );
                }
            }
            Ok(ExitStatus::Success)
        }
        Err(e) => match e.downcast_ref::<RenderError>() {
            Some(
                RenderError::UnknownLink { .. }
                | RenderError::UnknownGroupBy(_)
                | RenderError::UnknownFormat(_),
            ) => {
                eprintln!(
                    "error: {}",
                    crate::terminal::printable_lines(&e.to_string())
                );
                Ok(ExitStatus::Invalid)
            }
            _ => Err(e),
        },
    }
}
