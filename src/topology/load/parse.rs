//! serde-saphyr's reading of a topology file, and the error-collecting re-reads that report
//! every structural problem at once (see the [module docs](super)).

use serde::Deserialize;
use serde_saphyr::Error as YamlError;

use super::yaml_error::diag_from_yaml;
use crate::diag::{Code, Diagnostic, Span};
use crate::topology::raw::{Entries, Outline, PartialTopology, RawLink, RawService, RawTopology};

/// Alias expansion allowed in one file, in replayed parser events. Real topologies use anchors
/// for a few shared blocks; a billion-laughs file needs millions.
const MAX_ALIAS_EVENTS: usize = 100_000;

/// Parses `source` into the raw types, collecting every structural problem on failure.
pub fn parse(source: &str) -> Result<RawTopology, Vec<Diagnostic>> {
    if is_blank(source) {
        return Err(vec![
            Diagnostic::error(
                Code::EmptyFile,
                Some(Span {
                    line: 1,
                    column: 1,
                    offset: 0,
                    len: 0,
                }),
                "the file is empty",
            )
            .with_label("expected a topology here")
            .with_help("start with `version: 1`, `name:` and `services:`"),
        ]);
    }
    match serde_saphyr::from_str_with_options::<RawTopology>(source, options(source.len())) {
        Ok(raw) => Ok(raw),
        Err(first) => Err(collect_structure_errors(source, &first)),
    }
}

/// serde-saphyr options for an input of `input_len` bytes: budgets that scale with the input,
/// alias expansion capped.
pub fn options(input_len: usize) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    // A plain (alias-free) document produces at most a few events per input byte; the default
    // caps (1M events, 250k nodes) are too small for 100k-service topologies.
    budget.max_events = budget.max_events.max(input_len.saturating_mul(3));
    budget.max_nodes = budget.max_nodes.max(input_len.saturating_mul(2));
    budget.max_total_scalar_bytes = budget.max_total_scalar_bytes.max(input_len);
    let mut opts = serde_saphyr::Options::default();
    opts.budget = Some(budget);
    opts.alias_limits.max_total_replayed_events = MAX_ALIAS_EVENTS;
    opts.with_snippet = false;
    opts
}

fn is_blank(source: &str) -> bool {
    source
        .trim_start_matches('\u{feff}')
        .lines()
        .map(str::trim)
        .all(|l| l.is_empty() || l.starts_with('#') || l == "---" || l == "...")
}

/// A region of the source parsed on its own: where it starts.
#[derive(Clone, Copy)]
pub(super) struct Region {
    /// Byte offset in the file.
    pub start: usize,
    /// 1-based line in the file.
    pub line: u32,
}

/// After the whole-file parse failed with `first`, finds every structural problem.
fn collect_structure_errors(source: &str, first: &YamlError) -> Vec<Diagnostic> {
    let first_diag = diag_from_yaml(first, None, source);
    if matches!(first_diag.code, Code::YamlSyntax | Code::YamlTooComplex) {
        return vec![first_diag];
    }
    let outline =
        match serde_saphyr::from_str_with_options::<Outline>(source, options(source.len())) {
            Ok(o) => o,
            Err(e) => return vec![diag_from_yaml(&e, None, source)],
        };
    let top = &outline.0.0;
    let mut out = Vec::new();
    for (i, (key, sub)) in top.iter().enumerate() {
        let end = top.get(i + 1).map_or(source.len(), |(k, _)| {
            line_start(source, k.loc.offset as usize)
        });
        let start = line_start(source, key.loc.offset as usize);
        let per_entry = match (key.value.as_str(), sub) {
            ("services" | "links", Some(entries))
                if !entries.is_empty() && is_block(source, entries) =>
            {
                Some(entries)
            }
            _ => None,
        };
        if let Some(entries) = per_entry {
            // The part between `services:` and its first entry, then each entry on its own.
            for (j, (ek, _)) in entries.iter().enumerate() {
                let s = line_start(source, ek.loc.offset as usize);
                let e = entries
                    .0
                    .get(j + 1)
                    .map_or(end, |(k, _)| line_start(source, k.loc.offset as usize));
                let region = Region {
                    start: s,
                    line: ek.loc.line,
                };
                let text = &source[s..e.max(s)];
                let res = if key.value == "services" {
                    parse_region::<Entries<RawService>>(text, region, source)
                } else {
                    parse_region::<Entries<RawLink>>(text, region, source)
                };
                out.extend(res);
            }
        } else {
            let region = Region {
                start,
                line: key.loc.line,
            };
            out.extend(parse_region::<PartialTopology>(
                &source[start..end.max(start)],
                region,
                source,
            ));
        }
    }
    for required in ["version", "name", "services"] {
        if !top.iter().any(|(k, _)| k.value == required) {
            out.push(
                Diagnostic::error(
                    Code::MissingKey,
                    Some(Span {
                        line: 1,
                        column: 1,
                        offset: 0,
                        len: 0,
                    }),
                    format!("missing top-level key `{required}`"),
                )
                .with_label(format!("expected `{required}:` in this file")),
            );
        }
    }
    if out.is_empty() {
        out.push(first_diag);
    }
    out
}

/// Parses one region, returning its problems with locations in the whole file.
fn parse_region<T: for<'de> Deserialize<'de>>(
    text: &str,
    region: Region,
    whole: &str,
) -> Option<Diagnostic> {
    match serde_saphyr::from_str_with_options::<T>(text, options(text.len())) {
        Ok(_) => None,
        Err(e) => {
            let d = diag_from_yaml(&e, Some(region), whole);
            // An alias to an anchor in another region is fine in the whole file.
            (d.code != Code::YamlSyntax || !d.message.contains("anchor")).then_some(d)
        }
    }
}

/// Whether every key sits at the start of its own line (block style), so entries can be cut
/// apart by lines.
fn is_block<V>(source: &str, entries: &Entries<V>) -> bool {
    let mut last_line = 0;
    entries.iter().all(|(k, _)| {
        let off = k.loc.offset as usize;
        let ls = line_start(source, off);
        let ok = k.loc.line > last_line
            && off <= source.len()
            && source[ls..off].chars().all(|c| c == ' ');
        last_line = k.loc.line;
        ok
    })
}

fn line_start(source: &str, offset: usize) -> usize {
    let offset = offset.min(source.len());
    source[..offset].rfind('\n').map_or(0, |i| i + 1)
}
