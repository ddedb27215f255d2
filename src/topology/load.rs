//! Loading: bytes → YAML → [`raw`](super::raw) types → [`validate`](super::validate) → [`Topology`].
//!
//! Entry points: [`load_file`] and [`load_str`] return the model or a [`LoadError`] whose
//! `Display` lists every problem as `file:line:column: error[code]: message`. The
//! `*_with_warnings` variants also hand back the warnings (problems that do not stop loading, such
//! as a service that no link reaches) as [`Diagnostics`], for `validate` to print.
//!
//! Fast path: a file written in plain YAML (no anchors, tags, block scalars, multi-line values,
//! duplicate keys…) is read by the `fast` module into the same raw types with the same
//! locations, several times faster than serde-saphyr. When it declines, or when `validate`
//! finds any error, the file goes the full serde-saphyr way described below, which produces the
//! diagnostics; so errors, their locations and the parser's limits are always serde-saphyr's.
//!
//! Error collection: a well-formed file is parsed once, straight into the raw types, and every
//! semantic problem is collected by `validate` in one pass. When the YAML does not fit the raw
//! types (unknown key, wrong type, duplicate key), serde stops at the first problem; the loader
//! then re-reads the file section by section — each service and link on its own, each other
//! top-level key on its own — so that every structural problem in the file is reported at once.
//! Semantic checks run only once the structure is right.
//!
//! Resource limits: the YAML parser's budget scales with the input size and alias expansion is
//! capped, so an alias bomb is refused quickly with bounded memory.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde_saphyr::{Error as YamlError, MessageFormatter};

use super::fast;
use super::model::Topology;
use super::raw::{self, Entries, Loc, Outline, PartialTopology, RawLink, RawService, RawTopology};
use super::validate::validate;
use crate::diag::{Code, Diagnostic, Diagnostics, Span, closest};

/// Alias expansion allowed in one file, in replayed parser events. Real topologies use anchors
/// for a few shared blocks; a billion-laughs file needs millions.
const MAX_ALIAS_EVENTS: usize = 100_000;

/// Why a topology could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read at all.
    #[error("cannot read `{path}`: {cause}")]
    Read {
        /// The path as given.
        path: String,
        /// What the OS said.
        cause: std::io::Error,
    },
    /// The file was read but is not a valid topology; holds at least one error.
    #[error("{0}")]
    Invalid(Diagnostics),
}

impl LoadError {
    /// The diagnostics, when the file was read.
    pub fn diagnostics(&self) -> Option<&Diagnostics> {
        match self {
            Self::Invalid(d) => Some(d),
            Self::Read { .. } => None,
        }
    }
}

/// A loaded topology and the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The validated model.
    pub topology: Topology,
    /// Problems that do not stop loading (codes `unreachable-service`, `no-links`); may be empty.
    pub warnings: Diagnostics,
}

/// Reads, parses and validates the topology file at `path`.
pub fn load_file(path: &Path) -> Result<Topology, LoadError> {
    load_file_with_warnings(path).map(|l| l.topology)
}

/// Parses and validates `source`; `origin` names it in diagnostics (a path, `<stdin>`, …).
/// `${VAR}` reads the process environment.
pub fn load_str(source: &str, origin: &str) -> Result<Topology, LoadError> {
    load_str_with_warnings(source, origin).map(|l| l.topology)
}

/// [`load_file`], also returning the warnings.
pub fn load_file_with_warnings(path: &Path) -> Result<Loaded, LoadError> {
    let origin = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|cause| LoadError::Read {
        path: origin.clone(),
        cause,
    })?;
    load_bytes(&bytes, &origin)
}

/// Like [`load_str_with_warnings`] for raw bytes: input that is not UTF-8 gets a located
/// `not-utf8` error.
pub fn load_bytes(bytes: &[u8], origin: &str) -> Result<Loaded, LoadError> {
    match std::str::from_utf8(bytes) {
        Ok(source) => load_str_with_warnings(source, origin),
        Err(e) => Err(not_utf8(origin, bytes, e)),
    }
}

/// [`load_str`], also returning the warnings.
pub fn load_str_with_warnings(source: &str, origin: &str) -> Result<Loaded, LoadError> {
    load_str_with_env(source, origin, &|name| std::env::var(name).ok())
}

