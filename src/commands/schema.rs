//! `linkpatrol schema`: prints the JSON Schema of the topology file, generated from the raw types
//! so it can never drift from what the loader accepts.

use std::io::Write;

use super::{Context, ExitStatus};
use crate::cli::SchemaArgs;
use crate::topology::raw;

/// Writes the schema to stdout.
pub fn run(_ctx: &Context, _args: &SchemaArgs) -> anyhow::Result<ExitStatus> {
    let schema = raw::json_schema();
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &schema)?;
    writeln!(out)?;
    out.flush()?;
    Ok(ExitStatus::Success)
}
