//! Diagnostics: every problem the loader finds in a topology file, located and explained.
//!
//! A [`Diagnostic`] has a stable kebab-case [`Code`] (tests, scripts and users can rely on it),
//! a [`Severity`], a one-line message, an optional [`Span`] into the source (file:line:column and
//! the byte range to underline), a label for the underline ("expected …") and an optional help
//! ("did you mean `order-db`?"). [`Diagnostics`] owns the source text and renders a whole batch,
//! either as one line per problem (its `Display`, for logs and `LoadError`) or as underlined
//! snippets through miette ([`Diagnostics::render`], for people at a terminal).
//!
//! Neighbours: produced by `topology::load` and `topology::validate`; printed by
//! `commands::validate` and every other command that loads a file.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use crate::terminal::{printable, printable_source};

/// How bad a diagnostic is. Only errors make loading fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Loading goes on; the topology is probably not what was meant.
    Warning,
    /// The file is rejected.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Warning => "warning",
            Self::Error => "error",
        })
    }
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $id:literal, $desc:literal; )*) => {
        /// Stable identifier of a kind of problem. The kebab-case id never changes meaning.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $( $(#[$doc])* $variant, )*
        }

        impl Code {
            /// Every code, in declaration order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The stable kebab-case id, e.g. `unknown-service`.
            pub fn as_str(self) -> &'static str {
                match self { $( Code::$variant => $id, )* }
            }

            /// One sentence on what the code means.
            pub fn description(self) -> &'static str {
                match self { $( Code::$variant => $desc, )* }
            }
        }
    };
}

