//! Stage 4: the report data and its renderers (JSON, Markdown, HTML, DOT, Mermaid, metrics).

#[allow(clippy::module_inception)]
pub mod report;
