//! serde-saphyr errors → located [`Diagnostic`]s with codes, labels and hints.

use serde_saphyr::{Error as YamlError, MessageFormatter};

use super::parse::Region;
use crate::diag::{Code, Diagnostic, Span};
use crate::topology::loc::Loc;

/// Turns a YAML/serde error into a diagnostic, relocating it from `region` into the whole file.
pub(super) fn diag_from_yaml(err: &YamlError, region: Option<Region>, whole: &str) -> Diagnostic {
    let mut err = err.without_snippet();
    if let YamlError::AliasError { error, .. } = err {
        err = error.without_snippet();
    }
    let span = err.location().and_then(|l| {
        let known_offset = l.span().byte_offset().is_some();
        let loc = Loc::from_saphyr(l);
        let mut s = loc.span()?;
        if let Some(r) = region {
            s.line += r.line - 1;
            s.offset += r.start;
        }
        // Syntax errors come with a line and column but no offset: find it, so the snippet
        // shows the problem and not the top of the file.
        if !known_offset && let Some(o) = offset_of(whole, s.line, s.column) {
            s.offset = o;
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
        } => one_of(Code::UnknownKey, "key", field, expected, span).with_label(
            if expected.is_empty() {
                "no keys are allowed here".to_owned()
            } else {
                format!("expected one of {}", quoted(expected))
            },
        ),
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
        } => one_of(Code::UnknownValue, "value", variant, expected, span)
            .with_label(format!("expected one of {}", quoted(expected))),
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
        _ => syntax_error(whole, span, message),
    }
}

/// A `yaml-syntax` diagnostic, moved to where the usual cause is and with a hint for it.
/// "unknown WHAT `given`" at `span`, with "did you mean" when one of `expected` is close.
fn one_of(
    code: Code,
    what: &str,
    given: &str,
    expected: &[&str],
    span: Option<Span>,
) -> Diagnostic {
    Diagnostic::error(code, span, format!("unknown {what} `{}`", sanitize(given)))
        .with_suggestion(given, expected.iter().copied())
}

/// `` `a`, `b`, `c` ``.
fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|e| format!("`{e}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn syntax_error(whole: &str, span: Option<Span>, message: String) -> Diagnostic {
    let Some(span) = span else {
        return Diagnostic::error(Code::YamlSyntax, None, message);
    };
    match hint(whole, span, &message) {
        Some(h) => Diagnostic::error(Code::YamlSyntax, Some(h.span), message)
            .with_label(h.label)
            .with_help(h.help),
        None => Diagnostic::error(Code::YamlSyntax, Some(span), message).with_label("here"),
    }
}

/// The usual cause of a syntax error: where it is and what to do.
struct Hint {
    span: Span,
    label: String,
    help: String,
}

/// Lines scanned back from the parser's mark for an unclosed `{` or `[`.
const LOOK_BACK_LINES: usize = 100;

