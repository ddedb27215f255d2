//! Text on its way to a terminal. A topology file, an environment variable or a probed server
//! can put control characters into a name, a description, an owner, a source line or a reason;
//! printed raw, `ESC ] 0 ; … BEL` retitles the window, `ESC [ 2 J` clears the screen, `ESC ] 8`
//! plants a link, and a bidi override (`U+202E`) makes a line read differently than it is.
//!
//! [`printable`] is the one helper every terminal writer uses on user-controlled text (service,
//! link and instance names, descriptions, owners, addresses, rules, messages, reasons, paths):
//! each such character is shown as its escape (`\u{1b}`), so nothing is hidden and nothing is
//! obeyed. [`printable_source`] is its same-length form, for source lines that spans point into.
//! Colour (SGR) sequences that linkpatrol writes itself are added after this cleaning, so they
//! are the only escapes that reach the terminal.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal as itself: C0 and C1 control characters, DEL, and the
/// bidirectional formatting characters (embeddings, overrides, isolates, marks).
pub fn is_unprintable(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// `s` with every [unprintable](is_unprintable) character written as its escape: `\n`, `\t`,
/// `\r`, or `\u{1b}`. Borrowed when there is nothing to do.
pub fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unprintable) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if is_unprintable(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// [`printable`], but line feeds are kept: for messages that are several lines by design (an
/// error and its causes). Use [`printable`] on each user value inside a one-line message.
pub fn printable_lines(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c != '\n' && is_unprintable(c)) {
        return Cow::Borrowed(s);
    }
    let lines: Vec<Cow<'_, str>> = s.split('\n').map(printable).collect();
    Cow::Owned(lines.join("\n"))
}

/// [`printable`] over a list, joined with `sep`.
pub fn printable_join<S: AsRef<str>>(items: &[S], sep: &str) -> String {
    let mut out = String::new();
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        out.push_str(&printable(s.as_ref()));
    }
    out
}

/// Source text with every unprintable character except line feed and tab replaced by `?`
/// repeated to its length in bytes (a carriage return by a space, so CRLF files read well), so
/// byte offsets (spans) still point at the same places.
pub fn printable_source(s: &str) -> Cow<'_, str> {
    let bad = |c: char| is_unprintable(c) && c != '\n' && c != '\t';
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '\r' {
            out.push(' ');
        } else if bad(c) {
            out.extend(std::iter::repeat_n('?', c.len_utf8()));
        } else {
            out.push(c);
        }
    }
    debug_assert_eq!(out.len(), s.len());
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_shown_not_obeyed() {
        assert_eq!(printable("plain-name"), Cow::Borrowed("plain-name"));
        assert_eq!(
            printable("a\x1b]0;x\x07b\u{9b}2J\u{202e}c\td"),
            "a\\u{1b}]0;x\\u{7}b\\u{9b}2J\\u{202e}c\\td"
        );
        assert_eq!(printable_join(&["a\x1b", "b"], ", "), "a\\u{1b}, b");
    }

    #[test]
    fn source_keeps_its_byte_offsets() {
        let s = "a: \x1b[2J\n\u{9b}\u{202e}\tb\r\n";
        let p = printable_source(s);
        assert_eq!(p.len(), s.len());
        assert_eq!(p, "a: ?[2J\n?????\tb \n");
    }
}