codes! {
    /// The YAML itself does not parse.
    YamlSyntax = "yaml-syntax", "the file is not well-formed YAML";
    /// Too many nodes, aliases or nesting levels (alias bombs).
    YamlTooComplex = "yaml-too-complex", "the YAML exceeds the parser's budget (nesting, nodes or alias expansion)";
    /// Nothing but whitespace and comments.
    EmptyFile = "empty-file", "the file holds no topology";
    /// Bytes that are not UTF-8.
    NotUtf8 = "not-utf8", "the file is not valid UTF-8";
    /// A key the format does not know (typo).
    UnknownKey = "unknown-key", "a key that the topology format does not define";
    /// A required key is absent.
    MissingKey = "missing-key", "a required key is missing";
    /// A value of the wrong type (text for a number, list for a map, …).
    WrongType = "wrong-type", "a value has the wrong type";
    /// A value outside a fixed set (record type, severity).
    UnknownValue = "unknown-value", "a value is not one of the allowed words";
    /// The same key twice in one mapping (duplicate services, links, fields).
    DuplicateKey = "duplicate-key", "a mapping has the same key twice";
    /// `version:` other than 1.
    UnsupportedVersion = "unsupported-version", "the file's `version` is not supported";
    /// A duration that does not parse.
    BadDuration = "bad-duration", "a duration is not of the form `250ms`, `2s`, `1m` or `1h`";
    /// A zero duration where time must pass.
    ZeroDuration = "zero-duration", "a duration is zero";
    /// A count that must be at least 1 is 0.
    ZeroCount = "zero-count", "a count that must be at least 1 is 0";
    /// A count above what linkpatrol accepts (replicas, instances, retries).
    TooLarge = "too-large", "a count is above the limit linkpatrol accepts (replicas, instances, retries)";
    /// A `${VAR}` value too short to be hidden in messages.
    ShortSecret = "short-secret", "a value read from `${VAR}` is too short to be hidden in messages";
    /// Strength other than `strong` or `weak`.
    UnknownStrength = "unknown-strength", "a dependency strength is neither `strong` nor `weak`";
    /// A reference to a service that is not declared.
    UnknownService = "unknown-service", "a reference names a service that is not declared";
    /// A service depends on itself.
    SelfDependency = "self-dependency", "a service depends on itself";
    /// A link or a dependency names an operation its service does not declare.
    UnknownOperation = "unknown-operation", "a link or a dependency names an operation that its service does not declare";
    /// `operation` on an any_of group.
    OperationOnGroup = "operation-on-group", "`operation` is set on an any_of group, whose members are whole services";
    /// `any_of: []`.
    EmptyAnyOf = "empty-any-of", "an any_of group has no members";
    /// A service listed twice in one any_of group.
    DuplicateMember = "duplicate-member", "an any_of group lists a service twice";
    /// `min` of a group is 0 or larger than the group.
    BadGroupMin = "bad-group-min", "an any_of group's `min` is 0 or larger than the group";
    /// `min` without `any_of`.
    MinWithoutAnyOf = "min-without-any-of", "`min` is set on a dependency that is not an any_of group";
    /// `min_healthy` is 0 or larger than the instance count.
    BadMinHealthy = "bad-min-healthy", "`min_healthy` is 0 or larger than the number of instances";
    /// `replicas:` and `instances:` together.
    ReplicasWithInstances = "replicas-with-instances", "a service sets both `replicas` and `instances`";
    /// `replicas: 0` or `instances: []`.
    NoInstances = "no-instances", "a service declares zero instances";
    /// Two instances of one service with the same name.
    DuplicateInstance = "duplicate-instance", "two instances of a service have the same name";
    /// A label key that collides with `zone` or `host`.
    ReservedLabel = "reserved-label", "a label uses the reserved key `zone` or `host`";
    /// `${VAR}` names a variable that is not set.
    MissingEnvVar = "missing-env-var", "an environment variable referenced with `${VAR}` is not set";
    /// `${` without a valid name and `}`.
    BadInterpolation = "bad-interpolation", "a `${…}` reference is malformed";
    /// A probe with no type or with two types.
    ProbeType = "probe-type", "a probe must name exactly one type";
    /// A probe uses `{address}` but the instance has no address.
    MissingAddress = "missing-address", "a probe uses `{address}` but an instance has no address";
    /// `body_regex:` does not compile.
    BadRegex = "bad-regex", "a regular expression does not compile";
    /// An HTTP status outside 100..=599.
    BadStatus = "bad-status", "an HTTP status code is outside 100–599";
    /// A JSON path not starting at `$`.
    BadJsonPath = "bad-json-path", "a JSON path does not start with `$`";
    /// A URL with the wrong scheme.
    BadUrl = "bad-url", "a URL does not have the scheme the probe needs";
    /// An HTTP method that is not a token.
    BadMethod = "bad-method", "an HTTP method is not a valid token";
    /// A Prometheus `expect:` that is not `OP NUMBER`.
    BadExpect = "bad-expect", "an `expect` (prometheus, postgres, mysql, redis `info`) is not a comparison like `< 0.01`";
    /// A database probe's `query` without `expect`, or `expect`/`label` without `query`.
    IncompleteQuery = "incomplete-query", "a database probe's `query` and `expect` must be given together";
    /// A redis `info:` key that cannot be an `INFO` field.
    BadInfoField = "bad-info-field", "a redis `info` key is not an `INFO` field name";
    /// `exec: { command: "" }`.
    EmptyCommand = "empty-command", "an exec probe has no command";
    /// A rule id under `risks:` that does not exist.
    UnknownRiskRule = "unknown-risk-rule", "a key under `risks` is not a risk rule id";
    /// An option given to a risk rule that does not take it.
    RiskOptionNotApplicable = "risk-option-not-applicable", "a risk rule option belongs to another rule";
    /// A receiver `type` that does not exist.
    UnknownReceiverType = "unknown-receiver-type", "an alert receiver's `type` is not one of webhook, slack, feishu, lark, dingtalk, wecom";
    /// A route names a receiver that is not declared.
    UnknownReceiver = "unknown-receiver", "an alert route names a receiver that is not declared under `receivers`";
    /// `secret:` on a receiver type that does not sign.
    SecretNotSupported = "secret-not-supported", "a `secret` is set on a receiver type that does not sign its messages";
    /// A secret written in the file instead of `${VAR}` (warning).
    PlainSecret = "plain-secret", "an alert secret is written in the file instead of read with `${VAR}`";
    /// A route for an owner that no service has (warning).
    UnknownOwner = "unknown-owner", "an alert route is keyed by an owner that no service has";
    /// Routes without `default` (warning).
    NoDefaultRoute = "no-default-route", "alert routes have no `default`, so alerts of other owners go nowhere";
    /// A service that no link reaches (warning).
    UnreachableService = "unreachable-service", "a service is not reachable from any link's entry";
    /// No `links:` at all (warning).
    NoLinks = "no-links", "the topology declares no core links, so nothing is analysed per link";
    /// An AMQP queue, MQTT topic or NATS subject a probe cannot use.
    BadProbeName = "bad-probe-name", "a probe's queue, topic or subject name is not valid for its protocol";
    /// `slow: { first_bite: … }`.
    UnknownPhase = "unknown-phase", "a `slow` threshold names a phase the `http` probe does not time";
    /// `slow: { connect: … }` on a probe other than `http`.
    PhaseNotTimed = "phase-not-timed", "a `slow` threshold names a phase, but only the `http` probe times phases";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A place in the source: 1-based line and column (in characters) and the byte range to underline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    /// Byte offset of the start.
    pub offset: usize,
    /// Length in bytes (0 = a point).
    pub len: usize,
}

