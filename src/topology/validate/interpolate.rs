//! `${VAR}` interpolation from the environment into secret-aware [`Text`].

use super::Cx;
use crate::diag::{Code, Span};
use crate::topology::model::Text;
use crate::topology::raw::Sp;

impl Cx<'_> {
    pub(super) fn text(&mut self, s: &Sp<String>) -> Option<Text> {
        self.interpolate(&s.value, s.span())
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