/// [`load_str_with_warnings`] with `${VAR}` looked up in `env` instead of the process environment.
pub fn load_str_with_env(
    source: &str,
    origin: &str,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<Loaded, LoadError> {
    let shared: Arc<str> = Arc::from(source);
    let fail = |items: Vec<Diagnostic>| {
        LoadError::Invalid(Diagnostics::new(origin, Arc::clone(&shared), items))
    };
    // Fast path: a plain, valid file is read by the fast reader and loads without errors. Any
    // doubt (outside its subset, or an error found by `validate`) goes the full way below, which
    // produces the diagnostics.
    if let Some(raw) = fast::parse(source) {
        let (result, diags) = validate(&raw, env);
        if let Some(topology) = result
            && !diags
                .iter()
                .any(|d| d.severity == crate::diag::Severity::Error)
        {
            // Freeing a large raw tree takes a while; nobody waits for it.
            if raw.services.len() >= 10_000 {
                std::thread::spawn(move || drop(raw));
            }
            return Ok(Loaded {
                topology,
                warnings: Diagnostics::new(origin, shared, diags),
            });
        }
    }
    let raw = parse(source).map_err(fail)?;
    let (result, mut diags) = validate(&raw, env);
    match result {
        Some(topology)
            if !diags
                .iter()
                .any(|d| d.severity == crate::diag::Severity::Error) =>
        {
            Ok(Loaded {
                topology,
                warnings: Diagnostics::new(origin, shared, diags),
            })
        }
        _ => {
            // Keep the warnings too: they often explain the errors.
            diags.sort_by_key(|d| d.severity);
            Err(fail(diags))
        }
    }
}

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
    if source.len() >= PARALLEL_MIN_BYTES {
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        if let Some(raw) = parse_parallel(source, threads.min(8)) {
            return Ok(raw);
        }
    }
    match serde_saphyr::from_str_with_options::<RawTopology>(source, options(source.len())) {
        Ok(raw) => Ok(raw),
        Err(first) => Err(collect_structure_errors(source, &first)),
    }
}

/// `a` or `b`, but not both (a key in both halves is a duplicate).
fn one<T>(a: Option<T>, b: Option<T>) -> Result<Option<T>, ()> {
    match (a, b) {
        (Some(_), Some(_)) => Err(()),
        (a, b) => Ok(a.or(b)),
    }
}

/// The top level without the `services:` block: `head` ends with `services:` (so the block reads
/// as null), `tail` starts at a line start; a key in both means a duplicate (`None`).
fn parse_rest(
    head: &str,
    tail: &str,
    tail_line: usize,
    tail_offset: usize,
) -> Option<PartialTopology> {
    let head: PartialTopology =
        serde_saphyr::from_str_with_options(head, options(head.len())).ok()?;
    if tail.trim().is_empty() {
        return Some(head);
    }
    let tail: PartialTopology = raw::with_base(
        u32::try_from(tail_line).ok()?,
        u32::try_from(tail_offset).ok()?,
        || serde_saphyr::from_str_with_options(tail, options(tail.len())),
    )
    .ok()?;
    Some(PartialTopology {
        version: one(head.version, tail.version).ok()?,
        name: one(head.name, tail.name).ok()?,
        defaults: one(head.defaults, tail.defaults).ok()?,
        links: one(head.links, tail.links).ok()?,
        services: one(head.services, tail.services).ok()?,
        risks: one(head.risks, tail.risks).ok()?,
        alerts: one(head.alerts, tail.alerts).ok()?,
        inspect: one(head.inspect, tail.inspect).ok()?,
    })
}

/// Files at least this large are parsed on several threads when their layout allows it.
const PARALLEL_MIN_BYTES: usize = 1 << 20;