/// One problem found in a topology file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// What kind of problem.
    pub code: Code,
    /// Error or warning.
    pub severity: Severity,
    /// One line, lowercase, user values in backticks.
    pub message: String,
    /// Where; `None` only for problems about the whole file.
    pub span: Option<Span>,
    /// Shown under the underlined text: usually what was expected.
    pub label: Option<String>,
    /// A suggestion, e.g. "did you mean `order-db`?".
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error with a message and a place.
    pub fn error(code: Code, span: Option<Span>, message: impl Into<String>) -> Self {
        Self {
            code,
            severity: Severity::Error,
            message: message.into(),
            span,
            label: None,
            help: None,
        }
    }

    /// A warning with a message and a place.
    pub fn warning(code: Code, span: Option<Span>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, span, message)
        }
    }

    /// Sets the text shown under the underline.
    #[must_use]
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Sets the help line.
    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds "did you mean `x`?" when a candidate is close enough to `wrong`.
    #[must_use]
    pub fn with_suggestion<'a>(
        self,
        wrong: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        match closest(wrong, candidates) {
            Some(best) => self.with_help(format!("did you mean `{best}`?")),
            None => self,
        }
    }
}

/// The candidate closest to `wrong`, if it is close enough to be a plausible typo.
pub fn closest<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let wrong_len = wrong.chars().count();
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        if c == wrong {
            continue;
        }
        let score = strsim::jaro_winkler(wrong, c);
        let dist = strsim::levenshtein(wrong, c);
        // Accept near misses: high similarity, or a small edit distance relative to the length.
        let plausible = score >= 0.85 || (dist <= 2 && wrong_len > 2) || dist * 3 <= wrong_len;
        if plausible && best.is_none_or(|(s, b)| score.total_cmp(&s).then_with(|| b.cmp(c)).is_gt())
        {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

/// A batch of diagnostics with the source they point into.
#[derive(Clone)]
pub struct Diagnostics {
    /// The file name (or `<stdin>`, or a test label) shown in locations.
    pub origin: String,
    source: Arc<str>,
    /// The problems, in file order.
    pub items: Vec<Diagnostic>,
}

impl fmt::Debug for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Diagnostics")
            .field("origin", &self.origin)
            .field("items", &self.items)
            .finish_non_exhaustive()
    }
}

impl Diagnostics {
    /// Wraps `items` (sorted here by position, then code) with their source.
    pub fn new(origin: impl Into<String>, source: Arc<str>, mut items: Vec<Diagnostic>) -> Self {
        items.sort_by(|a, b| {
            let pos = |d: &Diagnostic| d.span.map_or((0, 0, 0), |s| (s.line, s.column, s.offset));
            pos(a)
                .cmp(&pos(b))
                .then(b.severity.cmp(&a.severity))
                .then(a.code.cmp(&b.code))
                .then(a.message.cmp(&b.message))
        });
        items.dedup();
        Self {
            origin: origin.into(),
            source,
            items,
        }
    }