/// Recognises the usual causes of a syntax error around the parser's mark `at`: a tab in the
/// indentation, an unclosed flow collection, a key without its colon, a line indented unlike
/// its siblings.
fn hint(whole: &str, at: Span, message: &str) -> Option<Hint> {
    let lines: Vec<&str> = whole.split('\n').collect();
    let li = (at.line as usize)
        .checked_sub(1)
        .filter(|&l| l < lines.len())?;
    let line_span = |l: usize, col: usize| -> Span {
        let column = u32::try_from(col + 1).unwrap_or(u32::MAX);
        let line = u32::try_from(l + 1).unwrap_or(u32::MAX);
        let offset = offset_of(whole, line, column).unwrap_or(at.offset);
        Span {
            line,
            column,
            offset,
            len: 1,
        }
    };
    // A tab in the indentation of this line or the next (a plain scalar runs on to the next).
    for l in [li, li + 1] {
        let Some(text) = lines.get(l) else { continue };
        let lead: String = text
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect();
        if let Some(col) = lead.chars().position(|c| c == '\t') {
            return Some(Hint {
                span: line_span(l, col),
                label: "a tab".to_owned(),
                help: "YAML does not allow tabs in indentation: indent with spaces".to_owned(),
            });
        }
    }
    // An unclosed `{` or `[`: the nearest line above (or this one) that opens more than it
    // closes. Only after a flow error, or when the line just above is the one.
    let flow = ["flow", "bracket", "',' or", "':' indicator"]
        .iter()
        .any(|w| message.contains(w));
    if flow {
        // A collection written over several lines (a JSON file): still open at the start of
        // the content line above the mark, so meant to go on past it.
        let above = (0..li).rev().find(|&l| !lines[l].trim().is_empty());
        let open = above.and_then(|p| open_brackets(&lines[..p]).last().copied());
        if let Some((l, col, open)) = open {
            let (what, close) = if open == '{' {
                ("mapping", '}')
            } else {
                ("sequence", ']')
            };
            if message.contains("',' or") {
                return Some(Hint {
                    span: at,
                    label: format!("expected `,` or `{close}` before this"),
                    help: format!(
                        "separate the entries of the flow {what} opened on line {} with `,`: the line above may lack one at its end",
                        l + 1
                    ),
                });
            }
            if message.contains("unclosed") {
                return Some(Hint {
                    span: line_span(l, col),
                    label: format!("this `{open}` is never closed"),
                    help: format!("close the flow {what} with `{close}`"),
                });
            }
        }
    }
    let back = if flow { LOOK_BACK_LINES } else { 1 };
    for l in (li.saturating_sub(back)..=li).rev() {
        if let Some((col, open)) = unclosed(lines[l]) {
            let (what, close) = if open == '{' {
                ("flow mapping", '}')
            } else {
                ("flow sequence", ']')
            };
            // Nothing after the bracket on its line: a collection meant to span lines.
            let rest: String = lines[l].chars().skip(col + 1).collect();
            let help = if rest.trim().is_empty() {
                format!("close the {what} with `{close}`")
            } else {
                format!("close the {what} with `{close}` on the same line, before the next key")
            };
            return Some(Hint {
                span: line_span(l, col),
                label: format!("this `{open}` is never closed"),
                help,
            });
        }
    }
    let indent = |t: &str| t.len() - t.trim_start_matches(' ').len();
    let content = |t: &str| {
        let t = t.trim();
        !t.is_empty() && !t.starts_with('#')
    };
    let here = lines[li];
    if message.contains("simple key expected ':'")
        || message.contains("could not find expected ':'")
    {
        return Some(Hint {
            span: line_span(li, indent(here)),
            label: "no `:` after this key".to_owned(),
            help: "write `key: value`; a service with no settings is written `name:`".to_owned(),
        });
    }
    // The content line above.
    let above = (0..li).rev().find(|&l| content(lines[l]));
    if let Some(p) = above {
        let text = lines[p].trim();
        let keyless = !text.starts_with(['-', '{', '[', '"', '\''])
            && !text.contains(": ")
            && !text.ends_with(':');
        if keyless && indent(lines[p]) == indent(here) && message.contains("mapping values") {
            let (key, rest) = text.split_once(' ').unwrap_or((text, ""));
            return Some(Hint {
                span: line_span(p, indent(lines[p])),
                label: "no `:` after this key".to_owned(),
                help: format!("write `{key}: {rest}`"),
            });
        }
        let (k, m) = (indent(here), indent(lines[p]));
        let about_indent = [
            "did not find expected key",
            "mapping values are not allowed",
            "did not find expected '-'",
            "expected <block end>",
            "block sequence entries are not allowed",
        ]
        .iter()
        .any(|w| message.contains(w));
        if about_indent && k != m && content(here) {
            return Some(Hint {
                span: line_span(li, k),
                label: format!("indented by {k} spaces"),
                help: format!(
                    "check the indentation: line {} is indented by {k} spaces, line {} above by {m}; the keys of one mapping must start in the same column",
                    li + 1,
                    p + 1
                ),
            });
        }
    }
    None
}

/// The `{` and `[` that `lines` leave open, outermost first: line, column (in characters) and
/// bracket. Quotes are taken to end with their line, as they do in the files this is for.
fn open_brackets(lines: &[&str]) -> Vec<(usize, usize, char)> {
    let mut stack: Vec<(usize, usize, char)> = Vec::new();
    for (l, line) in lines.iter().enumerate() {
        let mut quote: Option<char> = None;
        let mut prev = ' ';
        for (col, c) in line.chars().enumerate() {
            match quote {
                Some(q) if c == q && !(q == '"' && prev == '\\') => quote = None,
                Some(_) => {}
                None => match c {
                    '"' | '\'' => quote = Some(c),
                    '#' if prev == ' ' => break,
                    '{' | '[' => stack.push((l, col, c)),
                    '}' | ']' => {
                        stack.pop();
                    }
                    _ => {}
                },
            }
            // `\\` is an escaped backslash: the next character is not escaped by it.
            prev = if prev == '\\' && c == '\\' { ' ' } else { c };
        }
    }
    stack
}

/// The column (in characters) of the first `{` or `[` on `line` that the line does not close,
/// outside quotes and comments.
fn unclosed(line: &str) -> Option<(usize, char)> {
    open_brackets(&[line]).first().map(|&(_, col, c)| (col, c))
}

/// Byte offset of 1-based `line` and `column` (in characters) in `text`.
fn offset_of(text: &str, line: u32, column: u32) -> Option<usize> {
    let mut start = 0;
    for _ in 1..line {
        start += text[start..].find('\n')? + 1;
    }
    let rest = &text[start..];
    let col = rest
        .char_indices()
        .nth(column.saturating_sub(1) as usize)
        .map_or(rest.len(), |(i, _)| i);
    Some(start + col)
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
        ("invalid u64", "expected a whole number"),
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
pub(super) fn sanitize(s: &str) -> String {
    crate::terminal::printable(s).into_owned()
}