/// Fast path for large, well-formed files: cuts the block-style `services:` section at service
/// boundaries (lines indented like the first service key) and parses the pieces on all cores,
/// while the rest of the file is parsed with the section blanked out (same lines and offsets).
/// Locations stay exact through [`raw::with_base`]. Returns `None` whenever anything is unusual
/// (flow style, anchors used across pieces, any error, a duplicate across pieces): the caller
/// then parses serially, which also produces the diagnostics.
fn parse_parallel(source: &str, threads: usize) -> Option<RawTopology> {
    if threads < 2 {
        return None;
    }
    // Line starts and the `services:` block [start, end).
    let mut lines = Vec::new();
    let mut at = 0;
    for l in source.split_inclusive('\n') {
        lines.push((at, l));
        at += l.len();
    }
    let header = lines.iter().position(|(_, l)| {
        let t = l.trim_end();
        t == "services:"
            || t.strip_prefix("services:")
                .is_some_and(|r| r.trim_start().starts_with('#'))
    })?;
    let body = &lines[header + 1..];
    let end_rel = body
        .iter()
        .position(|(_, l)| !l.starts_with([' ', '#', '\n', '\r']))
        .unwrap_or(body.len());
    let body = &body[..end_rel];
    let first = body.iter().find(|(_, l)| {
        let t = l.trim_start_matches(' ');
        !t.trim().is_empty() && !t.starts_with('#')
    })?;
    let indent = first.1.len() - first.1.trim_start_matches(' ').len();
    if indent == 0 || first.1[indent..].starts_with(['-', '{', '[']) {
        return None;
    }
    let is_key_line = |l: &str| {
        l.len() > indent
            && l.as_bytes()[..indent].iter().all(|&b| b == b' ')
            && !matches!(l.as_bytes()[indent], b' ' | b'#' | b'\n' | b'\r' | b'-')
    };
    let block_start = first.0;
    let block_end = body.last().map_or(block_start, |(o, l)| o + l.len());
    let target = (block_end - block_start) / threads + 1;
    // Cut points: the first key line at or after each multiple of `target`.
    let mut cuts = vec![(block_start, source[..block_start].matches('\n').count() + 1)];
    let lines_from = cuts[0].1;
    for (line_no, (o, l)) in (lines_from..).zip(body.iter().skip_while(|(o, _)| *o < block_start)) {
        if *o >= cuts.last()?.0 + target && is_key_line(l) {
            cuts.push((*o, line_no));
        }
    }
    // The rest of the file: before the block (ends with `services:`, a null) and after it.
    let head = &source[..block_start];
    let tail = &source[block_end..];
    let tail_line =
        head.matches('\n').count() + source[block_start..block_end].matches('\n').count() + 1;

    let pieces: Vec<(usize, usize, usize)> = cuts
        .iter()
        .enumerate()
        .map(|(i, &(s, line))| (s, cuts.get(i + 1).map_or(block_end, |c| c.0), line))
        .collect();
    let (rest, parts) = std::thread::scope(|scope| {
        let handles: Vec<_> = pieces
            .iter()
            .map(|&(s, e, line)| {
                let text = &source[s..e];
                scope.spawn(move || {
                    raw::with_base(u32::try_from(line).ok()?, u32::try_from(s).ok()?, || {
                        serde_saphyr::from_str_with_options::<Entries<RawService>>(
                            text,
                            options(text.len()),
                        )
                        .ok()
                    })
                })
            })
            .collect();
        let rest = parse_rest(head, tail, tail_line, block_end);
        let parts: Vec<Option<Entries<RawService>>> = handles
            .into_iter()
            .map(|h| h.join().ok().flatten())
            .collect();
        (rest, parts)
    });
    let rest = rest?;
    if rest.services.is_some() {
        return None;
    }
    let mut services = Vec::new();
    for p in parts {
        services.extend(p?.0);
    }
    let mut seen = std::collections::HashSet::with_capacity(services.len());
    if !services.iter().all(|(k, _)| seen.insert(k.value.as_str())) {
        return None;
    }
    drop(seen);
    Some(RawTopology {
        version: rest.version?,
        name: rest.name?,
        defaults: rest.defaults,
        links: rest.links.unwrap_or_default(),
        services: Entries(services),
        risks: rest.risks.unwrap_or_default(),
        alerts: rest.alerts,
        inspect: rest.inspect,
    })
}