    /// No diagnostics at all.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Number of diagnostics.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The errors.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.severity == Severity::Error)
    }

    /// The warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Warning)
    }

    /// Whether any item is an error.
    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }

    /// The source text the spans point into.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// `origin:line:column`, or just `origin` without a span.
    pub fn location(&self, d: &Diagnostic) -> String {
        match d.span {
            Some(s) => format!("{}:{}:{}", printable(&self.origin), s.line, s.column),
            None => printable(&self.origin).into_owned(),
        }
    }

    /// The diagnostics as snippets with the offending text underlined (miette's graphical
    /// report), separated by blank lines. Past [`SHOWN_PER_CODE`] of one code (and severity),
    /// the rest of that code are summarised in one line with their count, after the others.
    /// `color` adds ANSI colours; without it the output is plain Unicode text, stable enough
    /// for snapshots.
    pub fn render(&self, color: bool) -> String {
        self.render_limited(color, Some(SHOWN_PER_CODE))
    }

    /// [`Diagnostics::render`] without the summary: every diagnostic in full (`-v`).
    pub fn render_all(&self, color: bool) -> String {
        self.render_limited(color, None)
    }

    /// Renders the first `limit` diagnostics of each code (all with `None`), then one summary
    /// line per code that had more. Costs O(items + source length): lines are indexed once and
    /// each snippet is cut from a few lines around its span.
    fn render_limited(&self, color: bool, limit: Option<usize>) -> String {
        use miette::{GraphicalReportHandler, GraphicalTheme};
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme)
            .with_width(100)
            .with_context_lines(CONTEXT_LINES);
        let lines = LineIndex::new(&self.source);
        let mut seen: std::collections::BTreeMap<(Severity, Code), usize> =
            std::collections::BTreeMap::new();
        let mut out = String::new();
        for d in &self.items {
            let n = seen.entry((d.severity, d.code)).or_default();
            *n += 1;
            if limit.is_some_and(|l| *n > l) {
                continue;
            }
            if limit.is_some() && *n > 1 && d.severity != Severity::Error {
                // Warnings of one kind share a cause: after the first in full, one located
                // line each, so that five of each code stay a screenful.
                if out.ends_with("\n\n") {
                    out.pop();
                }
                out.push_str(&compact_line(d, &self.location(d)));
                out.push_str("\n\n");
                continue;
            }
            let excerpt = d.span.map(|s| lines.excerpt(&self.origin, &self.source, s));
            let r = Rendered {
                all: self,
                d,
                excerpt: excerpt.as_ref(),
            };
            let mut one = String::new();
            if handler.render_report(&mut one, &r).is_err() {
                one = format!(
                    "{}: {}[{}]: {}\n",
                    self.location(d),
                    d.severity,
                    d.code,
                    printable(&d.message)
                );
            }
            out.push_str(&one);
            out.push('\n');
        }
        if let Some(limit) = limit {
            // Errors first.
            for ((severity, code), n) in seen.into_iter().rev() {
                if n > limit {
                    out.push_str(&summary_line(severity, code, n, limit));
                    out.push('\n');
                }
            }
        }
        out
    }
}

/// Diagnostics of one code shown before the rest are counted in one line (SPEC §2, "At
/// scale"); `-v` shows all. Errors are shown in full; of warnings, the first in full and the
/// next ones as one located line each, so that a catalogue's 59,000 `unreachable-service`
/// warnings print 17 lines.
pub const SHOWN_PER_CODE: usize = 5;

/// Lines of context above and below an underlined span.
const CONTEXT_LINES: usize = 1;

/// `  ⚠ service `b` is not reachable from any link [t.yaml:7:3]`: a warning after the first of
/// its code, located but without its snippet.
fn compact_line(d: &Diagnostic, location: &str) -> String {
    let mark = if d.severity == Severity::Error {
        "×"
    } else {
        "⚠"
    };
    format!("  {mark} {} [{location}]", printable(&d.message))
}

