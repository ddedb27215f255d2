//! Stage 4: the report data and its renderers (JSON, Markdown, HTML, DOT, Mermaid, metrics).

pub mod build;
pub mod diff_text;
pub mod json;
pub mod markdown;
#[allow(clippy::module_inception)]
pub mod report;
pub mod text;
