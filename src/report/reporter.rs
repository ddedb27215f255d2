//! One trait for every way a command prints a report on stdout, and one factory from the
//! format, in the manner of lychee's formatters: `analyze` and `probe` pick a [`Format`], ask
//! [`reporter`] for the matching [`Reporter`], and write. The files of a run (`inspect`,
//! `render`) are written by [`output`](super::output) and [`graph_files`](super::graph_files).

use std::io::{self, Write};

use crate::probe::ProbeRun;
use crate::report::report::Report;
use crate::report::text::Paint;
use crate::topology::model::Topology;

/// What to print.
#[derive(Debug, Clone, Copy)]
pub enum Format<'a> {
    /// `analyze`'s text for a terminal (colour when `color`).
    Text {
        /// Paint with ANSI colours.
        color: bool,
    },
    /// The JSON report (SPEC §5), streamed.
    Json,
    /// Markdown with a Mermaid graph, for review documents.
    Markdown,
    /// `probe`'s text: root causes, the instance and link tables, the live sections.
    ProbeTable {
        /// The run the report analyses.
        run: &'a ProbeRun,
        /// Paint with ANSI colours.
        color: bool,
    },
}

/// Prints a report.
pub trait Reporter {
    /// Writes `report`, the analysis of `topo`, to `out`.
    fn write(&self, topo: &Topology, report: &Report, out: &mut dyn Write) -> io::Result<()>;
}

/// The reporter for `format`.
pub fn reporter<'a>(format: Format<'a>) -> Box<dyn Reporter + 'a> {
    match format {
        Format::Text { color } => Box::new(TextReporter { color }),
        Format::Json => Box::new(JsonReporter),
        Format::Markdown => Box::new(MarkdownReporter),
        Format::ProbeTable { run, color } => Box::new(ProbeTableReporter { run, color }),
    }
}

struct TextReporter {
    color: bool,
}

impl Reporter for TextReporter {
    fn write(&self, _: &Topology, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(super::text::render_text(report, self.color).as_bytes())
    }
}

struct JsonReporter;

impl Reporter for JsonReporter {
    fn write(&self, _: &Topology, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        super::json::write_json(report, out)
    }
}

struct MarkdownReporter;

impl Reporter for MarkdownReporter {
    fn write(&self, topo: &Topology, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        let md = super::markdown::render_markdown(
            topo,
            report,
            &super::markdown::MarkdownOptions {
                mermaid: Some(super::view::ViewOptions::default()),
                changes: None,
            },
        )
        .map_err(io::Error::other)?;
        out.write_all(md.as_bytes())
    }
}

struct ProbeTableReporter<'a> {
    run: &'a ProbeRun,
    color: bool,
}

impl Reporter for ProbeTableReporter<'_> {
    fn write(&self, topo: &Topology, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        super::probe_table::write_probe_text(topo, self.run, report, Paint::new(self.color), out)
    }
}