/// `warning[unreachable-service]: … and 42,995 more like the above (43,000 in all; …)`.
fn summary_line(severity: Severity, code: Code, total: usize, shown: usize) -> String {
    format!(
        "{severity}[{code}]: … and {} more like the above ({} in all; `-v` shows every one)",
        thousands(total - shown),
        thousands(total)
    )
}

/// `43000` → `43,000`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Byte offsets where each line of a source starts, for cutting snippets without rescanning.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(source: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(
            source
                .bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        Self { starts }
    }

    /// 0-based line holding byte `offset`.
    fn line_of(&self, offset: usize) -> usize {
        self.starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1)
    }

    /// The lines around `span`, with enough context for miette; of a line longer than
    /// [`LONG_LINE`] (a JSON file on one line), only a window around the span.
    fn excerpt<'a>(&self, name: &'a str, source: &'a str, span: Span) -> Excerpt<'a> {
        let start = span.offset.min(source.len());
        let end = (span.offset + span.len).min(source.len());
        let line = self.line_of(start);
        let line_start = self.starts[line];
        let line_end = self
            .starts
            .get(line + 1)
            .map_or(source.len(), |&s| s - 1)
            .max(start);
        if line_end - line_start > LONG_LINE {
            return Excerpt::window(name, source, span, line, line_start..line_end);
        }
        let first = self.line_of(start).saturating_sub(CONTEXT_LINES);
        let last = self.line_of(end) + CONTEXT_LINES + 1;
        let from = self.starts[first];
        let to = self.starts.get(last + 1).copied().unwrap_or(source.len());
        Excerpt {
            name: printable(name),
            text: printable_source(&source[from..to]),
            offset: from,
            line: first,
            column_shift: None,
        }
    }
}

/// A line longer than this many bytes is shown as a window around the span, between `…`s.
const LONG_LINE: usize = 240;

/// Characters of the line shown before and after the span in such a window (and of the span
/// itself at most twice as many).
const WINDOW: usize = 60;

/// Where a window cuts its line.
const ELLIPSIS: &str = "…";

/// A few lines of the source that miette reads as if they were the whole file: spans and line
/// numbers are those of the file.
struct Excerpt<'a> {
    /// The file's name, [printable].
    name: Cow<'a, str>,
    /// The lines, [printable](printable_source) with their byte offsets kept.
    text: Cow<'a, str>,
    /// Byte offset of `text` in the file.
    offset: usize,
    /// 0-based line of `text`'s first line in the file.
    line: usize,
    /// For a window of one long line: what to add to the column miette counts in the window
    /// to get the span's column in the file.
    column_shift: Option<isize>,
}

impl<'a> Excerpt<'a> {
    /// A window of the long line `line` (`bytes` of the file, without its line feed) around
    /// `span`: `…`, up to [`WINDOW`] characters, the span, up to [`WINDOW`] more, `…`. Its
    /// offsets are the file's, since the `…` in front stands in place of the bytes cut.
    fn window(
        name: &'a str,
        source: &'a str,
        span: Span,
        line: usize,
        bytes: std::ops::Range<usize>,
    ) -> Self {
        // A span of a file that was not UTF-8 may start or end inside a replaced character.
        let mut start = span.offset.clamp(bytes.start, bytes.end);
        while !source.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = (span.offset + span.len).clamp(start, bytes.end);
        while !source.is_char_boundary(end) {
            end += 1;
        }
        let back = |from: usize, chars: usize| {
            source[bytes.start..from]
                .char_indices()
                .rev()
                .nth(chars.saturating_sub(1))
                .map_or(bytes.start, |(i, _)| bytes.start + i)
        };
        let ahead = |from: usize, chars: usize| {
            source[from..bytes.end]
                .char_indices()
                .nth(chars)
                .map_or(bytes.end, |(i, _)| from + i)
        };
        // Room for the `…` in front: cut at least as many bytes as it takes.
        let mut from = back(start, WINDOW);
        if from > bytes.start && from - bytes.start < ELLIPSIS.len() {
            from = bytes.start;
        }
        let to = ahead(end.min(ahead(start, 2 * WINDOW)), WINDOW);
        let mut text = String::with_capacity(to - from + 2 * ELLIPSIS.len());
        let cut_front = from > bytes.start;
        if cut_front {
            text.push_str(ELLIPSIS);
        }
        text.push_str(&printable_source(&source[from..to]));
        if to < bytes.end {
            text.push_str(ELLIPSIS);
        }
        // miette counts the bytes before the span on its line: the `…` and the window's; the
        // column to show is the span's own.
        let counted = start - from + if cut_front { ELLIPSIS.len() } else { 0 };
        let shift = isize::try_from(span.column).unwrap_or(isize::MAX)
            - 1
            - isize::try_from(counted).unwrap_or(isize::MAX);
        Excerpt {
            name: printable(name),
            text: Cow::Owned(text),
            offset: from - if cut_front { ELLIPSIS.len() } else { 0 },
            line,
            column_shift: Some(shift),
        }
    }
}

