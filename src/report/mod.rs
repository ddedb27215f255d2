//! Stage 4: the report data and its renderers (JSON, Markdown, HTML, DOT, Mermaid, metrics).
//!
//! Every renderer is a pure function of the [`Topology`](crate::topology::model::Topology) and the
//! [`report::Report`]; [`graphviz`] is the only one that runs a program, and [`output`] the only
//! code that writes into an output directory.

pub mod build;
pub mod diff_markdown;
pub mod diff_text;
pub mod dot;
pub mod gate;
pub mod graph_files;
pub mod graphviz;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod matrix;
pub mod mermaid;
pub mod output;
pub mod probe_table;
pub mod probed;
pub mod prometheus;
pub mod render_error;
#[allow(clippy::module_inception)]
pub mod report;
pub mod reporter;
pub mod text;
pub mod timestamp;
pub mod view;

/// Rows of one kind the Markdown and HTML reports show (risks of one rule, SPOFs of one link,
/// N-2 pairs of one link) before one line counts the rest: pages for people, capped as the text
/// output is; the JSON report lists every one.
pub const MAX_ROWS: usize = 50;
