//! `${VAR}` interpolation from the environment into secret-aware [`Text`].

use super::Cx;
use crate::diag::{Code, Diagnostic, Span};
use crate::topology::model::{MIN_SECRET_LEN, Text};
use crate::topology::raw::Sp;

impl Cx<'_> {
    pub(super) fn text(&mut self, s: &Sp<String>) -> Option<Text> {
        self.interpolate(&s.value, s.span())
    }

    /// A field without a location of its own, located at `at` (its probe, service or
    /// dependency). On a bad or missing variable the error is recorded (so the load fails) and
    /// the text is kept as written.
    pub(super) fn field(&mut self, s: &str, at: Option<Span>) -> Text {
        self.interpolate(s, at).unwrap_or_else(|| Text::plain(s))
    }

    /// A display-only field (description, owner, fallback, tags, failure domains): `${VAR}`
    /// must be set (a missing one is an error that names it), but the value itself never
    /// reaches an output (SPEC §1), so the text is kept as written.
    pub(super) fn shown(&mut self, s: &str, at: Option<Span>) -> String {
        let _ = self.field(s, at);
        s.to_owned()
    }

    /// Replaces `${VAR}` (or `${VAR:-default}`, used when `VAR` is unset or empty) from the
    /// environment; `$${` stands for a literal `${`.
    pub(super) fn interpolate(&mut self, s: &str, span: Option<Span>) -> Option<Text> {
        if !s.contains("${") {
            return Some(Text::plain(s));
        }
        let mut written = String::with_capacity(s.len());
        let mut resolved = String::with_capacity(s.len());
        let mut rest = s;
        let mut ok = true;
        while let Some(i) = rest.find("${") {
            if rest[..i].ends_with('$') {
                // `$${` → literal `${`
                written.push_str(&rest[..i - 1]);
                resolved.push_str(&rest[..i - 1]);
                written.push_str("${");
                resolved.push_str("${");
                rest = &rest[i + 2..];
                continue;
            }
            written.push_str(&rest[..i]);
            resolved.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let Some(end) = after.find('}') else {
                self.err(
                    Code::BadInterpolation,
                    span,
                    format!("unterminated `${{` in `{s}`"),
                )
                .label("expected `${NAME}`");
                return None;
            };
            let inner = &after[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            let valid = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if valid {
                if let Some(v) = (self.env)(name).filter(|v| default.is_none() || !v.is_empty()) {
                    let len = v.chars().count();
                    if len > 0 && len < MIN_SECRET_LEN {
                        self.diags.push(
                            Diagnostic::warning(
                                Code::ShortSecret,
                                span,
                                format!(
                                    "the value of `${{{name}}}` is too short to hide ({}): it is not scrubbed from messages on its own",
                                    crate::diag::plural(len, "character")
                                ),
                            )
                            .with_label(format!(
                                "values shorter than {MIN_SECRET_LEN} characters would garble every message they were scrubbed from"
                            ))
                            .with_help("use `${VAR}` for secrets; a port or a short name need not come from the environment"),
                        );
                    }
                    resolved.push_str(&v);
                } else if let Some(d) = default {
                    resolved.push_str(d);
                } else {
                    self.err(
                        Code::MissingEnvVar,
                        span,
                        format!("environment variable `{name}` is not set"),
                    )
                    .label(format!("`${{{name}}}` is read from the environment"))
                    .help(format!("export {name}=… before running linkpatrol"));
                    ok = false;
                }
            } else {
                self.err(
                    Code::BadInterpolation,
                    span,
                    format!("invalid variable name `{name}` in `${{{name}}}`"),
                )
                .label("expected `${NAME}` with letters, digits and `_`")
                .help("write `$${` for a literal `${`");
                ok = false;
            }
            written.push_str("${");
            written.push_str(inner);
            written.push('}');
            rest = &after[end + 1..];
        }
        written.push_str(rest);
        resolved.push_str(rest);
        ok.then(|| Text::interpolated(written, resolved))
    }
}