impl miette::SourceCode for Excerpt<'_> {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let local_start = span
            .offset()
            .saturating_sub(self.offset)
            .min(self.text.len());
        let local_len = span.len().min(self.text.len() - local_start);
        let local = miette::SourceSpan::from(local_start..local_start + local_len);
        let c = self
            .text
            .as_ref()
            .read_span(&local, context_lines_before, context_lines_after)?;
        let start = c.span().offset() + self.offset;
        let column = match self.column_shift {
            Some(shift) => c.column().saturating_add_signed(shift),
            None => c.column(),
        };
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.clone().into_owned(),
            c.data(),
            miette::SourceSpan::from(start..start + c.span().len()),
            c.line() + self.line,
            column,
            c.line_count(),
        )))
    }
}

/// One line per diagnostic: `file:line:col: error[code]: message (help)`.
impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors().count();
        let w = self.warnings().count();
        write!(f, "`{}`: {}", printable(&self.origin), plural(n, "error"))?;
        if w > 0 {
            write!(f, ", {}", plural(w, "warning"))?;
        }
        // `{:#}` lists every one; the plain form summarises past a handful of one code.
        let limit = (!f.alternate()).then_some(SHOWN_PER_CODE);
        let mut seen: std::collections::BTreeMap<(Severity, Code), usize> =
            std::collections::BTreeMap::new();
        for d in &self.items {
            let k = seen.entry((d.severity, d.code)).or_default();
            *k += 1;
            if limit.is_some_and(|l| *k > l) {
                continue;
            }
            write!(
                f,
                "\n  {}: {}[{}]: {}",
                self.location(d),
                d.severity,
                d.code,
                printable(&d.message)
            )?;
            if let Some(l) = &d.label {
                write!(f, "; {}", printable(l))?;
            }
            if let Some(h) = &d.help {
                write!(f, " ({})", printable(h))?;
            }
        }
        if let Some(limit) = limit {
            for ((severity, code), n) in seen.into_iter().rev() {
                if n > limit {
                    write!(f, "\n  {}", summary_line(severity, code, n, limit))?;
                }
            }
        }
        Ok(())
    }
}

/// `1 error`, `2 errors`.
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Adapter so miette can render one diagnostic against the shared source.
struct Rendered<'a> {
    all: &'a Diagnostics,
    d: &'a Diagnostic,
    excerpt: Option<&'a Excerpt<'a>>,
}

impl fmt::Debug for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.d, f)
    }
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&printable(&self.d.message))
    }
}

impl std::error::Error for Rendered<'_> {}