pub(crate) fn options(input_len: usize) -> serde_saphyr::Options {
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
struct Region {
    start: usize,
    line: u32,
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

/// Turns a YAML/serde error into a diagnostic, relocating it from `region` into the whole file.
fn diag_from_yaml(err: &YamlError, region: Option<Region>, whole: &str) -> Diagnostic {
    let mut err = err.without_snippet();
    if let YamlError::AliasError { error, .. } = err {
        err = error.without_snippet();
    }
    let span = err.location().and_then(|l| {
        let loc = Loc::from_saphyr(l);
        let mut s = loc.span()?;
        if let Some(r) = region {
            s.line += r.line - 1;
            s.offset += r.start;
        }
        // Never point past the end, and underline at least something for a point.
        s.offset = s.offset.min(whole.len());
        s.len = s.len.min(whole.len() - s.offset);
        Some(s)
    });
    let message = sanitize(&serde_saphyr::DefaultMessageFormatter.format_message(err));
    match err {
        YamlError::SerdeUnknownField {
            field, expected, ..
        } => {
            let list = expected
                .iter()
                .map(|e| format!("`{e}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let mut d = Diagnostic::error(
                Code::UnknownKey,
                span,
                format!("unknown key `{}`", sanitize(field)),
            )
            .with_label(if expected.is_empty() {
                "no keys are allowed here".to_owned()
            } else {
                format!("expected one of {list}")
            });
            if let Some(best) = closest(field, expected.iter().copied()) {
                d = d.with_help(format!("did you mean `{best}`?"));
            }
            d
        }
        YamlError::SerdeMissingField { field, .. } => {
            Diagnostic::error(Code::MissingKey, span, format!("missing key `{field}`"))
                .with_label(format!("this mapping needs `{field}:`"))
        }
        YamlError::DuplicateMappingKey { key, .. } => {
            let what = key
                .as_deref()
                .map_or_else(|| "a key".to_owned(), |k| format!("`{}`", sanitize(k)));
            Diagnostic::error(Code::DuplicateKey, span, format!("duplicate key {what}"))
                .with_label("already defined above in the same mapping")
                .with_help("names must be unique; rename or merge the two entries")
        }
        YamlError::SerdeUnknownVariant {
            variant, expected, ..
        } => {
            let list = expected
                .iter()
                .map(|e| format!("`{e}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let mut d = Diagnostic::error(
                Code::UnknownValue,
                span,
                format!("unknown value `{}`", sanitize(variant)),
            )
            .with_label(format!("expected one of {list}"));
            if let Some(best) = closest(variant, expected.iter().copied()) {
                d = d.with_help(format!("did you mean `{best}`?"));
            }
            d
        }
        YamlError::SerdeInvalidType {
            unexpected,
            expected,
            ..
        }
        | YamlError::SerdeInvalidValue {
            unexpected,
            expected,
            ..
        } => Diagnostic::error(
            Code::WrongType,
            span,
            format!("wrong type: found {}", sanitize(unexpected)),
        )
        .with_label(format!("expected {}", friendly_expected(expected))),
        YamlError::Budget { .. }
        | YamlError::AliasReplayLimitExceeded { .. }
        | YamlError::AliasExpansionLimitExceeded { .. }
        | YamlError::AliasReplayStackDepthExceeded { .. }
        | YamlError::AliasReplayCounterOverflow { .. } => {
            Diagnostic::error(Code::YamlTooComplex, span, message).with_help(
                "the file nests too deeply or expands too many aliases; write it out plainly",
            )
        }
        YamlError::Message { .. }
        | YamlError::InvalidScalar { .. }
        | YamlError::NullIntoString { .. }
        | YamlError::SerdeInvalidLength { .. }
        | YamlError::InvalidBooleanStrict { .. }
        | YamlError::Unexpected { .. }
        | YamlError::NonFiniteFloat { .. } => {
            Diagnostic::error(Code::WrongType, span, friendly_message(&message))
        }
        _ => Diagnostic::error(Code::YamlSyntax, span, message),
    }
}

/// serde's "struct RawService" → "a mapping", and similar, so users never see type names.
fn friendly_expected(expected: &str) -> String {
    if expected.starts_with("struct ") || expected == "a map" {
        "a mapping".to_owned()
    } else {
        sanitize(expected)
    }
}

fn friendly_message(message: &str) -> String {
    let mut m = message.to_owned();
    for (from, to) in [
        ("expected struct Raw", "expected a mapping (Raw"),
        ("invalid u32", "expected a whole number"),
        ("invalid u16", "expected a whole number"),
        ("invalid i64", "expected a whole number"),
        ("invalid bool", "expected `true` or `false`"),
        ("expected mapping start", "wrong type: expected a mapping"),
        ("expected sequence start", "wrong type: expected a list"),
    ] {
        m = m.replace(from, to);
    }
    m
}

/// Control characters from the input never reach a terminal.
fn sanitize(s: &str) -> String {
    if s.chars().any(char::is_control) {
        s.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_debug().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect()
    } else {
        s.to_owned()
    }
}

fn not_utf8(origin: &str, bytes: &[u8], e: std::str::Utf8Error) -> LoadError {
    let good = &bytes[..e.valid_up_to()];
    let text = String::from_utf8_lossy(good);
    let line = text.matches('\n').count() + 1;
    let column = text.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let lossy: Arc<str> = Arc::from(String::from_utf8_lossy(bytes).into_owned());
    // The lossy text has the same prefix, so the offset of the bad byte is the same there.
    let d = Diagnostic::error(
        Code::NotUtf8,
        Some(Span {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
            offset: e.valid_up_to(),
            len: 1,
        }),
        format!(
            "the file is not valid UTF-8 (byte {} of the file)",
            e.valid_up_to()
        ),
    )
    .with_label("this byte is not UTF-8")
    .with_help("save the file as UTF-8");
    LoadError::Invalid(Diagnostics::new(origin, lossy, vec![d]))
}

impl fmt::Display for Loaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}`: {} services, {} links",
            self.topology.name,
            self.topology.services.len(),
            self.topology.links.len()
        )
    }
}

/// Helpers for the error-case tests of `load` and `validate`.
#[cfg(test)]
pub(crate) mod test_support {
    use super::{LoadError, Loaded, load_str_with_env};
    use crate::diag::Diagnostic;

    /// Five lines that make a valid file once a service `a` follows; services start on line 6.
    pub const HEAD: &str = "version: 1\nname: t\nlinks:\n  l: {entry: a}\nservices:\n";

    /// The test environment: `DB_PW` and `EMPTY` are set, nothing else.
    pub fn env(name: &str) -> Option<String> {
        match name {
            "DB_PW" => Some("hunter2".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    pub fn load(src: &str) -> Result<Loaded, LoadError> {
        load_str_with_env(src, "t.yaml", &env)
    }

    /// Every diagnostic of loading `src`; panics if it loads without any.
    pub fn diagnostics(src: &str) -> Vec<Diagnostic> {
        match load(src) {
            Ok(l) => l.warnings.items,
            Err(LoadError::Invalid(d)) => d.items,
            Err(e) => panic!("unexpected {e}"),
        }
    }

    /// Asserts that `src` fails to load with a diagnostic of `code` at `line:column` whose
    /// message contains `msg` (and whose help is `help`, if given).
    pub fn assert_error(
        src: &str,
        code: &str,
        line: u32,
        column: u32,
        msg: &str,
        help: Option<&str>,
    ) {
        let result = load(src);
        let diags = match &result {
            Err(LoadError::Invalid(d)) => d.items.clone(),
            Ok(l) => panic!(
                "expected `{code}`, but it loaded (warnings: {:?})",
                l.warnings.items
            ),
            Err(e) => panic!("unexpected {e}"),
        };
        let Some(d) = diags.iter().find(|d| d.code.as_str() == code) else {
            panic!("no `{code}` among {diags:#?}");
        };
        let span = d
            .span
            .unwrap_or_else(|| panic!("`{code}` has no location: {d:#?}"));
        assert_eq!(
            (span.line, span.column),
            (line, column),
            "location of {d:#?}"
        );
        assert!(
            d.message.contains(msg),
            "message {:?} lacks {msg:?}",
            d.message
        );
        if let Some(h) = help {
            assert_eq!(d.help.as_deref(), Some(h), "help of {d:#?}");
        }
        // The Display of the error names file:line:column.
        let shown = result.unwrap_err().to_string();
        assert!(
            shown.contains(&format!("t.yaml:{line}:{column}: error[{code}]")),
            "{shown}"
        );
    }

    /// `error_case!(name, yaml, "code", line, column, "message part" [, help = "…"])`.
    macro_rules! error_case {
        ($name:ident, $src:expr, $code:literal, $line:literal, $col:literal, $msg:literal) => {
            #[test]
            fn $name() {
                $crate::topology::load::test_support::assert_error(
                    &$src, $code, $line, $col, $msg, None,
                );
            }
        };
        ($name:ident, $src:expr, $code:literal, $line:literal, $col:literal, $msg:literal, help = $help:literal) => {
            #[test]
            fn $name() {
                $crate::topology::load::test_support::assert_error(
                    &$src,
                    $code,
                    $line,
                    $col,
                    $msg,
                    Some($help),
                );
            }
        };
    }
    pub(crate) use error_case;
}

#[cfg(test)]
mod tests {
    use super::test_support::{HEAD, diagnostics, error_case, load};
    use super::*;

    fn with_head(body: &str) -> String {
        format!("{HEAD}{body}")
    }

    error_case!(yaml_syntax, with_head("  a: [\n"), "yaml-syntax", 6, 6, "");
    error_case!(
        unknown_key_with_suggestion,
        with_head("  a:\n    ownr: x\n"),
        "unknown-key",
        7,
        5,
        "unknown key `ownr`",
        help = "did you mean `owner`?"
    );
    error_case!(
        unknown_top_level_key,
        "version: 1\nname: t\nservics: {}\n",
        "unknown-key",
        3,
        1,
        "unknown key `servics`",
        help = "did you mean `services`?"
    );
    error_case!(
        wrong_type_number,
        with_head("  a:\n    replicas: many\n"),
        "wrong-type",
        7,
        15,
        "whole number"
    );
    error_case!(
        wrong_type_mapping,
        with_head("  a: [1, 2]\n"),
        "wrong-type",
        6,
        6,
        "expected a mapping"
    );
    error_case!(
        wrong_type_top_level,
        "- a\n- b\n",
        "wrong-type",
        1,
        1,
        "expected a mapping"
    );
    error_case!(
        duplicate_service,
        with_head("  a: {}\n  a: {}\n"),
        "duplicate-key",
        7,
        3,
        "`a`"
    );
    error_case!(
        duplicate_link,
        "version: 1\nname: t\nlinks:\n  l: {entry: a}\n  l: {entry: a}\nservices:\n  a: {}\n",
        "duplicate-key",
        5,
        3,
        "`l`"
    );
    error_case!(
        duplicate_field,
        with_head("  a:\n    owner: x\n    owner: y\n"),
        "duplicate-key",
        8,
        5,
        "`owner`"
    );
    error_case!(
        missing_link_entry,
        "version: 1\nname: t\nlinks:\n  l: {description: x}\nservices:\n  a: {}\n",
        "missing-key",
        4,
        7,
        "`entry`"
    );
    error_case!(
        missing_services,
        "version: 1\nname: t\n",
        "missing-key",
        1,
        1,
        "`services`"
    );
    error_case!(empty_file, "", "empty-file", 1, 1, "empty");
    error_case!(
        comment_only_file,
        "# nothing here\n\n",
        "empty-file",
        1,
        1,
        "empty"
    );
    error_case!(
        unknown_record_type,
        with_head("  a:\n    probe: {dns: {name: x.test, type: AAA}}\n"),
        "unknown-value",
        7,
        39,
        "`AAA`",
        help = "did you mean `AAAA`?"
    );
    error_case!(
        risk_not_off,
        "version: 1\nname: t\nservices: {a: {}}\nrisks:\n  spof: maybe\n",
        "wrong-type",
        5,
        3,
        "maybe"
    );

    #[test]
    fn every_structural_error_is_reported_at_once() {
        let src = with_head(
            "  a:\n    ownr: x\n  b:\n    replicas: many\n  c:\n    depends_on: {a: strong}\nlinks2: {}\n",
        );
        let d = diagnostics(&src);
        let got: Vec<(&str, u32)> = d
            .iter()
            .map(|d| (d.code.as_str(), d.span.unwrap().line))
            .collect();
        assert_eq!(
            got,
            [("unknown-key", 7), ("wrong-type", 9), ("unknown-key", 12)],
            "{d:#?}"
        );
    }

    #[test]
    fn a_service_with_no_body_has_every_default() {
        // Issue 11: catalogue exports write leaves as `name:`; also `name: ~` and `name: null`,
        // at the end of the file, before another key, in flow style.
        let braces = load(&with_head(
            "  a:\n    depends_on: {b: strong, c: weak, d: strong}\n  b: {}\n  c: {}\n  d: {}\n",
        ))
        .unwrap()
        .topology;
        for bodies in [["", " ~", " null"], [" ~", "", ""], [" null", " ~", ""]] {
            let src = with_head(&format!(
                "  a:\n    depends_on: {{b: strong, c: weak, d: strong}}\n  b:{}\n  c:{}\n  d:{}\n",
                bodies[0], bodies[1], bodies[2]
            ));
            let loaded = load(&src).unwrap_or_else(|e| panic!("{src}\n{e}"));
            assert!(loaded.warnings.is_empty(), "{}", loaded.warnings);
            assert_eq!(
                format!("{:?}", loaded.topology.services),
                format!("{:?}", braces.services),
                "{src}"
            );
        }
        let flow = load("version: 1\nname: t\nlinks: {l: {entry: a}}\nservices: {a: {depends_on: {b: strong}}, b: ~}\n")
            .unwrap()
            .topology;
        assert_eq!(flow.services.len(), 2);
        assert_eq!(flow.services[1].instances.len(), 1);
        assert_eq!(flow.services[1].min_healthy, 1);
    }

    #[test]
    fn many_warnings_of_one_code_show_five_and_a_count() {
        // Eight catalogue leaves that no link reaches, written with no body (lines 7 to 14).
        let leaves = (0..8).fold(String::new(), |mut s, i| {
            std::fmt::Write::write_fmt(&mut s, format_args!("  leaf{i}:\n")).unwrap();
            s
        });
        let loaded = load(&with_head(&format!("  a: {{}}\n{leaves}"))).unwrap();
        assert_eq!(loaded.warnings.len(), 8);
        let text = loaded.warnings.render(false);
        for i in 0..8 {
            let shown = text.contains(&format!("[t.yaml:{}:3]", 7 + i));
            assert_eq!(shown, i < 5, "leaf{i}:\n{text}");
        }
        assert!(
            text.contains("warning[unreachable-service]: … and 3 more like the above (8 in all; `-v` shows every one)"),
            "{text}"
        );
        let all = loaded.warnings.render_all(false);
        assert!(
            (0..8).all(|i| all.contains(&format!("[t.yaml:{}:3]", 7 + i))),
            "{all}"
        );
    }

    error_case!(
        a_service_body_that_is_text_is_still_wrong,
        with_head("  a: hello\n"),
        "wrong-type",
        6,
        6,
        "wrong type"
    );

    #[test]
    fn duplicate_keys_are_refused_not_merged() {
        // serde_yaml and friends keep the last of two duplicate services silently.
        let src = with_head("  a:\n    owner: first\n  b: {}\n  a:\n    owner: second\n");
        let d = diagnostics(&src);
        assert_eq!(d.len(), 1, "{d:#?}");
        assert_eq!(d[0].code, Code::DuplicateKey);
        assert_eq!(d[0].span.unwrap().line, 9);
    }

    #[test]
    fn alias_bomb_is_refused() {
        // Nine levels of nine-fold aliases: 9^9 = 387M nodes if expanded.
        let mut src = String::from(
            "version: 1\nname: bomb\nservices:\n  a:\n    probe:\n      http:\n        url: http://x\n        expect:\n          json:\n            \"$.a\": &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
        );
        let mut prev = 'a';
        for c in 'b'..='i' {
            std::fmt::Write::write_fmt(
                &mut src,
                format_args!(
                    "            \"$.{c}\": &{c} [{}]\n",
                    vec![format!("*{prev}"); 9].join(", ")
                ),
            )
            .unwrap();
            prev = c;
        }
        let d = diagnostics(&src);
        assert_eq!(d.len(), 1, "{d:#?}");
        assert_eq!(d[0].code, Code::YamlTooComplex);
        assert!(d[0].span.is_some());
    }

    #[test]
    fn deep_nesting_is_refused() {
        let src = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let d = diagnostics(&src);
        assert_eq!(d.len(), 1);
        assert!(
            matches!(d[0].code, Code::YamlTooComplex | Code::YamlSyntax),
            "{d:#?}"
        );
    }

    #[test]
    fn non_utf8_file_is_located() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.yaml");
        std::fs::write(&path, b"version: 1\nname: caf\xe9\n").unwrap();
        let err = load_file(&path).unwrap_err();
        let d = &err.diagnostics().unwrap().items[0];
        assert_eq!(d.code, Code::NotUtf8);
        let s = d.span.unwrap();
        assert_eq!((s.line, s.column), (2, 10));
        assert!(
            err.to_string().contains("t.yaml:2:10: error[not-utf8]"),
            "{err}"
        );
    }

    #[test]
    fn missing_file_is_a_read_error() {
        let err = load_file(Path::new("/nonexistent/topology.yaml")).unwrap_err();
        assert!(matches!(err, LoadError::Read { .. }));
        assert!(
            err.to_string()
                .starts_with("cannot read `/nonexistent/topology.yaml`"),
            "{err}"
        );
    }

    #[test]
    fn rendered_diagnostics_underline_the_offending_text() {
        let err = load(&with_head("  a:\n    ownr: x\n")).unwrap_err();
        let text = err.diagnostics().unwrap().render(false);
        assert!(text.contains("unknown key `ownr`"), "{text}");
        assert!(text.contains("[t.yaml:7:5]"), "{text}");
        assert!(text.contains("────"), "{text}");
        assert!(text.contains("did you mean `owner`?"), "{text}");
        assert!(!text.contains('\u{1b}'), "no colour asked: {text}");
    }

    fn big_topology() -> String {
        let mut s =
            String::from("# big\nversion: 1\nname: big\nlinks:\n  l: {entry: s00000}\nservices:\n");
        for i in 0..2000 {
            std::fmt::Write::write_fmt(
                &mut s,
                format_args!(
                    "  s{i:05}:\n    owner: \"team {i}\"\n    # comment\n    instances:\n      - {{ address: \"127.0.0.1:{}\", zone: az1 }}\n    probe: {{ http: {{ url: \"http://{{address}}/h\" }} }}\n    depends_on:\n      s{:05}: {{ strength: weak, timeout: 1s }}\n\n",
                    20000 + i,
                    (i + 1) % 2000
                ),
            ).unwrap();
        }
        s.push_str("risks:\n  spof: off\n");
        s
    }

    #[test]
    fn parallel_parse_equals_serial_parse() {
        let src = big_topology();
        let serial: RawTopology =
            serde_saphyr::from_str_with_options(&src, options(src.len())).unwrap();
        for threads in [2, 3, 7] {
            let parallel = parse_parallel(&src, threads).expect("layout allows a parallel parse");
            assert_eq!(
                format!("{parallel:?}"),
                format!("{serial:?}"),
                "{threads} threads"
            );
        }
    }

    #[test]
    fn parallel_parse_declines_what_it_cannot_cut() {
        let src = big_topology();
        // A duplicate across pieces, an alias to an anchor in another piece, a type error.
        let dup = src.replace("  s01999:\n", "  s00001:\n");
        assert!(parse_parallel(&dup, 2).is_none());
        let alias = src
            .replacen("owner: \"team 0\"", "owner: &o \"team 0\"", 1)
            .replacen("owner: \"team 1999\"", "owner: *o", 1);
        assert!(parse_parallel(&alias, 2).is_none());
        assert!(
            serde_saphyr::from_str_with_options::<RawTopology>(&alias, options(alias.len()))
                .is_ok()
        );
        let bad = src.replacen("owner: \"team 1500\"", "ownr: x", 1);
        assert!(parse_parallel(&bad, 2).is_none());
        let flow = src.replacen("services:\n", "services: {x: {}}\nother:\n", 1);
        assert!(parse_parallel(&flow, 2).is_none());
    }

    #[test]
    fn bundled_topology_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("topology.yaml");
        let loaded = load_file_with_warnings(&path).unwrap();
        assert!(loaded.warnings.is_empty(), "{}", loaded.warnings);
        let t = &loaded.topology;
        assert_eq!(t.name, "takeaway-isv");
        assert_eq!(t.links.len(), 3);
        assert_eq!(t.services.len(), 14);
    }
}
