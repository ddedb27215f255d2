//! The JSON format (SPEC §5): the [`Report`] pretty-printed, with a trailing newline.

use crate::report::report::Report;

/// Renders `report` as pretty JSON ending in a newline.
pub fn render_json(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(report).expect("a report always serializes");
    s.push('\n');
    s
}