impl miette::Diagnostic for Rendered<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.d.code.as_str()))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.d.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.d
            .help
            .as_deref()
            .map(|h| Box::new(printable(h)) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.excerpt.map(|e| e as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let s = self.d.span?;
        let src = self.all.source();
        let start = s.offset.min(src.len());
        let end = (s.offset + s.len).min(src.len());
        let span = miette::SourceSpan::from(start..end);
        let label = self.d.label.as_deref().map(|l| printable(l).into_owned());
        Some(Box::new(std::iter::once(
            miette::LabeledSpan::new_with_span(label, span),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of `n` services that no link reaches (one warning each, service `u{i}` on line
    /// `6 + i`), plus an unknown-key error on the last line.
    fn many_warnings(n: usize) -> Diagnostics {
        let mut src =
            String::from("version: 1\nname: t\nlinks: {l: {entry: a}}\nservices:\n  a:\n");
        let mut items = Vec::new();
        for i in 0..n {
            let offset = src.len() + 2;
            fmt::Write::write_fmt(&mut src, format_args!("  u{i}:\n")).unwrap();
            items.push(
                Diagnostic::warning(
                    Code::UnreachableService,
                    Some(Span {
                        line: u32::try_from(6 + i).unwrap(),
                        column: 3,
                        offset,
                        len: format!("u{i}").len(),
                    }),
                    format!("service `u{i}` is not reachable from any link"),
                )
                .with_label("no link's entry depends on it"),
            );
        }
        let offset = src.len();
        src.push_str("ownr: x\n");
        items.push(Diagnostic::error(
            Code::UnknownKey,
            Some(Span {
                line: u32::try_from(6 + n).unwrap(),
                column: 1,
                offset,
                len: 4,
            }),
            "unknown key `ownr`",
        ));
        Diagnostics::new("t.yaml", Arc::from(src), items)
    }

    #[test]
    fn past_five_of_one_code_the_rest_are_counted_in_one_line() {
        let d = many_warnings(12);
        let text = d.render(false);
        for i in 0..5 {
            assert!(text.contains(&format!("[t.yaml:{}:3]", 6 + i)), "{text}");
            assert!(text.contains(&format!("service `u{i}` is not")), "{text}");
        }
        for i in 5..12 {
            assert!(!text.contains(&format!("service `u{i}` is not")), "{text}");
        }
        // After the first in full, warnings of the code are one located line each.
        assert!(
            text.contains(
                "\n  ⚠ service `u1` is not reachable from any link [t.yaml:7:3]\n  ⚠ service `u2` "
            ),
            "{text}"
        );
        assert_eq!(
            text.matches("╭─").count(),
            2,
            "one snippet per code: {text}"
        );
        // The error of another code is shown in full.
        assert!(text.contains("[t.yaml:18:1]"), "{text}");
        let summary: Vec<&str> = text.lines().filter(|l| l.contains("more like")).collect();
        assert_eq!(
            summary,
            [
                "warning[unreachable-service]: … and 7 more like the above (12 in all; `-v` shows every one)"
            ],
            "{text}"
        );
        // The one-line form summarises the same way; `{:#}` lists all.
        let short = d.to_string();
        assert_eq!(short.lines().count(), 1 + 5 + 1 + 1, "{short}");
        assert!(
            short.ends_with("(12 in all; `-v` shows every one)"),
            "{short}"
        );
        assert_eq!(format!("{d:#}").lines().count(), 1 + 13);
    }

    #[test]
    fn render_all_shows_every_diagnostic() {
        let d = many_warnings(12);
        let text = d.render_all(false);
        for i in 0..12 {
            assert!(text.contains(&format!("[t.yaml:{}:3]", 6 + i)), "{text}");
        }
        assert!(!text.contains("more like"), "{text}");
        // Five of a code are not summarised.
        assert!(!many_warnings(5).render(false).contains("more like"));
    }

    /// A JSON file on one line (an export): the snippet is a window of the line around the
    /// span, not the whole file, with the file's column and the underline under the name.
    #[test]
    fn a_long_line_is_shown_as_a_window_around_the_span() {
        use std::fmt::Write as _;
        let mut src = String::from(
            r#"{"version": 1, "name": "tëst", "links": {"l": {"entry": "a"}}, "services": {"a": {}"#,
        );
        for i in 0..300 {
            write!(src, r#", "u{i}": {{"owner": "ünïcode-team"}}"#).unwrap();
        }
        src.push_str("}}\n");
        let loaded = crate::topology::load::load_str_with_warnings(&src, "t.json").unwrap();
        let text = loaded.warnings.render(false);
        assert!(text.len() < 3_000, "{} bytes:\n{text}", text.len());
        for line in text.lines() {
            assert!(line.chars().count() <= 2 * WINDOW + 60, "too long: {line}");
        }
        // The first warning is about `u0`: its column in the file, in characters.
        let at = src.find(r#""u0""#).unwrap();
        let column = src[..at].chars().count() + 1;
        assert!(text.contains(&format!("[t.json:1:{column}]")), "{text}");
        let lines: Vec<&str> = text.lines().collect();
        let shown = lines.iter().position(|l| l.contains(r#""u0""#)).unwrap();
        let name_at = lines[shown]
            .split(r#""u0""#)
            .next()
            .unwrap()
            .chars()
            .count();
        let under_at = lines[shown + 1]
            .chars()
            .position(|c| c == '─' || c == '┬')
            .unwrap();
        assert_eq!(
            name_at,
            under_at,
            "underline:\n{}\n{}",
            lines[shown],
            lines[shown + 1]
        );
        assert!(lines[shown].contains('…'), "{}", lines[shown]);
    }

    #[test]
    fn snippets_cut_from_the_lines_around_read_like_the_whole_file() {
        // The excerpt gives miette the same lines, numbers and underline as the whole source.
        use miette::{GraphicalReportHandler, GraphicalTheme};
        let d = many_warnings(30);
        let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
            .with_width(100)
            .with_context_lines(CONTEXT_LINES);
        let whole = Arc::<str>::from(d.source());
        let lines = LineIndex::new(d.source());
        for item in [&d.items[0], &d.items[17], &d.items[29], &d.items[30]] {
            let by_whole = {
                struct Whole<'a>(&'a Diagnostic, miette::NamedSource<Arc<str>>);
                impl fmt::Debug for Whole<'_> {
                    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        fmt::Debug::fmt(self.0, f)
                    }
                }
                impl fmt::Display for Whole<'_> {
                    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str(&self.0.message)
                    }
                }
                impl std::error::Error for Whole<'_> {}
                impl miette::Diagnostic for Whole<'_> {
                    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
                        Some(&self.1)
                    }
                    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
                        let s = self.0.span?;
                        Some(Box::new(std::iter::once(
                            miette::LabeledSpan::new_with_span(
                                self.0.label.clone(),
                                s.offset..s.offset + s.len,
                            ),
                        )))
                    }
                }
                let mut out = String::new();
                handler
                    .render_report(
                        &mut out,
                        &Whole(item, miette::NamedSource::new("t.yaml", Arc::clone(&whole))),
                    )
                    .unwrap();
                out
            };
            let excerpt = lines.excerpt("t.yaml", d.source(), item.span.unwrap());
            let by_excerpt = {
                struct Cut<'a>(&'a Diagnostic, &'a Excerpt<'a>);
                impl fmt::Debug for Cut<'_> {
                    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        fmt::Debug::fmt(self.0, f)
                    }
                }
                impl fmt::Display for Cut<'_> {
                    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str(&self.0.message)
                    }
                }
                impl std::error::Error for Cut<'_> {}
                impl miette::Diagnostic for Cut<'_> {
                    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
                        Some(self.1)
                    }
                    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
                        let s = self.0.span?;
                        Some(Box::new(std::iter::once(
                            miette::LabeledSpan::new_with_span(
                                self.0.label.clone(),
                                s.offset..s.offset + s.len,
                            ),
                        )))
                    }
                }
                let mut out = String::new();
                handler
                    .render_report(&mut out, &Cut(item, &excerpt))
                    .unwrap();
                out
            };
            assert_eq!(by_excerpt, by_whole);
            let line = item.span.unwrap().line;
            assert!(
                by_excerpt.contains(&format!("[t.yaml:{line}:")),
                "{by_excerpt}"
            );
        }
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(43_012), "43,012");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
